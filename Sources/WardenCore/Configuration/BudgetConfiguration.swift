import Foundation

/// USD per million tokens, as written in the config (`pricing:` on a model or a deployment).
public struct PricingConfiguration: Sendable, Decodable {
    public var pricing: ModelPricing

    enum CodingKeys: String, CodingKey, CaseIterable {
        case input_per_mtok, output_per_mtok, cached_input_per_mtok, cache_write_per_mtok, reasoning_per_mtok
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func price(_ key: CodingKeys) throws -> Decimal? {
            guard c.contains(key) else { return nil }
            let text: String
            if let d = try? c.decode(Double.self, forKey: key) {
                // YAML numbers reach us as Double; go through their shortest text form to keep 0.15 exact.
                text = "\(d)"
            } else {
                text = try c.decode(String.self, forKey: key)
            }
            guard let value = Decimal(string: text), value >= 0, value <= 1_000_000 else {
                throw ConfigurationError(
                    key: (c.codingPath + [key]).configKey, "expected a price in USD per million tokens (0 to 1000000)")
            }
            return value
        }
        guard let input = try price(.input_per_mtok) else {
            throw ConfigurationError(key: (c.codingPath + [CodingKeys.input_per_mtok]).configKey, "is required")
        }
        pricing = ModelPricing(
            inputPerMTok: input, outputPerMTok: try price(.output_per_mtok) ?? 0,
            cachedInputPerMTok: try price(.cached_input_per_mtok), cacheWritePerMTok: try price(.cache_write_per_mtok),
            reasoningPerMTok: try price(.reasoning_per_mtok))
    }
}

/// `budgets:` — how reservations behave.
public struct BudgetsConfiguration: Sendable, Decodable {
    /// `max_tokens` Warden reserves for (and sends upstream) when a request sets none.
    public var defaultMaxTokens: Int
    /// Persist every reservation before the upstream call (one store write per request).
    public var strict: Bool
    public var alerts: BudgetAlertsConfiguration?

    enum CodingKeys: String, CodingKey, CaseIterable { case default_max_tokens, strict, alerts }

    public init() {
        defaultMaxTokens = 4096
        strict = false
        alerts = nil
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        defaultMaxTokens = try c.decodeIfPresent(Int.self, forKey: .default_max_tokens) ?? 4096
        strict = try c.decodeIfPresent(Bool.self, forKey: .strict) ?? false
        alerts = try c.decodeIfPresent(BudgetAlertsConfiguration.self, forKey: .alerts)
    }
}

/// `budgets.alerts:` — an HMAC-signed webhook when spend crosses thresholds.
public struct BudgetAlertsConfiguration: Sendable, Decodable {
    public var webhook: String
    public var secret: SecretReference
    /// Percentages of the budget.
    public var thresholds: [Int]

    enum CodingKeys: String, CodingKey, CaseIterable { case webhook, secret, thresholds }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        webhook = try c.decode(String.self, forKey: .webhook)
        secret = try c.decode(SecretReference.self, forKey: .secret)
        thresholds = try c.decodeIfPresent([Int].self, forKey: .thresholds) ?? [50, 80, 100]
    }
}
