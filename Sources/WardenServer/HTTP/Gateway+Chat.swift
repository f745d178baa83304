import Foundation
import Guardrails
import Crypto
import HTTPTypes
import Hummingbird
import NIOCore
import WardenCore
import WardenProviders

/// The model routes, each with its route-table entry and the API its answers and errors are shaped in.
enum ModelRoute: Sendable {
    case chat(ClientAPI)
    case embeddings
    case countTokens

    var spec: RouteSpec {
        switch self {
        case .chat(.openAI): RouteTable.chatCompletions
        case .chat(.anthropic): RouteTable.messages
        case .embeddings: RouteTable.embeddings
        case .countTokens: RouteTable.countTokens
        }
    }

    var api: ClientAPI {
        switch self {
        case .chat(let api): api
        case .embeddings: .openAI
        case .countTokens: .anthropic
        }
    }

    /// Decodes and validates the body into the request the pipeline runs.
    func decode(_ json: JSONValue, body: ByteBuffer, modelSpan: Range<Int>?) throws(GatewayError) -> ModelRequest {
        switch self {
        case .chat(let api):
            var chat = api == .openAI ? try OpenAIRequestDecoder.decodeChat(json) : try AnthropicRequestDecoder.decodeMessages(json)
            if let modelSpan { chat.keepOriginalBytes(body, modelSpan: modelSpan) }
            return .chat(chat)
        case .embeddings:
            return .embeddings(try EmbeddingsRequest.decode(json))
        case .countTokens:
            return .countTokens(try AnthropicRequestDecoder.decodeMessages(json, requireMaxTokens: false))
        }
    }
}

extension Gateway {
    /// The one skeleton every model route runs: authentication, record admission, the body, then the
    /// route's pipeline (the stages its route-table entry declares), then the answer in the client's
    /// shape, with usage and audit booked as the route declares.
    func serve(_ request: Request, context: WardenRequestContext, route: ModelRoute) async -> Response {
        let spec = route.spec
        var exchange = Exchange(request: request, api: route.api, runtime: holder.runtime)
        exchange.booksUsage = spec.has(.usage)
        let model: ModelRequest
        let gateway: GatewayContext
        do {
            let principal = try authenticate(request, exchange: &exchange)
            if spec.has(.recordAdmission) { try governance.admitRecords() }
            let (json, body, modelSpan) = try await readJSON(request, exchange: exchange, spanOf: "model")
            model = try route.decode(json, body: body, modelSpan: modelSpan)
            exchange.entry.model = model.model
            exchange.entry.stream = model.isStreaming
            gateway = GatewayContext(
                requestID: exchange.requestID, principal: principal, api: route.api,
                forwardedHeaders: forwardedHeaders(request, api: route.api), logger: context.logger, record: exchange.record,
                runtime: exchange.runtime, route: spec, guardrails: exchange.runtime.guardrails(model: model.model, principal: principal),
                clientIP: clientIP(request, context: context, runtime: exchange.runtime),
                approvalID: try Self.header(request, .wardenApproval), agent: try Self.header(request, .wardenAgent),
                session: try Self.header(request, .wardenSession))
        } catch {
            return await fail(exchange, error)
        }
        let outcome: ModelOutcome
        do {
            let pipeline = pipelines[spec] ?? pipeline.forRoute(spec)
            outcome = try await connections.cancellingOnDisconnect(context.connectionID) {
                try await pipeline.handle(model, context: gateway)
            }
        } catch is CancellationError {
            // The client went away; nothing can be sent. The upstream call was cancelled with it, after the
            // upstream had most likely read the prompt: record that as estimated usage.
            let usage = spec.has(.usage) ? Usage(inputTokens: model.estimatedInputTokens, isEstimated: true) : nil
            await complete(exchange, status: 499, usage: usage)
            return HTTPResponses.error(.internalError("client closed request"), api: route.api, requestID: exchange.requestID)
        } catch {
            return await fail(exchange, gatewayError(from: error))
        }
        switch (outcome, model) {
        case (.complete(let completed), .chat(let chat)) where chat.stream:
            // A whole answer to a streaming client (tool calls checked, structured output validated, an approved call).
            return await respondWholeAsStream(completed, chat: chat, exchange: exchange, guardrails: gateway.guardrails)
        case (.complete(let completed), .chat(let chat)):
            return await respond(completed, chat: chat, exchange: exchange, guardrails: gateway.guardrails)
        case (.stream(let streamed), .chat(let chat)):
            return respondStreaming(streamed, chat: chat, exchange: exchange, guardrails: gateway.guardrails, connectionID: context.connectionID)
        case (.embeddings(let result), _):
            return await respond(embeddings: result, exchange: exchange)
        case (.tokenCount(let exact), .countTokens(let chat)):
            return await respond(tokenCount: exact, chat: chat, exchange: exchange)
        default:
            return await fail(exchange, GatewayError.internalError("The pipeline answered a \(model.policyAction) request in the wrong shape."))
        }
    }

