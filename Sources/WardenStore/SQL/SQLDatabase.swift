/// A value bound into or read from SQL: the few types Warden's tables use.
public enum SQLValue: Sendable, Equatable {
    case int(Int64)
    case text(String)
    case blob([UInt8])
    case null

    public static func optional(_ v: Int64?) -> SQLValue { v.map(SQLValue.int) ?? .null }
    public static func optional(_ v: Int?) -> SQLValue { v.map { .int(Int64($0)) } ?? .null }
    public static func optional(_ v: String?) -> SQLValue { v.map(SQLValue.text) ?? .null }
}

/// One result row, by column name.
public struct SQLRow: Sendable {
    public var values: [String: SQLValue]

    public init(values: [String: SQLValue]) { self.values = values }

    public func int(_ column: String) -> Int64? {
        switch values[column] {
        case .int(let v): v
        case .text(let s): Int64(s)
        default: nil
        }
    }

    public func string(_ column: String) -> String? {
        switch values[column] {
        case .text(let s): s
        case .int(let v): String(v)
        case .blob(let b): String(decoding: b, as: UTF8.self)
        default: nil
        }
    }

    public func bytes(_ column: String) -> [UInt8]? {
        switch values[column] {
        case .blob(let b): b
        case .text(let s): Array(s.utf8)
        default: nil
        }
    }
}

/// The SQL flavour, for the few statements that differ.
public enum SQLDialect: Sendable {
    case sqlite
    case postgres
}

/// The narrow SQL interface Warden's store is written against, implemented for SQLite and PostgreSQL.
/// Statements use `?` placeholders; the PostgreSQL adapter numbers them.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    /// Runs one statement and returns its rows.
    @discardableResult
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]
    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws. Once begun, a
    /// transaction runs to its end even if the calling task is cancelled (a cancelled statement would
    /// otherwise leave a connection inside a transaction it can never finish).
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    func close() async
}

extension SQLDatabase {
    @discardableResult
    public func query(_ sql: String) async throws -> [SQLRow] { try await query(sql, []) }
}
