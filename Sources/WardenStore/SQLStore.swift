import Logging
import WardenCore

/// Warden's store over any `SQLDatabase`: SQLite for one machine, PostgreSQL for many replicas. The same
/// statements serve both; only the table definitions differ in their type names.
public final class SQLStore: KeyStore {
    public let database: any SQLDatabase
    /// A description without secrets (`sqlite:/path`, `postgres://user@host:port/db`).
    public let location: String

    public init(database: any SQLDatabase, location: String) {
        self.database = database
        self.location = location
    }

    // MARK: Migrations

    /// Ordered schema migrations; index + 1 is the version. `{INT}` and `{BLOB}` become the dialect's types.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                team TEXT NOT NULL,
                key_hash TEXT NOT NULL UNIQUE,
                key_prefix TEXT NOT NULL,
                models TEXT,
                created_at {INT} NOT NULL,
                expires_at {INT},
                revoked_at {INT}
            )
            """,
            "CREATE INDEX api_keys_team ON api_keys(team)",
        ],
        [
            "ALTER TABLE api_keys ADD COLUMN budget_nano {INT}",
            "ALTER TABLE api_keys ADD COLUMN budget_period TEXT",
            "ALTER TABLE api_keys ADD COLUMN rpm {INT}",
            "ALTER TABLE api_keys ADD COLUMN tpm {INT}",
            "ALTER TABLE api_keys ADD COLUMN metadata TEXT",
            "ALTER TABLE api_keys ADD COLUMN rotated_from TEXT",
            """
            CREATE TABLE teams (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                budget_nano {INT},
                budget_period TEXT,
                rpm {INT},
                tpm {INT},
                created_at {INT} NOT NULL,
                updated_at {INT} NOT NULL
            )
            """,
            "CREATE TABLE change_counter (id {INT} PRIMARY KEY, value {INT} NOT NULL)",
            "INSERT INTO change_counter (id, value) VALUES (1, 0)",
            """
            CREATE TABLE usage_records (
                request_id TEXT PRIMARY KEY,
                at {INT} NOT NULL,
                key_id TEXT NOT NULL,
                key_name TEXT NOT NULL,
                team TEXT NOT NULL,
                model TEXT NOT NULL,
                deployment TEXT,
                prompt_tokens {INT} NOT NULL,
                completion_tokens {INT} NOT NULL,
                cached_tokens {INT} NOT NULL,
                cache_write_tokens {INT} NOT NULL,
                reasoning_tokens {INT} NOT NULL,
                estimated {INT} NOT NULL,
                cost_nano {INT} NOT NULL,
                status {INT} NOT NULL
            )
            """,
            "CREATE INDEX usage_key_at ON usage_records(key_id, at)",
            "CREATE INDEX usage_team_at ON usage_records(team, at)",
            "CREATE INDEX usage_at ON usage_records(at)",
            """
            CREATE TABLE reservations (
                id TEXT PRIMARY KEY,
                at {INT} NOT NULL,
                key_id TEXT NOT NULL,
                team TEXT NOT NULL,
                amount_nano {INT} NOT NULL,
                owner TEXT NOT NULL,
                scopes TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE budget_usage (
                scope TEXT NOT NULL,
                period_start {INT} NOT NULL,
                spent_nano {INT} NOT NULL,
                reserved_nano {INT} NOT NULL,
                PRIMARY KEY (scope, period_start)
            )
            """,
            "CREATE TABLE instances (id TEXT PRIMARY KEY, heartbeat_at {INT} NOT NULL)",
            """
            CREATE TABLE audit_records (
                seq {INT} PRIMARY KEY,
                at {INT} NOT NULL,
                kind TEXT NOT NULL,
                body {BLOB} NOT NULL,
                leaf_hash {BLOB} NOT NULL
            )
            """,
            "CREATE INDEX audit_records_at ON audit_records(at)",
            "CREATE TABLE audit_content (seq {INT} PRIMARY KEY, prompt TEXT, response TEXT)",
            """
            CREATE TABLE audit_checkpoints (
                size {INT} PRIMARY KEY,
                at {INT} NOT NULL,
                root {BLOB} NOT NULL,
                note TEXT NOT NULL
            )
            """,
            "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ],
        [
            // Tags (a JSON array of strings) and team metadata (a JSON object of strings), for policies.
            "ALTER TABLE api_keys ADD COLUMN tags TEXT",
            "ALTER TABLE teams ADD COLUMN tags TEXT",
            "ALTER TABLE teams ADD COLUMN metadata TEXT",
        ],
        [
            // Tool calls held for a person's decision (`require_approval`), and per-key/team guardrails (JSON).
            """
            CREATE TABLE approvals (
                id TEXT PRIMARY KEY,
                created_at {INT} NOT NULL,
                expires_at {INT} NOT NULL,
                key_id TEXT NOT NULL,
                team TEXT NOT NULL,
                tool TEXT NOT NULL,
                arguments TEXT NOT NULL,
                call_id TEXT,
                model TEXT,
                request_id TEXT,
                fingerprint TEXT,
                agent TEXT,
                session TEXT,
                reasons TEXT NOT NULL,
                status TEXT NOT NULL,
                decided_at {INT},
                decided_by TEXT,
                note TEXT,
                used_at {INT}
            )
            """,
            "CREATE INDEX approvals_status ON approvals(status, created_at)",
            "ALTER TABLE api_keys ADD COLUMN guardrails TEXT",
            "ALTER TABLE teams ADD COLUMN guardrails TEXT",
        ],
        [
            // Daily aggregates of usage records past `usage.retention_days`: spend, budgets and reports
            // read them with the records, so rolling records up loses no money.
            """
            CREATE TABLE usage_daily (
                day {INT} NOT NULL,
                key_id TEXT NOT NULL,
                team TEXT NOT NULL,
                model TEXT NOT NULL,
                requests {INT} NOT NULL,
                prompt_tokens {INT} NOT NULL,
                completion_tokens {INT} NOT NULL,
                cached_tokens {INT} NOT NULL,
                cache_write_tokens {INT} NOT NULL,
                reasoning_tokens {INT} NOT NULL,
                cost_nano {INT} NOT NULL,
                PRIMARY KEY (day, key_id, team, model)
            )
            """,
            "CREATE INDEX usage_daily_key ON usage_daily(key_id, day)",
            "CREATE INDEX usage_daily_team ON usage_daily(team, day)",
        ],
    ]

    /// The schema version this Warden writes.
    public static var schemaVersion: Int { migrations.count }

    static func ddl(_ statement: String, _ dialect: SQLDialect) -> String {
        switch dialect {
        case .sqlite: statement.replacingOccurrences(of: "{INT}", with: "INTEGER").replacingOccurrences(of: "{BLOB}", with: "BLOB")
        case .postgres: statement.replacingOccurrences(of: "{INT}", with: "BIGINT").replacingOccurrences(of: "{BLOB}", with: "BYTEA")
        }
    }

    /// Applies pending migrations, each in its own transaction. Refuses a database newer than this Warden.
    public func migrate(logger: Logger) async throws {
        let dialect = database.dialect
        try await database.query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version \(dialect == .sqlite ? "INTEGER" : "BIGINT") PRIMARY KEY, applied_at \(dialect == .sqlite ? "INTEGER" : "BIGINT") NOT NULL)")
        let current = Int(try await database.query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").first?.int("v") ?? 0)
        guard current >= 0 else { throw StoreError("the database's schema version (\(current)) is invalid") }
        guard current <= Self.migrations.count else {
            throw StoreError(
                "the database schema (version \(current)) is newer than this Warden (\(Self.migrations.count)); upgrade Warden")
        }
        guard current < Self.migrations.count else { return }
        for version in (current + 1)...Self.migrations.count {
            try await database.transaction { db in
                // Two replicas starting together: the second waits here and then finds the version applied.
                let done = try await db.query("SELECT version FROM schema_migrations WHERE version = ?", [.int(Int64(version))])
                guard done.isEmpty else { return }
                for statement in Self.migrations[version - 1] { try await db.query(Self.ddl(statement, dialect), []) }
                try await db.query(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    [.int(Int64(version)), .int(WallClock.unixMilliseconds())])
            }
            logger.info("applied store migration", metadata: ["warden.store.version": "\(version)"])
        }
    }

    /// The schema version of the database as it is, without changing it.
    public func currentSchemaVersion() async throws -> Int {
        Int(try await database.query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").first?.int("v") ?? 0)
    }

    // MARK: Health, settings, change counter

    public func ping() async throws {
        _ = try await database.query("SELECT version FROM schema_migrations LIMIT 1")
    }

    public func close() async {
        await database.close()
    }

    /// A number that grows with every admin change (teams, keys): replicas poll it to refresh their caches.
    public func changeCounter() async throws -> Int64 {
        try await database.query("SELECT value FROM change_counter WHERE id = 1").first?.int("value") ?? 0
    }

    static func bumpChangeCounter(_ db: any SQLDatabase) async throws {
        try await db.query("UPDATE change_counter SET value = value + 1 WHERE id = 1", [])
    }

    public func setting(_ name: String) async throws -> String? {
        try await database.query("SELECT value FROM settings WHERE name = ?", [.text(name)]).first?.string("value")
    }

    /// Sets a value only if none is set; returns the value that is set afterwards.
    public func settingIfAbsent(_ name: String, _ value: String) async throws -> String {
        try await database.transaction { db in
            if let existing = try await db.query("SELECT value FROM settings WHERE name = ?", [.text(name)]).first?.string("value") {
                return existing
            }
            try await db.query("INSERT INTO settings (name, value) VALUES (?, ?)", [.text(name), .text(value)])
            return value
        }
    }
}

/// A store failure with a message for operators.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

import Foundation
