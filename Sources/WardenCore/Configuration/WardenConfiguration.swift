/// Whether policy decisions are enforced or only recorded.
public enum PoliciesMode: String, Sendable {
    case enforce, shadow
}

/// A free-form attribute value in the config (`models.NAME.attributes`), for policies.
public indirect enum ConfigAttribute: Sendable, Decodable, Equatable {
    case bool(Bool)
    case integer(Int64)
    case string(String)
    case list([ConfigAttribute])
    case map([String: ConfigAttribute])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .integer(i)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let l = try? c.decode([ConfigAttribute].self) {
            self = .list(l)
        } else if let m = try? c.decode([String: ConfigAttribute].self) {
            self = .map(m)
        } else {
            throw ConfigurationError(key: decoder.codingPath.configKey, "expected a boolean, an integer, a string, a list or a map")
        }
    }
}

/// The whole configuration file (`warden.yaml`), decoded strictly: unknown keys are errors.
public struct WardenConfiguration: Sendable, Decodable {
    public var listen: ListenAddress
    /// Where SQLite and other local state live. Relative paths are resolved against the config file's directory.
    public var dataDir: String
    public var keys: [StaticKeyConfiguration]
    /// Providers in document order.
    public var providers: [(name: String, config: ProviderConfiguration)]
    /// Models in document order.
    public var models: [(name: String, config: ModelConfiguration)]
    public var server: ServerConfiguration
    public var shutdown: ShutdownConfiguration
    public var health: HealthConfiguration
    public var reliability: ReliabilityConfiguration
    public var log: LogConfiguration
    /// Where keys, teams, usage, budgets and the audit log live; SQLite under `data_dir` by default.
    public var storage: StorageLocation?
    /// The PostgreSQL password, as a secret reference.
    public var storagePassword: SecretReference?
    /// The admin API's key; generated and printed once on first start when absent.
    public var adminKey: SecretReference?
    public var budgets: BudgetsConfiguration
    public var audit: AuditConfiguration
    /// How long usage records are kept before they are rolled up into daily aggregates.
    public var usage = UsageConfiguration()
    /// Where `vault:` secret references are read from.
    public var vault: VaultConfiguration?
    /// A directory of Cedar policies (`*.cedar`, optional `schema.cedarschema`); none: everything is permitted.
    public var policies: String?
    /// `enforce` (default) or `shadow`: evaluate, log and audit every decision without enforcing it.
    public var policiesMode: PoliciesMode = .enforce
    /// Proxies whose `X-Forwarded-For` is believed (CIDR ranges or addresses); the client IP is the first
    /// hop, from the right, that is not one of them.
    public var trustedProxies: [String] = []
    /// Guardrails on every request (models add their own).
    public var guardrails = GuardrailsConfiguration()
    /// Tools the models may call, with their risk, action and argument constraints.
    public var tools: [String: ToolConfiguration] = [:]
    public var approvals = ApprovalsConfiguration()

    /// The directory relative paths are resolved against (the config file's directory, or the working
    /// directory for the embedded default). Not part of the file.
    public var baseDirectory: String = "."

