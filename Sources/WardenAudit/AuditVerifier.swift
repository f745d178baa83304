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
    case prunedBoundaryUnsigned(size: Int)
    case publishedCheckpoint(size: Int, reason: String)
    case stateMismatch(String)
    /// A column stored beside the record (its time or kind, which queries and exports select by) says
    /// something else than the signed record.
    case columnChanged(seq: Int, column: String, stored: String, signed: String)

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
        case .prunedBoundaryUnsigned(let s): "records before \(s) were pruned, but no checkpoint at size \(s) signs what was kept"
        case .publishedCheckpoint(let s, let r): "the published checkpoint at size \(s) disagrees with the log: \(r)"
        case .stateMismatch(let r): r
        case .columnChanged(let s, let c, let stored, let signed):
            "record \(s)'s \(c) column was changed: it says \(stored), the signed record says \(signed)"
        }
    }
}

/// Recomputes an audit log: the hash chain of records, every leaf hash, and every checkpoint's
/// signature and root.
public struct AuditVerifier: Sendable {
    /// Checks the columns a store keeps beside a record (`at` in Unix milliseconds, `kind`) against the
    /// signed body: queries and exports select by them, so an edited column must not go unnoticed.
    public static func checkColumns(seq: Int, at: Int64, kind: String, body: [UInt8]) throws(AuditProblem) {
        let json = try? JSONParser.parse(body)
        let signedKind = json?["kind"]?.stringValue ?? ""
        if signedKind != kind { throw .columnChanged(seq: seq, column: "kind", stored: "'\(kind)'", signed: "'\(signedKind)'") }
        let signedAt = json?["at"]?.stringValue ?? ""
        let storedAt = WallClock.rfc3339(unixMilliseconds: at)
        if signedAt != storedAt { throw .columnChanged(seq: seq, column: "at", stored: storedAt, signed: signedAt) }
    }

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
        var pass = try begin(checkpoints: checkpoints, start: start)
        try pass.feed(records)
        return try pass.finish()
    }

    /// Starts a verification that reads records a page at a time (`feed`), then `finish`.
    ///
    /// After pruning, `start` holds the compact range and last leaf hash kept at the boundary; its root
    /// must match the signed checkpoint at that size, so the kept state cannot be forged either.
    ///
    /// `published` are copies of checkpoints kept off the store (`audit.publish`): each must verify and
    /// match the recomputed tree too, which catches a store rewritten and re-signed with a stolen key.
    public func begin(checkpoints: [StoredCheckpoint], published: [StoredCheckpoint] = [], start: Start = Start())
        throws(AuditProblem) -> Pass
    {
        let bySize = Dictionary(checkpoints.map { ($0.size, $0) }, uniquingKeysWith: { a, _ in a })
        let publishedBySize = Dictionary(
            published.filter { $0.size >= start.range.size }.map { ($0.size, $0) }, uniquingKeysWith: { a, _ in a })
        let pass = Pass(
            verifier: self, bySize: bySize, publishedBySize: publishedBySize, range: start.range, previous: start.previousLeafHash)
        if start.range.size > 0 {
            guard let checkpoint = bySize[start.range.size] else { throw .prunedBoundaryUnsigned(size: start.range.size) }
            try check(checkpoint, root: start.range.root)
            try pass.checkPublished(size: start.range.size, root: start.range.root)
        }
        return pass
    }

    /// A verification in progress.
    public struct Pass: Sendable {
        let verifier: AuditVerifier
        let bySize: [Int: StoredCheckpoint]
        let publishedBySize: [Int: StoredCheckpoint]
        var range: CompactRange
        var previous: [UInt8]?

        /// The number of leaves verified so far (including a pruned prefix).
        public var size: Int { range.size }

        /// Verifies the next records, which must continue where the last page ended.
        public mutating func feed(_ records: [StoredAuditRecord]) throws(AuditProblem) {
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
                if let previous, prev != AuditVerifier.hex(previous) { throw .recordChanged(seq: record.seq - 1) }
                range.append(leaf)
                previous = leaf
                if let checkpoint = bySize[range.size] { try verifier.check(checkpoint, root: range.root) }
                if !publishedBySize.isEmpty { try checkPublished(size: range.size, root: range.root) }
            }
        }

        /// The current tree's root.
        public var root: [UInt8] { range.root }

        func checkPublished(size: Int, root: [UInt8]) throws(AuditProblem) {
            guard let published = publishedBySize[size] else { return }
            do {
                try verifier.check(published, root: root)
            } catch {
                let reason: String =
                    switch error {
                    case .checkpointInconsistent: "its root differs from the records (the store was rewritten and re-signed?)"
                    default: error.description
                    }
                throw .publishedCheckpoint(size: size, reason: reason)
            }
        }

        /// Ends the pass: every checkpoint must have been reached. Returns the verified tree size.
        public func finish() throws(AuditProblem) -> Int {
            if let beyond = bySize.keys.filter({ $0 > range.size }).min() {
                throw .recordsTruncated(after: range.size, checkpointSize: beyond)
            }
            if let beyond = publishedBySize.keys.filter({ $0 > range.size }).min() {
                throw .publishedCheckpoint(size: beyond, reason: "it covers \(beyond) records, the log holds \(range.size)")
            }
            return range.size
        }
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

    /// Lower- or upper-case hex to bytes; nil if malformed. "" is the empty array.
    public static func bytes(hex: String) -> [UInt8]? {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
