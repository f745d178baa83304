import Foundation

/// Where Warden keeps its state.
public enum StorageLocation: Sendable, Equatable, CustomStringConvertible {
    /// An SQLite file; relative paths resolve against the config file's directory.
    case sqlite(path: String)
    /// A PostgreSQL database, `postgres://USER@HOST:PORT/DB` (the password comes from `storage_password`).
    case postgres(user: String, host: String, port: Int, database: String)

    public static func parse(_ text: String) -> StorageLocation? {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            return path.isEmpty ? nil : .sqlite(path: path)
        }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"),
            let url = URLComponents(string: text), let host = url.host, !host.isEmpty
        else { return nil }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty, url.password == nil else { return nil }
        return .postgres(user: url.user ?? "postgres", host: host, port: url.port ?? 5432, database: database)
    }

    /// A description without secrets.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let user, let host, let port, let database): "postgres://\(user)@\(host):\(port)/\(database)"
        }
    }
}

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
            guard let value = Decimal(string: text), value >= 0 else {
                throw ConfigurationError(key: (c.codingPath + [key]).configKey, "expected a price in USD per million tokens")
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

/// `audit:` — the tamper-evident log.
public struct AuditConfiguration: Sendable, Decodable {
    /// Store prompt and response text (apart from the hashed records, so it can be erased).
    public var captureContent: Bool
    /// Sign a checkpoint after this many records…
    public var checkpointEvery: Int
    /// …or this long after the last one, whichever comes first.
    public var checkpointInterval: ConfigDuration
    /// The Ed25519 signing key (base64 of the 32-byte seed). Generated into the data directory when absent.
    public var signingKey: SecretReference?
    /// The log's name in checkpoints.
    public var origin: String
    /// Where every checkpoint is also copied: a file path, or an `https://` webhook (HMAC-signed with `publish_secret`).
    public var publish: String?
    public var publishSecret: SecretReference?
    /// At least 180 (the EU AI Act's six months).
    public var retentionDays: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case capture_content, checkpoint_every, checkpoint_interval, signing_key, origin, publish, publish_secret,
            retention_days
    }

    public init() {
        captureContent = false
        checkpointEvery = 1000
        checkpointInterval = .seconds(60)
        signingKey = nil
        origin = "warden/audit"
        publish = nil
        publishSecret = nil
        retentionDays = 180
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AuditConfiguration()
        captureContent = try c.decodeIfPresent(Bool.self, forKey: .capture_content) ?? d.captureContent
        checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpoint_every) ?? d.checkpointEvery
        checkpointInterval = try c.decodeIfPresent(ConfigDuration.self, forKey: .checkpoint_interval) ?? d.checkpointInterval
        signingKey = try c.decodeIfPresent(SecretReference.self, forKey: .signing_key)
        origin = try c.decodeIfPresent(String.self, forKey: .origin) ?? d.origin
        publish = try c.decodeIfPresent(String.self, forKey: .publish)
        publishSecret = try c.decodeIfPresent(SecretReference.self, forKey: .publish_secret)
        retentionDays = try c.decodeIfPresent(Int.self, forKey: .retention_days) ?? d.retentionDays
    }
}

/// `vault:` — HashiCorp Vault for `vault:MOUNT/PATH#FIELD` secret references (KV version 2).
///
/// Warden logs in with a token read from a secret reference (a file, ideally: Vault Agent writes one) or
/// with AppRole, reads every referenced secret at start and on each reload, and keeps the values in
/// memory only.
public struct VaultConfiguration: Sendable, Decodable {
    /// `http(s)://HOST:PORT`.
    public var address: String
    public var token: SecretReference?
    public var approle: AppRole?
    /// Vault Enterprise namespace (`X-Vault-Namespace`).
    public var namespace: String?
    public var timeout: ConfigDuration

    public struct AppRole: Sendable, Decodable {
        public var roleID: SecretReference
        public var secretID: SecretReference
        /// Where AppRole is mounted (default `approle`).
        public var mount: String