    enum CodingKeys: String, CodingKey, CaseIterable {
        case listen, data_dir, keys, providers, models, server, shutdown, health, reliability, log
        case storage, storage_password, admin_key, budgets, audit, usage, vault, policies, policies_mode, trusted_proxies, guardrails, tools
        case approvals
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        listen = try c.decodeIfPresent(ListenAddress.self, forKey: .listen) ?? ListenAddress(host: "127.0.0.1", port: 4000)
        dataDir = try c.decodeIfPresent(String.self, forKey: .data_dir) ?? "./warden-data"
        keys = try c.decodeIfPresent([StaticKeyConfiguration].self, forKey: .keys) ?? []
        if c.contains(.providers) {
            providers = try OrderedMapping<ProviderConfiguration>(from: c.superDecoder(forKey: .providers)).entries
                .map { (name: $0.0, config: $0.1) }
        } else {
            providers = []
        }
        if c.contains(.models) {
            models = try OrderedMapping<ModelConfiguration>(from: c.superDecoder(forKey: .models)).entries
                .map { (name: $0.0, config: $0.1) }
        } else {
            models = []
        }
        server = try c.decodeIfPresent(ServerConfiguration.self, forKey: .server) ?? ServerConfiguration()
        shutdown = try c.decodeIfPresent(ShutdownConfiguration.self, forKey: .shutdown) ?? ShutdownConfiguration()
        health = try c.decodeIfPresent(HealthConfiguration.self, forKey: .health) ?? HealthConfiguration()
        reliability =
            try c.decodeIfPresent(ReliabilityConfiguration.self, forKey: .reliability) ?? ReliabilityConfiguration()
        log = try c.decodeIfPresent(LogConfiguration.self, forKey: .log) ?? LogConfiguration()
        if let text = try c.decodeIfPresent(String.self, forKey: .storage) {
            guard let location = StorageLocation.parse(text) else {
                throw ConfigurationError(
                    key: "storage", "expected sqlite:PATH or postgres://USER@HOST:PORT/DB (the password goes in storage_password)")
            }
            storage = location
        }
        storagePassword = try c.decodeIfPresent(SecretReference.self, forKey: .storage_password)
        adminKey = try c.decodeIfPresent(SecretReference.self, forKey: .admin_key)
        budgets = try c.decodeIfPresent(BudgetsConfiguration.self, forKey: .budgets) ?? BudgetsConfiguration()
        audit = try c.decodeIfPresent(AuditConfiguration.self, forKey: .audit) ?? AuditConfiguration()
        usage = try c.decodeIfPresent(UsageConfiguration.self, forKey: .usage) ?? UsageConfiguration()
        vault = try c.decodeIfPresent(VaultConfiguration.self, forKey: .vault)
        policies = try c.decodeIfPresent(String.self, forKey: .policies)
        if let mode = try c.decodeIfPresent(String.self, forKey: .policies_mode) {
            guard let parsed = PoliciesMode(rawValue: mode) else {
                throw ConfigurationError(key: "policies_mode", "expected enforce or shadow")
            }
            policiesMode = parsed
        }
        trustedProxies = try c.decodeIfPresent([String].self, forKey: .trusted_proxies) ?? []
        guardrails = try c.decodeIfPresent(GuardrailsConfiguration.self, forKey: .guardrails) ?? GuardrailsConfiguration()
        tools = try c.decodeIfPresent([String: ToolConfiguration].self, forKey: .tools) ?? [:]
        for name in tools.keys where !Self.isToolName(name) {
            throw ConfigurationError(key: "tools.\(name)", "a tool name has 1 to 64 letters, digits, '_' or '-'")
        }
        approvals = try c.decodeIfPresent(ApprovalsConfiguration.self, forKey: .approvals) ?? ApprovalsConfiguration()
    }

    /// OpenAI's and Anthropic's rule for function names.
    public static func isToolName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { $0 == 95 || $0 == 45 || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }
    }

    /// Every secret reference in the configuration, with the key it sits at (for `warden doctor`, and to
    /// fetch `vault:` ones before anything resolves them).
    public var secretReferences: [(key: String, reference: SecretReference)] {
        var out: [(String, SecretReference)] = providers.compactMap { p in p.config.apiKey.map { ("providers.\(p.name).api_key", $0) } }
        let named: [(String, SecretReference?)] = [
            ("storage_password", storagePassword), ("admin_key", adminKey), ("audit.signing_key", audit.signingKey),
            ("audit.publish_secret", audit.publishSecret), ("budgets.alerts.secret", budgets.alerts?.secret),
        ]
        for (key, reference) in named { if let reference { out.append((key, reference)) } }
        out += keys.enumerated().map { ("keys[\($0.offset)].key", $0.element.key) }
        return out
    }

    public init(
        listen: ListenAddress, dataDir: String, keys: [StaticKeyConfiguration],
        providers: [(name: String, config: ProviderConfiguration)],
        models: [(name: String, config: ModelConfiguration)]
    ) {
        self.listen = listen
        self.dataDir = dataDir
        self.keys = keys
        self.providers = providers
        self.models = models
        self.server = ServerConfiguration()
        self.shutdown = ShutdownConfiguration()
        self.health = HealthConfiguration()
        self.reliability = ReliabilityConfiguration()
        self.log = LogConfiguration()
        self.budgets = BudgetsConfiguration()
        self.audit = AuditConfiguration()
    }

    public func provider(named name: String) -> ProviderConfiguration? {
        providers.first { $0.name == name }?.config
    }

    public func model(named name: String) -> ModelConfiguration? {
        models.first { $0.name == name }?.config
    }

    /// The data directory as an absolute path.
    public var dataDirectoryPath: String { SecretReference.absolutePath(dataDir, base: baseDirectory) }

    /// The storage location with relative SQLite paths made absolute; SQLite under `data_dir` by default.
    public var resolvedStorage: StorageLocation {
        switch storage {
        case .sqlite(let path): .sqlite(path: SecretReference.absolutePath(path, base: baseDirectory))
        case .postgres(let user, let host, let port, let database): .postgres(user: user, host: host, port: port, database: database)
        case nil: .sqlite(path: SecretReference.absolutePath("warden.sqlite", base: dataDirectoryPath))
        }
    }
}

