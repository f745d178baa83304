/// A data-plane key declared in the config file (handy for GitOps).
public struct StaticKeyConfiguration: Sendable, Decodable {
    public var name: String
    public var team: String
    public var key: SecretReference
    /// Models this key may use; all when absent.
    public var models: [String]?
    /// The key's own budget and rate limits (its team's, set with the admin API or CLI, apply too).
    public var budget: BudgetLimit?
    public var rpm: Int?
    public var tpm: Int?
    /// Labels for policies (`principal.tags`, `principal.metadata`).
    public var tags: [String] = []
    public var metadata: [String: String] = [:]
    /// Guardrails for this key's requests, added to the global and the model's.
    public var guardrails: GuardrailsConfiguration?

    enum CodingKeys: String, CodingKey, CaseIterable { case name, team, key, models, budget_usd, budget_period, rpm, tpm, tags, metadata, guardrails }

    public init(
        name: String, team: String, key: SecretReference, models: [String]? = nil, budget: BudgetLimit? = nil, rpm: Int? = nil,
        tpm: Int? = nil
    ) {
        self.name = name
        self.team = team
        self.key = key
        self.models = models
        self.budget = budget
        self.rpm = rpm
        self.tpm = tpm
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        team = try c.decodeIfPresent(String.self, forKey: .team) ?? "default"
        key = try c.decode(SecretReference.self, forKey: .key)
        models = try c.decodeIfPresent([String].self, forKey: .models)
        tags = Array(Set(try c.decodeIfPresent([String].self, forKey: .tags) ?? [])).sorted()
        metadata = try c.decodeIfPresent([String: String].self, forKey: .metadata) ?? [:]
        guardrails = try c.decodeIfPresent(GuardrailsConfiguration.self, forKey: .guardrails)
        if c.contains(.budget_usd) {
            let text: String
            if let d = try? c.decode(Double.self, forKey: .budget_usd) { text = "\(d)" } else { text = try c.decode(String.self, forKey: .budget_usd) }
            guard let amount = NanoDollars.parseUSD(text) else {
                throw ConfigurationError(key: (c.codingPath + [CodingKeys.budget_usd]).configKey, "expected an amount in USD, like 25 or 0.50")
            }
            let periodText = try c.decodeIfPresent(String.self, forKey: .budget_period) ?? "monthly"
            guard let period = BudgetPeriod(rawValue: periodText) else {
                throw ConfigurationError(
                    key: (c.codingPath + [CodingKeys.budget_period]).configKey, "expected daily, weekly, monthly or total")
            }
            budget = BudgetLimit(amount: amount, period: period)
        } else if c.contains(.budget_period) {
            throw ConfigurationError(key: (c.codingPath + [CodingKeys.budget_period]).configKey, "needs budget_usd")
        }
        for (key, target) in [(CodingKeys.rpm, \StaticKeyConfiguration.rpm), (.tpm, \.tpm)] {
            if let v = try c.decodeIfPresent(Int.self, forKey: key) {
                guard (1...100_000_000).contains(v) else {
                    throw ConfigurationError(key: (c.codingPath + [key]).configKey, "must be between 1 and 100000000")
                }
                self[keyPath: target] = v
            }
        }
    }
}
