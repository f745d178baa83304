import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Synchronization
import WardenCore

/// Warden's deterministic mock of the OpenAI and Anthropic APIs: a real HTTP server, so tests and the
/// demo exercise the whole network path.
///
/// - Reply text is `Echo: ` + the last user message's text; usage is ⌈Unicode scalars / 4⌉ of the prompt's
///   text content and of the reply.
/// - A request that offers tools with `tool_choice` `required`/`any` or a named function gets one call to
///   that (or the first) tool, with arguments filling the schema's required fields.
/// - Embeddings are deterministic unit vectors (`dimensions` from the request, else the configured default).
/// - Upstream model names choose failures: `fail-503`, `fail-429`, `slow-<ms>`, `drop-midstream`, `bad-json`,
///   `ctx-<N>` (context window of N tokens); and usage shapes: `cache-<read>-<write>`, `reasoning-<N>`.
/// - `GET /mock/journal` returns counters and the last 100 requests, so tests can check what Warden sent.
/// - `POST /mock/webhooks` accepts webhook deliveries; `GET /mock/webhooks` lists them (headers and raw body).
public struct MockUpstream: Sendable {
    public struct Configuration: Sendable {
        /// Pause between streamed chunks, and before non-streamed answers.
        public var latency: Duration
        public var embeddingDimensions: Int

        public init(latency: Duration = .zero, embeddingDimensions: Int = 256) {
            self.latency = latency
            self.embeddingDimensions = embeddingDimensions
        }
    }