/// A mapping whose entries keep document order.
struct OrderedMapping<Value: Decodable>: Decodable {
    var entries: [(String, Value)]
    init(from decoder: any Decoder) throws { entries = try decoder.orderedMapping(Value.self) }
}

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

/// The wire format a provider speaks.
public enum ProviderType: String, Sendable, Decodable, CaseIterable {
    /// OpenAI or any OpenAI-compatible server (vLLM, Ollama, TGI, LM Studio…).
    case openai
    case anthropic
    /// Warden's built-in deterministic mock upstream, run in-process on a loopback port.
    case mock

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let t = ProviderType(rawValue: text) else {
            throw ConfigurationError(
                key: decoder.codingPath.configKey, "unknown provider type '\(text)' (expected openai, anthropic or mock)")
        }
        self = t
    }
}

public struct ProviderConfiguration: Sendable, Decodable {
    public var type: ProviderType
    /// Base URL including the API version path for OpenAI (`https://api.openai.com/v1`); without it for
    /// Anthropic (`https://api.anthropic.com`). Not used by `mock`.
    public var baseURL: String?
    public var apiKey: SecretReference?
    /// Extra headers sent upstream (e.g. `OpenAI-Organization`).
    public var headers: [String: String]
    /// `mock` only: latency between streamed chunks and before responses.
    public var latency: ConfigDuration?
    /// `anthropic` only: the `anthropic-version` header when the client did not send one.
    public var anthropicVersion: String
    /// Connections kept per upstream host (AsyncHTTPClient's default of 8 is far too low for a gateway).
    public var maxConnections: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, base_url, api_key, headers, latency, anthropic_version, max_connections
    }

    public init(type: ProviderType, baseURL: String? = nil, apiKey: SecretReference? = nil) {
        self.type = type
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.headers = [:]
        self.latency = nil
        self.anthropicVersion = "2023-06-01"
        self.maxConnections = 512
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(ProviderType.self, forKey: .type)
        baseURL = try c.decodeIfPresent(String.self, forKey: .base_url)
        apiKey = try c.decodeIfPresent(SecretReference.self, forKey: .api_key)
        headers = try c.decodeIfPresent([String: String].self, forKey: .headers) ?? [:]
        latency = try c.decodeIfPresent(ConfigDuration.self, forKey: .latency)
        anthropicVersion = try c.decodeIfPresent(String.self, forKey: .anthropic_version) ?? "2023-06-01"
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .max_connections) ?? 512
    }
}

public struct DeploymentConfiguration: Sendable, Decodable {
    public var provider: String
    /// The model name the upstream knows.
    public var model: String
    /// Relative share of traffic (default 1).
    public var weight: Double
    /// This deployment's prices, overriding the model's and the built-in table.
    public var pricing: ModelPricing?

    enum CodingKeys: String, CodingKey, CaseIterable { case provider, model, weight, pricing }

    public init(provider: String, model: String, weight: Double = 1) {
        self.provider = provider
        self.model = model
        self.weight = weight
        self.pricing = nil
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        provider = try c.decode(String.self, forKey: .provider)
        model = try c.decode(String.self, forKey: .model)
        weight = try c.decodeIfPresent(Double.self, forKey: .weight) ?? 1
        pricing = try c.decodeIfPresent(PricingConfiguration.self, forKey: .pricing)?.pricing
    }
}

public struct TimeoutConfiguration: Sendable, Decodable {
    /// Establishing a connection to the upstream.
    public var connect: ConfigDuration
    /// From sending the request to the response headers.
    public var firstByte: ConfigDuration
    /// The whole call, streamed body included.
    public var total: ConfigDuration

    enum CodingKeys: String, CodingKey, CaseIterable { case connect, first_byte, total }

    public init(connect: ConfigDuration = .seconds(5), firstByte: ConfigDuration = .seconds(60), total: ConfigDuration = .seconds(600)) {
        self.connect = connect
        self.firstByte = firstByte
        self.total = total
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TimeoutConfiguration()
        connect = try c.decodeIfPresent(ConfigDuration.self, forKey: .connect) ?? d.connect
        firstByte = try c.decodeIfPresent(ConfigDuration.self, forKey: .first_byte) ?? d.firstByte
        total = try c.decodeIfPresent(ConfigDuration.self, forKey: .total) ?? d.total
    }
}

