import Foundation
import Guardrails
import Crypto
import HTTPTypes
import Hummingbird
import NIOCore
import WardenCore
import WardenProviders

extension Gateway {
    /// `POST /v1/chat/completions` (api `.openAI`) and `POST /v1/messages` (api `.anthropic`).
    func chat(_ request: Request, context: WardenRequestContext, api: ClientAPI) async -> Response {
        var exchange = Exchange(request: request, api: api, runtime: holder.runtime)
        let chat: ChatRequest
        let gateway: GatewayContext
        do {
            let principal = try authenticate(request, exchange: &exchange)
            try governance.admitRecords()
            let (json, body, modelSpan) = try await readJSON(request, exchange: exchange, spanOf: "model")
            var decoded =
                api == .openAI
                ? try OpenAIRequestDecoder.decodeChat(json) : try AnthropicRequestDecoder.decodeMessages(json)
            if let modelSpan { decoded.originalBytes = (body, modelSpan) }
            chat = decoded
            exchange.entry.model = chat.model
            exchange.entry.stream = chat.stream
            gateway = GatewayContext(
                requestID: exchange.requestID, principal: principal, api: api,
                forwardedHeaders: forwardedHeaders(request, api: api), logger: context.logger, trace: exchange.trace,
                runtime: exchange.runtime, clientIP: clientIP(request, context: context, runtime: exchange.runtime),
                approvalID: try Self.header(request, .wardenApproval), agent: try Self.header(request, .wardenAgent),
                session: try Self.header(request, .wardenSession))
        } catch {
            return await fail(exchange, error)
        }
        let outcome: ChatOutcome
        do {
            outcome = try await connections.cancellingOnDisconnect(context.connectionID) {
                try await pipeline.handle(chat, context: gateway)
            }
        } catch is CancellationError {
            // The client went away; nothing can be sent. The upstream call was cancelled with it, after the
            // upstream had most likely read the prompt: record that as estimated usage.
            await complete(exchange, status: 499, usage: Usage(inputTokens: TokenEstimator.tokens(in: chat.allText), isEstimated: true))
            return HTTPResponses.error(.internalError("client closed request"), api: api, requestID: exchange.requestID)
        } catch {
            return await fail(exchange, gatewayError(from: error))
        }
        switch outcome {
        case .complete(let completed) where chat.stream:
            // A whole answer to a streaming client (tool calls checked, structured output validated, an approved call).
            return await respondWholeAsStream(completed, chat: chat, exchange: exchange)
        case .complete(let completed):
            return await respond(completed, chat: chat, exchange: exchange)
        case .stream(let streamed):
            return respondStreaming(streamed, chat: chat, exchange: exchange, connectionID: context.connectionID)
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
    private func finalBody(_ completed: CompletedChat, chat: ChatRequest, exchange: Exchange) -> ByteBuffer? {
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
        let outputRules = exchange.runtime.guardrails(model: chat.model, principal: exchange.principal).output
        let canary = exchange.trace.snapshot.canary
        if !outputRules.isEmpty || canary != nil {
            body = Self.guardOutput(body, api: exchange.api, rules: outputRules, canary: canary, trace: exchange.trace)
        }
        let restore = exchange.trace.snapshot.restore
        if !restore.isEmpty { body = Self.restore(body, restore) }
        return body
    }

    private func respond(_ completed: CompletedChat, chat: ChatRequest, exchange: Exchange) async -> Response {
        guard let body = finalBody(completed, chat: chat, exchange: exchange) else {
            return await fail(exchange, GatewayError.upstreamError("the upstream sent a response Warden cannot read"))
        }
        noteResponse(body, exchange)
        var response = HTTPResponses.json(body, requestID: exchange.requestID)
        let snapshot = exchange.trace.snapshot
        if let served = snapshot.servedModel { response.headers[.wardenModel] = served }
        response.headers[.wardenAttempts] = String(snapshot.attempts)
        let cost = await complete(exchange, status: 200, usage: completed.usage)
        decorate(&response, exchange, cost: cost)
        return response
    }

    /// Streams a whole answer: the same frames a streamed answer would have, sent at once.
    private func respondWholeAsStream(_ completed: CompletedChat, chat: ChatRequest, exchange: Exchange) async -> Response {
        guard let body = finalBody(completed, chat: chat, exchange: exchange), let json = try? JSONParser.parse(body),
            var response = exchange.api == .openAI ? OpenAIResponseCodec.decode(json) : AnthropicResponseCodec.decode(json)
        else {
            return await fail(exchange, GatewayError.upstreamError("the upstream sent a response Warden cannot read"))
        }
        response.usage = completed.usage
        var relay = StreamRelay(
            clientAPI: exchange.api, rawAPI: exchange.api, request: chat, estimatedInputTokens: TokenEstimator.tokens(in: chat.allText),
            reencode: true)
        let cost = exchange.trace.snapshot.pricing.flatMap { p in completed.usage.map { p.cost(of: $0) } }
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
        if let served = exchange.trace.snapshot.servedModel { headers[.wardenModel] = served }
        var answer = Response(status: .ok, headers: headers, body: .init(byteBuffer: out))
        let booked = await complete(exchange, status: 200, usage: completed.usage)
        decorate(&answer, exchange, cost: booked)
        return answer
    }

    private struct ClientGone: Error {}

    private func respondStreaming(
        _ streamed: StreamedChat, chat: ChatRequest, exchange: Exchange, connectionID: ObjectIdentifier?
    ) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        headers[.requestID] = exchange.requestID
        if let served = exchange.trace.snapshot.servedModel { headers[.wardenModel] = served }
        let estimatedInput = TokenEstimator.tokens(in: chat.allText)
        let stream = streamed.stream
        let trace = exchange.trace
        let capture = governance.audit.capturesContent
        let outputRules = exchange.runtime.guardrails(model: chat.model, principal: exchange.principal).output
        let snapshot = trace.snapshot
        let initialGuard = StreamGuard(rules: outputRules, canary: snapshot.canary, restore: snapshot.restore)
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
                    if let usage, let pricing = trace.snapshot.pricing { o["cost_usd"] = .number(pricing.cost(of: usage).usdString) }
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
                    trace.update { $0.client += elapsed }
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
                            trace.update { $0.upstream += elapsed }
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
                    trace.update {
                        $0.guardrails += g.verdicts
                        $0.guardrailTime += g.elapsed
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
                trace.update {
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

extension Gateway {
    /// Puts redacted values back into a JSON answer: each placeholder (plain ASCII, so it can only occur
    /// inside JSON strings) is replaced by its value, escaped for a JSON string.
    static func restore(_ body: ByteBuffer, _ map: [String: String]) -> ByteBuffer {
        var text = String(buffer: body)
        for (placeholder, value) in map where text.contains(placeholder) {
            var escaped = JSONValue.string(value).jsonString
            escaped.removeFirst()
            escaped.removeLast()
            text = text.replacingOccurrences(of: placeholder, with: escaped)
        }
        return ByteBuffer(string: text)
    }
}

extension Gateway {
    /// Output guardrails on a complete answer: each rule's detector reads the answer's text; `block`
    /// withholds it (OpenAI `finish_reason: "content_filter"`, Anthropic `stop_reason: "refusal"`, a short
    /// notice in place of the text), `redact` replaces the spans with typed placeholders, `flag` records.
    static func guardOutput(
        _ body: ByteBuffer, api: ClientAPI, rules: [GuardrailsConfiguration.Rule], canary: String?, trace: RequestTrace
    ) -> ByteBuffer {
        guard case .object(var root) = (try? JSONParser.parse(body)) else { return body }
        // Every text of the answer, by where it sits.
        var texts: [String] = []
        if api == .openAI {
            for choice in root["choices"]?.arrayValue ?? [] { if let t = choice["message"]?["content"]?.stringValue { texts.append(t) } }
        } else {
            for block in root["content"]?.arrayValue ?? [] where block["type"]?.stringValue == "text" {
                if let t = block["text"]?.stringValue { texts.append(t) }
            }
        }
        var verdicts: [GuardrailVerdict] = []
        var blocked: GuardrailVerdict?
        let started = ContinuousClock.now
        for rule in rules {
            for v in rule.verdicts(texts.map { ($0, false) }, stage: "output") {
                verdicts.append(v)
                if rule.action == .block, blocked == nil { blocked = v }
            }
        }
        // The system prompt's canary in the answer: the prompt leaked.
        if let canary, blocked == nil, texts.contains(where: { $0.contains(canary) }) {
            let v = GuardrailVerdict(detector: "canary", type: "SYSTEM_PROMPT_LEAK", action: "block", count: 1, stage: "output")
            verdicts.append(v)
            blocked = v
        }
        let elapsed = ContinuousClock.now - started
        trace.update { $0.guardrailTime += elapsed }
        guard !verdicts.isEmpty else { return body }
        trace.update { $0.guardrails += verdicts }
        let redactRules = rules.filter { $0.action == .redact }
        let redactor = Redactor()
        func rewrite(_ text: String) -> String {
            if let blocked { return "[Warden withheld this answer: the \(blocked.detector) detector found \(blocked.type).]" }
            return redactor.redact(text, rules: redactRules)
        }
        guard blocked != nil || verdicts.contains(where: { $0.action == "redact" }) else { return body }
        if api == .openAI {
            root["choices"] = .array(
                (root["choices"]?.arrayValue ?? []).map { choice in
                    guard case .object(var c) = choice, case .object(var message)? = c["message"], let t = message["content"]?.stringValue else {
                        return choice
                    }
                    message["content"] = .string(rewrite(t))
                    if blocked != nil {
                        message["tool_calls"] = nil
                        c["finish_reason"] = "content_filter"
                    }
                    c["message"] = .object(message)
                    return .object(c)
                })
        } else {
            if blocked != nil {
                root["content"] = [["type": "text", "text": .string(rewrite(""))]]
                root["stop_reason"] = "refusal"
            } else {
                root["content"] = .array(
                    (root["content"]?.arrayValue ?? []).map { block in
                        guard case .object(var b) = block, b["type"]?.stringValue == "text", let t = b["text"]?.stringValue else { return block }
                        b["text"] = .string(rewrite(t))
                        return .object(b)
                    })
            }
        }
        return JSONValue.object(root).jsonBuffer
    }
}
