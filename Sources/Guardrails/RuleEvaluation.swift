import Foundation
import WardenCore

/// One guardrail's verdict on a request, for the audit record, the log and `x-warden-guardrails`.
public struct GuardrailVerdict: Sendable, Equatable {
    public typealias Action = GuardrailsConfiguration.Rule.Action

    public var detector: String
    public var type: String
    public var action: Action
    public var count: Int
    /// `input`, `output`, `tool_call`.
    public var stage: String = "input"
    /// The highest score among the findings (classifiers: the probability; pattern detectors: 1).
    public var score: Double = 1
    /// Where the findings are: `text index:start-end` in Unicode scalars (at most 8).
    public var spans: [String] = []
    /// How long the detector took on the texts it read.
    public var elapsed: Duration = .zero

    public init(detector: String, type: String, action: Action, count: Int, stage: String = "input", score: Double = 1, spans: [String] = []) {
        self.detector = detector
        self.type = type
        self.action = action
        self.count = count
        self.stage = stage
        self.score = score
        self.spans = spans
    }

    public var json: JSONValue {
        var o: JSONObject = [
            "detector": .string(detector), "type": .string(type), "action": .string(action.rawValue), "count": .int(count), "stage": .string(stage),
            "score": .double((score * 1000).rounded() / 1000),
        ]
        if !spans.isEmpty { o["spans"] = .array(spans.map { .string($0) }) }
        if elapsed > .zero { o["ms"] = .number(formatMilliseconds(elapsed)) }
        return .object(o)
    }
}

extension GuardrailsConfiguration.Rule.Action {
    /// How strongly the action acts on a request: flag < redact < require_approval < block (the header
    /// `x-warden-guardrails` reports the strongest per detector).
    public var strength: Int {
        switch self {
        case .flag: 0
        case .redact: 1
        case .requireApproval: 2
        case .block: 3
        }
    }
}

/// Replaces detected values with typed, numbered placeholders (`[EMAIL_ADDRESS_1]`); the same value gets
/// the same placeholder everywhere in a request, and the map back is kept for `restore`.
public final class Redactor: @unchecked Sendable {
    private var placeholders: [String: String] = [:]
    public private(set) var values: [String: String] = [:]

    public init() {}
    private var counters: [String: Int] = [:]

    public func redact(_ text: String, _ findings: [Finding]) -> String {
        guard !findings.isEmpty else { return text }
        var scalars = Array(text.unicodeScalars)
        for f in findings.sorted(by: { $0.start > $1.start }) where f.start >= 0 && f.end <= scalars.count && f.start < f.end {
            let value = String(String.UnicodeScalarView(scalars[f.start..<f.end]))
            let placeholder: String
            if let known = placeholders[value] {
                placeholder = known
            } else {
                counters[f.type, default: 0] += 1
                placeholder = "[\(f.type)_\(counters[f.type]!)]"
                placeholders[value] = placeholder
                values[placeholder] = value
            }
            scalars.replaceSubrange(f.start..<f.end, with: placeholder.unicodeScalars)
        }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    /// What `rules` find in `text`, each with its detector, without overlaps: where findings overlap, the
    /// one that starts first and is longest wins.
    public static func findings(_ text: String, rules: [GuardrailsConfiguration.Rule]) -> [(finding: Finding, detector: String)] {
        var all: [(finding: Finding, detector: String)] = []
        for rule in rules { all += rule.findings(in: text).map { ($0, rule.detector.rawValue) } }
        all.sort { ($0.finding.start, -$0.finding.end) < ($1.finding.start, -$1.finding.end) }
        var kept: [(finding: Finding, detector: String)] = []
        for f in all where !kept.contains(where: { $0.finding.start < f.finding.end && f.finding.start < $0.finding.end }) { kept.append(f) }
        return kept
    }

    /// Redacts what `rules` find in `text`.
    public func redact(_ text: String, rules: [GuardrailsConfiguration.Rule]) -> String {
        redact(text, Self.findings(text, rules: rules).map(\.finding))
    }
}

extension GuardrailsConfiguration.Rule {
    /// What this rule's detector finds in `text`, limited to the rule's `types`. Content that arrived as a
    /// tool result (`fromTool`) is judged with `tool_threshold`. External detectors (`llama_guard`) find
    /// nothing here: the stage calls them.
    public func findings(in text: String, fromTool: Bool = false) -> [Finding] {
        switch detector {
        case .injection, .harmful:
            guard let model = Classifiers.shared.model(detector) else { return [] }
            let p = model.probability(text)
            let type = detector == .injection ? "PROMPT_INJECTION" : "HARMFUL_REQUEST"
            let limit = (fromTool ? toolThreshold : nil) ?? threshold ?? model.threshold
            return p >= limit ? [Finding(type: type, start: 0, end: 0, score: p)] : []
        case .pii:
            // Names and addresses (rules and word lists, no validator) only when named in `types`.
            return PIIDetector.scan(text, types: Set(types ?? PIIDetector.validatedTypes))
        case .secrets:
            let found = SecretsDetector.scan(text)
            guard let types else { return found }
            return found.filter { types.contains($0.type) }
        case .pattern:
            return patterns.flatMap { p in p.matches(in: text).map { Finding(type: p.name, start: $0.lowerBound, end: $0.upperBound) } }
        case .llamaGuard:
            return []
        }
    }

