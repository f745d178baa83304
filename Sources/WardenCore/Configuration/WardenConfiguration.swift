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
