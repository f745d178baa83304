import Logging
import NIOCore
import SQLiteNIO
import WardenCore

/// `SQLDatabase` over one SQLite connection. Every statement and transaction takes the connection's
/// async lock, so a transaction's statements are never interleaved with another caller's.
public final class SQLiteDatabase: SQLDatabase {
    public let dialect = SQLDialect.sqlite
    let connection: SQLiteConnection
    private let lock = AsyncLock()

    public static func open(path: String, logger: Logger) async throws -> SQLiteDatabase {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let db = SQLiteDatabase(connection: connection)
        _ = try await connection.query("PRAGMA journal_mode=WAL")
        _ = try await connection.query("PRAGMA busy_timeout=5000")
        _ = try await connection.query("PRAGMA synchronous=NORMAL")
        _ = try await connection.query("PRAGMA foreign_keys=ON")
        return db
    }

    private init(connection: SQLiteConnection) {
        self.connection = connection
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await lock.withLock { try await Self.run(connection, sql, binds) }
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        // In a task of its own: SQLiteNIO's statements refuse to start in a cancelled task, and a
        // ROLLBACK refused that way would leave the one connection inside a transaction for good, failing
        // every later write (seen when shutdown cancelled a flush halfway).
        let connection = connection
        let lock = lock
        return try await Task {
            try await lock.withLock {
                _ = try await connection.query("BEGIN IMMEDIATE")
                do {
                    let result = try await body(Locked(connection: connection))
                    _ = try await connection.query("COMMIT")
                    return result
                } catch {
                    _ = try? await connection.query("ROLLBACK")
                    throw error
                }
            }
        }.value
    }

    public func close() async {
        try? await connection.close()
    }

    static func run(_ connection: SQLiteConnection, _ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let rows = try await connection.query(sql, binds.map(\.sqlite))
        return rows.map { row in
            var values: [String: SQLValue] = [:]
            for column in row.columns {
                switch column.data {
                case .integer(let i): values[column.name] = .int(Int64(i))
                case .float(let d): values[column.name] = Int64(clampingFinite: d).map(SQLValue.int) ?? .null
                case .text(let t): values[column.name] = .text(t)
                case .blob(let b): values[column.name] = .blob(Array(b.readableBytesView))
                case .null: values[column.name] = .null
                }
            }
            return SQLRow(values: values)
        }
    }

    /// The connection inside a transaction (the lock is already held).
    struct Locked: SQLDatabase {
        let dialect = SQLDialect.sqlite
        let connection: SQLiteConnection

        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            try await SQLiteDatabase.run(connection, sql, binds)
        }

        func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
            try await body(self)  // already inside one
        }

        func close() async {}
    }
}

extension SQLValue {
    var sqlite: SQLiteData {
        switch self {
        case .int(let i): .integer(Int(i))
        case .text(let t): .text(t)
        case .blob(let b): .blob(ByteBuffer(bytes: b))
        case .null: .null
        }
    }
}
