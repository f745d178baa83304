import Cedar
import NIOCore
import WardenAudit
import WardenCore

/// The code that reads untrusted bytes, one entry per fuzz target: `bench/fuzz` drives each with
/// libFuzzer, and the test build replays every target's corpus and every crash ever found through the
/// same functions (`Tests/FuzzRegressionTests`). A target may reject its input with an error; it may
/// never trap.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case json
    case sse
    case openAIRequest = "openai-request"
    case anthropicRequest = "anthropic-request"
    case openAIStream = "openai-stream"
    case anthropicStream = "anthropic-stream"
    case cedar
    case cedarSchema = "cedar-schema"
    case config

    /// Feeds `data` to the target's code.
    public func run(_ data: [UInt8]) {
        switch self {
        case .json: Self.json(data)
        case .sse: _ = Self.events(data)
        case .openAIRequest: Self.request(data, api: .openAI)
        case .anthropicRequest: Self.request(data, api: .anthropic)
        case .openAIStream: Self.stream(data, api: .openAI)
        case .anthropicStream: Self.stream(data, api: .anthropic)
        case .cedar: Self.cedar(data)
        case .cedarSchema: Self.cedarSchema(data)
        case .config: Self.config(data)
        }
    }

    /// Parses, writes back, parses again (the writer's output must parse), and canonicalizes.
    static func json(_ data: [UInt8]) {
        guard let value = try? JSONParser.parse(data) else { return }
        let again = try? JSONParser.parse(value.jsonBuffer)
        precondition(again != nil, "the writer's output must parse")
        _ = CanonicalJSON.bytes(value)
        if case .object(let o) = value { _ = o["model"]; _ = o.keys }
    }

    /// The input as an event stream, split in two network reads at a point its first byte chooses.
    static func events(_ data: [UInt8]) -> [ServerSentEvent] {
        var parser = ServerSentEventParser()
        let split = data.isEmpty ? 0 : Int(data[0]) % (data.count + 1)
        var events: [ServerSentEvent] = []
        for part in [data[..<split], data[split...]] {
            guard let parsed = try? parser.parse(ByteBuffer(bytes: part)) else { return events }
            events += parsed
        }
        if let last = parser.finish() { events.append(last) }
        return events
    }

    /// Decodes a request body, then encodes it for both kinds of upstream, as the gateway would.
    static func request(_ data: [UInt8], api: ClientAPI) {
        guard let json = try? JSONParser.parse(data) else { return }
        let decoded = api == .openAI ? try? OpenAIRequestDecoder.decodeChat(json) : try? AnthropicRequestDecoder.decodeMessages(json)
        guard var request = decoded else { return }
        _ = OpenAIRequestEncoder.body(request, upstreamModel: "upstream-model")
        _ = try? AnthropicRequestEncoder.encodeMessages(request, upstreamModel: "upstream-model", defaultMaxTokens: 4096)
        request.rewriteTexts { $0.uppercased() }
        request.appendToSystemPrompt("marker")
        request.limitOutput(to: 16)
        request.makeNonStreaming()
        _ = OpenAIRequestEncoder.encodeChat(request, upstreamModel: "m")
        _ = request.estimatedInputTokens
    }

    /// An upstream's event stream through its decoder and both client encoders.
    static func stream(_ data: [UInt8], api: ClientAPI) {
        var openAIDecoder = OpenAIStreamDecoder()
        var anthropicDecoder = AnthropicStreamDecoder()
        var toOpenAI = OpenAIStreamEncoder(id: "c", model: "m", created: 0, includeUsage: true)
        var toAnthropic = AnthropicStreamEncoder(id: "m", model: "m", estimatedInputTokens: 3)
        for event in events(data) {
            let chunk: ChatStreamChunk?
            switch api {
            case .openAI: chunk = try? openAIDecoder.decode(event.data)
            case .anthropic: chunk = try? anthropicDecoder.decode(event: event.event, data: event.data)
            }
            guard let chunk else { continue }
            _ = toOpenAI.encode(chunk.events)
            _ = toAnthropic.encode(chunk.events)
        }
        _ = toAnthropic.finish()
    }

    /// Parses policies and, when they parse, authorizes a request against them.
    static func cedar(_ data: [UInt8]) {
        guard let text = String(validating: data, as: UTF8.self), let set = try? PolicySet(text: text) else { return }
        let request = CedarRequest(
            principal: EntityUID(type: "Warden::Key", id: "k"), action: EntityUID(type: "Warden::Action", id: "chat"),
            resource: EntityUID(type: "Warden::Model", id: "m"), context: ["stream": .bool(true), "estimated_tokens": .long(5)])
        _ = Authorizer.isAuthorized(request, policies: set, entities: .empty)
    }

    static func cedarSchema(_ data: [UInt8]) {
        guard let text = String(validating: data, as: UTF8.self) else { return }
        _ = try? CedarSchema(text: text)
        if let json = try? JSONParser.parse(data) { _ = try? CedarSchema(json: json) }
    }

    /// A configuration file, parsed and validated as `warden serve` would.
    static func config(_ data: [UInt8]) {
        guard let text = String(validating: data, as: UTF8.self) else { return }
        guard let config = try? ConfigurationLoader.parse(yaml: text, baseDirectory: "/nonexistent") else { return }
        _ = try? ConfigurationLoader.validate(config)
    }
}
