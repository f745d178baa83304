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

extension SQLStore {
    /// Appends records (and their content) in one transaction.
    public func appendAudit(_ rows: [AuditRow]) async throws {
        guard !rows.isEmpty else { return }
        try await database.transaction { db in
            for r in rows {
                try await db.query(
                    "INSERT INTO audit_records (seq, at, kind, body, leaf_hash) VALUES (?, ?, ?, ?, ?)",
                    [.int(Int64(r.seq)), .int(r.at), .text(r.kind), .blob(r.body), .blob(r.leafHash)])
                if let content = r.content {
                    try await db.query(
                        "INSERT INTO audit_content (seq, prompt, response) VALUES (?, ?, ?)",
                        [.int(Int64(r.seq)), .text(content.prompt), .text(content.response)])
                }
            }
        }
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

    /// The last stored record, for resuming the chain after a restart.
    public func lastAuditRecord() async throws -> AuditRow? {
        try await database.query("SELECT seq, at, kind, body, leaf_hash FROM audit_records ORDER BY seq DESC LIMIT 1", [])
            .first.map(Self.auditRow)
    }

    /// Leaf hashes of `[0, upTo)` in order (to rebuild the tree's state after a restart).
    public func auditLeafHashes(upTo: Int) async throws -> [[UInt8]] {
        try await database.query("SELECT leaf_hash FROM audit_records WHERE seq < ? ORDER BY seq", [.int(Int64(upTo))])
            .map { $0.bytes("leaf_hash") ?? [] }
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

    public func insertCheckpoint(size: Int, at: Int64, root: [UInt8], note: String) async throws {
        try await database.query(
            "INSERT INTO audit_checkpoints (size, at, root, note) VALUES (?, ?, ?, ?) ON CONFLICT (size) DO NOTHING",
            [.int(Int64(size)), .int(at), .blob(root), .text(note)])
    }

    public func checkpoints() async throws -> [(size: Int, at: Int64, note: String)] {
        try await database.query("SELECT size, at, note FROM audit_checkpoints ORDER BY size", []).map {
            (Int($0.int("size") ?? 0), $0.int("at") ?? 0, $0.string("note") ?? "")
        }
    }
}
