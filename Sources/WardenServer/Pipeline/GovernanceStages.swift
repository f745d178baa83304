import WardenCore

/// Requests and tokens per minute per key and team (429 `rate_limit_exceeded` with `Retry-After`).
/// Tokens are admitted on the prompt estimate plus `max_tokens` and corrected after the call.
public struct RateLimitStage: ChatStage {
    let governance: Governance

    public func handle(_ request: ChatRequest, context: GatewayContext, next: ChatStageChain) async throws -> ChatOutcome {
        let scopes = governance.rateLimitScopes(for: context.principal)
        let estimate = TokenEstimator.tokens(in: request.allText).addingSaturated(request.maxTokens ?? 0)
        let admission = try governance.limiter.admit(scopes, estimatedTokens: estimate, now: .now)
        context.trace.update { $0.rateLimit = admission }
        return try await next(request, context: context)
    }
}

/// Reserves the request's worst-case cost against the key's and team's budgets before the upstream
/// call (429 `budget_exceeded` when they cannot pay). A request without `max_tokens` gets
/// `budgets.default_max_tokens` — lowered to what the remaining budget can pay — and that cap is sent
/// upstream, so the real cost can never exceed the reservation. Settlement happens when the request completes.
public struct BudgetStage: ChatStage {
    let governance: Governance

    public func handle(_ request: ChatRequest, context: GatewayContext, next: ChatStageChain) async throws -> ChatOutcome {
        let scopes = governance.budgetScopes(for: context.principal)
        guard !scopes.isEmpty else { return try await next(request, context: context) }
        // Without a price the spend could not be bounded: refuse rather than let a budget be overspent.
        guard let pricing = context.runtime.models[request.model]?.worstPricing else {
            throw GatewayError.modelNotPriced(request.model)
        }
        var request = request
        let now = WallClock.unixMilliseconds()
        let prompt = TokenEstimator.tokens(in: request.allText)
        if request.maxTokens == nil {
            var cap = context.runtime.config.budgets.defaultMaxTokens
            if let remaining = try await governance.ledger.remaining(scopes, now: now) {
                let available = remaining - pricing.worstCase(promptTokens: prompt, maxOutputTokens: 0)
                let rate = max(pricing.output, pricing.reasoning)
                if rate > 0 {
                    let affordable = available <= 0 ? 0 : available.multipliedReportingOverflow(by: 1_000_000).overflow
                        ? Int64.max : available * 1_000_000 / rate
                    cap = Int(min(Int64(cap), affordable))
                }
            }
            request.limitOutput(to: max(cap, 1))
        }
        let amount = pricing.worstCase(promptTokens: prompt, maxOutputTokens: request.maxTokens ?? 0)
        let reservation: Reservation
        do {
            reservation = try await governance.ledger.reserve(
                amount, scopes: scopes, keyID: context.principal.keyID, team: context.principal.team, now: now)
        } catch let refusal as BudgetRefusal {
            throw refusal.gatewayError
        }
        context.trace.update { $0.reservation = reservation }
        return try await next(request, context: context)
    }
}

extension ChatRequest {
    /// Sets the output cap Warden sends upstream (in the forwarded body too).
    mutating func limitOutput(to tokens: Int) {
        maxTokens = tokens
        switch api {
        case .openAI:
            original["max_tokens"] = .int(tokens)
            originalBytes = nil  // the bytes no longer match: forward the edited object
        case .anthropic:
            original["max_tokens"] = .int(tokens)
            originalBytes = nil
        }
    }
}
