import Logging
import NIOCore
import WardenCore
import WardenProviders

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
