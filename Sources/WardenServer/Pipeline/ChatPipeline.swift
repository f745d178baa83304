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
    public let trace: RequestTrace
    public let runtime: GatewayRuntime
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

public enum ChatOutcome: Sendable {
    case complete(CompletedChat)
    case stream(StreamedChat)
}

/// One concern of the chat request path (access control, guardrails, budgets, caching, routing…).
///
/// A stage receives the decoded request and either answers itself (a refusal, a cache hit) or calls
/// `next` and may look at or transform the outcome on the way back.
public protocol ChatStage: Sendable {
    func handle(_ request: ChatRequest, context: GatewayContext, next: ChatStageChain) async throws -> ChatOutcome
}

/// The rest of the pipeline after a stage.
public struct ChatStageChain: Sendable {
    let stages: ArraySlice<any ChatStage>

    public func callAsFunction(_ request: ChatRequest, context: GatewayContext) async throws -> ChatOutcome {
        guard let stage = stages.first else {
            throw GatewayError.internalError("The chat pipeline has no terminal stage.")
        }
        return try await stage.handle(request, context: context, next: ChatStageChain(stages: stages.dropFirst()))
    }
}

/// The ordered stages for chat requests; the last one calls the upstream.
public struct ChatPipeline: Sendable {
    public let stages: [any ChatStage]

    public init(stages: [any ChatStage]) { self.stages = stages }

    public func handle(_ request: ChatRequest, context: GatewayContext) async throws -> ChatOutcome {
        try await ChatStageChain(stages: stages[...])(request, context: context)
    }
}

/// Refuses unknown models (404) and models the key may not use (403).
public struct ModelAccessStage: ChatStage {
    public init() {}

    public func handle(_ request: ChatRequest, context: GatewayContext, next: ChatStageChain) async throws -> ChatOutcome {
        try Self.check(model: request.model, principal: context.principal, runtime: context.runtime)
        return try await next(request, context: context)
    }

    static func check(model: String, principal: Principal, runtime: GatewayRuntime) throws(GatewayError) {
        guard runtime.models[model] != nil else { throw GatewayError.modelNotFound(model) }
        guard principal.mayUse(model: model) else { throw GatewayError.modelNotAllowed(model) }
    }
}

/// Authorizes the request with the Cedar policies (`policies: DIR`): the model and every fallback.
struct PolicyStage: ChatStage {
    let check: PolicyCheck

    func handle(_ request: ChatRequest, context: GatewayContext, next: ChatStageChain) async throws -> ChatOutcome {
        try check.check(
            PolicyCheck.Input(
                action: "chat", model: request.model, estimatedTokens: TokenEstimator.tokens(in: request.allText),
                maxTokens: request.maxTokens, stream: request.stream, clientIP: context.clientIP,
                piiTypes: context.trace.snapshot.piiTypes),
            principal: context.principal, runtime: context.runtime, trace: context.trace, logger: context.logger)
        return try await next(request, context: context)
    }
}

/// The terminal stage: calls the upstream through the route executor (retries, fallbacks, breakers).
public struct UpstreamStage: ChatStage {
    let health: DeploymentHealth

    public init(health: DeploymentHealth) { self.health = health }

    public func handle(_ request: ChatRequest, context: GatewayContext, next: ChatStageChain) async throws -> ChatOutcome {
        let executor = RouteExecutor(runtime: context.runtime, health: health)
        if request.stream {
            let served = try await executor.run(model: request.model, trace: context.trace) { deployment, model in
                try await Self.openStream(request, deployment: deployment, model: model, context: context)
            }
            return .stream(served.value)
        }
        let served = try await executor.run(model: request.model, trace: context.trace) { deployment, model in
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
