import Foundation
import WardenCore

/// One stored audit record as the verifier reads it.
public struct StoredAuditRecord: Sendable {
    /// The position the store keeps the record at (its leaf index).
    public var seq: Int
    /// The canonical JSON bytes the leaf hash is computed over.
    public var body: [UInt8]
    /// The leaf hash the store keeps beside the body.
    public var leafHash: [UInt8]

    public init(seq: Int, body: [UInt8], leafHash: [UInt8]) {
        self.seq = seq
        self.body = body
        self.leafHash = leafHash
    }
}

/// A stored checkpoint: the tree size it commits to and its signed note.
public struct StoredCheckpoint: Sendable {
    public var size: Int
    public var note: String

    public init(size: Int, note: String) {
        self.size = size
        self.note = note
    }
}

/// What `warden audit verify` found: nothing, or the first problem, naming the record or checkpoint.
public enum AuditProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case recordChanged(seq: Int)
    case recordRemoved(seq: Int)
    case recordInserted(seq: Int)
    case recordReordered(seq: Int, claims: Int)
    case recordsTruncated(after: Int, checkpointSize: Int)
    case checkpointSignature(size: Int, reason: String)
    case checkpointInconsistent(size: Int)
    case checkpointMalformed(size: Int)

    public var description: String {
        switch self {
        case .recordChanged(let s): "record \(s) was changed (its hash no longer matches the log)"
        case .recordRemoved(let s): "record \(s) was removed"
        case .recordInserted(let s): "a record was inserted at \(s)"
        case .recordReordered(let s, let c): "record \(s) is out of order (it is record \(c))"
        case .recordsTruncated(let a, let c): "records after \(a) were removed (a checkpoint covers \(c) records)"
        case .checkpointSignature(let s, let r): "the checkpoint at size \(s) does not verify: \(r)"
        case .checkpointInconsistent(let s): "the checkpoint at size \(s) does not match the records (forged, or records up to it were rewritten)"
        case .checkpointMalformed(let s): "the checkpoint at size \(s) is malformed"
        }
    }
}

/// Recomputes an audit log: the hash chain of records, every leaf hash, and every checkpoint's
/// signature and root.
public struct AuditVerifier: Sendable {
    public let verifierKey: String
    public let origin: String

    public init(verifierKey: String, origin: String) {
        self.verifierKey = verifierKey
        self.origin = origin
    }

    /// The state before the first stored record (after pruning: the retained frontier and last hash).
    public struct Start: Sendable {
        public var range: CompactRange
        public var previousLeafHash: [UInt8]?

        public init(range: CompactRange = CompactRange(), previousLeafHash: [UInt8]? = nil) {
            self.range = range
            self.previousLeafHash = previousLeafHash
        }
    }

    /// Verifies records (in stored order) and checkpoints. Returns the verified tree size.
    public func verify(records: [StoredAuditRecord], checkpoints: [StoredCheckpoint], start: Start = Start())
        throws(AuditProblem) -> Int
    {
        var range = start.range
        var previous = start.previousLeafHash
        let bySize = Dictionary(checkpoints.map { ($0.size, $0) }, uniquingKeysWith: { a, _ in a })
        for record in records {
            let expected = range.size
            if record.seq > expected { throw .recordRemoved(seq: expected) }
            if record.seq < expected { throw .recordInserted(seq: record.seq) }
            guard let json = try? JSONParser.parse(record.body), let claimed = json["seq"]?.intValue else {
                throw .recordChanged(seq: record.seq)
            }
            if claimed != record.seq { throw .recordReordered(seq: record.seq, claims: claimed) }
            let leaf = MerkleTree.leafHash(record.body)
            // The record's bytes against the hash stored beside them.
            if leaf != record.leafHash { throw .recordChanged(seq: record.seq) }
            // The chain: each record names its predecessor's leaf hash, so rewriting a record together
            // with its stored hash is still caught, at the record after it.
            let prev = json["prev"]?.stringValue ?? ""
            if let previous, prev != Self.hex(previous) { throw .recordChanged(seq: record.seq - 1) }
            range.append(leaf)
            previous = leaf
            if let checkpoint = bySize[range.size] { try check(checkpoint, root: range.root) }
        }
        if let beyond = checkpoints.map(\.size).filter({ $0 > range.size }).min() {
            throw .recordsTruncated(after: range.size, checkpointSize: beyond)
        }
        return range.size
    }

    func check(_ checkpoint: StoredCheckpoint, root: [UInt8]) throws(AuditProblem) {
        let text: String
        do {
            text = try SignedNote.verify(checkpoint.note, verifierKey: verifierKey)
        } catch {
            throw .checkpointSignature(size: checkpoint.size, reason: error.description)
        }
        guard let parsed = Checkpoint(text: text), parsed.size == checkpoint.size, parsed.origin == origin else {
            throw .checkpointMalformed(size: checkpoint.size)
        }
        if parsed.root != root { throw .checkpointInconsistent(size: checkpoint.size) }
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
