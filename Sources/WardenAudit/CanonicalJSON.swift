import Foundation
import NIOCore
import WardenCore

/// RFC 8785 JSON Canonicalization Scheme: the exact bytes an audit record's hash is computed over.
///
/// Object members sorted by their UTF-16 code units, no whitespace, strings with only the escapes JSON
/// requires (lower-case `\u00xx`), numbers in ECMAScript's shortest form. Warden's records use integers
/// and strings; other numbers are converted through `Double`.
public enum CanonicalJSON {
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var buffer = ByteBuffer()
        write(value, to: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// RFC 8785's member order: by UTF-16 code units. UTF-8 byte order is the same order except where
    /// a key holds a character at or above U+E000 (UTF-8 lead bytes 0xEE and up: the private-use and
    /// specials area sorts after surrogates in UTF-16, before them in UTF-8), so bytes are compared
    /// directly and UTF-16 only for such keys.
    static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a
        var b = b
        let byBytes: Bool? = a.withUTF8 { x in
            b.withUTF8 { y in
                let n = min(x.count, y.count)
                for i in 0..<n where x[i] != y[i] {
                    return x[i] >= 0xEE || y[i] >= 0xEE ? nil : x[i] < y[i]
                }
                return x.count < y.count
            }
        }
        return byBytes ?? a.utf16.lexicographicallyPrecedes(b.utf16)
    }

    public static func write(_ value: JSONValue, to buffer: inout ByteBuffer) {
        switch value {
        case .null, .bool, .string: value.write(to: &buffer)
        case .number(let text): buffer.writeString(canonicalNumber(text))
        case .array(let items):
            buffer.writeInteger(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                write(item, to: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "]"))
        case .object(let object):
            buffer.writeInteger(UInt8(ascii: "{"))
            let sorted = object.members.sorted { precedes($0.key, $1.key) }
            for (i, member) in sorted.enumerated() {
                if i > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                JSONValue.writeString(member.key, to: &buffer)
                buffer.writeInteger(UInt8(ascii: ":"))
                write(member.value, to: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        }
    }

    /// ECMAScript `Number.prototype.toString` of the number written as `text`.
    static func canonicalNumber(_ text: String) -> String {
        if let i = Int64(text), i.magnitude <= (1 << 53) { return String(i) }
        guard let d = Double(text), d.isFinite else { return "null" }
        if d == 0 { return "0" }
        if d == d.rounded(), abs(d) < 1e21 { return integralString(d) }
        // Shortest round-trip digits, then ECMAScript's layout rules.
        var description = "\(abs(d))"  // Swift prints the shortest round-trip form, e.g. 1e-07 or 0.1
        var exponent = 0
        if let e = description.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(description[description.index(after: e)...]) ?? 0
            description = String(description[..<e])
        }
        var digits = description.replacingOccurrences(of: ".", with: "")
        let pointIndex = description.firstIndex(of: ".").map { description.distance(from: description.startIndex, to: $0) } ?? description.count
        var n = pointIndex + exponent  // position of the decimal point relative to the digit string
        while digits.hasPrefix("0"), digits.count > 1 {
            digits.removeFirst()
            n -= 1
        }
        while digits.hasSuffix("0"), digits.count > 1 { digits.removeLast() }
        let k = digits.count
        let sign = d < 0 ? "-" : ""
        if k <= n, n <= 21 { return sign + digits + String(repeating: "0", count: n - k) }
        if 0 < n, n <= 21 {
            let i = digits.index(digits.startIndex, offsetBy: n)
            return sign + digits[..<i] + "." + digits[i...]
        }
        if -6 < n, n <= 0 { return sign + "0." + String(repeating: "0", count: -n) + digits }
        let e = n - 1
        let mantissa = k == 1 ? digits : String(digits.prefix(1)) + "." + digits.dropFirst()
        return sign + mantissa + "e" + (e >= 0 ? "+" : "-") + String(abs(e))
    }

    private static func integralString(_ d: Double) -> String {
        // An integral double below 1e21: print it without exponent or fraction.
        var s = "\(d)"
        if s.hasSuffix(".0") { s.removeLast(2) }
        if s.contains("e") {
            // Large integral values Swift prints with an exponent, e.g. 1e+20.
            let parts = s.split(separator: "e")
            let exp = Int(parts[1]) ?? 0
            var digits = parts[0].replacingOccurrences(of: ".", with: "")
            let negative = digits.hasPrefix("-")
            if negative { digits.removeFirst() }
            let intDigits = (parts[0].split(separator: ".").first.map { $0.count - (negative ? 1 : 0) } ?? 1) + exp
            digits += String(repeating: "0", count: max(0, intDigits - digits.count))
            s = (negative ? "-" : "") + digits
        }
        return s
    }
}