    /// A Warden header's value: at most 128 printable ASCII characters.
    static func header(_ request: Request, _ name: HTTPField.Name) throws(GatewayError) -> String? {
        guard let value = request.headers[name] else { return nil }
        guard (1...128).contains(value.utf8.count), value.utf8.allSatisfy({ (33...126).contains($0) }) else {
            throw GatewayError.invalidValue(name.rawName, "'\(name.rawName)' is 1 to 128 printable ASCII characters without spaces.")
        }
        return value
    }

    /// The answer's body for the client, after output guardrails and restoring redacted values; nil when
    /// the upstream's answer cannot be read.
    private func finalBody(
        _ completed: CompletedChat, chat: ChatRequest, exchange: Exchange, guardrails: GuardrailsConfiguration
    ) -> ByteBuffer? {
        var body: ByteBuffer
        if case .upstream(let result) = completed.body, result.wire == exchange.api {
            body = result.rawBody
        } else if var response = completed.response() {
            if response.model.isEmpty { response.model = chat.model }
            let object =
                exchange.api == .openAI
                ? OpenAIResponseCodec.encode(response) : AnthropicResponseCodec.encode(response)
            body = object.jsonBuffer
        } else {
            return nil
        }
        let state = exchange.record.state
        return OutputGuard(rules: guardrails.output, canary: state.canary, restore: state.redactedValues)
            .guardAnswer(body, api: exchange.api, record: exchange.record)
    }

    private func respond(_ completed: CompletedChat, chat: ChatRequest, exchange: Exchange, guardrails: GuardrailsConfiguration) async
        -> Response
    {
        guard let body = finalBody(completed, chat: chat, exchange: exchange, guardrails: guardrails) else {
            return await fail(exchange, GatewayError.upstreamError("the upstream sent a response Warden cannot read"))
        }
        noteResponse(body, exchange)
        var response = HTTPResponses.json(body, requestID: exchange.requestID)
        let trace = exchange.record.trace
        if let served = trace.servedModel { response.headers[.wardenModel] = served }
        response.headers[.wardenAttempts] = String(trace.attempts)
        let cost = await complete(exchange, status: 200, usage: completed.usage)
        decorate(&response, exchange, cost: cost)
        return response
    }

    /// Streams a whole answer: the same frames a streamed answer would have, sent at once.
    private func respondWholeAsStream(
        _ completed: CompletedChat, chat: ChatRequest, exchange: Exchange, guardrails: GuardrailsConfiguration
    ) async -> Response {
        guard let body = finalBody(completed, chat: chat, exchange: exchange, guardrails: guardrails), let json = try? JSONParser.parse(body),
            var response = exchange.api == .openAI ? OpenAIResponseCodec.decode(json) : AnthropicResponseCodec.decode(json)
        else {
            return await fail(exchange, GatewayError.upstreamError("the upstream sent a response Warden cannot read"))
        }
        response.usage = completed.usage
        var relay = StreamRelay(
            clientAPI: exchange.api, rawAPI: exchange.api, request: chat, estimatedInputTokens: chat.estimatedInputTokens, reencode: true)
        let cost = exchange.record.trace.pricing.flatMap { p in completed.usage.map { p.cost(of: $0) } }
        let report = { (usage: Usage?) -> JSONObject in
            var o: JSONObject = ["request_id": .string(exchange.requestID), "overhead_ms": .number(formatMilliseconds(exchange.overhead()))]
            if let cost { o["cost_usd"] = .number(cost.usdString) }
            return o
        }
        var out = relay.frames(for: ChatStreamChunk(events: response.streamEvents), report: report)
        var closing = relay.finish(report: report(completed.usage))
        out.writeBuffer(&closing)
        noteResponse(out, exchange)
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        headers[.requestID] = exchange.requestID
        if let served = exchange.record.trace.servedModel { headers[.wardenModel] = served }
        var answer = Response(status: .ok, headers: headers, body: .init(byteBuffer: out))
        let booked = await complete(exchange, status: 200, usage: completed.usage)
        decorate(&answer, exchange, cost: booked)
        return answer
    }

    private struct ClientGone: Error {}

