import Cedar
import WardenCore
import WardenStore

/// Who is calling: the identity a data-plane key maps to.
public struct Principal: Sendable, Equatable {
    public var keyID: String
    public var keyName: String
    public var team: String
    /// Models this key may use; nil means every configured model.
    public var allowedModels: Set<String>?
    /// Unix milliseconds after which the key is refused.
    public var expiresAt: Int64?
    /// The key's own budget and rate limits (its team's apply too).
    public var budget: BudgetLimit?
    public var rpm: Int?
    public var tpm: Int?
    /// The key's labels, for policies.
    public var tags: [String]
    public var metadata: [String: String]
    /// The key's and its team's own guardrails, added to the global and the model's.
    public var guardrails: GuardrailsConfiguration?

    public init(
        keyID: String, keyName: String, team: String, allowedModels: Set<String>? = nil, expiresAt: Int64? = nil,
        budget: BudgetLimit? = nil, rpm: Int? = nil, tpm: Int? = nil, tags: [String] = [], metadata: [String: String] = [:]
    ) {
        self.tags = tags
        self.metadata = metadata
        self.keyID = keyID
        self.keyName = keyName
        self.team = team
        self.allowedModels = allowedModels
        self.expiresAt = expiresAt
        self.budget = budget
        self.rpm = rpm
        self.tpm = tpm
    }

    public func mayUse(model: String) -> Bool { allowedModels?.contains(model) ?? true }
}

/// Maps presented keys to principals from an in-memory table of key hashes.
///
/// The hot path hashes the presented key (SHA-256, about a microsecond) and looks it up; nothing touches
/// the database. The table is rebuilt from the store and the config's static keys on start and reload.
public struct Authenticator: Sendable {
    private let principalsByHash: [KeyDigest: Principal]
    /// Each key's policy entity (`Warden::Key`), built once per table.
    private let entitiesByKeyID: [String: Entity]

    public func entity(forKeyID id: String) -> Entity? { entitiesByKeyID[id] }

    /// Builds the table from stored keys and the config's static keys (already resolved to their values).
    public init(
        stored: [StoredKey], staticKeys: [(config: StaticKeyConfiguration, value: String)], teams: [String: TeamRecord] = [:]
    ) {
        var table: [KeyDigest: Principal] = [:]
        // Stored guardrails were validated when they were set; one that no longer decodes is skipped.
        func combined(_ own: GuardrailsConfiguration?, team: String) -> GuardrailsConfiguration? {
            let teamRules = teams[team]?.guardrails.flatMap { try? GuardrailsConfiguration.parse(json: $0) }
            guard let own else { return teamRules }
            return own.adding(teamRules)
        }
        for k in stored where k.revokedAt == nil {
            guard let digest = KeyDigest(hex: k.hash) else { continue }
            var p = Principal(
                keyID: k.id, keyName: k.name, team: k.team, allowedModels: k.models.map(Set.init), expiresAt: k.expiresAt,
                budget: k.budget, rpm: k.rpm, tpm: k.tpm, tags: k.tags, metadata: k.metadata)
            p.guardrails = combined(k.guardrails.flatMap { try? GuardrailsConfiguration.parse(json: $0) }, team: k.team)
            table[digest] = p
        }
        for (config, value) in staticKeys {
            var p = Principal(
                keyID: "static:\(config.name)", keyName: config.name, team: config.team,
                allowedModels: config.models.map(Set.init), budget: config.budget, rpm: config.rpm, tpm: config.tpm,
                tags: config.tags, metadata: config.metadata)
            p.guardrails = combined(config.guardrails, team: config.team)
            table[KeyMaterial.digest(value)] = p
        }
        self.principalsByHash = table
        var entities: [String: Entity] = [:]
        for principal in table.values { entities[principal.keyID] = PolicyEntities.key(principal) }
        self.entitiesByKeyID = entities
    }

    public var keyCount: Int { principalsByHash.count }

    /// The principal for `key`, or a 401.
    public func authenticate(_ key: String?, nowMilliseconds: Int64) throws(GatewayError) -> Principal {
        guard let key, !key.isEmpty else {
            throw GatewayError.invalidAPIKey(
                "Missing API key. Send it as 'Authorization: Bearer KEY' (or 'x-api-key: KEY' for the Anthropic API).")
        }
        guard key.utf8.count <= 256, let principal = principalsByHash[KeyMaterial.digest(key)] else {
            throw GatewayError.invalidAPIKey("Incorrect API key provided.")
        }
        if let expires = principal.expiresAt, nowMilliseconds >= expires {
            throw GatewayError.invalidAPIKey("The API key has expired.")
        }
        return principal
    }
}
