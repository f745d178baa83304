/// A JSON value that keeps what the wire carried: object member order and the exact text of numbers.
///
/// Warden passes request fields it does not know straight through to upstreams, so it cannot decode
/// into fixed structs and re-encode: `0.70` must stay `0.70`, `12345678901234567890` must not become a
/// `Double`, and member order stays stable for logs and tests. Objects are small in practice (a chat
/// message has two to five members), so they are an ordered array with linear lookup; past
/// `JSONObject.indexThreshold` members a hash index keeps lookups constant-time, so no body can make
/// member lookup quadratic.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A number as written on the wire (already validated by the parser, or produced by `init(_:)`).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// A JSON number from an integer.
    public static func int<I: BinaryInteger>(_ value: I) -> JSONValue { .number(String(value)) }

    /// A JSON number from a double; non-finite values have no JSON form and become `null`.
    public static func double(_ value: Double) -> JSONValue {
        guard value.isFinite else { return .null }
        if value == value.rounded(), abs(value) < 1e15 { return .number(String(Int64(value))) }
        return .number(String(value))
    }

    public var isNull: Bool { if case .null = self { true } else { false } }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }

    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }

    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }

    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }

    /// The number as a `Double`, if this is a number.
    public var doubleValue: Double? { if case .number(let n) = self { Double(n) } else { nil } }

    /// The number as an `Int`, if this is a number with an exact integer value (`3`, `3.0`, `3e0`).
    public var intValue: Int? {
        guard case .number(let n) = self else { return nil }
        if let i = Int(n) { return i }
        guard let d = Double(n), d == d.rounded(), abs(d) < 9.0e15 else { return nil }
        return Int(d)
    }

    /// The member named `key`, if this is an object that has it.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// The JSON type name used in error messages ("a string", "an object", ...).
    public var typeDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// An ordered JSON object with distinct keys. The parser rejects duplicate keys (see
/// `JSONParseError.duplicateKey`), so Warden and an upstream can never read different values from the
/// same bytes.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var members: [(key: String, value: JSONValue)]
    /// Key → position in `members`, kept once an object has more than `indexThreshold` members.
    private var index: [String: Int]?

    /// Objects with more members than this get a hash index; smaller ones are scanned (faster when tiny).
    public static let indexThreshold = 16

    public init() { members = [] }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = []
        members.reserveCapacity(elements.count)
        for (k, v) in elements { self[k] = v }
    }

    /// Builds an object from members known to have distinct keys, without checking.
    init(uniqueMembers: [(key: String, value: JSONValue)]) {
        members = uniqueMembers
        if members.count > Self.indexThreshold { rebuildIndex() }
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map(\.key) }

    /// The position of `key` in `members`.
    @inline(__always)
    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        return members.firstIndex { $0.key == key }
    }

    private mutating func rebuildIndex() {
        var built = [String: Int](minimumCapacity: members.count)
        for (i, m) in members.enumerated() { built[m.key] = i }
        index = built
    }

    public subscript(key: String) -> JSONValue? {
        get {
            position(of: key).map { members[$0].value }
        }
        set {
            if let i = position(of: key) {
                if let newValue {
                    members[i].value = newValue
                } else {
                    members.remove(at: i)
                    if index != nil { members.count > Self.indexThreshold ? rebuildIndex() : (index = nil) }
                }
            } else if let newValue {
                members.append((key, newValue))
                if index != nil {
                    index?[key] = members.count - 1
                } else if members.count > Self.indexThreshold {
                    rebuildIndex()
                }
            }
        }
    }

    /// Removes `key` and returns its value.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let value = self[key] else { return nil }
        self[key] = nil
        return value
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> { members.makeIterator() }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.members.count == rhs.members.count else { return false }
        for m in lhs.members where rhs[m.key] != m.value { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent, consistent with `==`.
        var combined = 0
        for m in members {
            var h = Hasher()
            h.combine(m.key)
            h.combine(m.value)
            combined ^= h.finalize()
        }
        hasher.combine(members.count)
        hasher.combine(combined)
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByNilLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        var o = JSONObject()
        for (k, v) in elements { o[k] = v }
        self = .object(o)
    }
}
