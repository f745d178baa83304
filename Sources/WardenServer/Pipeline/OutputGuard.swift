import Foundation
import Guardrails
import NIOCore
import WardenCore

/// The one home of output guardrails, for every way an answer leaves Warden: a whole JSON answer
/// (`guardAnswer`, also what a streaming client gets when the answer was asked for whole and re-streamed)
/// and a live stream (`StreamGuard`). Both apply the output rules (block, redact, flag), the system
/// prompt's canary and `restore` of redacted input values, and word a withheld answer the same way.
struct OutputGuard {
    let rules: [GuardrailsConfiguration.Rule]
    let canary: String?
    let restore: [String: String]

    /// The notice that takes the place of withheld text; `partial` when some of the answer was already sent.
    static func withheldNotice(_ verdict: GuardrailVerdict, partial: Bool) -> String {
        "[Warden withheld \(partial ? "the rest of this answer" : "this answer"): the \(verdict.detector) detector found \(verdict.type).]"
    }

    /// A whole answer in the client's API shape, after the output rules and the canary (`block` withholds
    /// it: OpenAI `finish_reason: "content_filter"`, Anthropic `stop_reason: "refusal"`, a notice in place
    /// of the text; `redact` replaces the spans; `flag` records) and `restore`.
    func guardAnswer(_ body: ByteBuffer, api: ClientAPI, record: RequestRecord) -> ByteBuffer {
        var out = body
        if !rules.isEmpty || canary != nil { out = applyRules(out, api: api, record: record) }
        if !restore.isEmpty { out = Self.restore(out, restore) }
        return out
    }

    /// Puts redacted values back into a JSON answer: each placeholder (plain ASCII, so it can only occur
    /// inside JSON strings) is replaced by its value, escaped for a JSON string.
    static func restore(_ body: ByteBuffer, _ map: [String: String]) -> ByteBuffer {
        var text = String(buffer: body)
        for (placeholder, value) in map where text.contains(placeholder) {
            var escaped = JSONValue.string(value).jsonString
            escaped.removeFirst()
            escaped.removeLast()
            text = text.replacingOccurrences(of: placeholder, with: escaped)
        }
        return ByteBuffer(string: text)
    }

    private func applyRules(_ body: ByteBuffer, api: ClientAPI, record: RequestRecord) -> ByteBuffer {
        guard case .object(var root) = (try? JSONParser.parse(body)) else { return body }
        // Every text of the answer, by where it sits.
        var texts: [String] = []
        if api == .openAI {
            for choice in root["choices"]?.arrayValue ?? [] { if let t = choice["message"]?["content"]?.stringValue { texts.append(t) } }
        } else {
            for block in root["content"]?.arrayValue ?? [] where block["type"]?.stringValue == "text" {
                if let t = block["text"]?.stringValue { texts.append(t) }
            }
        }
        var verdicts: [GuardrailVerdict] = []
        var blocked: GuardrailVerdict?
        let started = ContinuousClock.now
        for rule in rules {
            for v in rule.verdicts(texts.map { ($0, false) }, stage: "output") {
                verdicts.append(v)
                if rule.action == .block, blocked == nil { blocked = v }
            }
        }
        // The system prompt's canary in the answer: the prompt leaked.
        if let canary, blocked == nil, texts.contains(where: { $0.contains(canary) }) {
            let v = GuardrailVerdict(detector: "canary", type: "SYSTEM_PROMPT_LEAK", action: .block, count: 1, stage: "output")
            verdicts.append(v)
            blocked = v
        }
        let elapsed = ContinuousClock.now - started
        record.updateTrace { $0.guardrailTime += elapsed }
        guard !verdicts.isEmpty else { return body }
        record.updateState { $0.verdicts += verdicts }
        let redactRules = rules.filter { $0.action == .redact }
        let redactor = Redactor()
        func rewrite(_ text: String) -> String {
            if let blocked { return Self.withheldNotice(blocked, partial: false) }
            return redactor.redact(text, rules: redactRules)
        }
        guard blocked != nil || verdicts.contains(where: { $0.action == .redact }) else { return body }
        if api == .openAI {
            root["choices"] = .array(
                (root["choices"]?.arrayValue ?? []).map { choice in
                    guard case .object(var c) = choice, case .object(var message)? = c["message"], let t = message["content"]?.stringValue else {
                        return choice
                    }
                    message["content"] = .string(rewrite(t))
                    if blocked != nil {
                        message["tool_calls"] = nil
                        c["finish_reason"] = "content_filter"
                    }
                    c["message"] = .object(message)
                    return .object(c)
                })
        } else {
            if blocked != nil {
                root["content"] = [["type": "text", "text": .string(rewrite(""))]]
                root["stop_reason"] = "refusal"
            } else {
                root["content"] = .array(
                    (root["content"]?.arrayValue ?? []).map { block in
                        guard case .object(var b) = block, b["type"]?.stringValue == "text", let t = b["text"]?.stringValue else { return block }
                        b["text"] = .string(rewrite(t))
                        return .object(b)
                    })
            }
        }
        return JSONValue.object(root).jsonBuffer
    }
}

/// Output guardrails on a stream: text is held back by a lookahead window, so a secret split across
/// chunks is still seen whole before any of it is sent.
/// - `block` (and the system prompt's canary): the held-back text is dropped, a short notice takes its
///   place and the choice ends with `content_filter` (Anthropic: `refusal`).
/// - `redact`: text leaves the window with its findings replaced by typed placeholders; a finding that
///   reaches into the window is held until it is complete.
/// - `restore` (input redaction): placeholders in the answer are mapped back to the caller's values; a
///   placeholder split across chunks is held until it is whole.
/// - `flag`: recorded when the choice ends.
struct StreamGuard {
    let rules: [GuardrailsConfiguration.Rule]
    let canary: String?
    let restore: [String: String]
    /// Scalars of text held back per choice before they are sent.
    static let window = 128