    /// The verdicts of this rule on `texts` (one per finding type), or none.
    public func verdicts(_ texts: [(text: String, fromTool: Bool)], stage: String) -> [GuardrailVerdict] {
        let started = ContinuousClock.now
        var byType: [String: GuardrailVerdict] = [:]
        for (i, t) in texts.enumerated() {
            for f in findings(in: t.text, fromTool: t.fromTool) {
                var v = byType[f.type] ?? GuardrailVerdict(detector: detector.rawValue, type: f.type, action: action, count: 0, stage: stage, score: 0)
                v.count += 1
                v.score = max(v.score, f.score)
                if f.end > f.start, v.spans.count < 8 { v.spans.append("\(i):\(f.start)-\(f.end)") }
                byType[f.type] = v
            }
        }
        let elapsed = ContinuousClock.now - started
        return byType.values.sorted { $0.type < $1.type }.map {
            var v = $0
            v.elapsed = elapsed
            return v
        }
    }
}

extension GuardrailsConfiguration {
    /// Rejects entity types the detectors do not know (a typo would silently never match).
    public func checkTypes(at key: String) throws(ConfigurationError) {
        for (list, field) in [(input, "input"), (output, "output"), (toolCalls, "tool_calls")] {
            for (i, rule) in list.enumerated() {
                guard let types = rule.types else { continue }
                let known: [String]
                switch rule.detector {
                case .pii: known = PIIDetector.types
                case .secrets: known = SecretsDetector.types
                case .pattern: continue  // checked against guardrails.patterns when the configuration is read
                default: throw ConfigurationError(key: "\(key).\(field)[\(i)].types", "only applies to the pii and secrets detectors")
                }
                for (j, t) in types.enumerated() where !known.contains(t) {
                    throw ConfigurationError(key: "\(key).\(field)[\(i)].types[\(j)]", "unknown type '\(t)': expected one of \(known.joined(separator: ", "))")
                }
            }
        }
    }
}

/// The bundled classifiers, loaded once. Warden checks at start (`GuardrailResources.load`) that they
/// load, so a rule never meets a missing one.
final class Classifiers: Sendable {
    static let shared = Classifiers()
    let injection: Result<TextClassifier, any Error> = Result { try TextClassifier.bundled("injection") }
    let harmful: Result<TextClassifier, any Error> = Result { try TextClassifier.bundled("harmful") }

    func model(_ d: GuardrailsConfiguration.Rule.Detector) -> TextClassifier? {
        switch d {
        case .injection: try? injection.get()
        case .harmful: try? harmful.get()
        default: nil
        }
    }
}

/// The guardrails' bundled resources (the classifiers' weights, the names word lists): loaded at start,
/// so one that is missing or damaged stops Warden with a clear error instead of leaving rules that
/// silently find nothing.
public enum GuardrailResources {
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Loads everything the detectors use; throws naming the first resource that does not load.
    public static func load() throws(LoadError) {
        for (name, result) in [("injection", Classifiers.shared.injection), ("harmful", Classifiers.shared.harmful)] {
            if case .failure(let error) = result {
                throw LoadError(description: "the \(name) classifier cannot be loaded: \(error)")
            }
        }
        if case .failure(let error) = NameAddressDetector.Gazetteers.shared {
            throw LoadError(description: "the names word lists cannot be loaded: \(error)")
        }
    }
}

