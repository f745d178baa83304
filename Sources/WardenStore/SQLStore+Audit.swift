import NIOPosix
import WardenCore

/// An audit record as stored: its position, time, kind, canonical bytes and leaf hash.
public struct AuditRow: Sendable, Equatable {
    public var seq: Int
    public var at: Int64
    public var kind: String
    public var body: [UInt8]
    public var leafHash: [UInt8]
    /// Prompt and response text, stored apart from the record (only with `audit.capture_content`).
    public var content: (prompt: String, response: String)?

    public init(seq: Int, at: Int64, kind: String, body: [UInt8], leafHash: [UInt8], content: (prompt: String, response: String)? = nil) {
        self.seq = seq
        self.at = at
        self.kind = kind
        self.body = body
        self.leafHash = leafHash
        self.content = content
    }

    public static func == (a: AuditRow, b: AuditRow) -> Bool {
        a.seq == b.seq && a.at == b.at && a.kind == b.kind && a.body == b.body && a.leafHash == b.leafHash
            && a.content?.prompt == b.content?.prompt && a.content?.response == b.content?.response
    }
}

/// A signed checkpoint as stored.
public struct CheckpointRow: Sendable, Equatable {
    public var size: Int
    public var at: Int64
    public var root: [UInt8]
    public var note: String

    public init(size: Int, at: Int64, root: [UInt8], note: String) {
        self.size = size
        self.at = at
        self.root = root
        self.note = note
    }
}

/// What one audit write adds: records, checkpoints, and the log's new running state.
public struct AuditCommit: Sendable {
    public var rows: [AuditRow]
    public var checkpoints: [CheckpointRow]
    public var state: String

    public init(rows: [AuditRow], checkpoints: [CheckpointRow], state: String) {
        self.rows = rows
        self.checkpoints = checkpoints
        self.state = state
    }
}

extension SQLStore {
    static let auditStateName = "audit.state"
    static let auditPrunedName = "audit.pruned"

    /// Appends to the audit log in one transaction: reads the log's running state (the Merkle frontier,
    /// last leaf hash and last checkpoint) under a row lock, so writers on several replicas take turns and
    /// positions never collide; `make` turns it into records, checkpoints and the new state, which are
    /// stored together. `make` may run again if the transaction has to be retried, so it must be pure.
    ///
    /// `make` (canonical JSON and hashes for every record) runs on the blocking thread pool, not on the
    /// event loops that serve requests: a batch of thousands of records takes milliseconds, and no
    /// request should wait behind it.
    @discardableResult
    public func commitAudit(_ make: @escaping @Sendable (String) throws -> AuditCommit) async throws -> AuditCommit {
        let lock = database.dialect == .postgres ? " FOR UPDATE" : ""
        return try await database.transaction { db in
            let current = try await db.query("SELECT value FROM settings WHERE name = ?\(lock)", [.text(Self.auditStateName)])
            let text = current.first?.string("value") ?? ""
            let commit = try await NIOThreadPool.singleton.runIfActive { try make(text) }
            try await db.insert(
                into: "audit_records", columns: ["seq", "at", "kind", "body", "leaf_hash"],
                rows: commit.rows.map { r in [.int(Int64(r.seq)), .int(r.at), .text(r.kind), .blob(r.body), .blob(r.leafHash)] })
            try await db.insert(
                into: "audit_content", columns: ["seq", "prompt", "response"],
                rows: commit.rows.compactMap { r in r.content.map { [.int(Int64(r.seq)), .text($0.prompt), .text($0.response)] } })
            try await db.insert(
                into: "audit_checkpoints", columns: ["size", "at", "root", "note"],
                rows: commit.checkpoints.map { c in [.int(Int64(c.size)), .int(c.at), .blob(c.root), .text(c.note)] })
            if current.isEmpty {
                try await db.query("INSERT INTO settings (name, value) VALUES (?, ?)", [.text(Self.auditStateName), .text(commit.state)])
            } else {
                try await db.query("UPDATE settings SET value = ? WHERE name = ?", [.text(commit.state), .text(Self.auditStateName)])
            }
            return commit
        }
    }

    /// The log's running state as last committed ("" before the first record).
    public func auditState() async throws -> String {
        try await setting(Self.auditStateName) ?? ""
    }

    /// Records in position order, `limit` at a time from `fromSeq`.
    public func auditRecords(fromSeq: Int, limit: Int) async throws -> [AuditRow] {
        try await database.query(
            "SELECT seq, at, kind, body, leaf_hash FROM audit_records WHERE seq >= ? ORDER BY seq LIMIT ?",
            [.int(Int64(fromSeq)), .int(Int64(limit))]
        ).map(Self.auditRow)
    }

