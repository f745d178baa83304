import NIOCore

/// One server-sent event.
public struct ServerSentEvent: Sendable, Equatable {
    /// The `event:` field, if any.
    public var event: String?
    /// The `data:` lines joined with newlines.
    public var data: String

    public init(event: String? = nil, data: String) {
        self.event = event
        self.data = data
    }

    /// Appends the wire form of an event whose data is a JSON object.
    public static func write(event: String?, json: JSONObject, to buffer: inout ByteBuffer) {
        if let event {
            buffer.writeStaticString("event: ")
            buffer.writeString(event)
            buffer.writeStaticString("\n")
        }
        buffer.writeStaticString("data: ")
        json.write(to: &buffer)
        buffer.writeStaticString("\n\n")
    }
}

/// An incremental parser of the `text/event-stream` format (WHATWG HTML §9.2).
///
/// Feed it the body as it arrives, in chunks split anywhere; it returns the events completed so far.
/// A line longer than `maximumLineLength`, or an event whose data (over all its `data:` lines) passes
/// `maximumEventBytes`, is an error, so a broken or hostile upstream cannot grow memory without bound.
public struct ServerSentEventParser: Sendable {
    public static let maximumLineLength = 8 * 1024 * 1024
    public static let maximumEventBytes = 8 * 1024 * 1024

    /// A line or an event past its limit.
    public struct TooLong: Error, Sendable, CustomStringConvertible {
        public var what: String
        public var limit: Int
        public var description: String { "an event stream \(what) longer than \(limit) bytes" }
    }

    private var line: [UInt8] = []
    private var lastWasCR = false
    private var eventName: String?
    private var data: [UInt8] = []
    private var hasData = false

    public init() {}

    /// Parses `buffer` and returns the events it completed.
    public mutating func parse(_ buffer: ByteBuffer) throws -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        try buffer.withUnsafeReadableBytes { bytes in
            var start = 0
            var i = 0
            while i < bytes.count {
                let c = bytes[i]
                if c == 0x0A || c == 0x0D {
                    if c == 0x0A, lastWasCR, start == i, line.isEmpty {
                        // The LF of a CRLF pair.
                        lastWasCR = false
                        i += 1
                        start = i
                        continue
                    }
                    line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
                    if line.count > Self.maximumLineLength { throw TooLong(what: "line", limit: Self.maximumLineLength) }
                    if let event = try processLine() { events.append(event) }
                    line.removeAll(keepingCapacity: true)
                    lastWasCR = c == 0x0D
                    i += 1
                    start = i
                    continue
                }
                lastWasCR = false
                i += 1
            }
            if start < bytes.count {
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<bytes.count]))
                if line.count > Self.maximumLineLength { throw TooLong(what: "line", limit: Self.maximumLineLength) }
            }
        }
        return events
    }

    /// Completes a final event that was not followed by a blank line (some servers end that way).
    public mutating func finish() -> ServerSentEvent? {
        if !line.isEmpty {
            _ = try? processLine()
            line.removeAll()
        }
        return dispatch()
    }

    private mutating func processLine() throws -> ServerSentEvent? {
        if line.isEmpty { return dispatch() }
        if line[0] == UInt8(ascii: ":") { return nil }  // comment
        var colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.count
        let field = line[0..<colon]
        if colon < line.count {
            colon += 1
            if colon < line.count, line[colon] == UInt8(ascii: " ") { colon += 1 }
        }
        let value = line[colon...]
        if field.elementsEqual("data".utf8) {
            if hasData { data.append(0x0A) }
            data.append(contentsOf: value)
            hasData = true
            if data.count > Self.maximumEventBytes { throw TooLong(what: "event", limit: Self.maximumEventBytes) }
        } else if field.elementsEqual("event".utf8) {
            eventName = String(decoding: value, as: UTF8.self)
        }
        return nil
    }

    private mutating func dispatch() -> ServerSentEvent? {
        defer {
            eventName = nil
            data.removeAll(keepingCapacity: true)
            hasData = false
        }
        guard hasData else { return nil }
        return ServerSentEvent(event: eventName, data: String(decoding: data, as: UTF8.self))
    }
}
