import Crypto
import WardenCore

/// Creating and hashing data-plane keys.
public enum KeyMaterial {
    /// A new key: `wk-` (or `prefix`) and 48 hex characters (192 random bits).
    public static func generate(prefix: String = "wk-") -> String {
        var rng = SystemRandomNumberGenerator()
        var s = prefix
        for _ in 0..<3 {
            let v = rng.next() as UInt64
            let hex = String(v, radix: 16)
            s += String(repeating: "0", count: 16 - hex.count) + hex
        }
        return s
    }

    /// Hex SHA-256 of `key`, the only form in which keys are stored.
    public static func hash(_ key: String) -> String {
        hex(digest(key).bytes)
    }

    /// SHA-256 of `key` as a compact hashable value, the form the authenticator compares.
    public static func digest(_ key: String) -> KeyDigest {
        var key = key
        return key.withUTF8 { KeyDigest(SHA256.hash(data: $0)) }
    }

    /// The part of a key shown to people: its first 10 characters.
    public static func displayPrefix(_ key: String) -> String { String(key.prefix(10)) }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in digest {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A random identifier with a type prefix, e.g. `key_1a2b3c4d5e6f7a8b`.
    public static func identifier(prefix: String) -> String {
        let v = UInt64.random(in: .min ... .max)
        let hex = String(v, radix: 16)
        return prefix + "_" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// A SHA-256 digest held as four words: cheap to hash and compare, no allocation.
public struct KeyDigest: Hashable, Sendable {
    let a: UInt64, b: UInt64, c: UInt64, d: UInt64

    init(_ digest: SHA256.Digest) {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { out in
            digest.withUnsafeBytes { out.copyMemory(from: $0) }
        }
        (a, b, c, d) = words
    }

    /// Parses 64 hex characters (a stored hash); nil for anything else.
    public init?(hex: String) {
        guard hex.utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var high: UInt8?
        for c in hex.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let h = high {
                bytes.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { out in bytes.withUnsafeBytes { out.copyMemory(from: $0) } }
        (a, b, c, d) = words
    }

    var bytes: [UInt8] {
        var words = (a, b, c, d)
        return withUnsafeBytes(of: &words) { Array($0) }
    }
}
