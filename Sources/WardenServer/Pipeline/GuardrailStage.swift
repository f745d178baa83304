import Guardrails
import WardenCore

/// One guardrail's verdict on a request, for the audit record, the log and `x-warden-guardrails`.
public struct GuardrailVerdict: Sendable, Equatable {
    public var detector: String
    public var type: String
    public var action: String
    public var count: Int
}

/// Replaces detected values with typed, numbered placeholders (`[EMAIL_ADDRESS_1]`); the same value gets
/// the same placeholder everywhere in a request, and the map back is kept for `restore`.
final class Redactor: @unchecked Sendable {
    private var placeholders: [String: String] = [:]
    private(set) var values: [String: String] = [:]
    private var counters: [String: Int] = [:]

    func redact(_ text: String, _ findings: [Finding]) -> String {
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
}

extension GuardrailsConfiguration.Rule {
    /// What this rule's detector finds in `text`, limited to the rule's `types`.
    func findings(in text: String) -> [Finding] {
        switch detector {
        case .injection, .harmful:
            guard let model = Classifiers.shared.model(detector) else { return [] }
            let p = model.probability(text)
            let type = detector == .injection ? "PROMPT_INJECTION" : "HARMFUL_REQUEST"
            return p >= (threshold ?? model.threshold) ? [Finding(type: type, start: 0, end: 0, score: p)] : []
        case .pii:
            return PIIDetector.scan(text, types: types.map(Set.init))
        case .secrets:
            let found = SecretsDetector.scan(text)
            guard let types else { return found }
            return found.filter { types.contains($0.type) }
        }
    }
}

extension Redactor {
    /// Redacts what `rules` find in `text`; where findings overlap, the one that starts first and is longest wins.
    func redact(_ text: String, rules: [GuardrailsConfiguration.Rule]) -> String {
        var all: [Finding] = []
        for rule in rules { all += rule.findings(in: text) }
        all.sort { ($0.start, -$0.end) < ($1.start, -$1.end) }
        var kept: [Finding] = []
        for f in all where !kept.contains(where: { $0.start < f.end && f.start < $0.end }) { kept.append(f) }
        return redact(text, kept)
    }
}

/// The bundled classifiers, loaded once.
final class Classifiers: Sendable {
    static let shared = Classifiers()
    let injection = try? TextClassifier.bundled("injection")
    let harmful = try? TextClassifier.bundled("harmful")

    func model(_ d: GuardrailsConfiguration.Rule.Detector) -> TextClassifier? {
        d == .injection ? injection : d == .harmful ? harmful : nil
    }
}

/// Input guardrails (`guardrails.input`, plus the model's own): PII and secrets detectors with `block`,
/// `redact` or `flag`. Runs before authorization, so the verdicts reach the policy context (`pii`,
/// `pii_types`). Redaction rewrites what is sent upstream; with `restore` the answer gets the values back.
struct GuardrailStage: ChatStage {
    func handle(_ request: ChatRequest, context: GatewayContext, next: ChatStageChain) async throws -> ChatOutcome {
        let rules = context.runtime.config.guardrails.input + (context.runtime.models[request.model]?.config.guardrails.input ?? [])
        guard !rules.isEmpty else { return try await next(request, context: context) }
        let texts = request.allText
        // Classifiers read what users and tools wrote (untrusted input), not the operator's system prompt.
        var untrusted: [String] = []
        for message in request.messages where message.role == .user || message.role == .tool {
            for block in message.content {
                switch block {
                case .text(let t, _): untrusted.append(t)
                case .toolResult(let r): for case .text(let t, _) in r.content { untrusted.append(t) }
                default: break
                }
            }
        }
        var verdicts: [GuardrailVerdict] = []
        var piiTypes = Set<String>()
        var ranPII = false
        for rule in rules {
            if rule.detector == .pii { ranPII = true }
            var counts: [String: Int] = [:]
            let scanned = rule.detector == .injection || rule.detector == .harmful ? untrusted : texts
            for text in scanned { for f in rule.findings(in: text) { counts[f.type, default: 0] += 1 } }
            if rule.detector == .pii { piiTypes.formUnion(counts.keys) }
            for (type, count) in counts.sorted(by: { $0.key < $1.key }) {
                verdicts.append(GuardrailVerdict(detector: rule.detector.rawValue, type: type, action: rule.action.rawValue, count: count))
            }
        }
        let restore = rules.contains { $0.action == .redact && $0.restore }
        context.trace.update {
            $0.guardrails += verdicts
            $0.piiTypes = ranPII ? piiTypes : nil
        }
        if let blocked = verdicts.first(where: { $0.action == "block" }) {
            throw GatewayError.guardrailBlocked(detector: blocked.detector, type: blocked.type)
        }
        let redactRules = rules.filter { $0.action == .redact }
        guard verdicts.contains(where: { $0.action == "redact" }) else { return try await next(request, context: context) }
        let redactor = Redactor()
        var redacted = request
        redacted.redactText { redactor.redact($0, rules: redactRules) }
        if restore { context.trace.update { $0.restore = redactor.values } }
        return try await next(redacted, context: context)
    }
}

extension ChatRequest {
    /// Applies `rewrite` to every text the client sent (message text, tool results, the system prompt),
    /// in the canonical messages and in the original JSON that same-API upstreams receive.
    mutating func redactText(_ rewrite: (String) -> String) {
        messages = messages.map { message in
            var m = message
            m.content = m.content.map { block in
                switch block {
                case .text(let t, let cache): return .text(rewrite(t), cacheControl: cache)
                case .toolResult(var r):
                    r.content = r.content.map { if case .text(let t, let c) = $0 { .text(rewrite(t), cacheControl: c) } else { $0 } }
                    return .toolResult(r)
                default: return block
                }
            }
            return m
        }
        func walk(_ v: JSONValue, key: String?) -> JSONValue {
            switch v {
            case .string(let s) where key == "content" || key == "text" || key == "system": return .string(rewrite(s))
            case .array(let a): return .array(a.map { walk($0, key: key == "system" ? "system" : nil) })
            case .object(var o):
                for (k, value) in o where k == "content" || k == "text" || k == "messages" || k == "system" || value.arrayValue != nil {
                    o[k] = walk(value, key: k)
                }
                return .object(o)
            default: return v
            }
        }
        if let m = original["messages"] { original["messages"] = walk(m, key: "messages") }
        if let s = original["system"] { original["system"] = walk(s, key: "system") }
        originalBytes = nil
    }
}
