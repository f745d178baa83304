import Logging
import NIOCore
import WardenCore
import WardenProviders

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
