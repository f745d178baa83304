import Foundation
import Guardrails
import Logging
import WardenCore
import WardenProviders
import WardenStore

/// External output detectors (`llama_guard` in `guardrails.output`): the model's whole answer is judged
/// before the client sees any of it — a streamed request is asked of the model whole and streamed
/// afterwards. `block` withholds the answer like the built-in output rules (`content_filter` /
/// `refusal` and a notice); `flag` records.
struct ExternalOutputGuardStage: ModelStage {
    var roles: Set<RouteStage> { [.outputGuardrails] }

    func handle(_ model: ModelRequest, context: GatewayContext, next: ModelStageChain) async throws -> ModelOutcome {
        guard let request = model.chat else { return try await next(model, context: context) }
        let config = context.guardrails
        let rules = config.output.filter { $0.detector == .llamaGuard }
        guard !rules.isEmpty else { return try await next(model, context: context) }
        var forwarded = request
        forwarded.makeNonStreaming()
        let outcome = try await next(.chat(forwarded), context: context)
        guard case .complete(let completed) = outcome, var response = completed.response() else { return outcome }
        let started = ContinuousClock.now
        var verdicts: [GuardrailVerdict] = []
        for choice in response.choices {
            let answer = ChatMessage(role: .assistant, content: choice.content).text
            guard !answer.isEmpty else { continue }
            verdicts += await LlamaGuard.run(rules, conversation: request, answer: answer, budget: .milliseconds(config.budgetMs), context: context)
        }
        let elapsed = ContinuousClock.now - started
        context.record.updateTrace {
            $0.guardrailTime += elapsed
        }
        context.record.updateState {
            $0.verdicts += verdicts
        }
        guard let blocked = verdicts.first(where: { $0.action == .block }) else { return outcome }
        let notice = OutputGuard.withheldNotice(blocked, partial: false)
        response.choices = response.choices.map { ChatChoice(index: $0.index, content: [.text(notice, cacheControl: nil)], stopReason: .contentFilter) }
        response.original = nil
        response.originalAPI = nil
        var rewritten = CompletedChat(canonical: response)
        rewritten.usage = completed.usage
        return .complete(rewritten)
    }
}
