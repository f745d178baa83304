import Logging
import NIOCore
import WardenCore

/// A swift-log handler writing one JSON object per line to a `LogSink`:
/// `{"ts":"…","level":"info","msg":"…","logger":"warden", …metadata}`.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let sink: LogSink

    public init(label: String, sink: LogSink, level: Logger.Level) {
        self.label = label
        self.sink = sink
        self.logLevel = level
    }

    /// Hummingbird tags its logger with a request id on every request; kept out of the dictionary so that
    /// tagging does not copy it.
    private var hummingbirdRequestID: Logger.Metadata.Value?

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { key == "hb.request.id" ? hummingbirdRequestID : metadata[key] }
        set {
            if key == "hb.request.id" { hummingbirdRequestID = newValue } else { metadata[key] = newValue }
        }
    }

    public func log(event: LogEvent) {
        let now = WallClock.unixMilliseconds()
        var merged = metadata
        if let id = hummingbirdRequestID { merged["hb.request.id"] = id }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        sink.write { b in
            b.writeStaticString("{\"ts\":\"")
            WallClock.writeRFC3339(unixMilliseconds: now, to: &b)
            b.writeStaticString("\",\"level\":\"")
            b.writeString(event.level.rawValue)
            b.writeStaticString("\",\"msg\":")
            JSONValue.writeString(event.message.description, to: &b)
            b.writeStaticString(",\"logger\":")
            JSONValue.writeString(label, to: &b)
            for key in merged.keys.sorted() {
                b.writeInteger(UInt8(ascii: ","))
                JSONValue.writeString(key, to: &b)
                b.writeInteger(UInt8(ascii: ":"))
                Self.json(merged[key]!).write(to: &b)
            }
            b.writeInteger(UInt8(ascii: "}"))
        }
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let s): .string(s)
        case .stringConvertible(let c):
            if let i = c as? any BinaryInteger { .number("\(i)") } else if let d = c as? Double { .double(d) } else if let b = c as? Bool {
                .bool(b)
            } else { .string(c.description) }
        case .array(let a): .array(a.map(json))
        case .dictionary(let d):
            .object(JSONObject().merging(d.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) }))
        }
    }
}

extension JSONObject {
    func merging(_ pairs: [(String, JSONValue)]) -> JSONObject {
        var o = self
        for (k, v) in pairs { o[k] = v }
        return o
    }
}

extension LogConfiguration.Level {
    var swiftLogLevel: Logger.Level {
        switch self {
        case .trace: .trace
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error: .error
        }
    }
}
