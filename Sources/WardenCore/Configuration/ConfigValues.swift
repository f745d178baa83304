import Foundation

/// A problem with the configuration, naming the key at fault (`models.fast.timeout.connect`).
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var problem: String

    public init(key: String, _ problem: String) {
        self.key = key
        self.problem = problem
    }

    public var description: String { key.isEmpty ? problem : "\(key): \(problem)" }
}

/// A duration written with a unit: `250ms`, `2s`, `1.5s`, `1m`, `2h`.
public struct ConfigDuration: Sendable, Hashable, Decodable, CustomStringConvertible {
    public var duration: Duration

    public init(_ duration: Duration) { self.duration = duration }

    public static func milliseconds(_ ms: Int) -> ConfigDuration { ConfigDuration(.milliseconds(ms)) }
    public static func seconds(_ s: Int) -> ConfigDuration { ConfigDuration(.seconds(s)) }

    public var seconds: Double {
        let c = duration.components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }

    public var description: String { GatewayError.formatSeconds(seconds) }

    /// The longest duration accepted anywhere in the configuration (ten years): longer ones are
    /// mistakes, and would overflow the nanosecond counts that timers take.
    public static let maximum = Duration.seconds(10 * 365 * 86_400)

    /// Parses `250ms`, `2s`, `1.5s`, `1m`, `2h` (at most ten years); returns nil for anything else.
    public static func parse(_ text: String) -> ConfigDuration? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count)
            // "ms" also ends with "s": only accept a plain decimal number (digits and one point) before the unit.
            guard !number.isEmpty, number.utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == 0x2E }),
                let value = Double(number), value.isFinite, value * scale <= maximum.seconds
            else { continue }
            return ConfigDuration(.milliseconds(Int64((value * scale * 1000).rounded())))
        }
        return nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = (try? c.decode(String.self)) ?? ""
        guard let d = Self.parse(text) else {
            throw ConfigurationError(
                key: decoder.codingPath.configKey, "expected a duration with a unit, like 250ms, 2s or 1m")
        }
        self = d
    }
}

/// A size in bytes, written as a number or with a unit: `8MiB`, `512KiB`, `1MB`, `1024`.
public struct ConfigByteSize: Sendable, Hashable, Decodable {
    public var bytes: Int

    public init(bytes: Int) { self.bytes = bytes }

    public static func parse(_ text: String) -> ConfigByteSize? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let n = Int(t), n >= 0 { return ConfigByteSize(bytes: n) }
        let units: [(String, Int)] = [
            ("KiB", 1024), ("MiB", 1024 * 1024), ("GiB", 1024 * 1024 * 1024), ("KB", 1000), ("MB", 1_000_000),
            ("GB", 1_000_000_000), ("B", 1),
        ]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), v >= 0, v.isFinite,
                v * Double(scale) < 0x1p62
            else { continue }
            return ConfigByteSize(bytes: Int(v * Double(scale)))
        }
        return nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self), n >= 0 {
            self.bytes = n
            return
        }
        guard let text = try? c.decode(String.self), let size = Self.parse(text) else {
            throw ConfigurationError(key: decoder.codingPath.configKey, "expected a size like 8MiB, 512KiB or 1048576")
        }
        self = size
    }
}

/// A `host:port` listen address.
public struct ListenAddress: Sendable, Hashable, Decodable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public static func parse(_ text: String) -> ListenAddress? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        return ListenAddress(host: host, port: port)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        guard let text = try? c.decode(String.self), let a = Self.parse(text) else {
            throw ConfigurationError(key: decoder.codingPath.configKey, "expected host:port, like 127.0.0.1:4000")
        }
        self = a
    }
}

/// A coding key for any string, used to list a mapping's keys in order and reject unknown ones.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension [any CodingKey] {
    /// `models.fast.deployments[0].provider`
    public var configKey: String {
        var s = ""
        for key in self {
            if let i = key.intValue {
                s += "[\(i)]"
            } else {
                s += s.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return s
    }
}

extension Decoder {
    /// Throws for any key of this mapping that `Keys` does not list, naming it and the allowed keys.
    public func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_: Keys.Type) throws {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        let known = Keys.allCases.map(\.stringValue)
        for key in container.allKeys where !known.contains(key.stringValue) {
            throw ConfigurationError(
                key: (codingPath + [key]).configKey,
                "unknown key (allowed here: \(known.joined(separator: ", ")))")
        }
    }

    /// The entries of a mapping in document order.
    func orderedMapping<Value: Decodable>(_: Value.Type) throws -> [(String, Value)] {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        return try container.allKeys.map { key in (key.stringValue, try container.decode(Value.self, forKey: key)) }
    }
}
