import WardenCore

/// Requests and tokens per minute per key and team (429 `rate_limit_exceeded` with `Retry-After`).
/// Requests count on every route that declares `requestLimit`; tokens where the route declares
/// `tokenLimit`, admitted on the input estimate plus the output cap and corrected after the call.
public struct RateLimitStage: ModelStage {
    let governance: Governance

    public var roles: Set<RouteStage> { [.requestLimit, .tokenLimit] }

    public func handle(_ request: ModelRequest, context: GatewayContext, next: ModelStageChain) async throws -> ModelOutcome {
        var scopes = governance.rateLimitScopes(for: context.principal)
        let countsTokens = context.route.has(.tokenLimit)
        if !countsTokens { scopes = scopes.map { var s = $0; s.tpm = nil; return s } }
        if !context.route.has(.requestLimit) { scopes = scopes.map { var s = $0; s.rpm = nil; return s } }
        let estimate = countsTokens ? request.estimatedInputTokens.addingSaturated(request.maxOutputTokens ?? 0) : 0
        let admission = try governance.limiter.admit(scopes, estimatedTokens: estimate, now: .now)
        context.record.updateState { $0.rateLimit = admission }
        return try await next(request, context: context)
    }
}

/// Reserves the request's worst-case cost against the key's and team's budgets before the upstream
/// call (429 `budget_exceeded` when they cannot pay). A chat request without `max_tokens` gets
/// `budgets.default_max_tokens` — lowered to what the remaining budget can pay — and that cap is sent
/// upstream, so the real cost can never exceed the reservation; an embeddings request's worst case is
/// its input. Settlement happens when the request completes.
public struct BudgetStage: ModelStage {
    let governance: Governance

    public var roles: Set<RouteStage> { [.budget] }

    public func handle(_ request: ModelRequest, context: GatewayContext, next: ModelStageChain) async throws -> ModelOutcome {
        let scopes = governance.budgetScopes(for: context.principal)
        guard !scopes.isEmpty else { return try await next(request, context: context) }
        // Without a price the spend could not be bounded: refuse rather than let a budget be overspent.
        guard let pricing = context.runtime.models[request.model]?.worstPricing else {
            throw GatewayError.modelNotPriced(request.model)
        }
        var request = request
        let now = WallClock.unixMilliseconds()
        let prompt = request.estimatedInputTokens
        if case .chat(var chat) = request, chat.maxTokens == nil {
            var cap = context.runtime.config.budgets.defaultMaxTokens
            if let remaining = try await governance.ledger.remaining(scopes, now: now) {
                let available = remaining.subtractingSaturated(pricing.worstCase(promptTokens: prompt, maxOutputTokens: 0))
                let rate = max(pricing.output, pricing.reasoning)
                if rate > 0 {
                    let affordable = available <= 0 ? 0 : available.multipliedSaturated(by: 1_000_000) / rate
                    cap = Int(min(Int64(cap), affordable))
                }
            }
            chat.limitOutput(to: max(cap, 1))
            request = .chat(chat)
        }
        let amount = pricing.worstCase(promptTokens: prompt, maxOutputTokens: request.maxOutputTokens ?? 0)
        let reservation: Reservation
        do {
            reservation = try await governance.ledger.reserve(
                amount, scopes: scopes, keyID: context.principal.keyID, team: context.principal.team, now: now)
        } catch let refusal as BudgetRefusal {
            throw refusal.gatewayError
        }
        context.record.updateState { $0.reservation = reservation }
        return try await next(request, context: context)
    }
}
