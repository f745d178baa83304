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

/// `usage:` — how long per-request usage records are kept. Older ones are rolled up into daily
/// aggregates (per key, team and model), which spend reports and budgets read with the records, so
/// nothing is forgotten; only the per-request detail goes.
public struct UsageConfiguration: Sendable, Decodable {
    /// At least 31: never shorter than the longest budget period that resets (a month).
    public var retentionDays: Int

    /// The shortest retention allowed.
    public static let minimumRetentionDays = 31

    enum CodingKeys: String, CodingKey, CaseIterable { case retention_days }

    public init() {
        retentionDays = 90
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        retentionDays = try c.decodeIfPresent(Int.self, forKey: .retention_days) ?? UsageConfiguration().retentionDays
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

/// `guardrails:` (globally, per model `models.NAME.guardrails`, per key and per team; each adds to the
/// global rules and cannot remove them).
public struct GuardrailsConfiguration: Sendable, Decodable, Equatable {
    public struct Rule: Sendable, Decodable, Equatable {
        public enum Detector: String, Sendable, CaseIterable {
            case pii, secrets, pattern, injection, harmful
            case llamaGuard = "llama_guard"
        }
        public enum Action: String, Sendable, CaseIterable {
            case block, redact, flag
            case requireApproval = "require_approval"
        }
        public enum OnTimeout: String, Sendable { case allow, block }

        public var detector: Detector
        public var action: Action
        /// Entity types to act on (PII: the shared data's names, e.g. CREDIT_CARD); all when absent.
        public var types: [String]?
        /// With `redact`: map placeholders in the model's answer back to the values (the upstream never sees them).
        public var restore: Bool
        /// Classifiers (`injection`, `harmful`): the probability at or above which a text is flagged
        /// (default: the trained model's, 0.5).
        public var threshold: Double?
        /// Classifiers on input: the threshold for content that arrived as tool results (indirect
        /// injection; default: `threshold`).
        public var toolThreshold: Double?
        /// `llama_guard`: the Warden model (from `models:`) that serves the guard model.
        public var model: String?
        /// `llama_guard`: how long to wait (default: the stage's `budget_ms`), and what to do when it overruns or fails.
        public var timeout: ConfigDuration?
        public var onTimeout: OnTimeout = .allow
        /// `pattern`: the custom patterns it matches (from `guardrails.patterns`: those named in `types`, or all).
        public var patterns: [CustomPattern] = []

        public var isClassifier: Bool { detector == .injection || detector == .harmful }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case detector, action, types, restore, threshold, tool_threshold, model, timeout, on_timeout
        }

        public init(detector: Detector, action: Action) {
            self.detector = detector
            self.action = action
            restore = false
        }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func key(_ k: CodingKeys) -> String { (c.codingPath + [k]).configKey }
            let d = try c.decode(String.self, forKey: .detector)
            guard let detector = Detector(rawValue: d) else {
                throw ConfigurationError(key: key(.detector), "expected one of \(Detector.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.detector = detector
            let a = try c.decode(String.self, forKey: .action)
            guard let action = Action(rawValue: a) else {
                throw ConfigurationError(key: key(.action), "expected one of \(Action.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.action = action
            types = try c.decodeIfPresent([String].self, forKey: .types)
            restore = try c.decodeIfPresent(Bool.self, forKey: .restore) ?? false
            threshold = try c.decodeIfPresent(Double.self, forKey: .threshold)
            toolThreshold = try c.decodeIfPresent(Double.self, forKey: .tool_threshold)
            for (k, t) in [(CodingKeys.threshold, threshold), (.tool_threshold, toolThreshold)] {
                if let t, !(0...1).contains(t) { throw ConfigurationError(key: key(k), "must be between 0 and 1") }
            }
            model = try c.decodeIfPresent(String.self, forKey: .model)
            timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout)
            if let o = try c.decodeIfPresent(String.self, forKey: .on_timeout) {
                guard let parsed = OnTimeout(rawValue: o) else { throw ConfigurationError(key: key(.on_timeout), "expected allow or block") }
                onTimeout = parsed
            }
            if detector == .llamaGuard {
                guard model != nil else { throw ConfigurationError(key: key(.model), "llama_guard needs the model (from models:) that serves it") }
            } else {
                for (k, present) in [(CodingKeys.model, model != nil), (.timeout, timeout != nil), (.on_timeout, c.contains(.on_timeout))] where present {
                    throw ConfigurationError(key: key(k), "only applies to detector: llama_guard")
                }
            }
            if (isClassifier || detector == .llamaGuard), action == .redact {
                throw ConfigurationError(key: key(.action), "a classifier cannot redact: use block or flag")
            }
            if restore, action != .redact {
                throw ConfigurationError(key: key(.restore), "only applies to action: redact")
            }
            if toolThreshold != nil, !isClassifier {
                throw ConfigurationError(key: key(.tool_threshold), "only applies to the injection and harmful detectors")
            }
        }
    }

    public var budgetMs: Int = 25
    public var input: [Rule] = []
    public var output: [Rule] = []
    /// Detectors on the arguments of the tool calls a model returns (`block`, `flag`, `require_approval`).
    public var toolCalls: [Rule] = []
    /// Put a per-request canary token into system prompts and block any answer that contains it.
    public var canary = false
    /// Custom entity types for the `pattern` detector: NAME (upper case) → a regular expression.
    public var patterns: [CustomPattern] = []

    enum CodingKeys: String, CodingKey, CaseIterable { case budget_ms, input, output, tool_calls, canary, patterns }

    public init() {}

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func key(_ k: CodingKeys, _ i: Int, _ field: String) -> String { (c.codingPath + [k]).configKey + "[\(i)].\(field)" }
        budgetMs = try c.decodeIfPresent(Int.self, forKey: .budget_ms) ?? 25
        guard (1...60_000).contains(budgetMs) else { throw ConfigurationError(key: (c.codingPath + [CodingKeys.budget_ms]).configKey, "must be between 1 and 60000") }
        input = try c.decodeIfPresent([Rule].self, forKey: .input) ?? []
        output = try c.decodeIfPresent([Rule].self, forKey: .output) ?? []
        toolCalls = try c.decodeIfPresent([Rule].self, forKey: .tool_calls) ?? []
        canary = try c.decodeIfPresent(Bool.self, forKey: .canary) ?? false
        for (name, source) in (try c.decodeIfPresent([String: String].self, forKey: .patterns) ?? [:]).sorted(by: { $0.key < $1.key }) {
            let key = (c.codingPath + [CodingKeys.patterns]).configKey + ".\(name)"
            guard (1...64).contains(name.count), name.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }) else {
                throw ConfigurationError(key: key, "a pattern's name is 1 to 64 upper-case letters, digits or '_' (it names the entity type)")
            }
            patterns.append(try CustomPattern(name: name, source: source, key: key))
        }
        // Each pattern rule carries the patterns it matches.
        func attach(_ rules: inout [Rule], _ field: CodingKeys) throws {
            for i in rules.indices where rules[i].detector == .pattern {
                let key = (c.codingPath + [field]).configKey + "[\(i)]"
                guard !patterns.isEmpty else { throw ConfigurationError(key: key + ".detector", "the pattern detector needs guardrails.patterns") }
                if let types = rules[i].types {
                    for (j, t) in types.enumerated() where !patterns.contains(where: { $0.name == t }) {
                        throw ConfigurationError(key: key + ".types[\(j)]", "no pattern named '\(t)' in guardrails.patterns")
                    }
                    rules[i].patterns = patterns.filter { types.contains($0.name) }
                } else {
                    rules[i].patterns = patterns
                }
            }
        }
        try attach(&input, .input)
        try attach(&output, .output)
        try attach(&toolCalls, .tool_calls)
        for (i, rule) in output.enumerated() where rule.isClassifier {
            throw ConfigurationError(key: key(.output, i, "detector"), "output rules take pii, secrets or llama_guard")
        }
        for (i, rule) in output.enumerated() where rule.restore {
            throw ConfigurationError(key: key(.output, i, "restore"), "only applies to input rules")
        }
        for (list, k) in [(input, CodingKeys.input), (output, .output)] {
            for (i, rule) in list.enumerated() where rule.action == .requireApproval {
                throw ConfigurationError(key: key(k, i, "action"), "require_approval only applies to tool_calls rules")
            }
        }
        for (i, rule) in toolCalls.enumerated() where rule.action == .redact || rule.detector == .llamaGuard {
            throw ConfigurationError(
                key: key(.tool_calls, i, rule.action == .redact ? "action" : "detector"),
                rule.action == .redact ? "tool calls cannot be redacted: use block, flag or require_approval" : "tool_calls rules take pii, secrets, injection or harmful")
        }
    }