    private func respondStreaming(
        _ streamed: StreamedChat, chat: ChatRequest, exchange: Exchange, guardrails: GuardrailsConfiguration, connectionID: ObjectIdentifier?
    ) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        headers[.requestID] = exchange.requestID
        if let served = exchange.record.trace.servedModel { headers[.wardenModel] = served }
        let estimatedInput = chat.estimatedInputTokens
        let stream = streamed.stream
        let record = exchange.record
        let capture = governance.audit.capturesContent
        let state = record.state
        let initialGuard = StreamGuard(rules: guardrails.output, canary: state.canary, restore: state.redactedValues)
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var guardian = initialGuard.isActive ? initialGuard : nil
                var relay = StreamRelay(
                    clientAPI: exchange.api, rawAPI: streamed.rawAPI, request: chat, estimatedInputTokens: estimatedInput,
                    reencode: guardian != nil)
                func guarded(_ chunk: ChatStreamChunk) -> ChatStreamChunk {
                    guard var g = guardian else { return chunk }
                    let out = g.filter(chunk)
                    guardian = g
                    return out
                }
                let report = { (usage: Usage?) -> JSONObject in
                    var o: JSONObject = [
                        "request_id": .string(exchange.requestID), "overhead_ms": .number(formatMilliseconds(exchange.overhead())),
                    ]
                    if let usage, let pricing = record.trace.pricing { o["cost_usd"] = .number(pricing.cost(of: usage).usdString) }
                    return o
                }
                // The audit record keeps the SHA-256 of exactly the bytes the client was sent.
                var hasher = SHA256()
                var sent: ByteBuffer? = capture ? ByteBuffer() : nil
                func send(_ buffer: ByteBuffer) async throws {
                    guard buffer.readableBytes > 0 else { return }
                    hasher.update(data: buffer.readableBytesView)
                    if var copy = buffer as ByteBuffer?, sent != nil, sent!.readableBytes < 4 << 20 { sent!.writeBuffer(&copy) }
                    let start = ContinuousClock.now
                    do {
                        try await writer.write(buffer)
                    } catch {
                        throw ClientGone()
                    }
                    let elapsed = ContinuousClock.now - start
                    record.updateTrace { $0.client += elapsed }
                }
                var status = 200
                var failure: GatewayError?
                do {
                    try await self.connections.cancellingOnDisconnect(connectionID) {
                        // One write per upstream read: the events that arrived together leave together,
                        // and the closing frames join the read that ended the stream.
                        var out = relay.frames(for: guarded(streamed.first), report: report)
                        var batch = stream.pendingBatch()
                        while true {
                            var ended = false
                            if let current = batch {
                                for chunk in current.chunks where !relay.sawError && guardian?.blocked == nil {
                                    var frames = relay.frames(for: guarded(chunk), report: report)
                                    out.writeBuffer(&frames)
                                }
                                ended = current.isLast || guardian?.blocked != nil
                            }
                            if ended || relay.sawError { break }
                            try await send(out)
                            out.clear()
                            let start = ContinuousClock.now
                            batch = try await stream.nextBatch()
                            let elapsed = ContinuousClock.now - start
                            record.updateTrace { $0.upstream += elapsed }
                            if batch == nil { break }
                        }
                        if Task.isCancelled { throw ClientGone() }
                        var closing = relay.finish(report: report(relay.usage))
                        out.writeBuffer(&closing)
                        try await send(out)
                    }
                    if relay.sawError { status = 502 }
                } catch let error as ChatEventStream.StreamError {
                    let gatewayError: GatewayError =
                        switch error {
                        case .timedOut: .upstreamTimeout("total, mid-stream")
                        case .broken(let reason): .upstreamError(reason)
                        }
                    failure = gatewayError
                    status = gatewayError.status
                    try? await send(relay.errorFrame(gatewayError))
                } catch {
                    // ClientGone or cancellation: the client disconnected; stop reading the upstream.
                    stream.cancel()
                    status = 499
                }
                if let g = guardian {
                    if g.blocked != nil { stream.cancel() }
                    record.updateTrace {
                        $0.guardrailTime += g.elapsed
                    }
                    record.updateState {
                        $0.verdicts += g.verdicts
                    }
                }
                var usage = relay.usage
                if usage == nil {
                    usage = Usage(
                        inputTokens: estimatedInput, outputTokens: TokenEstimator.tokens(scalarCount: relay.generatedScalars),
                        isEstimated: true)
                }
                let digest = Array(hasher.finalize())
                let text = sent.map { String(buffer: $0) }
                record.updateState {
                    $0.usage = usage
                    $0.responseDigest = digest
                    $0.responseText = text
                }
                await self.complete(exchange, status: status, error: failure, usage: usage)
                try? await writer.finish(nil)
            })
    }

    /// `fail` for any error a chat handler can meet.
    private func fail(_ exchange: Exchange, _ error: any Error) async -> Response {
        await fail(exchange, gatewayError(from: error))
    }
}
