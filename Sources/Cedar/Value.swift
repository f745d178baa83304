/// An entity's unique identifier: its type (a `::`-separated path such as `Warden::Key`) and its id.
public struct EntityUID: Hashable, Sendable, CustomStringConvertible {
    public var type: String
    public var id: String

    public init(type: String, id: String) {
        self.type = type
        self.id = id
    }

    /// Cedar's own spelling: `Type::"id"` with the id escaped.
    public var description: String { "\(type)::\"\(CedarValue.escape(id))\"" }
}

/// A Cedar value. Sets and records compare structurally; sets are unordered and hold no duplicates.
public enum CedarValue: Hashable, Sendable, CustomStringConvertible {
    case bool(Bool)
    case long(Int64)
    case string(String)
    case entity(EntityUID)
    case set(Set<CedarValue>)
    case record([String: CedarValue])
    case decimal(CedarDecimal)
    case ip(IPAddress)
    case datetime(CedarDatetime)
    case duration(CedarDuration)

    /// The type's name in error messages.
    public var typeName: String {
        switch self {
        case .bool: "bool"
        case .long: "long"
        case .string: "string"
        case .entity(let e): "(entity of type `\(e.type)`)"
        case .set: "set"
        case .record: "record"
        case .decimal: "decimal"
        case .ip: "ipaddr"
        case .datetime: "datetime"
        case .duration: "duration"
        }
    }

    public var description: String {
        switch self {
        case .bool(let b): "\(b)"
        case .long(let l): "\(l)"
        case .string(let s): "\"\(Self.escape(s))\""
        case .entity(let e): e.description
        case .set(let s): "[" + s.map(\.description).sorted().joined(separator: ", ") + "]"
        case .record(let r):
            "{" + r.keys.sorted().map { "\"\(Self.escape($0))\": \(r[$0]!.description)" }.joined(separator: ", ") + "}"
        case .decimal(let d): "decimal(\"\(d)\")"
        case .ip(let i): "ip(\"\(i)\")"
        case .datetime(let d): "datetime(\"\(d.milliseconds)ms since epoch\")"
        case .duration(let d): "duration(\"\(d.milliseconds)ms\")"
        }
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\0": out += "\\0"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}

extension StringProtocol {
    /// Splits on every occurrence of `separator` (kept free of Foundation).
    func split(onString separator: String) -> [String] {
        let s = Array(self.unicodeScalars)
        let sep = Array(separator.unicodeScalars)
        var parts: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if i + sep.count <= s.count, Array(s[i..<(i + sep.count)]) == sep {
                parts.append(String(current))
                current = String.UnicodeScalarView()
                i += sep.count
            } else {
                current.append(s[i])
                i += 1
            }
        }
        parts.append(String(current))
        return parts
    }
}
