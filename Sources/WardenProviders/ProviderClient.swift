import Logging
import NIOCore
import WardenCore

/// Per-request facts a provider needs besides the request itself.
public struct UpstreamContext: Sendable {
    public var requestID: String
    /// Client headers forwarded to upstreams of the same API (`anthropic-beta`, `anthropic-version`).
    public var forwardedHeaders: [(name: String, value: String)]
    public var logger: Logger

    public init(requestID: String, forwardedHeaders: [(name: String, value: String)] = [], logger: Logger) {
        self.requestID = requestID
        self.forwardedHeaders = forwardedHeaders
        self.logger = logger
    }
}

/// A complete upstream chat answer: the upstream's bytes, checked to be a JSON object, and its usage.
///
/// The canonical form is decoded only when something needs it (a client of the other API, later
/// output checks): a same-API answer goes back byte for byte, so the hot path reads just `usage`.
public struct ProviderChatResult: Sendable {
    /// The upstream's body as received.
    public var rawBody: ByteBuffer
    /// The wire format of `rawBody`.
    public var wire: ClientAPI
    public var usage: Usage?

    public init(rawBody: ByteBuffer, wire: ClientAPI, usage: Usage?) {
        self.rawBody = rawBody
        self.wire = wire
        self.usage = usage
    }

    /// Checks that `rawBody` is a JSON object and reads its usage, without building the rest.
    public static func scan(_ body: ByteBuffer, wire: ClientAPI) throws(UpstreamFailure) -> ProviderChatResult {
        guard let object = try? JSONParser.parseObject(body, keeping: ["usage"]) else {
            throw UpstreamFailure(.retryableStatus(502, "the upstream sent an unreadable response body"), api: wire)
        }
        let usage = object["usage"].flatMap {
            wire == .openAI ? OpenAIResponseCodec.decodeUsage($0) : AnthropicResponseCodec.decodeUsage($0)
        }
        return ProviderChatResult(rawBody: body, wire: wire, usage: usage)
    }

    /// The canonical response, decoded from `rawBody`.
    public func decodedResponse() -> ChatResponse? {
        guard let json = try? JSONParser.parse(rawBody) else { return nil }
        switch wire {
        case .openAI:
            return OpenAIResponseCodec.decode(json)
        case .anthropic:
            var response = AnthropicResponseCodec.decode(json)
            response?.created = WallClock.unixSeconds()
            return response
        }
    }
}

/// A complete upstream embeddings answer.
public struct ProviderEmbeddingsResult: Sendable {
    public var rawBody: ByteBuffer
    public var usage: Usage?

    public init(rawBody: ByteBuffer, usage: Usage?) {
        self.rawBody = rawBody
        self.usage = usage
    }
}

/// The outcome of a provider health probe.
public struct ProbeResult: Sendable, Equatable {
    public var isHealthy: Bool
    public var detail: String
    public var latencyMilliseconds: Double

    public init(isHealthy: Bool, detail: String, latencyMilliseconds: Double) {
        self.isHealthy = isHealthy
        self.detail = detail
        self.latencyMilliseconds = latencyMilliseconds
    }
}

/// One upstream provider: speaks its wire format over the shared transport.
public protocol ProviderClient: Sendable {
    var name: String { get }
    /// The wire format the upstream speaks.
    var wire: ClientAPI { get }

    /// A non-streamed chat call. Throws `UpstreamFailure`, `GatewayError` (request cannot be served by
    /// this kind of upstream) or `CancellationError`.
    func chat(_ request: ChatRequest, upstreamModel: String, timeouts: AttemptTimeouts, context: UpstreamContext)
        async throws -> ProviderChatResult

    /// A streamed chat call; returns once the upstream answered 200 and the stream is open.
    func streamChat(_ request: ChatRequest, upstreamModel: String, timeouts: AttemptTimeouts, context: UpstreamContext)
        async throws -> ChatEventStream

    func embeddings(
        _ request: EmbeddingsRequest, upstreamModel: String, timeouts: AttemptTimeouts, context: UpstreamContext
    ) async throws -> ProviderEmbeddingsResult

    /// Exact prompt token count from the upstream, or nil when the upstream has no such API.
    func countTokens(_ request: ChatRequest, upstreamModel: String, timeouts: AttemptTimeouts, context: UpstreamContext)
        async throws -> Int?

    /// A cheap real request proving the upstream is reachable and accepts Warden's credentials.
    func probe(timeout: Duration, logger: Logger) async -> ProbeResult
}
