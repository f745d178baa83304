import HTTPTypes
import Hummingbird
import NIOCore
import WardenCore
import WardenProviders

extension Gateway {
    /// An embeddings answer: the upstream's JSON as it sent it.
    func respond(embeddings result: ProviderEmbeddingsResult, exchange: Exchange) async -> Response {
        noteResponse(result.rawBody, exchange)
        var response = HTTPResponses.json(result.rawBody, requestID: exchange.requestID)
        let trace = exchange.record.trace
        if let served = trace.servedModel { response.headers[.wardenModel] = served }
        response.headers[.wardenAttempts] = String(trace.attempts)
        let cost = await complete(exchange, status: 200, usage: result.usage)
        decorate(&response, exchange, cost: cost)
        return response
    }

    /// `count_tokens`: the upstream's exact count for Anthropic deployments, Warden's estimate
    /// (⌈Unicode scalars / 4⌉ of the prompt text and tool definitions) for the others.
    func respond(tokenCount exact: Int?, chat: ChatRequest, exchange: Exchange) async -> Response {
        var body: JSONObject
        if let exact {
            body = ["input_tokens": .int(exact)]
        } else {
            var texts = chat.allText
            for tool in chat.tools { texts.append(tool.name + (tool.description ?? "") + tool.parameters.jsonString) }
            body = ["input_tokens": .int(TokenEstimator.tokens(in: texts)), "warden_estimated": true]
        }
        let bytes = body.jsonBuffer
        noteResponse(bytes, exchange)
        var response = HTTPResponses.json(bytes, requestID: exchange.requestID)
        await complete(exchange, status: 200)
        decorate(&response, exchange, cost: nil)
        return response
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
