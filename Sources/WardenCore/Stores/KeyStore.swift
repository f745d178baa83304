/// A data-plane key as stored: only its hash, never the key.
public struct StoredKey: Sendable, Equatable {
    public var id: String
    public var name: String
    public var team: String
    /// Hex SHA-256 of the full key.
    public var hash: String
    /// The first characters of the key (`wk-3f9a1b`), for people to recognise it.
    public var prefix: String
    /// Models the key may use; nil means all.
    public var models: [String]?
    public var createdAt: Int64
    /// Unix milliseconds after which the key is refused.
    public var expiresAt: Int64?
    public var revokedAt: Int64?
    public var budget: BudgetLimit?
    public var rpm: Int?
    public var tpm: Int?
    /// Free-form labels (owner, purpose…), returned by the admin API.
    public var metadata: [String: String]
    /// Free-form labels, for policies (`principal.tags`).
    public var tags: [String]
    /// The key this one replaced in a rotation.
    public var rotatedFrom: String?
    /// The key's own guardrails (JSON, the `guardrails:` shape), added to the global ones.
    public var guardrails: String?

    public init(
        id: String, name: String, team: String, hash: String, prefix: String, models: [String]? = nil,
        createdAt: Int64, expiresAt: Int64? = nil, revokedAt: Int64? = nil, budget: BudgetLimit? = nil,
        rpm: Int? = nil, tpm: Int? = nil, metadata: [String: String] = [:], tags: [String] = [], rotatedFrom: String? = nil,
        guardrails: String? = nil
    ) {
        self.id = id
        self.name = name
        self.team = team
        self.hash = hash
        self.prefix = prefix
        self.models = models
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.budget = budget
        self.rpm = rpm
        self.tpm = tpm
        self.metadata = metadata
        self.tags = tags
        self.rotatedFrom = rotatedFrom
        self.guardrails = guardrails
    }
}

/// Persistent storage of data-plane keys.
public protocol KeyStore: Sendable {
    /// Every key that is not revoked (expired ones included; the authenticator checks expiry per request).
    func activeKeys() async throws -> [StoredKey]
    func insert(_ key: StoredKey) async throws
    /// Number of keys ever stored, revoked ones included.
    func keyCount() async throws -> Int
    /// A real round trip proving the store answers, for readiness.
    func ping() async throws
    func close() async
}
