/// Retry backoff and circuit breaker settings, shared by all models.
public struct ReliabilityConfiguration: Sendable, Decodable {
    /// First backoff; doubles each retry, with full jitter.
    public var backoffInitial: ConfigDuration
    public var backoffMax: ConfigDuration
    /// A `Retry-After` longer than this is not waited for: the 429 goes to the client at once.
    public var maxRetryAfter: ConfigDuration
    /// Consecutive failures that open a deployment's circuit.
    public var breakerFailures: Int
    /// How long an open circuit stays open before one trial request is let through.
    public var breakerCooldown: ConfigDuration

    enum CodingKeys: String, CodingKey, CaseIterable {
        case backoff_initial, backoff_max, max_retry_after, breaker_failures, breaker_cooldown
    }

    public init() {
        backoffInitial = .milliseconds(200)
        backoffMax = .seconds(8)
        maxRetryAfter = .seconds(20)
        breakerFailures = 5
        breakerCooldown = .seconds(30)
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ReliabilityConfiguration()
        backoffInitial = try c.decodeIfPresent(ConfigDuration.self, forKey: .backoff_initial) ?? d.backoffInitial
        backoffMax = try c.decodeIfPresent(ConfigDuration.self, forKey: .backoff_max) ?? d.backoffMax
        maxRetryAfter = try c.decodeIfPresent(ConfigDuration.self, forKey: .max_retry_after) ?? d.maxRetryAfter
        breakerFailures = try c.decodeIfPresent(Int.self, forKey: .breaker_failures) ?? d.breakerFailures
        breakerCooldown = try c.decodeIfPresent(ConfigDuration.self, forKey: .breaker_cooldown) ?? d.breakerCooldown
    }
}
