import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import WardenCore

/// An Anthropic Messages API upstream.
public struct AnthropicProvider: ProviderClient {
    public let name: String
    public let wire = ClientAPI.anthropic
    /// Base URL without the version path (`https://api.anthropic.com`).
    let baseURL: String
    let apiKey: String?
    let anthropicVersion: String
    let extraHeaders: [(String, String)]
    let transport: HTTPTransport
    let defaultMaxTokens: Int
    let maxResponseBytes: Int

    public init(
        name: String, baseURL: String, apiKey: String?, anthropicVersion: String, extraHeaders: [String: String] = [:],
        transport: HTTPTransport, defaultMaxTokens: Int, maxResponseBytes: Int = 64 * 1024 * 1024
    ) {
        self.name = name
        var base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        if base.hasSuffix("/v1") { base.removeLast(3) }
        self.baseURL = base
        self.apiKey = apiKey
        self.anthropicVersion = anthropicVersion
        self.extraHeaders = extraHeaders.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        self.transport = transport
        self.defaultMaxTokens = defaultMaxTokens
        self.maxResponseBytes = maxResponseBytes
    }

    func makeRequest(path: String, body: JSONObject?, context: UpstreamContext?, method: HTTPMethod = .POST)
        -> HTTPClientRequest
    {
        var headers = extraHeaders
        if let apiKey { headers.append(("x-api-key", apiKey)) }
        var version = anthropicVersion
        for (n, v) in context?.forwardedHeaders ?? [] {
            if n == "anthropic-version" { version = v } else { headers.append((n, v)) }
        }
        headers.append(("anthropic-version", version))
        return HTTPTransport.jsonRequest(url: baseURL + path, method: method, headers: headers, body: body)
    }

    public func chat(
        _ request: ChatRequest, upstreamModel: String, timeouts: AttemptTimeouts, context: UpstreamContext
    ) async throws -> ProviderChatResult {
        let body = try AnthropicRequestEncoder.encodeMessages(
            request, upstreamModel: upstreamModel, defaultMaxTokens: defaultMaxTokens)
        let response = try await transport.send(
            makeRequest(path: "/v1/messages", body: body, context: context), timeouts: timeouts, api: .anthropic,
            logger: context.logger, classify: Self.classify)
        let bytes = try await HTTPTransport.collect(response, upTo: maxResponseBytes, api: .anthropic)
        return try ProviderChatResult.scan(bytes, wire: .anthropic)
    }

    public func streamChat(
        _ request: ChatRequest, upstreamModel: String, timeouts: AttemptTimeouts, context: UpstreamContext
    ) async throws -> ChatEventStream {
        var body = try AnthropicRequestEncoder.encodeMessages(
            request, upstreamModel: upstreamModel, defaultMaxTokens: defaultMaxTokens)
        body["stream"] = true
        let start = NIODeadline.now()
        let response = try await transport.send(
            makeRequest(path: "/v1/messages", body: body, context: context), timeouts: timeouts, api: .anthropic,
            logger: context.logger, classify: Self.classify)
        let client = transport.client(connectTimeout: timeouts.connect)
        let decoder = DecoderBox(AnthropicStreamDecoder())
        return ChatEventStream(
            body: response.body, deadline: start + .nanoseconds(timeouts.total.clampedNanoseconds),
            eventLoop: client.eventLoopGroup.any()
        ) { event in
            let chunk = try decoder.withLock { d throws(JSONParseError) in try d.decode(event: event.event, data: event.data) }
            return chunk
        }
    }

    public func embeddings(
        _ request: EmbeddingsRequest, upstreamModel: String, timeouts: AttemptTimeouts, context: UpstreamContext
    ) async throws -> ProviderEmbeddingsResult {
        throw GatewayError.unsupported("model", "The model '\(request.model)' is served by Anthropic, which has no embeddings API.")
    }

    public func countTokens(
        _ request: ChatRequest, upstreamModel: String, timeouts: AttemptTimeouts, context: UpstreamContext
    ) async throws -> Int? {
        var body: JSONObject
        if request.api == .anthropic {
            body = request.original
            body["model"] = .string(upstreamModel)
        } else {
            body = try AnthropicRequestEncoder.encodeMessages(request, upstreamModel: upstreamModel, defaultMaxTokens: defaultMaxTokens)
        }
        for k in ["max_tokens", "stream", "temperature", "top_p", "top_k", "stop_sequences", "metadata"] {
            body.removeValue(forKey: k)
        }
        let response = try await transport.send(
            makeRequest(path: "/v1/messages/count_tokens", body: body, context: context), timeouts: timeouts,
            api: .anthropic, logger: context.logger, classify: Self.classify)
        let bytes = try await HTTPTransport.collect(response, upTo: 1024 * 1024, api: .anthropic)
        guard let n = (try? JSONParser.parse(bytes))?["input_tokens"]?.intValue else {
            throw UpstreamFailure(.retryableStatus(502, "the upstream sent an unreadable count_tokens body"), api: .anthropic)
        }
        return n
    }

    public func probe(timeout: Duration, logger: Logger) async -> ProbeResult {
        await OpenAIProvider.probe(
            transport: transport, request: makeRequest(path: "/v1/models", body: nil, context: nil, method: .GET),
            timeout: timeout, logger: logger)
    }

    /// Classifies an Anthropic error answer.
    static func classify(status: Int, body: JSONValue?, headers: HTTPHeaders) -> AttemptFailure {
        let message = body?["error"]?["message"]?.stringValue ?? ""
        let reason = "upstream answered \(status)" + (message.isEmpty ? "" : ": \(message.prefix(300))")
        switch status {
        case 429:
            return .rateLimited(retryAfter: HTTPTransport.retryAfter(headers), reason)
        case 408, 409, 500...599, 401, 403, 404:
            return .retryableStatus(status, reason)
        default:
            let lower = message.lowercased()
            if lower.contains("prompt is too long") || lower.contains("context window")
                || lower.contains("exceed context limit") || lower.contains("context length")
            {
                return .contextTooLong
            }
            return .callerError
        }
    }
}