    public let configuration: Configuration
    private let counter = Counter()
    /// What the mock saw, for tests: counters and the most recent requests.
    public let journal = MockJournal()

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func next() -> Int { value.add(1, ordering: .relaxed).newValue }
    }

    /// The router serving both APIs, plus `GET /mock/journal` (counters and recent requests, for tests).
    public func router() -> Router<MockRequestContext> {
        let router = Router(context: MockRequestContext.self)
        router.post("/v1/chat/completions") { request, context in
            await self.chat(request, api: .openAI, context: context)
        }
        router.post("/v1/messages") { request, context in
            await self.chat(request, api: .anthropic, context: context)
        }
        router.post("/v1/messages/count_tokens") { request, context in
            await self.countTokens(request)
        }
        router.post("/v1/embeddings") { request, context in
            await self.embeddings(request)
        }
        router.get("/v1/models") { request, _ in
            self.journal.record(method: "GET", path: request.uri.path, headers: request.headers, body: nil)
            return self.models(anthropic: request.headers[HTTPField.Name("anthropic-version")!] != nil)
        }
        router.get("/mock/journal") { _, _ in Self.json(self.journal.snapshot()) }
        // A webhook receiver for budget alerts and published checkpoints (tests and the demo).
        router.post("/mock/webhooks") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            self.journal.recordWebhook(headers: request.headers, body: String(buffer: body))
            return Response(status: .noContent)
        }
        router.get("/mock/webhooks") { _, _ in Self.json(self.journal.webhooks()) }
        router.get("/health") { _, _ in Response(status: .ok) }
        return router
    }

    /// An application serving the mock on `host:port` (port 0 picks a free one; `onRunning` gets it).
    public func application(
        host: String, port: Int, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(),
            server: .http1(configuration: .init(additionalChannelHandlers: [ClientGoneDetector()])),
            configuration: .init(address: .hostname(host, port: port), serverName: "warden-mock"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    // MARK: Handlers

    func chat(_ request: Request, api: ClientAPI, context: MockRequestContext) async -> Response {
        let parsed: ChatRequest
        do {
            let body = try await request.body.collect(upTo: 64 * 1024 * 1024)
            let json: JSONValue
            do { json = try JSONParser.parse(body) } catch { throw GatewayError.invalidJSON("\(error)") }
            journal.record(method: "POST", path: request.uri.path, headers: request.headers, body: json)
            parsed =
                api == .openAI
                ? try OpenAIRequestDecoder.decodeChat(json) : try AnthropicRequestDecoder.decodeMessages(json)
        } catch let error as GatewayError {
            return Self.errorResponse(error, api: api)
        } catch {
            return Self.errorResponse(.invalidJSON("\(error)"), api: api)
        }
        let behaviour = MockBehaviour(model: parsed.model)
        switch behaviour {
        case .fail503, .fail429:
            return Self.failure(behaviour, api: api)!
        case .slow(let ms):
            // Sleep in steps, noticing a client that gave up (Warden cancelling its upstream call).
            let until = ContinuousClock.now + .milliseconds(ms)
            while ContinuousClock.now < until {
                try? await Task.sleep(for: min(.milliseconds(10), until - ContinuousClock.now))
                if context.clientGone {
                    journal.clientDisconnected()
                    return Response(status: .ok)
                }
            }
        case .contextWindow(let window):
            let tokens = TokenEstimator.tokens(in: MockGenerator.promptTexts(parsed))
            if tokens > window {
                let body: JSONObject =
                    api == .openAI
                    ? [
                        "error": [
                            "message": .string(
                                "This model's maximum context length is \(window) tokens. However, your messages resulted in \(tokens) tokens."),
                            "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded",
                        ]
                    ]
                    : [
                        "type": "error",
                        "error": ["type": "invalid_request_error", "message": .string("prompt is too long: \(tokens) tokens > \(window) maximum")],
                    ]
                return Self.json(body, status: .badRequest)
            }
        default:
            break
        }
        let n = counter.next()
        let id = api == .openAI ? "chatcmpl-mock-\(n)" : "msg_mock_\(n)"
        var response = MockGenerator.response(to: parsed, id: id, created: WallClock.unixSeconds())
        if var usage = response.usage {
            MockGenerator.adjust(&usage, for: behaviour)
            response.usage = usage
        }
        if behaviour == .badJSON {
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: parsed.stream ? "data: {\"id\": broken\n\n" : "{\"id\": \"broken\", ")))
        }
        if parsed.stream {
            return streamResponse(
                response, api: api, includeUsage: parsed.includeUsage, drop: behaviour == .dropMidstream, journal: journal)
        }
        if configuration.latency > .zero { try? await Task.sleep(for: configuration.latency) }
        let object = api == .openAI ? OpenAIResponseCodec.encode(response) : AnthropicResponseCodec.encode(response)
        let bytes = object.jsonBuffer
        if behaviour == .dropMidstream {
            let half = bytes.getSlice(at: bytes.readerIndex, length: bytes.readableBytes / 2)!
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody { writer in
                    try await writer.write(half)
                    try? await Task.sleep(for: .milliseconds(20))
                    throw MockDrop()
                })
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: bytes))
    }

    struct MockDrop: Error {}

    func streamResponse(
        _ response: ChatResponse, api: ClientAPI, includeUsage: Bool, drop: Bool, journal: MockJournal
    ) -> Response {
        let events = response.streamEvents
        let latency = configuration.latency
        let frames: [ByteBuffer]
        switch api {
        case .openAI:
            var encoder = OpenAIStreamEncoder(id: response.id, model: response.model, created: response.created, includeUsage: includeUsage)
            frames = encoder.encode(events).map { chunk in
                var b = ByteBuffer()
                ServerSentEvent.write(event: nil, json: chunk, to: &b)
                return b
            } + [ByteBuffer(string: "data: [DONE]\n\n")]
        case .anthropic:
            let prompt = response.usage?.inputTokens ?? 0
            var encoder = AnthropicStreamEncoder(id: response.id, model: response.model, estimatedInputTokens: prompt)
            frames = (encoder.encode(events) + encoder.finish()).map { name, json in
                var b = ByteBuffer()
                ServerSentEvent.write(event: name, json: json, to: &b)
                return b
            }
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                let cut = drop ? max(1, frames.count / 2) : frames.count
                for (i, frame) in frames.prefix(cut).enumerated() {
                    if i > 0, latency > .zero { try await Task.sleep(for: latency) }
                    do {
                        try await writer.write(frame)
                    } catch {
                        journal.clientDisconnected()
                        throw error
                    }
                }
                if drop {
                    // Let the frames already written reach the client before the connection is cut.
                    try? await Task.sleep(for: .milliseconds(20))
                    throw MockDrop()
                }
                try await writer.finish(nil)
            })
    }

    func countTokens(_ request: Request) async -> Response {
        do {
            let body = try await request.body.collect(upTo: 64 * 1024 * 1024)
            let json: JSONValue
            do { json = try JSONParser.parse(body) } catch { throw GatewayError.invalidJSON("\(error)") }
            journal.record(method: "POST", path: request.uri.path, headers: request.headers, body: json)
            let parsed = try AnthropicRequestDecoder.decodeMessages(json, requireMaxTokens: false)
            let tokens = TokenEstimator.tokens(in: MockGenerator.promptTexts(parsed))
            return Self.json(["input_tokens": .int(tokens)])
        } catch let error as GatewayError {
            return Self.errorResponse(error, api: .anthropic)
        } catch {
            return Self.errorResponse(.invalidJSON("\(error)"), api: .anthropic)
        }
    }

    func embeddings(_ request: Request) async -> Response {
        do {
            let body = try await request.body.collect(upTo: 64 * 1024 * 1024)
            let json: JSONValue
            do { json = try JSONParser.parse(body) } catch { throw GatewayError.invalidJSON("\(error)") }
            journal.record(method: "POST", path: request.uri.path, headers: request.headers, body: json)
            let parsed = try EmbeddingsRequest.decode(json)
            switch MockBehaviour(model: parsed.model) {
            case .fail503, .fail429: return Self.failure(MockBehaviour(model: parsed.model), api: .openAI)!
            case .slow(let ms): try? await Task.sleep(for: .milliseconds(ms))
            default: break
            }
            let dims = parsed.dimensions ?? configuration.embeddingDimensions
            var data: [JSONValue] = []
            let inputs = parsed.texts.isEmpty ? Array(repeating: "", count: parsed.inputCount) : parsed.texts
            for (i, text) in inputs.enumerated() {
                let vector = MockGenerator.embedding(for: text, dimensions: dims)
                data.append([
                    "object": "embedding", "index": .int(i), "embedding": .array(vector.map { .double($0) }),
                ])
            }
            let tokens = TokenEstimator.tokens(in: inputs)
            return Self.json([
                "object": "list", "data": .array(data), "model": .string(parsed.model),
                "usage": ["prompt_tokens": .int(tokens), "total_tokens": .int(tokens)],
            ])
        } catch let error as GatewayError {
            return Self.errorResponse(error, api: .openAI)
        } catch {
            return Self.errorResponse(.invalidJSON("\(error)"), api: .openAI)
        }
    }

    func models(anthropic: Bool) -> Response {
        let names = ["mock-small", "mock-large"]
        if anthropic {
            return Self.json([
                "data": .array(
                    names.map {
                        ["type": "model", "id": .string($0), "display_name": .string($0), "created_at": "2026-01-01T00:00:00Z"]
                    }),
                "has_more": false, "first_id": .string(names[0]), "last_id": .string(names[names.count - 1]),
            ])
        }
        return Self.json([
            "object": "list",
            "data": .array(names.map { ["id": .string($0), "object": "model", "created": 0, "owned_by": "warden-mock"] }),
        ])
    }

    /// The answer of the always-failing behaviours.
    static func failure(_ behaviour: MockBehaviour, api: ClientAPI) -> Response? {
        switch behaviour {
        case .fail503:
            return errorResponse(.upstreamError("mock deployment fail-503 always fails"), api: api, status: .serviceUnavailable)
        case .fail429:
            var r = errorResponse(
                .upstreamRateLimited(retryAfterSeconds: 1, detail: "mock deployment fail-429"), api: api, status: .tooManyRequests)
            r.headers[.retryAfter] = "1"
            return r
        default:
            return nil
        }
    }

    static func json(_ object: JSONObject, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: object.jsonBuffer))
    }

    static func errorResponse(_ error: GatewayError, api: ClientAPI, status: HTTPResponse.Status? = nil) -> Response {
        let body = error.body(for: api)
        return Response(
            status: status ?? HTTPResponse.Status(code: error.status),
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: body.jsonBuffer))
    }
}