        enum CodingKeys: String, CodingKey, CaseIterable { case role_id, secret_id, mount }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            roleID = try c.decode(SecretReference.self, forKey: .role_id)
            secretID = try c.decode(SecretReference.self, forKey: .secret_id)
            mount = try c.decodeIfPresent(String.self, forKey: .mount) ?? "approle"
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case address, token, approle, namespace, timeout }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        address = try c.decode(String.self, forKey: .address)
        guard address.hasPrefix("http://") || address.hasPrefix("https://") else {
            throw ConfigurationError(key: (c.codingPath + [CodingKeys.address]).configKey, "expected http(s)://HOST:PORT")
        }
        while address.hasSuffix("/") { address.removeLast() }
        token = try c.decodeIfPresent(SecretReference.self, forKey: .token)
        approle = try c.decodeIfPresent(AppRole.self, forKey: .approle)
        guard (token == nil) != (approle == nil) else {
            throw ConfigurationError(key: c.codingPath.configKey.isEmpty ? "vault" : c.codingPath.configKey, "set exactly one of token or approle")
        }
        if case .vault = token { throw ConfigurationError(key: "vault.token", "cannot itself come from Vault") }
        namespace = try c.decodeIfPresent(String.self, forKey: .namespace)
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? .seconds(5)
    }
}

/// `guardrails:` (globally, and per model: `models.NAME.guardrails`, which adds to the global rules).
public struct GuardrailsConfiguration: Sendable, Decodable {
    public struct Rule: Sendable, Decodable {
        public enum Detector: String, Sendable, CaseIterable { case pii, secrets, injection, harmful }
        public enum Action: String, Sendable, CaseIterable { case block, redact, flag }

        public var detector: Detector
        public var action: Action
        /// Entity types to act on (PII: the shared data's names, e.g. CREDIT_CARD); all when absent.
        public var types: [String]?
        /// With `redact`: map placeholders in the model's answer back to the values (the upstream never sees them).
        public var restore: Bool
        /// Classifiers (`injection`, `harmful`): the probability at or above which a text is flagged
        /// (default: the trained model's, 0.5).
        public var threshold: Double?

        enum CodingKeys: String, CodingKey, CaseIterable { case detector, action, types, restore, threshold }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = try c.decode(String.self, forKey: .detector)
            guard let detector = Detector(rawValue: d) else {
                let later = d == "llama_guard" ? " (`llama_guard` is not implemented yet)" : ""
                throw ConfigurationError(
                    key: (c.codingPath + [CodingKeys.detector]).configKey,
                    "expected one of \(Detector.allCases.map(\.rawValue).joined(separator: ", "))\(later)")
            }
            self.detector = detector
            let a = try c.decode(String.self, forKey: .action)
            guard let action = Action(rawValue: a) else {
                throw ConfigurationError(
                    key: (c.codingPath + [CodingKeys.action]).configKey, "expected one of \(Action.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.action = action
            types = try c.decodeIfPresent([String].self, forKey: .types)
            restore = try c.decodeIfPresent(Bool.self, forKey: .restore) ?? false
            threshold = try c.decodeIfPresent(Double.self, forKey: .threshold)
            if let threshold, !(0...1).contains(threshold) {
                throw ConfigurationError(key: (c.codingPath + [CodingKeys.threshold]).configKey, "must be between 0 and 1")
            }
            if (detector == .injection || detector == .harmful), action == .redact {
                throw ConfigurationError(key: (c.codingPath + [CodingKeys.action]).configKey, "a classifier cannot redact: use block or flag")
            }
            if restore, action != .redact {
                throw ConfigurationError(key: (c.codingPath + [CodingKeys.restore]).configKey, "only applies to action: redact")
            }
        }
    }

    public var budgetMs: Int = 25
    public var input: [Rule] = []
    public var output: [Rule] = []

    enum CodingKeys: String, CodingKey, CaseIterable { case budget_ms, input, output }

    public init() {}

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        budgetMs = try c.decodeIfPresent(Int.self, forKey: .budget_ms) ?? 25
        input = try c.decodeIfPresent([Rule].self, forKey: .input) ?? []
        output = try c.decodeIfPresent([Rule].self, forKey: .output) ?? []
        for (i, rule) in output.enumerated() where rule.detector != .pii && rule.detector != .secrets {
            throw ConfigurationError(key: (c.codingPath + [CodingKeys.output]).configKey + "[\(i)].detector", "output rules take pii or secrets")
        }
        for (i, rule) in output.enumerated() where rule.restore {
            throw ConfigurationError(key: (c.codingPath + [CodingKeys.output]).configKey + "[\(i)].restore", "only applies to input rules")
        }
    }

    public var isEmpty: Bool { input.isEmpty && output.isEmpty }
}