    public var isEmpty: Bool { input.isEmpty && output.isEmpty && toolCalls.isEmpty && !canary }

    /// Guardrails stored as JSON (a key's or a team's), decoded and checked like the config file's.
    public static func parse(json: String) throws(ConfigurationError) -> GuardrailsConfiguration {
        try ConfigurationLoader.decode(GuardrailsConfiguration.self, yaml: json)
    }

    /// These rules and `other`'s together (the stage budget and canary: the stricter).
    public func adding(_ other: GuardrailsConfiguration?) -> GuardrailsConfiguration {
        guard let other else { return self }
        var out = self
        out.input += other.input
        out.output += other.output
        out.toolCalls += other.toolCalls
        out.canary = canary || other.canary
        return out
    }
}

/// A custom entity type for the `pattern` detector: a name and a regular expression (ICU syntax),
/// compiled once when the configuration is read.
public final class CustomPattern: @unchecked Sendable, Equatable {
    public let name: String
    public let source: String
    /// Immutable after creation and documented as safe to use from several threads.
    let regex: NSRegularExpression

    public init(name: String, source: String, key: String) throws(ConfigurationError) {
        guard (1...1000).contains(source.count) else { throw ConfigurationError(key: key, "a pattern is 1 to 1000 characters") }
        do {
            regex = try NSRegularExpression(pattern: source)
        } catch {
            throw ConfigurationError(key: key, "not a valid regular expression")
        }
        self.name = name
        self.source = source
    }

