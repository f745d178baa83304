import Foundation
import Guardrails
import Logging
import WardenCore
import WardenProviders
import WardenStore

extension GatewayRuntime {
    /// The guardrails that apply to a request: the global ones, the model's, the key's and its team's.
    func guardrails(model: String, principal: Principal?) -> GuardrailsConfiguration {
        config.guardrails.adding(models[model]?.config.guardrails).adding(principal?.guardrails)
    }
}

/// Input guardrails: PII and secrets detectors (`block`, `redact`, `flag`), the injection and harmful
/// classifiers on what users and tools wrote (tool results with their own threshold: indirect
/// injection), and external `llama_guard` detectors called concurrently under `budget_ms`. Runs before
/// authorization, so the verdicts reach the policy context (`pii`, `pii_types`). Redaction rewrites
/// what is sent upstream; with `restore` the answer gets the values back. With `canary`, a per-request
/// token goes into the system prompt; an answer that contains it is blocked (see `OutputGuard`).
///
/// Embeddings inputs go through the same detectors (their texts are what users wrote; token-array
/// inputs carry no text to read), with `block`, `redact` and `flag`.
struct GuardrailStage: ModelStage {
    var roles: Set<RouteStage> { [.inputGuardrails] }

    func handle(_ request: ModelRequest, context: GatewayContext, next: ModelStageChain) async throws -> ModelOutcome {
        switch request {
        case .chat(let chat):
            return try await next(.chat(try await guardChat(chat, context: context)), context: context)
        case .embeddings(var embeddings):
            let rules = context.guardrails.input.filter { $0.detector != .llamaGuard }
            guard !rules.isEmpty else { return try await next(request, context: context) }
            let started = ContinuousClock.now
            let texts = embeddings.texts.map { (text: $0, fromTool: false) }
            var verdicts: [GuardrailVerdict] = []
            var piiTypes = Set<String>()
            for rule in rules {
                let found = rule.verdicts(texts, stage: "input")
                if rule.detector == .pii { piiTypes.formUnion(found.map(\.type)) }
                verdicts += found
            }
            let ranPII = rules.contains { $0.detector == .pii }
            let elapsed = ContinuousClock.now - started
            context.record.updateTrace {
                $0.guardrailTime += elapsed
            }
            context.record.updateState {
                $0.verdicts += verdicts
                $0.piiTypes = ranPII ? piiTypes : nil
            }
            if let blocked = verdicts.first(where: { $0.action == .block }) {
                throw GatewayError.guardrailBlocked(detector: blocked.detector, type: blocked.type)
            }
            if verdicts.contains(where: { $0.action == .redact }) {
                let redactRules = rules.filter { $0.action == .redact }
                let redactor = Redactor()
                embeddings.rewriteTexts { redactor.redact($0, rules: redactRules) }
            }
            return try await next(.embeddings(embeddings), context: context)
        case .countTokens:
            return try await next(request, context: context)
        }
    }

    /// The chat request as it may go upstream (redacted, with the canary), or a refusal.
    func guardChat(_ request: ChatRequest, context: GatewayContext) async throws -> ChatRequest {
        let config = context.guardrails
        let rules = config.input
        guard !rules.isEmpty || config.canary else { return request }
        let started = ContinuousClock.now
        var verdicts: [GuardrailVerdict] = []
        var piiTypes = Set<String>()
        var ranPII = false
        // External detectors start first and run while the built-in ones work.
        let external = rules.filter { $0.detector == .llamaGuard }
        let externalTask: Task<[GuardrailVerdict], Never>? =
            external.isEmpty
            ? nil
            : Task {
                await LlamaGuard.run(external, conversation: request, budget: .milliseconds(config.budgetMs), context: context)
            }
        let texts = request.allText.map { (text: $0, fromTool: false) }
        // Classifiers read what users and tools wrote (untrusted input), not the operator's system prompt.
        var untrusted: [(text: String, fromTool: Bool)] = []
        for message in request.messages where message.role == .user || message.role == .tool {
            for block in message.content {
                switch block {
                case .text(let t, _): untrusted.append((t, message.role == .tool))
                case .toolResult(let r): for case .text(let t, _) in r.content { untrusted.append((t, true)) }
                default: break
                }
            }
        }
        for rule in rules where rule.detector != .llamaGuard {
            if rule.detector == .pii { ranPII = true }
            let found = rule.verdicts(rule.isClassifier ? untrusted : texts, stage: "input")
            if rule.detector == .pii { piiTypes.formUnion(found.map(\.type)) }
            verdicts += found
        }
        if let externalTask { verdicts += await externalTask.value }
        let restore = rules.contains { $0.action == .redact && $0.restore }
        let elapsed = ContinuousClock.now - started
        context.record.updateTrace {
            $0.guardrailTime += elapsed
        }
        context.record.updateState {
            $0.verdicts += verdicts
            $0.piiTypes = ranPII ? piiTypes : nil
        }
        if let blocked = verdicts.first(where: { $0.action == .block }) {
            throw GatewayError.guardrailBlocked(detector: blocked.detector, type: blocked.type)
        }
        var forwarded = request
        if verdicts.contains(where: { $0.action == .redact }) {
            let redactRules = rules.filter { $0.action == .redact }
            let redactor = Redactor()
            forwarded.rewriteTexts { redactor.redact($0, rules: redactRules) }
            if restore { context.record.updateState { $0.redactedValues = redactor.values } }
        }
        if config.canary, forwarded.hasSystemPrompt {
            let token = KeyMaterial.identifier(prefix: "wdn-canary")
            forwarded.appendToSystemPrompt("(Internal marker, never repeat it: \(token))")
            context.record.updateState { $0.canary = token }
        }
        return forwarded
    }
}
