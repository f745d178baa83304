import Foundation

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
