import Logging
import Synchronization
import WardenCore
import WardenStore

/// A budget that applies to a request: the key's or its team's.
public struct BudgetScope: Sendable, Hashable {
    public enum Kind: String, Sendable { case key, team }
    public var kind: Kind
    /// The key id or the team name.
    public var id: String
    /// What people call it in messages (the key's name or the team's).
    public var name: String
    public var limit: BudgetLimit

    /// The row key in the ledger: `key:<id>` or `team:<name>`.
    public var ledgerKey: String { "\(kind.rawValue):\(id)" }
}

/// A scope's spend in its current period, after a settlement.
public struct ScopeSpend: Sendable {
    public var scope: BudgetScope
    public var periodStart: Int64
    public var spent: NanoDollars
}

/// Money set aside for one request until it settles.
public struct Reservation: Sendable {
    public var id: String
    public var amount: NanoDollars
    /// Each scope with the start of the period the money was reserved in.
    public var scopes: [(scope: BudgetScope, periodStart: Int64)]
    public var keyID: String
    public var team: String

    /// `scope@periodStart;…`, as stored with the reservation.
    var scopeList: String { scopes.map { "\($0.scope.ledgerKey)@\($0.periodStart)" }.joined(separator: ";") }
}

/// Why a reservation was refused: which budget, what is left, when it resets.
public struct BudgetRefusal: Error, Sendable {
    public var scope: BudgetScope
    public var remaining: NanoDollars
    /// Unix milliseconds; nil for a `total` budget.
    public var resetsAt: Int64?

    public var gatewayError: GatewayError {
        GatewayError.budgetExceeded(
            scope: "\(scope.kind.rawValue) '\(scope.name)'", period: scope.limit.period.rawValue,
            remaining: max(0, remaining).usdString, limit: scope.limit.amount.usdString,
            resetsAt: resetsAt.map(WallClock.rfc3339(unixMilliseconds:)))
    }
}

/// Reserve-then-settle accounting: a request reserves its worst-case cost against every budget that
/// applies, atomically, before the upstream call, and settles to its real cost after. Concurrent
/// requests can never take spend past a limit.
public protocol BudgetLedger: Sendable {
    /// Reserves `amount` against all `scopes` or none. Throws `BudgetRefusal`.
    func reserve(_ amount: NanoDollars, scopes: [BudgetScope], keyID: String, team: String, now: Int64) async throws
        -> Reservation
    /// Releases the reservation and books `actual` as spent. Returns each scope's spend afterwards (for
    /// budget alerts; empty if it could not be read).
    @discardableResult
    func settle(_ reservation: Reservation, actual: NanoDollars) async -> [ScopeSpend]
    /// The smallest amount left across `scopes` (nil when none has a budget).
    func remaining(_ scopes: [BudgetScope], now: Int64) async throws -> NanoDollars?
}

/// The ledger of a single Warden process on SQLite: balances in memory (authoritative), reservations
/// and usage written to the store in batches, or before the upstream call with `budgets.strict`.
///
/// After a crash, reservations found without their settlement count as spent at their reserved amount
/// (done at start, before any balance is loaded).
public final class LocalBudgetLedger: BudgetLedger {
    struct Entry {
        var periodStart: Int64
        var spent: NanoDollars
        var reserved: NanoDollars
    }

    private let entries = Mutex<[String: Entry]>([:])
    let store: SQLStore
    let writer: StoreWriter
    let strict: Bool
    let owner: String

    init(store: SQLStore, writer: StoreWriter, strict: Bool, owner: String) {
        self.store = store
        self.writer = writer
        self.strict = strict
        self.owner = owner
    }

    /// Counts every reservation left by an earlier run as spent.
    func recoverAbandoned(logger: Logger) async throws {
        let abandoned = try await store.openReservations().filter { $0.owner != owner }
        guard !abandoned.isEmpty else { return }
        try await store.settleAbandoned(abandoned)
        logger.notice(
            "counted reservations of a previous run as spent",
            metadata: ["warden.reservations": "\(abandoned.count)", "warden.amount_usd": "\(abandoned.reduce(0) { $0 + $1.amount }.usdString)"])
    }

