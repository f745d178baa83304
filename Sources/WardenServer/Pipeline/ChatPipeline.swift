import Logging
import NIOCore
import WardenCore
import WardenProviders

/// What every stage knows about the request besides its body.
public struct GatewayContext: Sendable {
    public let requestID: String
    public let principal: Principal
    /// The API the client called (decides response and error shapes).
    public let api: ClientAPI
    /// Client headers forwarded to upstreams of the same API.
    public let forwardedHeaders: [(name: String, value: String)]
    public let logger: Logger
    /// What the request's stages note about it (its trace and state).
    public let record: RequestRecord
    public let runtime: GatewayRuntime
    /// The route being served and the stages it declares.
    let route: RouteSpec
    /// The guardrails that apply (global, the model's, the key's and its team's), merged once per request.
    public let guardrails: GuardrailsConfiguration
    /// The client's address (the peer, or the first untrusted `X-Forwarded-For` hop behind `trusted_proxies`).
    public var clientIP: String? = nil
    /// `x-warden-approval`: the id of an approved tool call this request redeems.
    public var approvalID: String? = nil
    /// `x-warden-agent` and `x-warden-session`: who acts, for tool-call policies and approvals.
    public var agent: String? = nil
    public var session: String? = nil
}

/// A complete chat answer on its way back to the client: either an upstream's own bytes (sent unchanged
/// to a client of the same API) or a canonical response (translated, or produced by a stage).
public struct CompletedChat: Sendable {
    public enum Body: Sendable {
        case upstream(ProviderChatResult)
        case canonical(ChatResponse)
    }

    public var body: Body
    public var usage: Usage?

    public init(upstream result: ProviderChatResult) {
        body = .upstream(result)
        usage = result.usage
    }

    public init(canonical response: ChatResponse) {
        body = .canonical(response)
        usage = response.usage
    }

    /// The answer in canonical form (decoding the upstream's bytes if need be).
    public func response() -> ChatResponse? {
        switch body {
        case .upstream(let result): result.decodedResponse()
        case .canonical(let response): response
        }
    }
}

/// A streamed chat answer: the first chunk (already received, so the call counts as started) and the rest.
public struct StreamedChat: Sendable {
    public var first: ChatStreamChunk
    public var stream: ChatEventStream
    public var rawAPI: ClientAPI
}


/// What a route asks of a model, as every stage sees it: one request model for every model route.
public enum ModelRequest: Sendable {
    case chat(ChatRequest)
    case embeddings(EmbeddingsRequest)
    /// Counting a chat request's tokens (Anthropic `count_tokens`): free, no answer generated.
    case countTokens(ChatRequest)

    /// The Warden model the client asked for.
    public var model: String {
        switch self {
        case .chat(let r), .countTokens(let r): r.model
        case .embeddings(let r): r.model
        }
    }

    /// The input's token estimate, computed once by the request (and kept current by its changes).
    public var estimatedInputTokens: Int {
        switch self {
        case .chat(let r), .countTokens(let r): r.estimatedInputTokens
        case .embeddings(let r): r.estimatedInputTokens
        }
    }

    /// The most the model may generate: the chat request's cap; embeddings generate none.
    public var maxOutputTokens: Int? {
        switch self {
        case .chat(let r), .countTokens(let r): r.maxTokens
        case .embeddings: 0
        }
    }

    public var isStreaming: Bool {
        if case .chat(let r) = self { return r.stream }
        return false
    }

    /// The chat request, for stages that only concern chat.
    public var chat: ChatRequest? {
        if case .chat(let r) = self { return r }
        return nil
    }

    /// The Cedar action: `chat` (also for counting its tokens) or `embed`.
    var policyAction: String {
        if case .embeddings = self { return "embed" }
        return "chat"
    }
}

/// What a model route's pipeline produces.
public enum ModelOutcome: Sendable {
    /// A whole chat answer.
    case complete(CompletedChat)
    /// A chat answer streaming in.
    case stream(StreamedChat)
    case embeddings(ProviderEmbeddingsResult)
    /// The upstream's exact count, or nil where Warden must estimate.
    case tokenCount(Int?)
}

/// One concern of the model request path (access control, guardrails, budgets, caching, routing…).
///
/// A stage receives the decoded request and either answers itself (a refusal, a cache hit) or calls
/// `next` and may look at or transform the outcome on the way back. Its `roles` are the route-table
/// stages it implements: a route's pipeline holds the stages whose roles the route declares.
public protocol ModelStage: Sendable {
    var roles: Set<RouteStage> { get }
    func handle(_ request: ModelRequest, context: GatewayContext, next: ModelStageChain) async throws -> ModelOutcome
}

/// The rest of the pipeline after a stage.
public struct ModelStageChain: Sendable {
    let stages: ArraySlice<any ModelStage>

    public func callAsFunction(_ request: ModelRequest, context: GatewayContext) async throws -> ModelOutcome {
        guard let stage = stages.first else {
            throw GatewayError.internalError("The pipeline has no terminal stage.")
        }
        return try await stage.handle(request, context: context, next: ModelStageChain(stages: stages.dropFirst()))
    }
}

