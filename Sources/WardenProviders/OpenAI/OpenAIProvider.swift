import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import WardenCore

/// An OpenAI or OpenAI-compatible upstream (OpenAI, vLLM, Ollama, TGI, the mock).
public struct OpenAIProvider: ProviderClient {
    public let name: String
    public let wire = ClientAPI.openAI
    /// Base URL including the version path, without a trailing slash (`https://api.openai.com/v1`).
    let baseURL: String
    let apiKey: String?
    let extraHeaders: [(String, String)]
    let transport: HTTPTransport
    let maxResponseBytes: Int
    let chatURL: String
    let embeddingsURL: String

    public init(
        name: String, baseURL: String, apiKey: String?, extraHeaders: [String: String] = [:], transport: HTTPTransport,
        maxResponseBytes: Int = 64 * 1024 * 1024
    ) {
        self.name = name
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.extraHeaders = extraHeaders.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        self.transport = transport
        self.maxResponseBytes = maxResponseBytes
        self.chatURL = self.baseURL + "/chat/completions"
        self.embeddingsURL = self.baseURL + "/embeddings"
    }

    func makeRequest(path: String, body: JSONObject?, method: HTTPMethod = .POST) -> HTTPClientRequest {
        makeRequest(url: baseURL + path, body: body, method: method)
    }

    func makeRequest(url: String, body: JSONObject?, method: HTTPMethod = .POST) -> HTTPClientRequest {
        makeRequest(url: url, bytes: body?.jsonBuffer, method: method)
    }

    func makeRequest(url: String, bytes: ByteBuffer?, method: HTTPMethod = .POST) -> HTTPClientRequest {
        var headers = extraHeaders
        if let apiKey { headers.append(("Authorization", "Bearer \(apiKey)")) }
        return HTTPTransport.jsonRequest(url: url, method: method, headers: headers, bytes: bytes)
    }

    public func chat(
        _ request: ChatRequest, upstreamModel: String, timeouts: AttemptTimeouts, context: UpstreamContext
    ) async throws -> ProviderChatResult {
        let body = OpenAIRequestEncoder.body(request, upstreamModel: upstreamModel)
        let response = try await transport.send(
            makeRequest(url: chatURL, bytes: body), timeouts: timeouts, api: .openAI, logger: context.logger,
            classify: Self.classify)
        let bytes = try await HTTPTransport.collect(response, upTo: maxResponseBytes, api: .openAI)
        return try ProviderChatResult.scan(bytes, wire: .openAI)
    }

    public func streamChat(
        _ request: ChatRequest, upstreamModel: String, timeouts: AttemptTimeouts, context: UpstreamContext
    ) async throws -> ChatEventStream {
        let body = OpenAIRequestEncoder.body(request, upstreamModel: upstreamModel)
        let start = NIODeadline.now()
        let response = try await transport.send(
            makeRequest(url: chatURL, bytes: body), timeouts: timeouts, api: .openAI, logger: context.logger,
            classify: Self.classify)
        let client = transport.client(connectTimeout: timeouts.connect)
        let decoder = DecoderBox(OpenAIStreamDecoder())
        return ChatEventStream(
            body: response.body, deadline: start + .nanoseconds(timeouts.total.clampedNanoseconds),
            eventLoop: client.eventLoopGroup.any()
        ) { event in
            try decoder.withLock { d throws(JSONParseError) in try d.decode(event.data) }
        }
    }

    public func embeddings(
        _ request: EmbeddingsRequest, upstreamModel: String, timeouts: AttemptTimeouts, context: UpstreamContext
    ) async throws -> ProviderEmbeddingsResult {
        var body = request.original
        body["model"] = .string(upstreamModel)
        let response = try await transport.send(
            makeRequest(url: embeddingsURL, body: body), timeouts: timeouts, api: .openAI, logger: context.logger,
            classify: Self.classify)
        let bytes = try await HTTPTransport.collect(response, upTo: maxResponseBytes, api: .openAI)
        guard let json = try? JSONParser.parse(bytes), json["data"] != nil else {
            throw UpstreamFailure(.retryableStatus(502, "the upstream sent an unreadable embeddings body"), api: .openAI)
        }
        return ProviderEmbeddingsResult(rawBody: bytes, usage: json["usage"].flatMap(OpenAIResponseCodec.decodeUsage))
    }

    public func countTokens(
        _ request: ChatRequest, upstreamModel: String, timeouts: AttemptTimeouts, context: UpstreamContext
    ) async throws -> Int? {
        nil  // OpenAI has no token-counting endpoint for chat; the caller estimates.
    }

    public func probe(timeout: Duration, logger: Logger) async -> ProbeResult {
        await Self.probe(
            transport: transport, request: makeRequest(path: "/models", body: nil, method: .GET), timeout: timeout,
            logger: logger)
    }

    static func probe(transport: HTTPTransport, request: HTTPClientRequest, timeout: Duration, logger: Logger) async
        -> ProbeResult
    {
        let start = ContinuousClock.now
        func elapsed() -> Double { (ContinuousClock.now - start).seconds * 1000 }
        do {
            let response = try await transport.client(connectTimeout: timeout).execute(
                request, deadline: .now() + .nanoseconds(timeout.clampedNanoseconds), logger: logger)
            _ = try? await response.body.collect(upTo: 1024 * 1024)
            let status = Int(response.status.code)
            if status == 401 || status == 403 {
                return ProbeResult(isHealthy: false, detail: "upstream rejected Warden's credentials (\(status))", latencyMilliseconds: elapsed())
            }
            if status >= 500 {
                return ProbeResult(isHealthy: false, detail: "upstream answered \(status)", latencyMilliseconds: elapsed())
            }
            return ProbeResult(isHealthy: true, detail: "reachable (\(status))", latencyMilliseconds: elapsed())
        } catch {
            let mapped = HTTPTransport.mapTransportError(error, api: .openAI)
            let detail = (mapped as? UpstreamFailure).map { "\($0.failure)" } ?? "\(error)"
            return ProbeResult(isHealthy: false, detail: detail, latencyMilliseconds: elapsed())
        }
    }

    /// Classifies an OpenAI error answer.
    static func classify(status: Int, body: JSONValue?, headers: HTTPHeaders) -> AttemptFailure {
        let message = body?["error"]?["message"]?.stringValue ?? body?["message"]?.stringValue ?? ""
        let reason = "upstream answered \(status)" + (message.isEmpty ? "" : ": \(message.prefix(300))")
        switch status {
        case 429:
            return .rateLimited(retryAfter: HTTPTransport.retryAfter(headers), reason)
        case 408, 409, 500...599, 401, 403, 404:
            return .retryableStatus(status, reason)
        default:
            let code = body?["error"]?["code"]?.stringValue ?? ""
            let lower = message.lowercased()
            if code == "context_length_exceeded" || lower.contains("maximum context length")
                || lower.contains("context length") && lower.contains("exceed")
            {
                return .contextTooLong
            }
            return .callerError
        }
    }
}
