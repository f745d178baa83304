import Guardrails
import WardenCore

/// Output guardrails on a stream: text is held back by a lookahead window, so a secret split across
/// chunks is still seen whole before any of it is sent. On `block`, the held-back text is dropped, a
/// short notice takes its place and the choice ends with `content_filter` (Anthropic: `refusal`).
/// `redact` is not applied to streams (only `block` and `flag`).
struct StreamGuard {
    let rules: [GuardrailsConfiguration.Rule]
    /// Scalars of text held back per choice before they are sent.
    static let window = 128

    private var held: [Int: String.UnicodeScalarView] = [:]
    private var seen: [Int: String.UnicodeScalarView] = [:]
    private(set) var blocked: GuardrailVerdict?
    private(set) var verdicts: [GuardrailVerdict] = []

    init(rules: [GuardrailsConfiguration.Rule]) { self.rules = rules }

    /// The chunk as it may be sent now; after a block, a closing chunk with the notice and `content_filter`.
    mutating func filter(_ chunk: ChatStreamChunk) -> ChatStreamChunk {
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
                var h = held[choice]!
                if h.count > Self.window {
                    let releaseCount = h.count - Self.window
                    let end = h.index(h.startIndex, offsetBy: releaseCount)
                    out.append(.textDelta(choice: choice, text: String(h[h.startIndex..<end])))
                    h.removeSubrange(h.startIndex..<end)
                    held[choice] = h
                }
            case .finish(let choice, _):
                if check(choice, final: true) {
                    out.append(contentsOf: closing(choice))
                    break
                }
                if let h = held[choice], !h.isEmpty { out.append(.textDelta(choice: choice, text: String(h))) }
                held[choice] = nil
                out.append(event)
            default:
                out.append(event)
            }
        }
        return ChatStreamChunk(events: out)
    }

    /// Scans what the choice has generated so far (its recent part); records a block.
    private mutating func check(_ choice: Int, final: Bool) -> Bool {
        guard let all = seen[choice] else { return false }
        // The tail long enough to hold anything not yet sent, plus the longest secret the window covers.
        let tailCount = min(all.count, 4 * Self.window)
        let tail = String(all[all.index(all.endIndex, offsetBy: -tailCount)...])
        for rule in rules where rule.action == .block {
            if let f = rule.findings(in: tail).first {
                let v = GuardrailVerdict(detector: rule.detector.rawValue, type: f.type, action: "block", count: 1)
                blocked = v
                verdicts.append(v)
                return true
            }
        }
        if final {
            let text = String(all)
            for rule in rules where rule.action == .flag {
                var counts: [String: Int] = [:]
                for f in rule.findings(in: text) { counts[f.type, default: 0] += 1 }
                for (type, n) in counts.sorted(by: { $0.key < $1.key }) {
                    verdicts.append(GuardrailVerdict(detector: rule.detector.rawValue, type: type, action: "flag", count: n))
                }
            }
        }
        return false
    }

    private mutating func closing(_ choice: Int) -> [ChatStreamEvent] {
        held[choice] = nil
        let notice = "[Warden withheld the rest of this answer: the \(blocked!.detector) detector found \(blocked!.type).]"
        return [.textDelta(choice: choice, text: notice), .finish(choice: choice, reason: .contentFilter)]
    }
}