    /// Records whose time lies in `[from, to)`.
    public func auditRecords(from: Int64, to: Int64) async throws -> [AuditRow] {
        try await database.query(
            "SELECT seq, at, kind, body, leaf_hash FROM audit_records WHERE at >= ? AND at < ? ORDER BY seq",
            [.int(from), .int(to)]
        ).map(Self.auditRow)
    }

    static func auditRow(_ row: SQLRow) -> AuditRow {
        AuditRow(
            seq: Int(row.int("seq") ?? -1), at: row.int("at") ?? 0, kind: row.string("kind") ?? "",
            body: row.bytes("body") ?? [], leafHash: row.bytes("leaf_hash") ?? [])
    }

    /// The last stored record.
    public func lastAuditRecord() async throws -> AuditRow? {
        try await database.query("SELECT seq, at, kind, body, leaf_hash FROM audit_records ORDER BY seq DESC LIMIT 1", [])
            .first.map(Self.auditRow)
    }

    /// Leaf hashes of the stored records in `[from, to)`, in order.
    public func auditLeafHashes(from: Int = 0, to: Int) async throws -> [[UInt8]] {
        try await database.query(
            "SELECT leaf_hash FROM audit_records WHERE seq >= ? AND seq < ? ORDER BY seq", [.int(Int64(from)), .int(Int64(to))]
        ).map { $0.bytes("leaf_hash") ?? [] }
    }

    public func content(ofAuditRecord seq: Int) async throws -> (prompt: String, response: String)? {
        guard let row = try await database.query("SELECT prompt, response FROM audit_content WHERE seq = ?", [.int(Int64(seq))]).first
        else { return nil }
        return (row.string("prompt") ?? "", row.string("response") ?? "")
    }

    /// Erases captured content (GDPR): the records and their hashes stay, so the log still verifies.
    public func eraseAuditContent(seqs: [Int]) async throws {
        try await database.transaction { db in
            for seq in seqs { try await db.query("DELETE FROM audit_content WHERE seq = ?", [.int(Int64(seq))]) }
        }
    }

    /// The records that still have captured content, in position order, a page at a time.
    public func auditRecordsWithContent(fromSeq: Int, limit: Int) async throws -> [AuditRow] {
        try await database.query(
            """
            SELECT r.seq, r.at, r.kind, r.body, r.leaf_hash FROM audit_records r JOIN audit_content c ON c.seq = r.seq
            WHERE r.seq >= ? ORDER BY r.seq LIMIT ?
            """, [.int(Int64(fromSeq)), .int(Int64(limit))]
        ).map(Self.auditRow)
    }

    public func checkpoints() async throws -> [CheckpointRow] {
        try await database.query("SELECT size, at, root, note FROM audit_checkpoints ORDER BY size", []).map {
            CheckpointRow(size: Int($0.int("size") ?? 0), at: $0.int("at") ?? 0, root: $0.bytes("root") ?? [], note: $0.string("note") ?? "")
        }
    }

    // MARK: Retention

    /// The largest checkpoint size whose records all lie before `cutoff` (Unix ms): pruning stops there,
    /// so what remains starts exactly at a signed checkpoint.
    public func auditPruneBoundary(before cutoff: Int64) async throws -> Int? {
        let rows = try await database.query(
            """
            SELECT MAX(c.size) AS size FROM audit_checkpoints c JOIN audit_records r ON r.seq = c.size - 1
            WHERE r.at < ?
            """, [.int(cutoff)])
        return rows.first?.int("size").map(Int.init)
    }

    /// What pruning kept about the removed records ("" when nothing was pruned).
    public func auditPrunedState() async throws -> String {
        try await setting(Self.auditPrunedName) ?? ""
    }

    /// Removes records (and their content) before `size`, keeping `state`: the compact range and last
    /// leaf hash at that point, from which the rest still verifies. Does nothing (and returns false) if
    /// the kept state is no longer `expected`: another replica pruned meanwhile.
    @discardableResult
    public func pruneAudit(before size: Int, state: String, expected: String) async throws -> Bool {
        let lock = database.dialect == .postgres ? " FOR UPDATE" : ""
        return try await database.transaction { db in
            // Writers and pruners take turns on the log's state row.
            try await db.query("SELECT value FROM settings WHERE name = ?\(lock)", [.text(Self.auditStateName)])
            let current = try await db.query("SELECT value FROM settings WHERE name = ?", [.text(Self.auditPrunedName)])
            guard (current.first?.string("value") ?? "") == expected else { return false }
            try await db.query("DELETE FROM audit_content WHERE seq < ?", [.int(Int64(size))])
            try await db.query("DELETE FROM audit_records WHERE seq < ?", [.int(Int64(size))])
            try await db.query(
                "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [.text(Self.auditPrunedName), .text(state)])
            return true
        }
    }
}
