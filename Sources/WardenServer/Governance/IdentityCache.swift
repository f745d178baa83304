import Cedar
import Logging
import ServiceLifecycle
import Synchronization
import WardenCore
import WardenStore

/// Keys and teams as the data plane sees them, held in memory so authentication and limits never wait
/// on the database. Rebuilt when the store's change counter moves (an admin change here, on the CLI, or
/// on another replica) and when the config's static keys change.
public final class IdentityCache: Sendable {
    public struct Snapshot: Sendable {
        public var authenticator: Authenticator
        public var teams: [String: TeamRecord]
        /// Each stored team's policy entity (`Warden::Team`).
        public var teamEntities: [String: Entity] = [:]
        public var storedKeys: [StoredKey]
        /// The change counter the snapshot reflects.
        public var counter: Int64
    }

    private let state: Mutex<Snapshot>
    private let staticKeys: Mutex<[(config: StaticKeyConfiguration, value: String)]>
    let store: SQLStore

    init(store: SQLStore, staticKeys: [(config: StaticKeyConfiguration, value: String)]) async throws {
        self.store = store
        self.staticKeys = Mutex(staticKeys)
        let counter = try await store.changeCounter()
        let keys = try await store.activeKeys()
        let teams = try await store.teams()
        let byName = Dictionary(teams.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        state = Mutex(
            Snapshot(
                authenticator: Authenticator(stored: keys, staticKeys: staticKeys, teams: byName),
                teams: byName,
                teamEntities: Self.teamEntities(teams), storedKeys: keys, counter: counter))
    }

    public var snapshot: Snapshot { state.withLock { $0 } }

    static func teamEntities(_ teams: [TeamRecord]) -> [String: Entity] {
        Dictionary(teams.map { ($0.name, PolicyEntities.team($0.name, record: $0)) }, uniquingKeysWith: { a, _ in a })
    }

    public func team(named name: String) -> TeamRecord? { state.withLock { $0.teams[name] } }

    /// Reloads keys and teams if the store changed since the last snapshot. Returns whether it did.
    @discardableResult
    public func refreshIfChanged() async throws -> Bool {
        let counter = try await store.changeCounter()
        guard counter != state.withLock({ $0.counter }) else { return false }
        try await reload(counter: counter)
        return true
    }

    /// Reloads keys and teams now (after this process's own admin change, so it is visible at once).
    public func reload() async throws {
        try await reload(counter: try await store.changeCounter())
    }

    private func reload(counter: Int64) async throws {
        let keys = try await store.activeKeys()
        let teams = try await store.teams()
        let statics = staticKeys.withLock { $0 }
        let byName = Dictionary(teams.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        state.withLock {
            $0 = Snapshot(
                authenticator: Authenticator(stored: keys, staticKeys: statics, teams: byName),
                teams: byName,
                teamEntities: Self.teamEntities(teams), storedKeys: keys, counter: counter)
        }
    }

    /// Replaces the config's static keys (on a config reload).
    public func replaceStaticKeys(_ keys: [(config: StaticKeyConfiguration, value: String)]) {
        staticKeys.withLock { $0 = keys }
        state.withLock { s in
            s.authenticator = Authenticator(stored: s.storedKeys, staticKeys: keys, teams: s.teams)
        }
    }
}

/// Polls the store's change counter so revocations and new keys are seen within `interval`.
struct IdentityRefreshService: Service {
    let cache: IdentityCache
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                do {
                    try await cache.refreshIfChanged()
                } catch where !(error is CancellationError) {
                    logger.warning("cannot refresh keys from the store", metadata: ["error": "\(error)"])
                } catch {}
            }
        }
    }
}
