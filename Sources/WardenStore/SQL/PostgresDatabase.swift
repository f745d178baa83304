import Logging
import NIOCore
import PostgresNIO

/// `SQLDatabase` over a PostgresNIO connection pool. The pool's run loop lives in a task owned by this
/// object and ends with `close()`.
public final class PostgresDatabase: SQLDatabase {
    public let dialect = SQLDialect.postgres
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>

    public static func connect(
        host: String, port: Int, user: String, password: String?, database: String, logger: Logger
    ) async throws -> PostgresDatabase {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: .disable)
        configuration.options.maximumConnections = 32
        configuration.options.connectTimeout = .seconds(5)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let db = PostgresDatabase(client: client, logger: logger)
        // Fail fast on a wrong address or credentials instead of on the first request.
        _ = try await db.query("SELECT 1")
        return db
    }

    private init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        self.runner = Task { await client.run() }
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let rows = try await client.query(Self.postgresQuery(sql, binds), logger: logger)
        return try await Self.collect(rows)
    }

    /// Rolls back and rethrows the body's own error as it was thrown (PostgresNIO wraps it), so callers
    /// can tell a refusal from a failure the same way on both stores.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let client = client
        let logger = logger
        // In a task of its own, so a cancelled caller cannot cut a transaction short between its statements.
        return try await Task {
            do {
                return try await client.withTransaction(logger: logger) { connection in
                    try await body(InTransaction(connection: connection, logger: logger))
                }
            } catch let error as PostgresTransactionError {
                if let closureError = error.closureError, error.rollbackError == nil { throw closureError }
                throw error
            }
        }.value
    }

    public func close() async {
        runner.cancel()
        _ = await runner.value
    }

    /// A transaction's connection.
    struct InTransaction: SQLDatabase {
        let dialect = SQLDialect.postgres
        let connection: PostgresConnection
        let logger: Logger

        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            let rows = try await connection.query(PostgresDatabase.postgresQuery(sql, binds), logger: logger)
            return try await PostgresDatabase.collect(rows)
        }

        func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
            try await body(self)
        }

        func close() async {}
    }

    /// Numbers `?` placeholders as `$1, $2, …` and binds the values.
    static func postgresQuery(_ sql: String, _ binds: [SQLValue]) -> PostgresQuery {
        var text = ""
        text.reserveCapacity(sql.utf8.count + binds.count * 2)
        var n = 0
        for ch in sql {
            if ch == "?" {
                n += 1
                text += "$\(n)"
            } else {
                text.append(ch)
            }
        }
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            switch value {
            case .int(let i): bindings.append(i)
            case .text(let t): bindings.append(t)
            case .blob(let b): bindings.append(ByteBuffer(bytes: b))
            case .null: bindings.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: text, binds: bindings)
    }

    static func collect(_ rows: PostgresRowSequence) async throws -> [SQLRow] {
        var out: [SQLRow] = []
        for try await row in rows {
            var values: [String: SQLValue] = [:]
            for cell in row {
                guard cell.bytes != nil else {
                    values[cell.columnName] = .null
                    continue
                }
                switch cell.dataType {
                case .int2, .int4, .int8:
                    values[cell.columnName] = .int(try cell.decode(Int64.self))
                case .bytea:
                    values[cell.columnName] = .blob(Array(try cell.decode(ByteBuffer.self).readableBytesView))
                case .bool:
                    values[cell.columnName] = .int(try cell.decode(Bool.self) ? 1 : 0)
                default:
                    values[cell.columnName] = .text(try cell.decode(String.self))
                }
            }
            out.append(SQLRow(values: values))
        }
        return out
    }
}
