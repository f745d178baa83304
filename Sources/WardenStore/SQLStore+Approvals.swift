import WardenCore

/// A tool call held for a person's decision.
public struct ApprovalRecord: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable { case pending, approved, rejected, expired }

    public var id: String
    public var createdAt: Int64
    public var expiresAt: Int64
    public var keyID: String
    public var team: String
    public var tool: String
    /// The call's arguments, as the model wrote them (JSON text).
    public var arguments: String
    /// The model's id for the call, and the model that made it (absent for `POST /v1/actions/authorize`).
    public var callID: String?
    public var model: String?
    public var requestID: String?
    /// SHA-256 (hex) of the request that produced the call: the same request sent again with
    /// `x-warden-approval` gets the call back.
    public var fingerprint: String?
    public var agent: String?
    public var session: String?
    /// Why it is held (the tool's action, a policy, a detector).
    public var reasons: [String]
    public var status: Status
    public var decidedAt: Int64?
    public var decidedBy: String?
    public var note: String?
    /// When the approved call was handed back (it is handed back once).
    public var usedAt: Int64?

    public init(
        id: String, createdAt: Int64, expiresAt: Int64, keyID: String, team: String, tool: String, arguments: String,
        reasons: [String]
    ) {
        self.id = id
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.keyID = keyID
        self.team = team
        self.tool = tool
        self.arguments = arguments
        self.reasons = reasons
        status = .pending
    }

    /// The status as of `now`: a pending approval past its expiry is expired.
    public func status(at now: Int64) -> Status { status == .pending && now >= expiresAt ? .expired : status }
}

extension SQLStore {
    static let approvalColumns =
        "id, created_at, expires_at, key_id, team, tool, arguments, call_id, model, request_id, fingerprint, agent, session, reasons, status, decided_at, decided_by, note, used_at"

    static func approval(from row: SQLRow) -> ApprovalRecord {
        var r = ApprovalRecord(
            id: row.string("id") ?? "", createdAt: row.int("created_at") ?? 0, expiresAt: row.int("expires_at") ?? 0,
            keyID: row.string("key_id") ?? "", team: row.string("team") ?? "", tool: row.string("tool") ?? "",
            arguments: row.string("arguments") ?? "{}", reasons: decodeTags(row.string("reasons")))
        r.callID = row.string("call_id")
        r.model = row.string("model")
        r.requestID = row.string("request_id")
        r.fingerprint = row.string("fingerprint")
        r.agent = row.string("agent")
        r.session = row.string("session")
        r.status = ApprovalRecord.Status(rawValue: row.string("status") ?? "") ?? .pending
        r.decidedAt = row.int("decided_at")
        r.decidedBy = row.string("decided_by")
        r.note = row.string("note")
        r.usedAt = row.int("used_at")
        return r
    }

    public func insertApproval(_ r: ApprovalRecord) async throws {
        try await database.query(
            "INSERT INTO approvals (\(Self.approvalColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                .text(r.id), .int(r.createdAt), .int(r.expiresAt), .text(r.keyID), .text(r.team), .text(r.tool), .text(r.arguments),
                .optional(r.callID), .optional(r.model), .optional(r.requestID), .optional(r.fingerprint), .optional(r.agent),
                .optional(r.session), .text(JSONValue.array(r.reasons.map { .string($0) }).jsonString), .text(r.status.rawValue),
                .optional(r.decidedAt), .optional(r.decidedBy), .optional(r.note), .optional(r.usedAt),
            ])
    }

    public func approval(id: String) async throws -> ApprovalRecord? {
        try await database.query("SELECT \(Self.approvalColumns) FROM approvals WHERE id = ?", [.text(id)]).first.map(Self.approval)
    }

    /// Approvals, newest first; `status` filters (pending ones past expiry count as expired).
    public func approvals(status: ApprovalRecord.Status?, now: Int64, limit: Int = 100) async throws -> [ApprovalRecord] {
        var sql = "SELECT \(Self.approvalColumns) FROM approvals"
        var binds: [SQLValue] = []
        switch status {
        case .pending?:
            sql += " WHERE status = 'pending' AND expires_at > ?"
            binds.append(.int(now))
        case .expired?:
            sql += " WHERE status = 'pending' AND expires_at <= ?"
            binds.append(.int(now))
        case let s?:
            sql += " WHERE status = ?"
            binds.append(.text(s.rawValue))
        case nil:
            break
        }
        sql += " ORDER BY created_at DESC, id LIMIT ?"
        binds.append(.int(Int64(limit)))
        return try await database.query(sql, binds).map(Self.approval)
    }

    /// Decides a pending, unexpired approval; returns the record afterwards, or nil when there is none
    /// with that id. A decided or expired one is returned unchanged (check its status).
    public func decideApproval(id: String, approve: Bool, by actor: String, note: String?, now: Int64) async throws -> ApprovalRecord? {
        try await database.transaction { db in
            try await db.query(
                "UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, note = ? WHERE id = ? AND status = 'pending' AND expires_at > ?",
                [.text(approve ? "approved" : "rejected"), .int(now), .text(actor), .optional(note), .text(id), .int(now)])
            return try await db.query("SELECT \(Self.approvalColumns) FROM approvals WHERE id = ?", [.text(id)]).first.map(Self.approval)
        }
    }

    /// Marks an approved call as handed back, once: true for the caller that did it.
    public func redeemApproval(id: String, now: Int64) async throws -> Bool {
        let rows = try await database.query(
            "UPDATE approvals SET used_at = ? WHERE id = ? AND status = 'approved' AND used_at IS NULL RETURNING id", [.int(now), .text(id)])
        return !rows.isEmpty
    }
}
