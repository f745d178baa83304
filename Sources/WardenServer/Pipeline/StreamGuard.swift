import Foundation
import Guardrails
import WardenCore

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
                var v = redactions[key] ?? GuardrailVerdict(detector: detector, type: f.type, action: "redact", count: 0, stage: "output")
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
                let v = GuardrailVerdict(detector: rule.detector.rawValue, type: f.type, action: "block", count: 1, stage: "output", score: f.score)
                blocked = v
                verdicts.append(v)
                return true
            }
        }
        if let canary, tail.contains(canary) {
            let v = GuardrailVerdict(detector: "canary", type: "SYSTEM_PROMPT_LEAK", action: "block", count: 1, stage: "output")
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
        let notice = "[Warden withheld the rest of this answer: the \(blocked!.detector) detector found \(blocked!.type).]"
        return [.textDelta(choice: choice, text: notice), .finish(choice: choice, reason: .contentFilter)]
    }
}
