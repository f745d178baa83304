import WardenCore

extension SQLStore {
    static let usageColumns = [
        "request_id", "at", "key_id", "key_name", "team", "model", "deployment", "prompt_tokens", "completion_tokens",
        "cached_tokens", "cache_write_tokens", "reasoning_tokens", "estimated", "cost_nano", "status",
    ]

    static func usageRow(_ r: UsageRecord) -> [SQLValue] {
        [
            .text(r.requestID), .int(r.at), .text(r.keyID), .text(r.keyName), .text(r.team), .text(r.model),
            .optional(r.deployment), .int(Int64(r.usage.inputTokens)), .int(Int64(r.usage.outputTokens)),
            .int(Int64(r.usage.cachedInputTokens)), .int(Int64(r.usage.cacheWriteTokens)), .int(Int64(r.usage.reasoningTokens)),
            .int(r.usage.isEstimated ? 1 : 0), .int(r.cost), .int(Int64(r.status)),
        ]
    }

    static let reservationColumns = ["id", "at", "key_id", "team", "amount_nano", "owner", "scopes"]

    static func reservationRow(_ r: ReservationRecord) -> [SQLValue] {
        [.text(r.id), .int(r.at), .text(r.keyID), .text(r.team), .int(r.amount), .text(r.owner), .text(r.scopes)]
    }

    /// Writes a batch of usage records in one transaction. A record already stored (same request id) is
    /// left alone, so a retried batch after a crash does not double-count.
    public func insertUsage(_ records: [UsageRecord]) async throws {
        try await writeBatch(reservations: [], usage: records, settled: [])
    }

    /// What the usage writer queued since its last flush, in one transaction: reservations made, usage
    /// records of completed requests, and reservations settled (deleted). In that order, so the result is
    /// the same as writing them one by one: a reservation is never left behind by a half-written batch.
    public func writeBatch(reservations: [ReservationRecord], usage: [UsageRecord], settled: [String]) async throws {
        guard !reservations.isEmpty || !usage.isEmpty || !settled.isEmpty else { return }
        let reservationRows = reservations.map(Self.reservationRow)
        let usageRows = usage.map(Self.usageRow)
        let settledIDs = settled.map(SQLValue.text)
        try await database.transaction { db in
            try await db.insert(
                into: "reservations", columns: Self.reservationColumns, rows: reservationRows, suffix: "ON CONFLICT (id) DO NOTHING")
            try await db.insert(
                into: "usage_records", columns: Self.usageColumns, rows: usageRows, suffix: "ON CONFLICT (request_id) DO NOTHING", chunk: 100)
            try await db.delete(from: "reservations", where: "id", in: settledIDs)
        }
    }

    /// Spend, tokens and requests, filtered and optionally grouped by model, UTC day, team or key.
    public func spend(_ q: SpendQuery) async throws -> [SpendRow] {
        var conditions: [String] = []
        var binds: [SQLValue] = []
        if let team = q.team {
            conditions.append("team = ?")
            binds.append(.text(team))
        }
        if let key = q.keyID {
            conditions.append("key_id = ?")
            binds.append(.text(key))
        }
        if let from = q.from {
            conditions.append("at >= ?")
            binds.append(.int(from))
        }
        if let to = q.to {
            conditions.append("at < ?")
            binds.append(.int(to))
        }
        let group: String? =
            switch q.groupBy {
            case .model: "model"
            case .day: "(at / 86400000)"
            case .team: "team"
            case .key: "key_id"
            case nil: nil
            }
        let sql = """
            SELECT \(group.map { "\($0) AS grp," } ?? "") COUNT(*) AS requests,
            CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT) AS prompt,
            CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) AS completion,
            CAST(COALESCE(SUM(cost_nano), 0) AS BIGINT) AS cost
            FROM usage_records \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            \(group.map { "GROUP BY \($0) ORDER BY \($0)" } ?? "")
            """
        return try await database.query(sql, binds).map { row in
            var label = row.string("grp")
            if q.groupBy == .day, let day = row.int("grp") {
                label = String(WallClock.rfc3339(unixMilliseconds: day * 86_400_000).prefix(10))
            }
            return SpendRow(
                group: label, requests: Int(row.int("requests") ?? 0), promptTokens: Int(row.int("prompt") ?? 0),
                completionTokens: Int(row.int("completion") ?? 0), cost: row.int("cost") ?? 0)
        }
    }

    /// What a key (or a team) has spent since `since`, settled usage only.
    public func spent(keyID: String? = nil, team: String? = nil, since: Int64) async throws -> NanoDollars {
        let column = keyID != nil ? "key_id" : "team"
        let value = keyID ?? team ?? ""
        return try await database.query(
            "SELECT CAST(COALESCE(SUM(cost_nano), 0) AS BIGINT) AS total FROM usage_records WHERE \(column) = ? AND at >= ?",
            [.text(value), .int(since)]
        ).first?.int("total") ?? 0
    }

    // MARK: Reservations

    public func insertReservations(_ records: [ReservationRecord]) async throws {
        try await writeBatch(reservations: records, usage: [], settled: [])
    }

    public func deleteReservations(_ ids: [String]) async throws {
        try await writeBatch(reservations: [], usage: [], settled: ids)
    }

    /// Reservations never settled, optionally only those of one owner.
    public func openReservations(owner: String? = nil) async throws -> [ReservationRecord] {
        let rows =
            if let owner {
                try await database.query(
                    "SELECT id, at, key_id, team, amount_nano, owner, scopes FROM reservations WHERE owner = ?", [.text(owner)])
            } else {
                try await database.query("SELECT id, at, key_id, team, amount_nano, owner, scopes FROM reservations", [])
            }
        return rows.map {
            ReservationRecord(
                id: $0.string("id") ?? "", at: $0.int("at") ?? 0, keyID: $0.string("key_id") ?? "",
                team: $0.string("team") ?? "", amount: $0.int("amount_nano") ?? 0, owner: $0.string("owner") ?? "",
                scopes: $0.string("scopes") ?? "")
        }
    }

    /// Counts abandoned reservations as spent at their reserved amount: one usage record each
    /// (`request_id` = the reservation id, so doing it twice is harmless), then deletes them.
    public func settleAbandoned(_ reservations: [ReservationRecord]) async throws {
        guard !reservations.isEmpty else { return }
        try await database.transaction { db in
            for r in reservations {
                try await db.query(
                    """
                    INSERT INTO usage_records (request_id, at, key_id, key_name, team, model, deployment, prompt_tokens,
                    completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, estimated, cost_nano, status)
                    VALUES (?, ?, ?, '', ?, '', NULL, 0, 0, 0, 0, 0, 1, ?, 0) ON CONFLICT (request_id) DO NOTHING
                    """,
                    [.text(r.id), .int(r.at), .text(r.keyID), .text(r.team), .int(r.amount)])
                try await db.query("DELETE FROM reservations WHERE id = ?", [.text(r.id)])
            }
        }
    }
}