/// The ordered stages of a model route; the last one calls the upstream.
public struct ModelPipeline: Sendable {
    public let stages: [any ModelStage]

    public init(stages: [any ModelStage]) { self.stages = stages }

    /// The stages of this pipeline that `route` declares, in order.
    func forRoute(_ route: RouteSpec) -> ModelPipeline {
        ModelPipeline(stages: stages.filter { !$0.roles.isDisjoint(with: route.stages) })
    }

    /// The route-table stages this pipeline implements.
    var roles: Set<RouteStage> { stages.reduce(into: Set<RouteStage>()) { $0.formUnion($1.roles) } }

    public func handle(_ request: ModelRequest, context: GatewayContext) async throws -> ModelOutcome {
        try await ModelStageChain(stages: stages[...])(request, context: context)
    }

    /// Warden's model stages, in order: access, tool calls (around the rest), input guardrails, output
    /// guard (around the rest), policies, limits, budget, structured output (around the call), upstream.
    static func standard(governance: Governance, policies: PolicyCheck, health: DeploymentHealth) -> ModelPipeline {
        ModelPipeline(stages: [
            ModelAccessStage(),
            ToolCallStage(tools: ToolGuard(check: policies), desk: ApprovalDesk(store: governance.store, audit: governance.audit)),
            GuardrailStage(), ExternalOutputGuardStage(), PolicyStage(check: policies), RateLimitStage(governance: governance),
            BudgetStage(governance: governance), StructuredOutputStage(governance: governance), UpstreamStage(health: health),
        ])
    }
}

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

/// The terminal stage: calls the upstream through the route executor (retries, fallbacks, breakers).
public struct UpstreamStage: ModelStage {
    let health: DeploymentHealth

    public init(health: DeploymentHealth) { self.health = health }

    public var roles: Set<RouteStage> { [.upstream] }

    public func handle(_ request: ModelRequest, context: GatewayContext, next: ModelStageChain) async throws -> ModelOutcome {
        let executor = RouteExecutor(runtime: context.runtime, health: health)
        switch request {
        case .chat(let chat):
            return try await self.chat(chat, executor: executor, context: context)
        case .embeddings(let embeddings):
            let served = try await executor.run(model: embeddings.model, record: context.record) { deployment, model in
                try await deployment.provider.embeddings(
                    embeddings, upstreamModel: deployment.upstreamModel, timeouts: model.timeouts,
                    context: UpstreamContext(requestID: context.requestID, logger: context.logger))
            }
            return .embeddings(served.value)
        case .countTokens(let chat):
            let served = try await executor.run(model: chat.model, record: context.record) { deployment, model in
                try await deployment.provider.countTokens(
                    chat, upstreamModel: deployment.upstreamModel, timeouts: model.timeouts,
                    context: Self.upstreamContext(context, deployment: deployment))
            }
            return .tokenCount(served.value)
        }
    }

    func chat(_ request: ChatRequest, executor: RouteExecutor, context: GatewayContext) async throws -> ModelOutcome {
        if request.stream {
            let served = try await executor.run(model: request.model, record: context.record) { deployment, model in
                try await Self.openStream(request, deployment: deployment, model: model, context: context)
            }
            return .stream(served.value)
        }
        let served = try await executor.run(model: request.model, record: context.record) { deployment, model in
            try await deployment.provider.chat(
                request, upstreamModel: deployment.upstreamModel, timeouts: model.timeouts,
                context: Self.upstreamContext(context, deployment: deployment))
        }
        return .complete(CompletedChat(upstream: served.value))
    }

    static func upstreamContext(_ context: GatewayContext, deployment: RouteDeployment) -> UpstreamContext {
        UpstreamContext(
            requestID: context.requestID,
            forwardedHeaders: deployment.provider.wire == context.api ? context.forwardedHeaders : [],
            logger: context.logger)
    }

    /// Opens the upstream stream and waits for its first chunk, so that a stream failing at once is
    /// retried or falls back like any other failed attempt.
    static func openStream(
        _ request: ChatRequest, deployment: RouteDeployment, model: RouteModel, context: GatewayContext
    ) async throws -> StreamedChat {
        let stream = try await deployment.provider.streamChat(
            request, upstreamModel: deployment.upstreamModel, timeouts: model.timeouts,
            context: upstreamContext(context, deployment: deployment))
        let api = deployment.provider.wire
        do {
            guard let first = try await stream.next() else {
                throw UpstreamFailure(.connection("the upstream ended the stream without any event"), api: api)
            }
            for case .error(let message, let type) in first.events {
                stream.cancel()
                throw UpstreamFailure(.retryableStatus(502, "upstream stream error (\(type)): \(message)"), api: api)
            }
            return StreamedChat(first: first, stream: stream, rawAPI: api)
        } catch let error as ChatEventStream.StreamError {
            stream.cancel()
            switch error {
            case .timedOut: throw UpstreamFailure(.timeout("total"), api: api)
            case .broken(let reason): throw UpstreamFailure(.connection(reason), api: api)
            }
        }
    }
}
