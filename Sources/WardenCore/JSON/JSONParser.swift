import NIOCore

/// Why a JSON text could not be parsed, and where.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset of the problem in the input.
    public var offset: Int
    public var reason: String
    /// The key that appeared twice in one object, when that was the problem.
    public var duplicateKey: String? = nil

    public var description: String { "\(reason) at byte \(offset)" }
}

/// A strict RFC 8259 JSON parser over UTF-8 bytes.
///
/// Strict means: one value with only whitespace around it, no trailing commas, no comments, no
/// `NaN`, strings must be valid UTF-8 with no raw control characters, no key twice in one object (two
/// readers of the same bytes could otherwise see different values), and bounded nesting, members,
/// values and string lengths, so that no body can exhaust the stack or make parsing superlinear.
public enum JSONParser {
    /// What one document may hold.
    public struct Limits: Sendable {
        /// Deepest nesting. Real requests nest well under 32 levels (tool schemas are the deepest).
        public var depth = 128
        /// Most members of one object (tool schemas, `metadata` and `logit_bias` stay far below).
        public var members = 10_000
        /// Most values in the document (an embeddings request of token arrays is the largest real case).
        public var values = 2_000_000
        /// Longest string, in bytes as written (an image as a data URL is the longest real case).
        public var stringBytes = 64 << 20

        public init() {}

        /// The limits every parse uses unless told otherwise.
        public static let standard = Limits()
    }

    /// Deepest nesting accepted by default.
    public static var maximumDepth: Int { Limits.standard.depth }