    /// The matches in `text`, as Unicode-scalar offsets (end exclusive).
    public func matches(in text: String) -> [Range<Int>] {
        let ns = text as NSString
        return regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).compactMap { m in
            guard m.range.length > 0, let r = Range(m.range, in: text) else { return nil }
            let start = text.unicodeScalars.distance(from: text.unicodeScalars.startIndex, to: r.lowerBound)
            return start..<(start + text.unicodeScalars[r].count)
        }
    }

    public static func == (a: CustomPattern, b: CustomPattern) -> Bool { a.name == b.name && a.source == b.source }
}

/// One tool the models may call (`tools.NAME`): how risky it is, what Warden does with a call to it, and
/// the JSON-schema constraints its arguments must meet.
public struct ToolConfiguration: Sendable, Decodable {
    public enum Risk: String, Sendable, CaseIterable { case read, write, irreversible }
    public enum Action: String, Sendable, CaseIterable {
        case allow, block
        case requireApproval = "require_approval"
    }

    public var risk: Risk
    /// Default: `require_approval` for irreversible tools, `allow` otherwise.
    public var action: Action
    public var arguments: JSONSchema?
    public var description: String?

    enum CodingKeys: String, CodingKey, CaseIterable { case risk, action, arguments, description }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let r = try c.decodeIfPresent(String.self, forKey: .risk) ?? "write"
        guard let risk = Risk(rawValue: r) else {
            throw ConfigurationError(key: (c.codingPath + [CodingKeys.risk]).configKey, "expected read, write or irreversible")
        }
        self.risk = risk
        if let a = try c.decodeIfPresent(String.self, forKey: .action) {
            guard let action = Action(rawValue: a) else {
                throw ConfigurationError(key: (c.codingPath + [CodingKeys.action]).configKey, "expected allow, block or require_approval")
            }
            self.action = action
        } else {
            action = risk == .irreversible ? .requireApproval : .allow
        }
        if let schema = try c.decodeIfPresent(JSONValue.self, forKey: .arguments) {
            guard schema.objectValue != nil || schema.boolValue != nil else {
                throw ConfigurationError(key: (c.codingPath + [CodingKeys.arguments]).configKey, "expected a JSON schema (a map)")
            }
            arguments = JSONSchema(schema)
        }
        description = try c.decodeIfPresent(String.self, forKey: .description)
    }
}

/// `approvals:` — how long a held tool call waits for a decision, and how long an approved one may be fetched.
public struct ApprovalsConfiguration: Sendable, Decodable {
    public var ttl: ConfigDuration = .seconds(24 * 3600)

    enum CodingKeys: String, CodingKey, CaseIterable { case ttl }

    public init() {}

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ttl = try c.decodeIfPresent(ConfigDuration.self, forKey: .ttl) ?? .seconds(24 * 3600)
    }
}