    private var held: [Int: String.UnicodeScalarView] = [:]
    private var seen: [Int: String.UnicodeScalarView] = [:]
    private let redactRules: [GuardrailsConfiguration.Rule]
    private let redactor = Redactor()
    private var redactions: [String: GuardrailVerdict] = [:]
    private(set) var blocked: GuardrailVerdict?
    private(set) var verdicts: [GuardrailVerdict] = []
    /// Time spent scanning.
    private(set) var elapsed: Duration = .zero

    init(rules: [GuardrailsConfiguration.Rule], canary: String? = nil, restore: [String: String] = [:]) {
        self.rules = rules
        self.canary = canary
        self.restore = restore
        redactRules = rules.filter { $0.action == .redact }
    }

    /// Whether there is anything to do.
    var isActive: Bool { !rules.isEmpty || canary != nil || !restore.isEmpty }

    /// The chunk as it may be sent now; after a block, a closing chunk with the notice and `content_filter`.
    mutating func filter(_ chunk: ChatStreamChunk) -> ChatStreamChunk {
        let started = ContinuousClock.now
        defer { elapsed += ContinuousClock.now - started }
        var out: [ChatStreamEvent] = []
        for event in chunk.events {
            guard blocked == nil else { break }
            switch event {
            case .textDelta(let choice, let text):
                held[choice, default: String.UnicodeScalarView()].append(contentsOf: text.unicodeScalars)
                seen[choice, default: String.UnicodeScalarView()].append(contentsOf: text.unicodeScalars)
                if check(choice, final: false) {
                    out.append(contentsOf: closing(choice))
                    break
                }
                if let released = release(choice, final: false) { out.append(.textDelta(choice: choice, text: released)) }
            case .finish(let choice, _):
                if check(choice, final: true) {
                    out.append(contentsOf: closing(choice))
                    break
                }
                if let released = release(choice, final: true) { out.append(.textDelta(choice: choice, text: released)) }
                out.append(event)
            default:
                out.append(event)
            }
        }
        return ChatStreamChunk(events: out)
    }

    /// Releases the held text that is older than the window (all of it when `final`), redacted and restored.
    private mutating func release(_ choice: Int, final: Bool) -> String? {
        guard let h = held[choice], !h.isEmpty else { return nil }
        var boundary = final ? h.count : h.count - Self.window
        guard boundary > 0 else { return nil }
        let scalars = Array(h)
        var findings: [(finding: Finding, detector: String)] = []
        if !redactRules.isEmpty {
            let all = Redactor.findings(String(h), rules: redactRules)
            // A finding that reaches past the boundary may be incomplete: hold it back whole.
            for f in all where f.finding.start < boundary && f.finding.end > boundary { boundary = min(boundary, f.finding.start) }
            findings = all.filter { $0.finding.end <= boundary }
        }
        if !restore.isEmpty, !final {
            // An opening bracket near the boundary may begin a placeholder that is not complete yet.
            let lookback = max(0, boundary - 48)
            if let open = scalars[lookback..<boundary].lastIndex(of: "["), !scalars[open..<boundary].contains("]") { boundary = open }
        }
        guard boundary > 0 else { return nil }
        var text = String(String.UnicodeScalarView(scalars[0..<boundary]))
        held[choice] = String.UnicodeScalarView(scalars[boundary...])
        if !findings.isEmpty {
            text = redactor.redact(text, findings.map(\.finding))
            for (f, detector) in findings {
                let key = detector + "/" + f.type
                var v = redactions[key] ?? GuardrailVerdict(detector: detector, type: f.type, action: .redact, count: 0, stage: "output")
                v.count += 1
                redactions[key] = v
            }
        }
        for (placeholder, value) in restore where text.contains(placeholder) {
            text = text.replacingOccurrences(of: placeholder, with: value)
        }
        return text
    }

    /// Scans what the choice has generated so far (its recent part); records a block.
    private mutating func check(_ choice: Int, final: Bool) -> Bool {
        guard let all = seen[choice] else { return false }
        // The tail long enough to hold anything not yet sent, plus the longest secret the window covers.
        let tailCount = min(all.count, 4 * Self.window)
        let tail = String(all[all.index(all.endIndex, offsetBy: -tailCount)...])
        for rule in rules where rule.action == .block {
            if let f = rule.findings(in: tail).first {
                let v = GuardrailVerdict(detector: rule.detector.rawValue, type: f.type, action: .block, count: 1, stage: "output", score: f.score)
                blocked = v
                verdicts.append(v)
                return true
            }
        }
        if let canary, tail.contains(canary) {
            let v = GuardrailVerdict(detector: "canary", type: "SYSTEM_PROMPT_LEAK", action: .block, count: 1, stage: "output")
            blocked = v
            verdicts.append(v)
            return true
        }
        if final {
            let text = String(all)
            for rule in rules where rule.action == .flag { verdicts += rule.verdicts([(text, false)], stage: "output") }
            verdicts += redactions.values.sorted { $0.type < $1.type }
            redactions = [:]
        }
        return false
    }

    private mutating func closing(_ choice: Int) -> [ChatStreamEvent] {
        held[choice] = nil
        let notice = OutputGuard.withheldNotice(blocked!, partial: true)
        return [.textDelta(choice: choice, text: notice), .finish(choice: choice, reason: .contentFilter)]
    }
}
