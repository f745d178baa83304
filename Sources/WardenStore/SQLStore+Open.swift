import Logging
import WardenCore

extension SQLStore {
    /// Connects to the database a location names, without migrating it.
    static func connect(_ location: StorageLocation, password: String?, logger: Logger) async throws -> SQLStore {
        switch location {
        case .sqlite(let path):
            return SQLStore(database: try await SQLiteDatabase.open(path: path, logger: logger), location: location.description)
        case .postgres(let user, let host, let port, let database):
            let db = try await PostgresDatabase.connect(
                host: host, port: port, user: user, password: password, database: database, logger: logger)
            return SQLStore(database: db, location: location.description)
        }
    }

    /// Opens the store a configuration names and applies pending migrations.
    public static func open(_ location: StorageLocation, password: String?, logger: Logger) async throws -> SQLStore {
        let store = try await connect(location, password: password, logger: logger)
        do {
            try await store.migrate(logger: logger)
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// Opens a store only to read it (no migrations), for `warden doctor`.
    public static func inspect(_ location: StorageLocation, password: String?, logger: Logger) async throws
        -> (schemaVersion: Int, keys: Int)
    {
        let store = try await connect(location, password: password, logger: logger)
        defer { Task { await store.close() } }
        let version = try await store.currentSchemaVersion()
        let keys = version >= 1 ? try await store.keyCount() : 0
        return (version, keys)
    }
}