    public static func parse(_ bytes: some Collection<UInt8>, limits: Limits = .standard) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                var p = Cursor(UnsafeRawBufferPointer(buffer), limits: limits)
                return try p.parseDocument()
            }
        }
        if let result { return try result.get() }
        return try parse(Array(bytes), limits: limits)
    }

    public static func parse(_ buffer: ByteBuffer, limits: Limits = .standard) throws(JSONParseError) -> JSONValue {
        let result = buffer.withUnsafeReadableBytes { raw in
            Result { () throws(JSONParseError) -> JSONValue in
                var p = Cursor(raw, limits: limits)
                return try p.parseDocument()
            }
        }
        return try result.get()
    }

    /// Parses `buffer` and also returns where the top-level member `key`'s value lies in it (byte offsets
    /// from the reader index), so a forwarder can replace just that value.
    public static func parse(_ buffer: ByteBuffer, spanOf key: String) throws(JSONParseError) -> (JSONValue, Range<Int>?) {
        let result = buffer.withUnsafeReadableBytes { raw in
            Result { () throws(JSONParseError) -> (JSONValue, Range<Int>?) in
                var p = Cursor(raw)
                p.spanKey = key
                let value = try p.parseDocument()
                return (value, p.span)
            }
        }
        return try result.get()
    }

    public static func parse(_ string: String) throws(JSONParseError) -> JSONValue {
        var s = string
        let result = s.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                var p = Cursor(UnsafeRawBufferPointer(buffer))
                return try p.parseDocument()
            }
        }
        return try result.get()
    }

    /// Parses a top-level object but builds only the members named in `keys`; the others are checked for
    /// structure and skipped without allocating. For upstream answers that are forwarded byte for byte, where
    /// Warden needs only a few members (e.g. `usage`).
    public static func parseObject(_ buffer: ByteBuffer, keeping keys: [String]) throws(JSONParseError) -> JSONObject {
        let result = buffer.withUnsafeReadableBytes { raw in
            Result { () throws(JSONParseError) -> JSONObject in
                var p = Cursor(raw)
                p.skipWhitespace()
                guard p.i < raw.count, raw[p.i] == UInt8(ascii: "{") else { throw p.fail("expected a JSON object") }
                let object = try p.parseObject(keeping: keys)
                p.skipWhitespace()
                if p.i < raw.count { throw p.fail("unexpected data after the JSON value") }
                return object
            }
        }
        return try result.get()
    }

    struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var i = 0
        var depth = 0
        /// Values built so far (bounded by `maximumValues`).
        var values = 0
        /// A top-level member whose value's byte range to record in `span`.
        var spanKey: String?
        var span: Range<Int>?

        let limits: Limits

        init(_ bytes: UnsafeRawBufferPointer, limits: Limits = .standard) {
            self.bytes = bytes
            self.limits = limits
        }

        func fail(_ reason: String, at offset: Int? = nil) -> JSONParseError {
            JSONParseError(offset: offset ?? i, reason: reason)
        }

        mutating func parseDocument() throws(JSONParseError) -> JSONValue {
            skipWhitespace()
            if i >= bytes.count { throw fail("empty body: expected a JSON value") }
            let value = try parseValue()
            skipWhitespace()
            if i < bytes.count { throw fail("unexpected data after the JSON value") }
            return value
        }

        @inline(__always)
        mutating func skipWhitespace() {
            while i < bytes.count {
                let c = bytes[i]
                guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
                i += 1
            }
        }

        mutating func parseValue() throws(JSONParseError) -> JSONValue {
            guard i < bytes.count else { throw fail("unexpected end of input") }
            values += 1
            if values > limits.values { throw fail("more than \(limits.values) values") }
            switch bytes[i] {
            case UInt8(ascii: "{"): return try parseObject()
            case UInt8(ascii: "["): return try parseArray()
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
            case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
            case UInt8(ascii: "n"): try expectLiteral("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            default: throw fail("unexpected character '\(Self.printable(bytes[i]))'")
            }
        }

        static func printable(_ byte: UInt8) -> String {
            (0x20..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
        }

        mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
            let n = literal.utf8CodeUnitCount
            guard i + n <= bytes.count else { throw fail("invalid literal") }
            let p = literal.utf8Start
            for k in 0..<n where bytes[i + k] != p[k] { throw fail("invalid literal") }
            i += n
        }

        mutating func enter() throws(JSONParseError) {
            depth += 1
            if depth > limits.depth { throw fail("nesting deeper than \(limits.depth) levels") }
        }

        mutating func parseObject() throws(JSONParseError) -> JSONValue {
            .object(try parseObject(keeping: nil))
        }

        /// Parses an object. With `keeping`, only those members are built; the others are skipped.
        mutating func parseObject(keeping keys: [String]?) throws(JSONParseError) -> JSONObject {
            try enter()
            i += 1  // {
            var members: [(key: String, value: JSONValue)] = []
            members.reserveCapacity(keys == nil ? 8 : 1)
            // Keys seen so far: scanned while the object is small, hashed past the index threshold, so
            // checking for duplicates stays linear in the body.
            var seen: Set<String>?
            var keyCount = 0
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                i += 1
                depth -= 1
                return JSONObject()
            }
            while true {
                skipWhitespace()
                guard i < bytes.count else { throw fail("unexpected end of input in object") }
                guard bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key in object") }
                let keyStart = i
                let key = try parseString()
                keyCount += 1
                if keyCount > limits.members {
                    throw fail("an object with more than \(limits.members) members", at: keyStart)
                }
                if keys == nil || keys!.contains(key) {
                    let isDuplicate: Bool
                    if seen != nil {
                        isDuplicate = !seen!.insert(key).inserted
                    } else {
                        isDuplicate = members.contains { $0.key == key }
                        if !isDuplicate, members.count >= JSONObject.indexThreshold {
                            seen = Set(members.map(\.key))
                            seen!.insert(key)
                        }
                    }
                    if isDuplicate {
                        var error = fail("duplicate key '\(key)' in object", at: keyStart)
                        error.duplicateKey = key
                        throw error
                    }
                }
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after object key") }
                i += 1
                skipWhitespace()
                if let keys, !keys.contains(key) {
                    try skipValue()
                } else {
                    let valueStart = i
                    let value = try parseValue()
                    if depth == 1, let spanKey, key == spanKey { span = valueStart..<i }
                    members.append((key, value))
                }
                skipWhitespace()
                guard i < bytes.count else { throw fail("unexpected end of input in object") }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                if bytes[i] == UInt8(ascii: "}") {
                    i += 1
                    break
                }
                throw fail("expected ',' or '}' in object")
            }
            depth -= 1
            return JSONObject(uniqueMembers: members)
        }

        /// Moves past one value, checking its structure but building nothing.
        mutating func skipValue() throws(JSONParseError) {
            guard i < bytes.count else { throw fail("unexpected end of input") }
            switch bytes[i] {
            case UInt8(ascii: "\""):
                let open = i
                i += 1
                while i < bytes.count {
                    let c = bytes[i]
                    if c == UInt8(ascii: "\"") {
                        i += 1
                        return
                    }
                    if c == UInt8(ascii: "\\") { i += 1 }
                    i += 1
                }
                throw fail("unterminated string", at: open)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                try enter()
                let isObject = bytes[i] == UInt8(ascii: "{")
                let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                i += 1
                skipWhitespace()
                if i < bytes.count, bytes[i] == close {
                    i += 1
                    depth -= 1
                    return
                }
                while true {
                    skipWhitespace()
                    if isObject {
                        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key in object") }
                        try skipValue()
                        skipWhitespace()
                        guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after object key") }
                        i += 1
                        skipWhitespace()
                    }
                    try skipValue()
                    skipWhitespace()
                    guard i < bytes.count else { throw fail("unexpected end of input") }
                    if bytes[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    if bytes[i] == close {
                        i += 1
                        break
                    }
                    throw fail("expected ',' or a closing bracket")
                }
                depth -= 1
            case UInt8(ascii: "t"): try expectLiteral("true")
            case UInt8(ascii: "f"): try expectLiteral("false")
            case UInt8(ascii: "n"): try expectLiteral("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = i
                i += 1
                while i < bytes.count {
                    switch bytes[i] {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"),
                        UInt8(ascii: "+"), UInt8(ascii: "-"):
                        i += 1
                    default:
                        if i == start + 1, bytes[start] == UInt8(ascii: "-") { throw fail("invalid number", at: start) }
                        return
                    }
                }
            default:
                throw fail("unexpected character '\(Self.printable(bytes[i]))'")
            }
        }

        mutating func parseArray() throws(JSONParseError) -> JSONValue {
            try enter()
            i += 1  // [
            var elements: [JSONValue] = []
            elements.reserveCapacity(4)
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                i += 1
                depth -= 1
                return .array([])
            }
            while true {
                skipWhitespace()
                elements.append(try parseValue())
                skipWhitespace()
                guard i < bytes.count else { throw fail("unexpected end of input in array") }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                if bytes[i] == UInt8(ascii: "]") {
                    i += 1
                    break
                }
                throw fail("expected ',' or ']' in array")
            }
            depth -= 1
            return .array(elements)
        }

        mutating func parseNumber() throws(JSONParseError) -> JSONValue {
            let start = i
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count else { throw fail("invalid number", at: start) }
            if bytes[i] == UInt8(ascii: "0") {
                i += 1
            } else if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[i]) {
                while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            } else {
                throw fail("invalid number", at: start)
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                let digits = i
                while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
                if i == digits { throw fail("invalid number", at: start) }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                let digits = i
                while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
                if i == digits { throw fail("invalid number", at: start) }
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            return .number(text)
        }

        mutating func parseString() throws(JSONParseError) -> String {
            let open = i
            i += 1  // opening quote
            let start = i
            // Fast path: no escapes.
            var hasNonASCII = false
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    if i - start > limits.stringBytes { throw fail("a string longer than \(limits.stringBytes) bytes", at: open) }
                    let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<i])
                    i += 1
                    if !hasNonASCII { return String(decoding: slice, as: UTF8.self) }
                    guard let s = String(validating: slice, as: UTF8.self) else {
                        throw fail("string is not valid UTF-8", at: open)
                    }
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                if c < 0x20 { throw fail("control character in string") }
                if c >= 0x80 { hasNonASCII = true }
                i += 1
            }
            guard i < bytes.count else { throw fail("unterminated string", at: open) }
            // Slow path: decode escapes into a byte buffer, then validate once.
            var out: [UInt8] = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    if i - start > limits.stringBytes { throw fail("a string longer than \(limits.stringBytes) bytes", at: open) }
                    guard let s = String(validating: out, as: UTF8.self) else {
                        throw fail("string is not valid UTF-8", at: open)
                    }
                    return s
                }
                if c < 0x20 { throw fail("control character in string") }
                if c != UInt8(ascii: "\\") {
                    out.append(c)
                    i += 1
                    continue
                }
                i += 1
                guard i < bytes.count else { break }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        // A high surrogate must be followed by an escaped low surrogate.
                        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u")
                        else { throw fail("unpaired surrogate in string") }
                        i += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate in string") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("unpaired surrogate in string")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                    out.append(contentsOf: Array(String(u).utf8))
                default:
                    throw fail("invalid escape '\\\(Self.printable(e))' in string")
                }
            }
            throw fail("unterminated string", at: open)
        }

        mutating func parseHex4() throws(JSONParseError) -> UInt32 {
            guard i + 4 <= bytes.count else { throw fail("invalid \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw fail("invalid \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }
    }
}
