import Logging
import NIOCore
import NIOPosix
import SQLiteNIO
import WardenCore

/// The embedded store: one SQLite file under the data directory.
///
/// SQLite calls run on NIO's blocking thread pool, never on an event loop. Migrations are versioned and
/// applied at open, each in its own transaction.
public final class SQLiteStore: KeyStore {
    let connection: SQLiteConnection
    public let path: String

    /// Ordered schema migrations; index + 1 is the version.
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
                created_at INTEGER NOT NULL,
                expires_at INTEGER,
                revoked_at INTEGER
            )
            """,
            "CREATE INDEX api_keys_team ON api_keys(team)",
        ]
    ]

    private init(connection: SQLiteConnection, path: String) {
        self.connection = connection
        self.path = path
    }

    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    public static func open(path: String, logger: Logger) async throws -> SQLiteStore {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let store = SQLiteStore(connection: connection, path: path)
        do {
            _ = try await connection.query("PRAGMA journal_mode=WAL")
            _ = try await connection.query("PRAGMA busy_timeout=5000")
            _ = try await connection.query("PRAGMA synchronous=NORMAL")
            try await store.migrate(logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        return store
    }

    /// Reads an existing database's schema version and key count without changing anything.
    public static func inspect(path: String, logger: Logger) async throws -> (schemaVersion: Int, keys: Int) {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        defer { Task { try? await connection.close() } }
        let version = try await connection.query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            .first?.column("v")?.integer ?? 0
        let keys = try await connection.query("SELECT COUNT(*) AS n FROM api_keys").first?.column("n")?.integer ?? 0
        return (version, keys)
    }

    /// The schema version after migrations.
    public static var schemaVersion: Int { migrations.count }

    func migrate(logger: Logger) async throws {
        _ = try await connection.query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
        let rows = try await connection.query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
        let current = rows.first?.column("v")?.integer ?? 0
        guard current <= Self.migrations.count else {
            throw StoreError("the database schema (version \(current)) is newer than this Warden (\(Self.migrations.count)); upgrade Warden")
        }
        for version in (current + 1)..<(Self.migrations.count + 1) {
            _ = try await connection.query("BEGIN IMMEDIATE")
            do {
                for statement in Self.migrations[version - 1] { _ = try await connection.query(statement) }
                _ = try await connection.query(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    [.integer(version), .integer(Int(WallClock.unixMilliseconds()))])
                _ = try await connection.query("COMMIT")
                logger.info("applied store migration", metadata: ["warden.store.version": "\(version)"])
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw error
            }
        }
    }

    public func activeKeys() async throws -> [StoredKey] {
        let rows = try await connection.query(
            "SELECT id, name, team, key_hash, key_prefix, models, created_at, expires_at, revoked_at FROM api_keys WHERE revoked_at IS NULL")
        return rows.map { row in
            StoredKey(
                id: row.column("id")?.string ?? "", name: row.column("name")?.string ?? "",
                team: row.column("team")?.string ?? "", hash: row.column("key_hash")?.string ?? "",
                prefix: row.column("key_prefix")?.string ?? "",
                models: row.column("models")?.string.flatMap { $0.isEmpty ? nil : $0.split(separator: "\n").map(String.init) },
                createdAt: Int64(row.column("created_at")?.integer ?? 0),
                expiresAt: row.column("expires_at")?.integer.map(Int64.init),
                revokedAt: row.column("revoked_at")?.integer.map(Int64.init))
        }
    }

    public func insert(_ key: StoredKey) async throws {
        _ = try await connection.query(
            """
            INSERT INTO api_keys (id, name, team, key_hash, key_prefix, models, created_at, expires_at, revoked_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(key.id), .text(key.name), .text(key.team), .text(key.hash), .text(key.prefix),
                key.models.map { .text($0.joined(separator: "\n")) } ?? .null, .integer(Int(key.createdAt)),
                key.expiresAt.map { .integer(Int($0)) } ?? .null, key.revokedAt.map { .integer(Int($0)) } ?? .null,
            ])
    }

    public func keyCount() async throws -> Int {
        let rows = try await connection.query("SELECT COUNT(*) AS n FROM api_keys")
        return rows.first?.column("n")?.integer ?? 0
    }

    public func ping() async throws {
        _ = try await connection.query("SELECT version FROM schema_migrations LIMIT 1")
    }

    public func close() async {
        try? await connection.close()
    }
}

/// A store failure with a message for operators.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