    /// Makes sure every scope has a balance for the current period, loading spend from the store once.
    private func load(_ scopes: [BudgetScope], now: Int64) async throws {
        for scope in scopes {
            let start = scope.limit.period.start(containing: now)
            let known = entries.withLock { $0[scope.ledgerKey]?.periodStart == start }
            if known { continue }
            await writer.flush()  // so the store has every settled request
            let spent =
                scope.kind == .key
                ? try await store.spent(keyID: scope.id, since: start) : try await store.spent(team: scope.id, since: start)
            entries.withLock { e in
                if e[scope.ledgerKey]?.periodStart != start {
                    e[scope.ledgerKey] = Entry(periodStart: start, spent: spent, reserved: 0)
                }
            }
        }
    }

    public func reserve(_ amount: NanoDollars, scopes: [BudgetScope], keyID: String, team: String, now: Int64) async throws
        -> Reservation
    {
        try await load(scopes, now: now)
        let reservation = Reservation(
            id: KeyMaterial.identifier(prefix: "res"), amount: amount,
            scopes: scopes.map { ($0, $0.limit.period.start(containing: now)) }, keyID: keyID, team: team)
        try entries.withLock { e throws(BudgetRefusal) in
            for (scope, start) in reservation.scopes {
                let entry = e[scope.ledgerKey] ?? Entry(periodStart: start, spent: 0, reserved: 0)
                let used = entry.spent.addingSaturated(entry.reserved)
                if used.addingSaturated(amount) > scope.limit.amount {
                    throw BudgetRefusal(
                        scope: scope, remaining: scope.limit.amount.subtractingSaturated(used),
                        resetsAt: scope.limit.period.end(containing: now))
                }
            }
            for (scope, _) in reservation.scopes {
                guard var entry = e[scope.ledgerKey] else { continue }
                entry.reserved = entry.reserved.addingSaturated(amount)
                e[scope.ledgerKey] = entry
            }
        }
        let record = ReservationRecord(
            id: reservation.id, at: now, keyID: keyID, team: team, amount: amount, owner: owner, scopes: reservation.scopeList)
        if strict {
            do {
                try await store.insertReservations([record])
            } catch {
                await settle(reservation, actual: 0)
                throw error
            }
        } else {
            writer.recordReservation(record)
        }
        return reservation
    }

    @discardableResult
    public func settle(_ reservation: Reservation, actual: NanoDollars) async -> [ScopeSpend] {
        let out = entries.withLock { e in
            var out: [ScopeSpend] = []
            for (scope, start) in reservation.scopes {
                guard var entry = e[scope.ledgerKey], entry.periodStart == start else { continue }
                entry.reserved = entry.reserved.subtractingSaturated(reservation.amount)
                entry.spent = entry.spent.addingSaturated(actual)
                e[scope.ledgerKey] = entry
                out.append(ScopeSpend(scope: scope, periodStart: start, spent: entry.spent))
            }
            return out
        }
        writer.recordSettlement(reservationID: reservation.id)
        return out
    }

    public func remaining(_ scopes: [BudgetScope], now: Int64) async throws -> NanoDollars? {
        guard !scopes.isEmpty else { return nil }
        try await load(scopes, now: now)
        return entries.withLock { e in
            scopes.map { scope in
                let entry = e[scope.ledgerKey]
                return scope.limit.amount.subtractingSaturated((entry?.spent ?? 0).addingSaturated(entry?.reserved ?? 0))
            }.min()
        }
    }

    /// Spent and reserved of a scope in the current period, for alerts.
    func balance(_ scope: BudgetScope) -> (spent: NanoDollars, reserved: NanoDollars)? {
        entries.withLock { e in e[scope.ledgerKey].map { ($0.spent, $0.reserved) } }
    }
}

