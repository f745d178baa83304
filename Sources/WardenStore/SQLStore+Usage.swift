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

    static let millisecondsPerDay: Int64 = 86_400_000

    /// Spend, tokens and requests, filtered and optionally grouped by model, UTC day, team or key: the
    /// usage records and the daily aggregates they were rolled up into (those count by whole UTC days:
    /// a day's aggregate is in a range when its day starts in it).
    public func spend(_ q: SpendQuery) async throws -> [SpendRow] {
        func filters(time: String, dayScale: Bool) -> (String, [SQLValue]) {
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
            let toTime: (Int64) -> Int64 = { dayScale ? ($0 + Self.millisecondsPerDay - 1) / Self.millisecondsPerDay : $0 }
            if let from = q.from {
                conditions.append("\(time) >= ?")
                binds.append(.int(toTime(from)))
            }
            if let to = q.to {
                conditions.append("\(time) < ?")
                binds.append(.int(toTime(to)))
            }
            return (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), binds)
        }
        let (recordFilter, recordBinds) = filters(time: "at", dayScale: false)
        let (dailyFilter, dailyBinds) = filters(time: "day", dayScale: true)
        let (recordGroup, dailyGroup): (String?, String?) =
            switch q.groupBy {
            case .model: ("model", "model")
            case .day: ("(at / 86400000)", "day")
            case .team: ("team", "team")
            case .key: ("key_id", "key_id")
            case nil: (nil, nil)
            }
        let sql = """
            SELECT \(recordGroup == nil ? "" : "grp,") CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS requests,
            CAST(COALESCE(SUM(prompt), 0) AS BIGINT) AS prompt, CAST(COALESCE(SUM(completion), 0) AS BIGINT) AS completion,
            CAST(COALESCE(SUM(cost), 0) AS BIGINT) AS cost FROM (
                SELECT \(recordGroup.map { "\($0) AS grp," } ?? "") COUNT(*) AS requests, SUM(prompt_tokens) AS prompt,
                SUM(completion_tokens) AS completion, SUM(cost_nano) AS cost
                FROM usage_records \(recordFilter) \(recordGroup.map { "GROUP BY \($0)" } ?? "")
                UNION ALL
                SELECT \(dailyGroup.map { "\($0) AS grp," } ?? "") SUM(requests) AS requests, SUM(prompt_tokens) AS prompt,
                SUM(completion_tokens) AS completion, SUM(cost_nano) AS cost
                FROM usage_daily \(dailyFilter) \(dailyGroup.map { "GROUP BY \($0)" } ?? "")
            ) AS parts \(recordGroup == nil ? "" : "GROUP BY grp ORDER BY grp")
            """
        return try await database.query(sql, recordBinds + dailyBinds).compactMap { row in
            var label = row.string("grp")
            if q.groupBy == .day, let day = row.int("grp") {
                label = String(WallClock.rfc3339(unixMilliseconds: day * Self.millisecondsPerDay).prefix(10))
            }
            let requests = Int(row.int("requests") ?? 0)
            // Without grouping, an empty store still answers one row of zeros.
            if q.groupBy != nil, requests == 0, (row.int("cost") ?? 0) == 0 { return nil }
            return SpendRow(
                group: label, requests: requests, promptTokens: Int(row.int("prompt") ?? 0),
                completionTokens: Int(row.int("completion") ?? 0), cost: row.int("cost") ?? 0)
        }
    }

    /// What a key (or a team) has spent since `since` (a period's start: midnight UTC, or 0), settled
    /// usage only: its usage records and its daily aggregates, so budgets survive roll-ups and restarts.
    public func spent(keyID: String? = nil, team: String? = nil, since: Int64) async throws -> NanoDollars {
        let column = keyID != nil ? "key_id" : "team"
        let value = keyID ?? team ?? ""
        return try await database.query(
            Self.spentSQL(column: column), [.text(value), .int(since), .text(value), .int(Self.firstDay(since))]
        ).first?.int("total") ?? 0
    }

    /// Spend of one key or team since a time, from records and daily aggregates (binds: value, since, value, first day).
    public static func spentSQL(column: String) -> String {
        """
        SELECT CAST((SELECT COALESCE(SUM(cost_nano), 0) FROM usage_records WHERE \(column) = ? AND at >= ?)
            + (SELECT COALESCE(SUM(cost_nano), 0) FROM usage_daily WHERE \(column) = ? AND day >= ?) AS BIGINT) AS total
        """
    }

    /// The first whole UTC day at or after `time`.
    public static func firstDay(_ time: Int64) -> Int64 { (time + millisecondsPerDay - 1) / millisecondsPerDay }

    // MARK: Retention

    static let rollUpLockName = "usage.rollup"

    /// Rolls usage records of UTC days before `cutoffDay` into daily aggregates (added to any already
    /// there) and deletes them, a day per transaction, oldest first. Replicas take turns on a lock row, so
    /// a day is never rolled up twice. Returns how many records were rolled up.
    @discardableResult
    public func rollUpUsage(beforeDay cutoffDay: Int64) async throws -> Int {
        var total = 0
        while true {
            guard let oldest = try await database.query("SELECT MIN(at) AS at FROM usage_records").first?.int("at") else { break }
            let day = oldest >= 0 ? oldest / Self.millisecondsPerDay : (oldest - Self.millisecondsPerDay + 1) / Self.millisecondsPerDay
            guard day < cutoffDay else { break }
            let lock = database.dialect == .postgres ? " FOR UPDATE" : ""
            let moved: Int = try await database.transaction { db in
                try await db.query(
                    "INSERT INTO settings (name, value) VALUES (?, '') ON CONFLICT (name) DO NOTHING", [.text(Self.rollUpLockName)])
                try await db.query("SELECT value FROM settings WHERE name = ?\(lock)", [.text(Self.rollUpLockName)])
                let start = day * Self.millisecondsPerDay
                let end = start + Self.millisecondsPerDay
                let count = try await db.query(
                    "SELECT COUNT(*) AS n FROM usage_records WHERE at >= ? AND at < ?", [.int(start), .int(end)]
                ).first?.int("n") ?? 0
                guard count > 0 else { return 0 }  // another replica rolled this day up meanwhile
                try await db.query(
                    """
                    INSERT INTO usage_daily (day, key_id, team, model, requests, prompt_tokens, completion_tokens, cached_tokens,
                        cache_write_tokens, reasoning_tokens, cost_nano)
                    SELECT ?, key_id, team, model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens),
                        SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(cost_nano)
                    FROM usage_records WHERE at >= ? AND at < ? GROUP BY key_id, team, model
                    ON CONFLICT (day, key_id, team, model) DO UPDATE SET
                        requests = usage_daily.requests + excluded.requests,
                        prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
                        completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,
                        cached_tokens = usage_daily.cached_tokens + excluded.cached_tokens,
                        cache_write_tokens = usage_daily.cache_write_tokens + excluded.cache_write_tokens,
                        reasoning_tokens = usage_daily.reasoning_tokens + excluded.reasoning_tokens,
                        cost_nano = usage_daily.cost_nano + excluded.cost_nano
                    """, [.int(day), .int(start), .int(end)])
                try await db.query("DELETE FROM usage_records WHERE at >= ? AND at < ?", [.int(start), .int(end)])
                return Int(count)
            }
            total += moved
        }
        return total
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
