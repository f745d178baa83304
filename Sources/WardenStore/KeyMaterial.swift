import Crypto
import WardenCore

/// Creating and hashing data-plane keys.
public enum KeyMaterial {
    /// A new key: `wk-` and 48 hex characters (192 random bits).
    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        var s = "wk-"
        for _ in 0..<3 {
            let v = rng.next() as UInt64
            let hex = String(v, radix: 16)
            s += String(repeating: "0", count: 16 - hex.count) + hex
        }
        return s
    }

    /// Hex SHA-256 of `key`, the only form in which keys are stored or compared.
    public static func hash(_ key: String) -> String {
        let digest = SHA256.hash(data: Array(key.utf8))
        return hex(digest)
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
