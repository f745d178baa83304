import Foundation
import Guardrails
import Logging
import WardenCore
import WardenProviders
import WardenStore

/// The `llama_guard` detector: asks a guard model served by one of Warden's models (Llama Guard 3/4 on
/// vLLM, Ollama, or any OpenAI-compatible server) whether the last user message is safe, with the
/// Llama Guard task prompt, and parses `safe` / `unsafe\nS1,S10`. Each rule has its own timeout (default:
/// the stage budget); one that overruns or fails follows its `on_timeout` (`allow` or `block`).
enum LlamaGuard {
    static let categories = [
        "S1: Violent Crimes.", "S2: Non-Violent Crimes.", "S3: Sex Crimes.", "S4: Child Exploitation.", "S5: Defamation.",
        "S6: Specialized Advice.", "S7: Privacy.", "S8: Intellectual Property.", "S9: Indiscriminate Weapons.", "S10: Hate.",
        "S11: Self-Harm.", "S12: Sexual Content.", "S13: Elections.", "S14: Code Interpreter Abuse.",
    ]

    /// The Llama Guard task prompt for the conversation's user and assistant turns (text only, the last 8 turns).
    /// With `answer`, the model's answer is the last turn and is the one assessed ('Agent').
    static func prompt(_ request: ChatRequest, answer: String? = nil) -> String {
        var turns: [String] = []
        for m in request.messages where m.role == .user || m.role == .assistant {
            let t = m.text
            if !t.isEmpty { turns.append("\(m.role == .user ? "User" : "Agent"): \(t)") }
        }
        if let answer { turns.append("Agent: \(answer)") }
        let role = answer == nil ? "User" : "Agent"
        return """
            Task: Check if there is unsafe content in '\(role)' messages in conversations according our safety policy with the below categories.

            <BEGIN UNSAFE CONTENT CATEGORIES>
            \(categories.joined(separator: "\n"))
            <END UNSAFE CONTENT CATEGORIES>

            <BEGIN CONVERSATION>

            \(turns.suffix(8).joined(separator: "\n\n"))

            <END CONVERSATION>

            Provide your safety assessment for ONLY THE LAST \(role) message in the above conversation:
             - First line must read 'safe' or 'unsafe'.
             - If unsafe, a second line must include a comma-separated list of violated categories.
            """
    }

    /// `safe` → []; `unsafe` → the categories (at least `UNSAFE`); anything else → nil (unreadable).
    static func parse(_ answer: String) -> [String]? {
        let lines = answer.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let first = lines.first?.lowercased() else { return nil }
        if first == "safe" { return [] }
        guard first == "unsafe" else { return nil }
        let cats = lines.dropFirst().first.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() } } ?? []
        let valid = cats.filter { $0.hasPrefix("S") && Int($0.dropFirst()) != nil }
        return valid.isEmpty ? ["UNSAFE"] : valid
    }

    static func run(
        _ rules: [GuardrailsConfiguration.Rule], conversation: ChatRequest, answer: String? = nil, budget: Duration, context: GatewayContext
    ) async -> [GuardrailVerdict] {
        let prompt = prompt(conversation, answer: answer)
        let stage = answer == nil ? "input" : "output"
        return await withTaskGroup(of: [GuardrailVerdict].self) { group in
            for rule in rules {
                group.addTask {
                    let started = ContinuousClock.now
                    let limit = rule.timeout?.duration ?? budget
                    let outcome = await ask(rule.model ?? "", prompt: prompt, limit: limit, context: context)
                    switch outcome {
                    case .some(let categories):
                        return categories.map {
                            var v = GuardrailVerdict(detector: "llama_guard", type: $0, action: rule.action, count: 1, stage: stage)
                            v.elapsed = ContinuousClock.now - started
                            return v
                        }
                    case .none:
                        context.logger.warning(
                            "llama_guard did not answer in time or unreadably",
                            metadata: ["warden.guardrail.model": "\(rule.model ?? "")", "warden.guardrail.elapsed": "\(ContinuousClock.now - started)", "request_id": "\(context.requestID)"])
                        var v = GuardrailVerdict(
                            detector: "llama_guard", type: "TIMEOUT", action: rule.onTimeout == .block ? .block : .flag, count: 1, stage: stage,
                            score: 0)
                        v.elapsed = ContinuousClock.now - started
                        return [v]
                    }
                }
            }
            var out: [GuardrailVerdict] = []
            for await v in group { out += v }
            return out.sorted { ($0.type, $0.action.rawValue) < ($1.type, $1.action.rawValue) }
        }
    }

    /// The guard model's categories, or nil when it failed, overran `limit` or answered something unreadable.
    static func ask(_ model: String, prompt: String, limit: Duration, context: GatewayContext) async -> [String]? {
        guard let route = context.runtime.models[model], let deployment = route.deployments.first else { return nil }
        let call = ChatRequest.prompt(model: model, text: prompt, maxTokens: 16, temperature: 0)
        return await withTaskGroup(of: [String]?.self) { group in
            group.addTask {
                guard
                    let result = try? await deployment.provider.chat(
                        call, upstreamModel: deployment.upstreamModel, timeouts: route.timeouts,
                        context: UpstreamContext(requestID: context.requestID, forwardedHeaders: [], logger: context.logger)),
                    let response = result.decodedResponse(), let text = response.choices.first.map({ ChatMessage(role: .assistant, content: $0.content).text })
                else { return nil }
                return parse(text)
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}