/// The ledger shared by replicas over PostgreSQL (and by a single process with `budgets.strict` on
/// SQLite): every reservation is a transaction that raises the scope's reserved amount only if spent +
/// reserved + amount stays within the limit, so the check holds across processes. Scope rows are always
/// updated in the same order, so two reservations never deadlock.
public final class SharedBudgetLedger: BudgetLedger {
    let store: SQLStore
    let owner: String

    init(store: SQLStore, owner: String) {
        self.store = store
        self.owner = owner
    }

    public func reserve(_ amount: NanoDollars, scopes: [BudgetScope], keyID: String, team: String, now: Int64) async throws
        -> Reservation
    {
        let ordered = scopes.sorted { $0.ledgerKey < $1.ledgerKey }
        let reservation = Reservation(
            id: KeyMaterial.identifier(prefix: "res"), amount: amount,
            scopes: ordered.map { ($0, $0.limit.period.start(containing: now)) }, keyID: keyID, team: team)
        let owner = self.owner
        // More than a whole budget can never fit (and must not reach SQL, where the sum could overflow BIGINT).
        if let scope = ordered.first(where: { amount > $0.limit.amount }) {
            let start = scope.limit.period.start(containing: now)
            let row = try await store.database.query(
                "SELECT spent_nano, reserved_nano FROM budget_usage WHERE scope = ? AND period_start = ?", [.text(scope.ledgerKey), .int(start)]
            ).first
            let used = (row?.int("spent_nano") ?? 0).addingSaturated(row?.int("reserved_nano") ?? 0)
            throw BudgetRefusal(
                scope: scope, remaining: scope.limit.amount.subtractingSaturated(used), resetsAt: scope.limit.period.end(containing: now))
        }
        let outcome: BudgetRefusal? = try await store.database.transaction { db in
            for (scope, start) in reservation.scopes {
                try await Self.ensureRow(db, scope: scope, start: start)
                let updated = try await db.query(
                    """
                    UPDATE budget_usage SET reserved_nano = reserved_nano + ?
                    WHERE scope = ? AND period_start = ? AND spent_nano + reserved_nano + ? <= ? RETURNING spent_nano
                    """,
                    [.int(amount), .text(scope.ledgerKey), .int(start), .int(amount), .int(scope.limit.amount)])
                if updated.isEmpty {
                    let row = try await db.query(
                        "SELECT spent_nano, reserved_nano FROM budget_usage WHERE scope = ? AND period_start = ?",
                        [.text(scope.ledgerKey), .int(start)]
                    ).first
                    let used = (row?.int("spent_nano") ?? 0).addingSaturated(row?.int("reserved_nano") ?? 0)
                    throw BudgetRefusal(
                        scope: scope, remaining: scope.limit.amount.subtractingSaturated(used), resetsAt: scope.limit.period.end(containing: now))
                }
            }
            try await db.query(
                "INSERT INTO reservations (id, at, key_id, team, amount_nano, owner, scopes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [.text(reservation.id), .int(now), .text(keyID), .text(team), .int(amount), .text(owner), .text(reservation.scopeList)])
            return nil
        }
        if let outcome { throw outcome }
        return reservation
    }

    /// Creates the scope's row for this period, starting from what the usage records say was spent.
    static func ensureRow(_ db: any SQLDatabase, scope: BudgetScope, start: Int64) async throws {
        let spent = try await db.query(
            SQLStore.spentSQL(column: scope.kind == .key ? "key_id" : "team"),
            [.text(scope.id), .int(start), .text(scope.id), .int(SQLStore.firstDay(start))]
        ).first?.int("total") ?? 0
        try await db.query(
            """
            INSERT INTO budget_usage (scope, period_start, spent_nano, reserved_nano) VALUES (?, ?, ?, 0)
            ON CONFLICT (scope, period_start) DO NOTHING
            """,
            [.text(scope.ledgerKey), .int(start), .int(spent)])
    }

    @discardableResult
    public func settle(_ reservation: Reservation, actual: NanoDollars) async -> [ScopeSpend] {
        do {
            return try await store.database.transaction { db in
                var out: [ScopeSpend] = []
                for (scope, start) in reservation.scopes {
                    let rows = try await db.query(
                        """
                        UPDATE budget_usage SET reserved_nano = reserved_nano - ?, spent_nano = spent_nano + ?
                        WHERE scope = ? AND period_start = ? RETURNING spent_nano
                        """,
                        [.int(reservation.amount), .int(actual), .text(scope.ledgerKey), .int(start)])
                    if let spent = rows.first?.int("spent_nano") { out.append(ScopeSpend(scope: scope, periodStart: start, spent: spent)) }
                }
                try await db.query("DELETE FROM reservations WHERE id = ?", [.text(reservation.id)])
                return out
            }
        } catch {
            // The reservation stays in the store and is counted as spent (at its full amount) by the sweeper.
            return []
        }
    }

    public func remaining(_ scopes: [BudgetScope], now: Int64) async throws -> NanoDollars? {
        guard !scopes.isEmpty else { return nil }
        var least: NanoDollars?
        for scope in scopes {
            let start = scope.limit.period.start(containing: now)
            let row = try await store.database.query(
                "SELECT spent_nano, reserved_nano FROM budget_usage WHERE scope = ? AND period_start = ?",
                [.text(scope.ledgerKey), .int(start)]
            ).first
            let used: NanoDollars
            if let row {
                used = (row.int("spent_nano") ?? 0).addingSaturated(row.int("reserved_nano") ?? 0)
            } else {
                used = scope.kind == .key
                    ? try await store.spent(keyID: scope.id, since: start) : try await store.spent(team: scope.id, since: start)
            }
            let left = scope.limit.amount.subtractingSaturated(used)
            least = min(least ?? left, left)
        }
        return least
    }

    /// Settles reservations whose owner stopped heart-beating (a crashed replica) at their full amount.
    func sweepAbandoned(staleAfter: Int64, now: Int64) async throws -> Int {
        let live = Set(try await store.database.query("SELECT id FROM instances WHERE heartbeat_at >= ?", [.int(now - staleAfter)])
            .compactMap { $0.string("id") })
        let abandoned = try await store.openReservations().filter { !live.contains($0.owner) && $0.owner != owner }
        for r in abandoned {
            try await store.database.transaction { db in
                let gone = try await db.query("DELETE FROM reservations WHERE id = ? RETURNING id", [.text(r.id)])
                guard !gone.isEmpty else { return }  // another replica swept it first
                for part in r.scopes.split(separator: ";") {
                    guard let at = part.lastIndex(of: "@"), let start = Int64(part[part.index(after: at)...]) else { continue }
                    try await db.query(
                        "UPDATE budget_usage SET reserved_nano = reserved_nano - ?, spent_nano = spent_nano + ? WHERE scope = ? AND period_start = ?",
                        [.int(r.amount), .int(r.amount), .text(String(part[..<at])), .int(start)])
                }
                try await db.query(
                    """
                    INSERT INTO usage_records (request_id, at, key_id, key_name, team, model, deployment, prompt_tokens,
                    completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, estimated, cost_nano, status)
                    VALUES (?, ?, ?, '', ?, '', NULL, 0, 0, 0, 0, 0, 1, ?, 0) ON CONFLICT (request_id) DO NOTHING
                    """,
                    [.text(r.id), .int(r.at), .text(r.keyID), .text(r.team), .int(r.amount)])
            }
        }
        return abandoned.count
    }

    func heartbeat(now: Int64) async throws {
        try await store.database.query(
            "INSERT INTO instances (id, heartbeat_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            [.text(owner), .int(now)])
    }
}
