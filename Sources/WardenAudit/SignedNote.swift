import Crypto
import Foundation

/// A transparency-log checkpoint (c2sp.org/tlog-checkpoint): the log's origin, tree size and root hash.
public struct Checkpoint: Sendable, Equatable {
    public var origin: String
    public var size: Int
    public var root: [UInt8]

    public init(origin: String, size: Int, root: [UInt8]) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    /// The note text: origin, size and base64 root, one per line.
    public var text: String { "\(origin)\n\(size)\n\(Data(root).base64EncodedString())\n" }

    /// Parses a checkpoint's note text (extension lines after the root are ignored).
    public init?(text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 4, text.hasSuffix("\n"), !lines[0].isEmpty, let size = Int(lines[1]), size >= 0,
            let root = Data(base64Encoded: String(lines[2])), root.count == 32
        else { return nil }
        self.init(origin: String(lines[0]), size: size, root: Array(root))
    }
}

/// Ed25519 signed notes (c2sp.org/signed-note): the note text, a blank line, and one line per
/// signature: `— <key name> <base64(key hash ‖ signature)>`.
public enum SignedNote {
    static let dash = "\u{2014} "

    /// The 4-byte key hash: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key), first 4 bytes.
    static func keyHash(name: String, publicKey: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(data: Array(name.utf8) + [0x0A, 0x01] + publicKey)
        return Array(h.finalize().prefix(4))
    }

    /// Signs `text` (which must end with a newline) and returns the whole note.
    public static func sign(_ text: String, name: String, key: Curve25519.Signing.PrivateKey) throws -> String {
        precondition(text.hasSuffix("\n"), "note text ends with a newline")
        let signature = try key.signature(for: Array(text.utf8))
        let hash = keyHash(name: name, publicKey: Array(key.publicKey.rawRepresentation))
        return text + "\n" + dash + name + " " + Data(hash + Array(signature)).base64EncodedString() + "\n"
    }

    /// The verifier key string `<name>+<key hash hex>+<base64(0x01 ‖ public key)>`.
    public static func verifierKey(name: String, publicKey: Curve25519.Signing.PublicKey) -> String {
        let raw = Array(publicKey.rawRepresentation)
        let hash = keyHash(name: name, publicKey: raw)
        let hex = hash.map { String(format: "%02x", $0) }.joined()
        return "\(name)+\(hex)+\(Data([0x01] + raw).base64EncodedString())"
    }

    public enum VerificationError: Error, Equatable, CustomStringConvertible {
        case malformedKey, malformedNote, noSignatureByKey, badSignature

        public var description: String {
            switch self {
            case .malformedKey: "the verifier key is malformed"
            case .malformedNote: "the note is malformed"
            case .noSignatureByKey: "the note carries no signature by this key"
            case .badSignature: "the signature does not verify"
            }
        }
    }

    /// Verifies a note against a verifier key and returns its text.
    public static func verify(_ note: String, verifierKey: String) throws(VerificationError) -> String {
        let parts = verifierKey.split(separator: "+", maxSplits: 2)
        guard parts.count == 3, let encoded = Data(base64Encoded: String(parts[2])), encoded.count == 33, encoded.first == 0x01,
            let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: encoded.dropFirst())
        else { throw .malformedKey }
        let name = String(parts[0])
        let hash = keyHash(name: name, publicKey: Array(encoded.dropFirst()))
        guard let split = note.range(of: "\n\n", options: .backwards) else { throw .malformedNote }
        let text = String(note[..<note.index(after: split.lowerBound)])
        let signatures = note[split.upperBound...].split(separator: "\n")
        for line in signatures {
            guard line.hasPrefix(dash) else { throw .malformedNote }
            let fields = line.dropFirst(dash.count).split(separator: " ")
            guard fields.count == 2, String(fields[0]) == name, let blob = Data(base64Encoded: String(fields[1])),
                blob.count == 4 + 64
            else { continue }
            guard Array(blob.prefix(4)) == hash else { continue }
            guard publicKey.isValidSignature(blob.dropFirst(4), for: Array(text.utf8)) else { throw .badSignature }
            return text
        }
        throw .noSignatureByKey
    }
}
