import Foundation
import Logging
import Testing
import WardenCore
import WardenStore

/// The stores under test: SQLite always, PostgreSQL when `WARDEN_TEST_POSTGRES_URL` names a server
/// (`./scripts/test` starts a throwaway one).
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// The PostgreSQL server the tests use (`scripts/test` starts a throwaway one and sets it).
    static var postgresURL: String? { ProcessInfo.processInfo.environment["WARDEN_TEST_POSTGRES_URL"] }

    /// A fresh, empty store.
    func open() async throws -> SQLStore {
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        switch self {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("warden-store-\(UUID().uuidString).sqlite").path
            return try await SQLStore.open(.sqlite(path: path), password: nil, logger: logger)
        case .postgres:
            guard case .postgres(let user, let host, let port, let database)? = StorageLocation.parse(try await Self.freshPostgresURL()) else {
                throw StoreError("not a postgres:// URL")
            }
            return try await SQLStore.open(.postgres(user: user, host: host, port: port, database: database), password: nil, logger: logger)
        }
    }

    /// A new, empty database on the test server (`WARDEN_TEST_POSTGRES_URL`), so tests running in
    /// parallel never share state.
    static func freshPostgresURL() async throws -> String {
        guard let url = postgresURL, case .postgres(let user, let host, let port, let database)? = StorageLocation.parse(url) else {
            throw StoreError("WARDEN_TEST_POSTGRES_URL is not set, or not a postgres:// URL")
        }
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let admin = try await PostgresDatabase.connect(host: host, port: port, user: user, password: nil, database: database, logger: logger)
        let name = "w_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await admin.query("CREATE DATABASE \(name)")
        await admin.close()
        return "postgres://\(user)@\(host):\(port)/\(name)"
    }

    /// The `storage:` line of a Warden config using this backend (SQLite: the default under data_dir).
    func storageConfig() async throws -> String {
        switch self {
        case .sqlite: ""
        case .postgres: "storage: \(try await Self.freshPostgresURL())"
        }
    }
}

extension Trait where Self == ConditionTrait {
    /// A PostgreSQL variant: reported as skipped, with the reason, when no server is configured.
    static var requiresPostgres: Self {
        .enabled(
            if: StoreBackend.postgresURL != nil,
            "PostgreSQL not tested: WARDEN_TEST_POSTGRES_URL is not set (scripts/test starts a throwaway server and sets it)")
    }
}

/// Fails the run when PostgreSQL was required (`WARDEN_REQUIRE_POSTGRES=1`, as `scripts/test` and CI set
/// it) but is not configured: a server that failed to start must not make the PostgreSQL cases vanish.
@Test("PostgreSQL is configured when the run requires it")
func postgresConfiguredWhenRequired() {
    if ProcessInfo.processInfo.environment["WARDEN_REQUIRE_POSTGRES"] == "1" {
        #expect(StoreBackend.postgresURL != nil, "WARDEN_REQUIRE_POSTGRES=1 but WARDEN_TEST_POSTGRES_URL is not set")
    }
}

@Suite("Store (SQLite and PostgreSQL)", .serialized)
struct StoreTests {
    @Test("approvals: decided once, redeemed once, expiry counts as a status; guardrails round-trip (SQLite)")
    func approvalsSQLite() async throws { try await approvals(.sqlite) }

    @Test("approvals: decided once, redeemed once, expiry counts as a status; guardrails round-trip (PostgreSQL)", .requiresPostgres)
    func approvalsPostgreSQL() async throws { try await approvals(.postgres) }

    func approvals(_ backend: StoreBackend) async throws {
        let store = try await backend.open()
        defer { Task { await store.close() } }
        let id = "apr_" + String(UInt64.random(in: 1...UInt64.max), radix: 16)
        var record = ApprovalRecord(
            id: id, createdAt: 1_000, expiresAt: 10_000, keyID: "key_a", team: "t", tool: "send", arguments: #"{"amount":3}"#,
            reasons: ["needs approval"])
        record.fingerprint = "f"
        try await store.insertApproval(record)
        #expect(try await store.approval(id: id) == record)
        #expect(try await store.approvals(status: .pending, now: 2_000).contains { $0.id == id })
        #expect(try await store.approvals(status: .expired, now: 20_000).contains { $0.id == id })
        #expect(try await store.redeemApproval(id: id, now: 2_000) == false, "a pending call is not handed back")
        let decided = try await store.decideApproval(id: id, approve: true, by: "admin_api", note: "ok", now: 3_000)
        #expect(decided?.status == .approved && decided?.decidedBy == "admin_api" && decided?.note == "ok")
        let again = try await store.decideApproval(id: id, approve: false, by: "x", note: nil, now: 4_000)
        #expect(again?.status == .approved, "a decision is final")
        #expect(try await store.redeemApproval(id: id, now: 5_000))
        #expect(try await store.redeemApproval(id: id, now: 6_000) == false)
        let late = "apr_late" + String(UInt64.random(in: 1...UInt64.max), radix: 16)
        try await store.insertApproval(ApprovalRecord(id: late, createdAt: 0, expiresAt: 100, keyID: "k", team: "t", tool: "x", arguments: "{}", reasons: []))
        #expect(try await store.decideApproval(id: late, approve: true, by: "a", note: nil, now: 200)?.status == .pending)

        let rules = #"{"input":[{"detector":"secrets","action":"block"}]}"#
        let team = TeamRecord(id: "team_g" + id, name: "g" + id, createdAt: 1, updatedAt: 1, guardrails: rules)
        try await store.insert(team)
        #expect(try await store.team(named: team.name)?.guardrails == rules)
    }

