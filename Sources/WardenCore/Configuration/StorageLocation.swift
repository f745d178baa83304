import Foundation

/// Where Warden keeps its state.
public enum StorageLocation: Sendable, Equatable, CustomStringConvertible {
    /// An SQLite file; relative paths resolve against the config file's directory.
    case sqlite(path: String)
    /// A PostgreSQL database, `postgres://USER@HOST:PORT/DB` (the password comes from `storage_password`).
    case postgres(user: String, host: String, port: Int, database: String)

    public static func parse(_ text: String) -> StorageLocation? {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            return path.isEmpty ? nil : .sqlite(path: path)
        }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"),
            let url = URLComponents(string: text), let host = url.host, !host.isEmpty
        else { return nil }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty, url.password == nil else { return nil }
        return .postgres(user: url.user ?? "postgres", host: host, port: url.port ?? 5432, database: database)
    }

    /// A description without secrets.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let user, let host, let port, let database): "postgres://\(user)@\(host):\(port)/\(database)"
        }
    }
}
