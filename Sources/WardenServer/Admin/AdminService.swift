import WardenCore
import WardenStore

/// The admin operations on teams and keys, shared by the admin API and the CLI. Every change goes
/// through the store (bumping its change counter, so every replica's cache follows within a second).
public struct AdminService: Sendable {
    public let store: SQLStore

    public init(store: SQLStore) { self.store = store }

    /// Fields a team may be created or changed with; nil leaves a field as it is, `.some(nil)` clears it.
    public struct TeamChanges: Sendable {
        public var budget: BudgetLimit??
        public var rpm: Int??
        public var tpm: Int??
        public var tags: [String]?
        public var metadata: [String: String]?
        /// Guardrails JSON; `.some(nil)` removes them.
        public var guardrails: String?? = nil

        public init(
            budget: BudgetLimit?? = nil, rpm: Int?? = nil, tpm: Int?? = nil, tags: [String]? = nil, metadata: [String: String]? = nil
        ) {
            self.budget = budget
            self.rpm = rpm
            self.tpm = tpm
            self.tags = tags
            self.metadata = metadata
        }
    }

    public func createTeam(name: String, _ changes: TeamChanges) async throws -> TeamRecord {
        guard Self.isValidName(name) else {
            throw GatewayError.invalidValue("name", "A team name is 1 to 64 characters: letters, digits, '-', '_' or '.'.")
        }
        if try await store.team(named: name) != nil { throw GatewayError.conflict("The team '\(name)' already exists.") }
        let now = WallClock.unixMilliseconds()
        var team = TeamRecord(id: KeyMaterial.identifier(prefix: "team"), name: name, createdAt: now, updatedAt: now)
        apply(changes, to: &team)
        try await store.insert(team)
        return team
    }

    public func updateTeam(name: String, _ changes: TeamChanges) async throws -> TeamRecord {
        guard var team = try await store.team(named: name) else { throw GatewayError.notFound(resource: "The team '\(name)'") }
        apply(changes, to: &team)
        team.updatedAt = WallClock.unixMilliseconds()
        try await store.update(team)
        return team
    }

    func apply(_ changes: TeamChanges, to team: inout TeamRecord) {
        if let budget = changes.budget { team.budget = budget }
        if let rpm = changes.rpm { team.rpm = rpm }
        if let tpm = changes.tpm { team.tpm = tpm }
        if let tags = changes.tags { team.tags = tags }
        if let metadata = changes.metadata { team.metadata = metadata }
        if let guardrails = changes.guardrails { team.guardrails = guardrails }
    }

    /// The team, created without limits if it does not exist yet.
    func ensureTeam(_ name: String) async throws {
        if try await store.team(named: name) == nil {
            _ = try? await createTeam(name: name, TeamChanges())
        }
    }

    /// Fields a key may be created or changed with; nil leaves a field as it is, `.some(nil)` clears it.
    public struct KeyChanges: Sendable {
        public var name: String?
        public var models: [String]??
        public var budget: BudgetLimit??
        public var rpm: Int??
        public var tpm: Int??
        public var expiresAt: Int64??
        public var metadata: [String: String]?
        public var tags: [String]?
        /// Guardrails JSON; `.some(nil)` removes them.
        public var guardrails: String?? = nil

        public init(
            name: String? = nil, models: [String]?? = nil, budget: BudgetLimit?? = nil, rpm: Int?? = nil, tpm: Int?? = nil,
            expiresAt: Int64?? = nil, metadata: [String: String]? = nil, tags: [String]? = nil
        ) {
            self.tags = tags
            self.name = name
            self.models = models
            self.budget = budget
            self.rpm = rpm
            self.tpm = tpm
            self.expiresAt = expiresAt
            self.metadata = metadata
        }
    }

    /// Creates a key and returns it with its secret, which is shown only now.
    public func createKey(team: String, _ changes: KeyChanges) async throws -> (key: StoredKey, secret: String) {
        guard let name = changes.name, Self.isValidName(name) else {
            throw GatewayError.invalidValue("name", "A key name is 1 to 64 characters: letters, digits, '-', '_' or '.'.")
        }
        guard Self.isValidName(team) else {
            throw GatewayError.invalidValue("team", "A team name is 1 to 64 characters: letters, digits, '-', '_' or '.'.")
        }
        try await ensureTeam(team)
        let secret = KeyMaterial.generate()
        var key = StoredKey(
            id: KeyMaterial.identifier(prefix: "key"), name: name, team: team, hash: KeyMaterial.hash(secret),
            prefix: KeyMaterial.displayPrefix(secret), createdAt: WallClock.unixMilliseconds())
        apply(changes, to: &key)
        try await store.insert(key)
        return (key, secret)
    }

    public func updateKey(id: String, _ changes: KeyChanges) async throws -> StoredKey {
        guard var key = try await store.key(id: id) else { throw GatewayError.notFound(resource: "The key '\(id)'") }
        if let name = changes.name, !Self.isValidName(name) {
            throw GatewayError.invalidValue("name", "A key name is 1 to 64 characters: letters, digits, '-', '_' or '.'.")
        }
        apply(changes, to: &key)
        try await store.update(key)
        return key
    }

    func apply(_ changes: KeyChanges, to key: inout StoredKey) {
        if let name = changes.name { key.name = name }
        if let models = changes.models { key.models = models }
        if let budget = changes.budget { key.budget = budget }
        if let rpm = changes.rpm { key.rpm = rpm }
        if let tpm = changes.tpm { key.tpm = tpm }
        if let expires = changes.expiresAt { key.expiresAt = expires }
        if let metadata = changes.metadata { key.metadata = metadata }
        if let tags = changes.tags { key.tags = tags }
        if let guardrails = changes.guardrails { key.guardrails = guardrails }
    }

    /// Revokes a key: refused on the next request here, within a second on other replicas.
    public func revokeKey(id: String) async throws -> StoredKey {
        guard var key = try await store.key(id: id) else { throw GatewayError.notFound(resource: "The key '\(id)'") }
        if key.revokedAt == nil {
            key.revokedAt = WallClock.unixMilliseconds()
            try await store.update(key)
        }
        return key
    }

    /// Issues a replacement with the same settings; the old key keeps working for `overlapSeconds` (then
    /// expires), so clients can switch without downtime. An overlap of 0 revokes the old key at once.
    public func rotateKey(id: String, overlapSeconds: Int) async throws -> (key: StoredKey, secret: String, previous: StoredKey) {
        guard var old = try await store.key(id: id), old.revokedAt == nil else {
            throw GatewayError.notFound(resource: "The active key '\(id)'")
        }
        let secret = KeyMaterial.generate()
        let now = WallClock.unixMilliseconds()
        var fresh = old
        fresh.id = KeyMaterial.identifier(prefix: "key")
        fresh.hash = KeyMaterial.hash(secret)
        fresh.prefix = KeyMaterial.displayPrefix(secret)
        fresh.createdAt = now
        fresh.rotatedFrom = old.id
        try await store.insert(fresh)
        if overlapSeconds <= 0 {
            old.revokedAt = now
        } else {
            let end = now + Int64(overlapSeconds) * 1000
            old.expiresAt = min(old.expiresAt ?? end, end)
        }
        try await store.update(old)
        return (fresh, secret, old)
    }

    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.count)
            && name.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) }
    }
}