    @Test("migrations apply once; keys and teams round-trip; every admin change bumps the counter (SQLite)")
    func keysAndTeamsSQLite() async throws { try await keysAndTeams(.sqlite) }

    @Test("migrations apply once; keys and teams round-trip; every admin change bumps the counter (PostgreSQL)", .requiresPostgres)
    func keysAndTeamsPostgreSQL() async throws { try await keysAndTeams(.postgres) }

    func keysAndTeams(_ backend: StoreBackend) async throws {
        let store = try await backend.open()
        defer { Task { await store.close() } }
        try await store.migrate(logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })  // idempotent
        #expect(try await store.currentSchemaVersion() == SQLStore.schemaVersion)
        let c0 = try await store.changeCounter()

        let team = TeamRecord(id: "team_1", name: "research", budget: BudgetLimit(amount: 10_000_000_000, period: .monthly), rpm: 60, createdAt: 1, updatedAt: 1)
        try await store.insert(team)
        #expect(try await store.team(named: "research") == team)

        var key = StoredKey(
            id: "key_1", name: "ci", team: "research", hash: String(repeating: "a", count: 64), prefix: "wk-aaaaaaa",
            models: ["fast", "big"], createdAt: 5, expiresAt: 99, budget: BudgetLimit(amount: 1_000, period: .daily),
            rpm: 30, tpm: 1000, metadata: ["owner": "ana", "purpose": "ci"])
        try await store.insert(key)
        #expect(try await store.key(id: "key_1") == key)
        key.revokedAt = 50
        key.metadata = [:]
        try await store.update(key)
        #expect(try await store.key(id: "key_1") == key)
        #expect(try await store.activeKeys().isEmpty)
        #expect(try await store.allKeys().count == 1)
        #expect(try await store.changeCounter() == c0 + 3)
    }

    @Test("a transaction runs to its end when its caller is cancelled, and the store stays usable (SQLite)")
    func cancelledTransactionSQLite() async throws { try await cancelledTransaction(.sqlite) }

    @Test("a transaction runs to its end when its caller is cancelled, and the store stays usable (PostgreSQL)", .requiresPostgres)
    func cancelledTransactionPostgreSQL() async throws { try await cancelledTransaction(.postgres) }

    func cancelledTransaction(_ backend: StoreBackend) async throws {
        let store = try await backend.open()
        let db = store.database
        let (started, startedSink) = AsyncStream.makeStream(of: Void.self)
        // The body waits at a gate the test opens only after cancelling the caller, so the cancellation
        // surely lands while the transaction is running.
        let (gate, gateSink) = AsyncStream.makeStream(of: Void.self)
        let task = Task {
            try await db.transaction { tx in
                startedSink.yield()
                for await _ in gate { break }
                try await tx.query("INSERT INTO settings (name, value) VALUES ('first', 'x')")
            }
        }
        _ = await started.first { _ in true }
        task.cancel()
        #expect(task.isCancelled)
        gateSink.yield()
        gateSink.finish()
        // The transaction ran to its end: the caller gets its result, not an error.
        try await task.value
        try await db.transaction { tx in try await tx.query("INSERT INTO settings (name, value) VALUES ('second', 'y')") }
        let names = try await db.query("SELECT name FROM settings WHERE name IN ('first', 'second') ORDER BY name").compactMap { $0.string("name") }
        #expect(names == ["first", "second"])
        await store.close()
    }

    @Test("usage is recorded once per request and reported by model and by day (SQLite)")
    func usageSQLite() async throws { try await usage(.sqlite) }

    @Test("usage is recorded once per request and reported by model and by day (PostgreSQL)", .requiresPostgres)
    func usagePostgreSQL() async throws { try await usage(.postgres) }

    func usage(_ backend: StoreBackend) async throws {
        let store = try await backend.open()
        defer { Task { await store.close() } }
        let day: Int64 = 1_795_910_400_000  // 2026-11-29T00:00Z
        func record(_ id: String, _ model: String, _ at: Int64, _ cost: NanoDollars, key: String = "k1") -> UsageRecord {
            UsageRecord(
                requestID: id, at: at, keyID: key, keyName: "n", team: "t", model: model, deployment: "p/m",
                usage: Usage(inputTokens: 10, outputTokens: 5, cachedInputTokens: 2), cost: cost, status: 200)
        }
        try await store.insertUsage([record("r1", "a", day + 1000, 100), record("r2", "b", day + 2000, 250)])
        try await store.insertUsage([record("r2", "b", day + 2000, 250), record("r3", "a", day + 86_400_000, 50, key: "k2")])
        let total = try await store.spend(SpendQuery())
        #expect(total == [SpendRow(group: nil, requests: 3, promptTokens: 30, completionTokens: 15, cost: 400)])
        let byModel = try await store.spend(SpendQuery(groupBy: .model))
        #expect(byModel.map(\.group) == ["a", "b"])
        #expect(byModel.map(\.cost) == [150, 250])
        let byDay = try await store.spend(SpendQuery(team: "t", groupBy: .day))
        #expect(byDay.map(\.group) == ["2026-11-29", "2026-11-30"])
        #expect(try await store.spend(SpendQuery(keyID: "k2")).first?.cost == 50)
        #expect(try await store.spent(keyID: "k1", since: day) == 350)
        #expect(try await store.spent(team: "t", since: day + 86_400_000) == 50)
    }

    @Test("usage past retention rolls up into daily aggregates: every report, spend total and budget balance stays the same (SQLite)")
    func rollUpSQLite() async throws { try await rollUp(.sqlite) }

    @Test("usage past retention rolls up into daily aggregates: every report, spend total and budget balance stays the same (PostgreSQL)", .requiresPostgres)
    func rollUpPostgreSQL() async throws { try await rollUp(.postgres) }

    func rollUp(_ backend: StoreBackend) async throws {
        let store = try await backend.open()
        defer { Task { await store.close() } }
        let day: Int64 = 1_795_910_400_000  // 2026-11-29T00:00Z, day 20786
        var records: [UsageRecord] = []
        // Five days of usage, two keys in two teams, two models.
        for d in 0..<5 {
            for i in 0..<(3 + d) {
                let key = i % 2 == 0 ? "k1" : "k2"
                records.append(
                    UsageRecord(
                        requestID: "r\(d)-\(i)", at: day + Int64(d) * 86_400_000 + Int64(i) * 3_600_000, keyID: key, keyName: key,
                        team: key == "k1" ? "t1" : "t2", model: i % 3 == 0 ? "a" : "b", deployment: "p/m",
                        usage: Usage(inputTokens: 10 + i, outputTokens: 5, cachedInputTokens: 1, reasoningTokens: 2), cost: Int64(100 * (d + 1) + i),
                        status: 200))
            }
        }
        try await store.insertUsage(records)
        let queries = [
            SpendQuery(), SpendQuery(groupBy: .day), SpendQuery(groupBy: .model), SpendQuery(groupBy: .team), SpendQuery(groupBy: .key),
            SpendQuery(team: "t1", groupBy: .day), SpendQuery(keyID: "k2"), SpendQuery(from: day + 86_400_000, to: day + 4 * 86_400_000, groupBy: .day),
        ]
        var before: [[SpendRow]] = []
        for q in queries { before.append(try await store.spend(q)) }
        let spentBefore = [
            try await store.spent(keyID: "k1", since: 0), try await store.spent(team: "t2", since: day + 86_400_000),
            try await store.spent(keyID: "k2", since: day + 3 * 86_400_000),
        ]
        // Roll up the first three days.
        let moved = try await store.rollUpUsage(beforeDay: day / 86_400_000 + 3)
        #expect(moved == 3 + 4 + 5)
        let left = try await store.database.query("SELECT COUNT(*) AS n FROM usage_records").first?.int("n")
        #expect(left.map(Int.init) == 13)
        let aggregates = try await store.database.query("SELECT COUNT(*) AS n FROM usage_daily").first?.int("n") ?? 0
        #expect(aggregates > 0 && aggregates < 12, "records collapse into per-day, per-key and per-model rows")
        for (q, expected) in zip(queries, before) {
            #expect(try await store.spend(q) == expected, "\(q)")
        }
        let spentAfter = [
            try await store.spent(keyID: "k1", since: 0), try await store.spent(team: "t2", since: day + 86_400_000),
            try await store.spent(keyID: "k2", since: day + 3 * 86_400_000),
        ]
        #expect(spentAfter == spentBefore)
        // Again, and with a record that arrives late for an already rolled-up day: added to its aggregate.
        #expect(try await store.rollUpUsage(beforeDay: day / 86_400_000 + 3) == 0)
        try await store.insertUsage([
            UsageRecord(
                requestID: "late", at: day + 1000, keyID: "k1", keyName: "k1", team: "t1", model: "a", deployment: nil,
                usage: Usage(inputTokens: 1), cost: 7, status: 200)
        ])
        #expect(try await store.rollUpUsage(beforeDay: day / 86_400_000 + 3) == 1)
        #expect(try await store.spent(keyID: "k1", since: 0) == spentBefore[0] + 7)
    }

    @Test("abandoned reservations become spend at their reserved amount (SQLite)")
    func reservationsSQLite() async throws { try await reservations(.sqlite) }

    @Test("abandoned reservations become spend at their reserved amount (PostgreSQL)", .requiresPostgres)
    func reservationsPostgreSQL() async throws { try await reservations(.postgres) }

    func reservations(_ backend: StoreBackend) async throws {
        let store = try await backend.open()
        defer { Task { await store.close() } }
        try await store.insertReservations([
            ReservationRecord(id: "res_1", at: 10, keyID: "k", team: "t", amount: 700, owner: "old"),
            ReservationRecord(id: "res_2", at: 11, keyID: "k", team: "t", amount: 300, owner: "live"),
        ])
        let abandoned = try await store.openReservations(owner: "old")
        #expect(abandoned.map(\.id) == ["res_1"])
        try await store.settleAbandoned(abandoned)
        try await store.settleAbandoned(abandoned)  // idempotent
        #expect(try await store.spent(keyID: "k", since: 0) == 700)
        #expect(try await store.openReservations().map(\.id) == ["res_2"])
        try await store.deleteReservations(["res_2"])
        #expect(try await store.openReservations().isEmpty)
    }

    @Test("audit records, content and checkpoints (SQLite)")
    func auditSQLite() async throws { try await audit(.sqlite) }

    @Test("audit records, content and checkpoints (PostgreSQL)", .requiresPostgres)
    func auditPostgreSQL() async throws { try await audit(.postgres) }

    func audit(_ backend: StoreBackend) async throws {
        let store = try await backend.open()
        defer { Task { await store.close() } }
        let rows = (0..<5).map {
            AuditRow(seq: $0, at: Int64(100 + $0), kind: "request", body: Array("{\"seq\":\($0)}".utf8), leafHash: Array(repeating: UInt8($0), count: 32),
                     content: $0 == 2 ? ("the prompt", "the answer") : nil)
        }
        try await store.commitAudit { state in
            #expect(state == "")
            return AuditCommit(rows: rows, checkpoints: [CheckpointRow(size: 5, at: 200, root: Array(repeating: 9, count: 32), note: "note\n")], state: "s1")
        }
        #expect(try await store.auditState() == "s1")
        #expect(try await store.auditRecords(fromSeq: 0, limit: 10).map(\.seq) == [0, 1, 2, 3, 4])
        #expect(try await store.auditRecords(fromSeq: 3, limit: 1).map(\.body) == [rows[3].body])
        #expect(try await store.lastAuditRecord()?.seq == 4)
        #expect(try await store.auditRecords(from: 101, to: 103).map(\.seq) == [1, 2])
        #expect(try await store.auditLeafHashes(to: 2) == [rows[0].leafHash, rows[1].leafHash])
        #expect(try await store.content(ofAuditRecord: 2)?.prompt == "the prompt")
        try await store.eraseAuditContent(seqs: [2])
        #expect(try await store.content(ofAuditRecord: 2) == nil)
        #expect(try await store.checkpoints().map(\.size) == [5])
        #expect(try await store.auditPruneBoundary(before: 104) == nil)  // record 4 is at 104
        #expect(try await store.auditPruneBoundary(before: 105) == 5)
        #expect(try await store.pruneAudit(before: 3, state: "kept", expected: ""))
        #expect(try await store.pruneAudit(before: 4, state: "again", expected: "") == false)
        #expect(try await store.auditRecords(fromSeq: 0, limit: 10).map(\.seq) == [3, 4])
        #expect(try await store.auditPrunedState() == "kept")
        #expect(try await store.settingIfAbsent("x", "first") == "first")
        #expect(try await store.settingIfAbsent("x", "second") == "first")
    }
}
