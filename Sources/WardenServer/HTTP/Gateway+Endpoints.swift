import HTTPTypes
import Hummingbird
import NIOCore
import WardenCore
import WardenProviders

extension Gateway {
    /// `POST /v1/embeddings`.
    func embeddings(_ request: Request, context: WardenRequestContext) async -> Response {
        var exchange = Exchange(request: request, api: .openAI, runtime: holder.runtime)
        do {
            let principal = try authenticate(request, exchange: &exchange)
            try governance.admitRecords()
            let parsed = try EmbeddingsRequest.decode(try await readJSON(request, exchange: exchange))
            exchange.entry.model = parsed.model
            try ModelAccessStage.check(model: parsed.model, principal: principal, runtime: exchange.runtime)
            try policies.check(
                PolicyCheck.Input(
                    action: "embed", model: parsed.model, estimatedTokens: TokenEstimator.tokens(in: parsed.texts), maxTokens: nil,
                    stream: false, clientIP: clientIP(request, context: context, runtime: exchange.runtime)),
                principal: principal, runtime: exchange.runtime, trace: exchange.trace, logger: context.logger)
            let executor = RouteExecutor(runtime: exchange.runtime, health: health)
            let served = try await connections.cancellingOnDisconnect(context.connectionID) {
                try await executor.run(model: parsed.model, trace: exchange.trace) { deployment, model in
                    try await deployment.provider.embeddings(
                        parsed, upstreamModel: deployment.upstreamModel, timeouts: model.timeouts,
                        context: UpstreamContext(requestID: exchange.requestID, logger: context.logger))
                }
            }
            noteResponse(served.value.rawBody, exchange)
            var response = HTTPResponses.json(served.value.rawBody, requestID: exchange.requestID)
            response.headers[.wardenModel] = served.model.name
            response.headers[.wardenAttempts] = String(exchange.trace.snapshot.attempts)
            let cost = await complete(exchange, status: 200, usage: served.value.usage)
            decorate(&response, exchange, cost: cost)
            return response
        } catch is CancellationError {
            await complete(exchange, status: 499)
            return HTTPResponses.error(.internalError("client closed request"), api: .openAI, requestID: exchange.requestID)
        } catch {
            return await fail(exchange, gatewayError(from: error))
        }
    }

    /// `POST /v1/messages/count_tokens`: the upstream's exact count for Anthropic deployments, Warden's
    /// estimate (⌈Unicode scalars / 4⌉ of the prompt text and tool definitions) for the others.
    func countTokens(_ request: Request, context: WardenRequestContext) async -> Response {
        var exchange = Exchange(request: request, api: .anthropic, runtime: holder.runtime)
        exchange.booksUsage = false
        do {
            let principal = try authenticate(request, exchange: &exchange)
            try governance.admitRecords()
            let parsed = try AnthropicRequestDecoder.decodeMessages(
                try await readJSON(request, exchange: exchange), requireMaxTokens: false)
            exchange.entry.model = parsed.model
            try ModelAccessStage.check(model: parsed.model, principal: principal, runtime: exchange.runtime)
            try policies.check(
                PolicyCheck.Input(
                    action: "chat", model: parsed.model, estimatedTokens: TokenEstimator.tokens(in: parsed.allText), maxTokens: nil,
                    stream: false, clientIP: clientIP(request, context: context, runtime: exchange.runtime)),
                principal: principal, runtime: exchange.runtime, trace: exchange.trace, logger: context.logger)
            let headers = forwardedHeaders(request, api: .anthropic)
            let executor = RouteExecutor(runtime: exchange.runtime, health: health)
            let served = try await connections.cancellingOnDisconnect(context.connectionID) {
                try await executor.run(model: parsed.model, trace: exchange.trace) { deployment, model in
                    try await deployment.provider.countTokens(
                        parsed, upstreamModel: deployment.upstreamModel, timeouts: model.timeouts,
                        context: UpstreamContext(
                            requestID: exchange.requestID,
                            forwardedHeaders: deployment.provider.wire == .anthropic ? headers : [], logger: context.logger))
                }
            }
            var body: JSONObject
            if let exact = served.value {
                body = ["input_tokens": .int(exact)]
            } else {
                var texts = parsed.allText
                for tool in parsed.tools { texts.append(tool.name + (tool.description ?? "") + tool.parameters.jsonString) }
                body = ["input_tokens": .int(TokenEstimator.tokens(in: texts)), "warden_estimated": true]
            }
            let bytes = body.jsonBuffer
            noteResponse(bytes, exchange)
            var response = HTTPResponses.json(bytes, requestID: exchange.requestID)
            await complete(exchange, status: 200)
            decorate(&response, exchange, cost: nil)
            return response
        } catch is CancellationError {
            await complete(exchange, status: 499)
            return HTTPResponses.error(.internalError("client closed request"), api: .anthropic, requestID: exchange.requestID)
        } catch {
            return await fail(exchange, gatewayError(from: error))
        }
    }

    /// `GET /v1/models`: the models this key may use, in OpenAI's list shape (Anthropic's when the client
    /// sends `anthropic-version`).
    func models(_ request: Request, context: WardenRequestContext) async -> Response {
        let anthropic = request.headers[.anthropicVersion] != nil
        var exchange = Exchange(request: request, api: anthropic ? .anthropic : .openAI, runtime: holder.runtime)
        do {
            let principal = try authenticate(request, exchange: &exchange)
            let names = exchange.runtime.modelNames.filter {
                principal.mayUse(model: $0) && policies.permits(principal: principal, action: "chat", model: $0, runtime: exchange.runtime)
            }
            let body: JSONObject
            if anthropic {
                body = [
                    "data": .array(
                        names.map {
                            ["type": "model", "id": .string($0), "display_name": .string($0), "created_at": "1970-01-01T00:00:00Z"]
                        }),
                    "has_more": false,
                    "first_id": names.first.map { .string($0) } ?? .null,
                    "last_id": names.last.map { .string($0) } ?? .null,
                ]
            } else {
                body = [
                    "object": "list",
                    "data": .array(names.map { ["id": .string($0), "object": "model", "created": 0, "owned_by": "warden"] }),
                ]
            }
            let bytes = body.jsonBuffer
            noteResponse(bytes, exchange)
            await complete(exchange, status: 200)
            return HTTPResponses.json(bytes, requestID: exchange.requestID)
        } catch {
            return await fail(exchange, gatewayError(from: error))
        }
    }

    /// `GET /v1/models/{id}`.
    func model(_ request: Request, context: WardenRequestContext, id: String) async -> Response {
        var exchange = Exchange(request: request, api: .openAI, runtime: holder.runtime)
        do {
            let principal = try authenticate(request, exchange: &exchange)
            try ModelAccessStage.check(model: id, principal: principal, runtime: exchange.runtime)
            guard policies.permits(principal: principal, action: "chat", model: id, runtime: exchange.runtime) else {
                throw GatewayError.modelNotFound(id)
            }
            await complete(exchange, status: 200)
            let body: JSONObject = ["id": .string(id), "object": "model", "created": 0, "owned_by": "warden"]
            return HTTPResponses.json(body.jsonBuffer, requestID: exchange.requestID)
        } catch {
            return await fail(exchange, gatewayError(from: error))
        }
    }
}
