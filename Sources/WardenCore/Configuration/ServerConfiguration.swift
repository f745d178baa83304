/// HTTP server limits.
public struct ServerConfiguration: Sendable, Decodable {
    /// Largest accepted request body (413 above it).
    public var maxBodySize: ConfigByteSize
    /// Time allowed to receive a request body once its headers arrived (408 after it).
    public var bodyTimeout: ConfigDuration
    /// Idle keep-alive connections are closed after this long.
    public var idleTimeout: ConfigDuration
    /// `max_tokens` sent to Anthropic upstreams when an OpenAI client set none (Anthropic requires one).
    public var defaultMaxTokens: Int
    /// Connections open at once; more are answered 503 `too_many_connections` and closed.
    public var maxConnections: Int
    /// Time allowed for a request's head to arrive once its first byte has (408 after it).
    public var headerTimeout: ConfigDuration
    /// Largest request head, and largest single header (431 above it).
    public var maxHeaderBytes: ConfigByteSize
    /// Most headers in one request (431 above it).
    public var maxHeaderCount: Int
    /// Records (usage and audit) that may wait for the store before new model requests are refused
    /// with 503 `store_unavailable`.
    public var maxRecordBacklog: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case max_body_size, body_timeout, idle_timeout, default_max_tokens, max_connections, header_timeout, max_header_bytes
        case max_header_count, max_record_backlog
    }

    public init() {
        maxBodySize = ConfigByteSize(bytes: 8 * 1024 * 1024)
        bodyTimeout = .seconds(30)
        idleTimeout = .seconds(75)
        defaultMaxTokens = 4096
        maxConnections = 4096
        headerTimeout = .seconds(10)
        maxHeaderBytes = ConfigByteSize(bytes: 64 * 1024)
        maxHeaderCount = 100
        maxRecordBacklog = 20_000
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ServerConfiguration()
        maxBodySize = try c.decodeIfPresent(ConfigByteSize.self, forKey: .max_body_size) ?? d.maxBodySize
        bodyTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .body_timeout) ?? d.bodyTimeout
        idleTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .idle_timeout) ?? d.idleTimeout
        defaultMaxTokens = try c.decodeIfPresent(Int.self, forKey: .default_max_tokens) ?? d.defaultMaxTokens
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .max_connections) ?? d.maxConnections
        headerTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .header_timeout) ?? d.headerTimeout
        maxHeaderBytes = try c.decodeIfPresent(ConfigByteSize.self, forKey: .max_header_bytes) ?? d.maxHeaderBytes
        maxHeaderCount = try c.decodeIfPresent(Int.self, forKey: .max_header_count) ?? d.maxHeaderCount
        maxRecordBacklog = try c.decodeIfPresent(Int.self, forKey: .max_record_backlog) ?? d.maxRecordBacklog
    }
}

public struct ShutdownConfiguration: Sendable, Decodable {
    /// After SIGTERM, keep accepting (while reporting unready) this long, so load balancers notice.
    public var drainDelay: ConfigDuration
    /// Upper bound on finishing in-flight requests and streams after accepting stopped.
    public var timeout: ConfigDuration

    enum CodingKeys: String, CodingKey, CaseIterable { case drain_delay, timeout }

    public init() {
        drainDelay = .seconds(0)
        timeout = .seconds(30)
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        drainDelay = try c.decodeIfPresent(ConfigDuration.self, forKey: .drain_delay) ?? .seconds(0)
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? .seconds(30)
    }
}

public struct HealthConfiguration: Sendable, Decodable {
    /// How long a provider probe result is reused by `/health/ready`.
    public var cacheTTL: ConfigDuration
    /// Timeout of one provider probe.
    public var probeTimeout: ConfigDuration

    enum CodingKeys: String, CodingKey, CaseIterable { case cache_ttl, probe_timeout }

    public init() {
        cacheTTL = .seconds(5)
        probeTimeout = .seconds(2)
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        cacheTTL = try c.decodeIfPresent(ConfigDuration.self, forKey: .cache_ttl) ?? .seconds(5)
        probeTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .probe_timeout) ?? .seconds(2)
    }
}