public struct ModelConfiguration: Sendable, Decodable {
    public var deployments: [DeploymentConfiguration]
    /// Models tried in order when every deployment of this one failed.
    public var fallbacks: [String]
    /// Models tried when the upstream says the prompt is too long for the context window.
    public var contextFallbacks: [String]
    public var timeout: TimeoutConfiguration
    /// Extra attempts within this model, rotating across its deployments.
    public var retries: Int
    /// Whether `/health/ready` depends on this model having a healthy deployment.
    public var required: Bool
    /// Prices for every deployment of this model (a deployment's own `pricing` wins).
    public var pricing: ModelPricing?
    /// What policies see of the model (`resource.tier`, `resource.region`, `resource.self_hosted`,
    /// `resource.tags`, and each free-form attribute by name).
    public var tier: String?
    public var region: String?
    public var selfHosted = false
    public var tags: [String] = []
    public var attributes: [(name: String, value: ConfigAttribute)] = []
    /// This model's guardrails, added to the global ones.
    public var guardrails = GuardrailsConfiguration()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case deployments, fallbacks, context_fallbacks, timeout, retries, required, pricing, tier, region, self_hosted, tags, attributes
        case guardrails
    }

    /// Names policies already use for the model; `attributes` may not reuse them.
    public static let reservedAttributeNames: Set<String> = ["name", "tier", "region", "self_hosted", "tags", "providers"]

    public init(
        deployments: [DeploymentConfiguration], fallbacks: [String] = [], contextFallbacks: [String] = [],
        timeout: TimeoutConfiguration = TimeoutConfiguration(), retries: Int = 2, required: Bool = true
    ) {
        self.deployments = deployments
        self.fallbacks = fallbacks
        self.contextFallbacks = contextFallbacks
        self.timeout = timeout
        self.retries = retries
        self.required = required
        self.pricing = nil
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        deployments = try c.decode([DeploymentConfiguration].self, forKey: .deployments)
        fallbacks = try c.decodeIfPresent([String].self, forKey: .fallbacks) ?? []
        contextFallbacks = try c.decodeIfPresent([String].self, forKey: .context_fallbacks) ?? []
        timeout = try c.decodeIfPresent(TimeoutConfiguration.self, forKey: .timeout) ?? TimeoutConfiguration()
        retries = try c.decodeIfPresent(Int.self, forKey: .retries) ?? 2
        required = try c.decodeIfPresent(Bool.self, forKey: .required) ?? true
        pricing = try c.decodeIfPresent(PricingConfiguration.self, forKey: .pricing)?.pricing
        guardrails = try c.decodeIfPresent(GuardrailsConfiguration.self, forKey: .guardrails) ?? GuardrailsConfiguration()
        tier = try c.decodeIfPresent(String.self, forKey: .tier)
        region = try c.decodeIfPresent(String.self, forKey: .region)
        selfHosted = try c.decodeIfPresent(Bool.self, forKey: .self_hosted) ?? false
        tags = Array(Set(try c.decodeIfPresent([String].self, forKey: .tags) ?? [])).sorted()
        if c.contains(.attributes) {
            attributes = try OrderedMapping<ConfigAttribute>(from: c.superDecoder(forKey: .attributes)).entries.map { (name: $0.0, value: $0.1) }
            for (name, _) in attributes where Self.reservedAttributeNames.contains(name) {
                throw ConfigurationError(
                    key: (c.codingPath + [CodingKeys.attributes]).configKey + ".\(name)", "is a built-in attribute; set it with models.NAME.\(name)")
            }
        }
    }
}

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

public struct LogConfiguration: Sendable, Decodable {
    public enum Level: String, Sendable, Decodable, CaseIterable { case trace, debug, info, notice, warning, error }
    public var level: Level
    /// One JSON line per request.
    public var accessLog: Bool

    enum CodingKeys: String, CodingKey, CaseIterable { case level, access_log }

    public init() {
        level = .info
        accessLog = true
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try c.decodeIfPresent(String.self, forKey: .level) {
            guard let l = Level(rawValue: text) else {
                throw ConfigurationError(
                    key: (c.codingPath + [CodingKeys.level]).configKey,
                    "unknown level '\(text)' (expected \(Level.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            level = l
        } else {
            level = .info
        }
        accessLog = try c.decodeIfPresent(Bool.self, forKey: .access_log) ?? true
    }
}
