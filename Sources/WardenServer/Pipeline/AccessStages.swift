import Logging
import NIOCore
import WardenCore
import WardenProviders

/// Refuses unknown models (404) and models the key may not use (403).
public struct ModelAccessStage: ModelStage {
    public init() {}

    public var roles: Set<RouteStage> { [.modelAccess] }

    public func handle(_ request: ModelRequest, context: GatewayContext, next: ModelStageChain) async throws -> ModelOutcome {
        try Self.check(model: request.model, principal: context.principal, runtime: context.runtime)
        return try await next(request, context: context)
    }

    static func check(model: String, principal: Principal, runtime: GatewayRuntime) throws(GatewayError) {
        guard runtime.models[model] != nil else { throw GatewayError.modelNotFound(model) }
        guard principal.mayUse(model: model) else { throw GatewayError.modelNotAllowed(model) }
    }
}

/// Authorizes the request with the Cedar policies (`policies: DIR`): the model and every fallback.
struct PolicyStage: ModelStage {
    let check: PolicyCheck

    var roles: Set<RouteStage> { [.policies] }

    func handle(_ request: ModelRequest, context: GatewayContext, next: ModelStageChain) async throws -> ModelOutcome {
        let maxTokens: Int? = if case .chat = request { request.maxOutputTokens } else { nil }
        try check.check(
            PolicyCheck.Input(
                action: request.policyAction, model: request.model, estimatedTokens: request.estimatedInputTokens,
                maxTokens: maxTokens, stream: request.isStreaming, clientIP: context.clientIP,
                piiTypes: context.record.state.piiTypes),
            principal: context.principal, runtime: context.runtime, record: context.record, logger: context.logger)
        return try await next(request, context: context)
    }
}
