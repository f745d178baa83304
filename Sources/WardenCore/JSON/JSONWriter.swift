import NIOCore

/// Compact JSON serialization of `JSONValue` into a `ByteBuffer`.
///
/// Output is UTF-8 with only the escapes JSON requires (`"`, `\`, control characters), so
/// non-ASCII text passes through byte for byte.
extension JSONValue {
    /// Appends the compact JSON text of this value to `buffer`.
    public func write(to buffer: inout ByteBuffer) {
        switch self {
        case .null: buffer.writeStaticString("null")
        case .bool(let b):
            if b { buffer.writeStaticString("true") } else { buffer.writeStaticString("false") }
        case .number(let n): buffer.writeString(n)
        case .string(let s): JSONValue.writeString(s, to: &buffer)
        case .array(let a):
            buffer.writeInteger(UInt8(ascii: "["))
            var first = true
            for v in a {
                if !first { buffer.writeInteger(UInt8(ascii: ",")) }
                first = false
                v.write(to: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "]"))
        case .object(let o):
            o.write(to: &buffer)
        }
    }

    /// The compact JSON text of this value as a new buffer.
    public var jsonBuffer: ByteBuffer {
        var b = ByteBuffer()
        b.reserveCapacity(256)
        write(to: &b)
        return b
    }

    /// The compact JSON text of this value.
    public var jsonString: String {
        String(buffer: jsonBuffer)
    }

    /// Appends `s` as a JSON string literal.
    public static func writeString(_ s: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var runStart = 0
            var i = 0
            while i < utf8.count {
                let c = utf8[i]
                if c >= 0x20, c != UInt8(ascii: "\""), c != UInt8(ascii: "\\") {
                    i += 1
                    continue
                }
                if i > runStart { buffer.writeBytes(UnsafeBufferPointer(rebasing: utf8[runStart..<i])) }
                switch c {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                case 0x08: buffer.writeStaticString("\\b")
                case 0x0C: buffer.writeStaticString("\\f")
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(hex[Int(c >> 4)])
                    buffer.writeInteger(hex[Int(c & 0xF)])
                }
                i += 1
                runStart = i
            }
            if i > runStart { buffer.writeBytes(UnsafeBufferPointer(rebasing: utf8[runStart..<i])) }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}

extension JSONObject {
    /// Appends the compact JSON text of this object to `buffer`.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "{"))
        var first = true
        for m in members {
            if !first { buffer.writeInteger(UInt8(ascii: ",")) }
            first = false
            JSONValue.writeString(m.key, to: &buffer)
            buffer.writeInteger(UInt8(ascii: ":"))
            m.value.write(to: &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    public var jsonBuffer: ByteBuffer { JSONValue.object(self).jsonBuffer }
    public var jsonString: String { JSONValue.object(self).jsonString }
}
