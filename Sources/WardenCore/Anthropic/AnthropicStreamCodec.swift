/// Decodes an Anthropic Messages event stream into canonical events.
public struct AnthropicStreamDecoder: Sendable {
    private var toolIndexByBlock: [Int: Int] = [:]
    private var toolCount = 0
    private var inputUsage = Usage()

    public init() {}

    /// Decodes one SSE event (its `event:` name and `data:` payload).
    public mutating func decode(event: String?, data: String) throws(JSONParseError) -> ChatStreamChunk {
        let value = try JSONParser.parse(data)
        guard case .object(let o) = value else { return ChatStreamChunk(events: []) }
        let type = o["type"]?.stringValue ?? event ?? ""
        var events: [ChatStreamEvent] = []
        switch type {
        case "message_start":
            let message = o["message"]
            events.append(.start(id: message?["id"]?.stringValue ?? "", model: message?["model"]?.stringValue ?? ""))
            if let usage = message?["usage"].flatMap(AnthropicResponseCodec.decodeUsage) { inputUsage = usage }
        case "content_block_start":
            let index = o["index"]?.intValue ?? 0
            let block = o["content_block"]
            switch block?["type"]?.stringValue {
            case "tool_use":
                let toolIndex = toolCount
                toolCount += 1
                toolIndexByBlock[index] = toolIndex
                events.append(
                    .toolCallStart(
                        choice: 0, index: toolIndex, id: block?["id"]?.stringValue ?? "",
                        name: block?["name"]?.stringValue ?? ""))
            case "text":
                if let text = block?["text"]?.stringValue, !text.isEmpty { events.append(.textDelta(choice: 0, text: text)) }
            default: break
            }
        case "content_block_delta":
            let index = o["index"]?.intValue ?? 0
            let delta = o["delta"]
            switch delta?["type"]?.stringValue {
            case "text_delta":
                events.append(.textDelta(choice: 0, text: delta?["text"]?.stringValue ?? ""))
            case "input_json_delta":
                if let toolIndex = toolIndexByBlock[index], let json = delta?["partial_json"]?.stringValue, !json.isEmpty {
                    events.append(.toolCallArgumentsDelta(choice: 0, index: toolIndex, json: json))
                }
            default: break
            }
        case "message_delta":
            if let reason = o["delta"]?["stop_reason"]?.stringValue {
                events.append(
                    .finish(choice: 0, reason: StopReason(anthropic: reason, stopSequence: o["delta"]?["stop_sequence"]?.stringValue)))
            }
            var usage = inputUsage
            if let u = o["usage"]?.objectValue {
                if let out = u["output_tokens"]?.intValue { usage.outputTokens = out }
                // Newer API versions repeat the (final) input counts here.
                if u["input_tokens"] != nil, let full = AnthropicResponseCodec.decodeUsage(.object(u)) {
                    usage.inputTokens = full.inputTokens
                    usage.cachedInputTokens = full.cachedInputTokens
                    usage.cacheWriteTokens = full.cacheWriteTokens
                }
            }
            events.append(.usage(usage))
        case "error":
            events.append(
                .error(
                    message: o["error"]?["message"]?.stringValue ?? "upstream stream error",
                    type: o["error"]?["type"]?.stringValue ?? "api_error"))
        default:
            break  // ping, content_block_stop, message_stop, unknown future events
        }
        return ChatStreamChunk(events: events, original: o, originalAPI: .anthropic, eventName: event ?? type, rawData: data)
    }
}

/// Encodes canonical stream events as Anthropic Messages stream events, for Anthropic clients of
/// non-Anthropic upstreams. Holds the final `message_delta` until the stream ends, because OpenAI
/// upstreams report usage after the finish reason.
public struct AnthropicStreamEncoder: Sendable {
    private enum OpenBlock: Equatable {
        case none
        case text(block: Int)
        case tool(block: Int, toolIndex: Int)
    }

    private var id: String
    private var model: String
    private let estimatedInputTokens: Int
    private var started = false
    private var open = OpenBlock.none
    private var nextBlock = 0
    private var stopReason: StopReason?
    private var usage: Usage?

    public init(id: String, model: String, estimatedInputTokens: Int) {
        self.id = id
        self.model = model
        self.estimatedInputTokens = estimatedInputTokens
    }

    /// The usage seen so far, if the upstream reported it.
    public var reportedUsage: Usage? { usage }

    /// Events (name, JSON) for these canonical events. Only choice 0 exists in Anthropic's API.
    public mutating func encode(_ events: [ChatStreamEvent]) -> [(String, JSONObject)] {
        var out: [(String, JSONObject)] = []
        for event in events {
            switch event {
            case .start(let id, let model):
                if !id.isEmpty { self.id = id }
                if !model.isEmpty { self.model = model }
                startIfNeeded(&out)
            case .textDelta(0, let text):
                startIfNeeded(&out)
                if case .text(let block) = open {
                    out.append(delta(block, ["type": "text_delta", "text": .string(text)]))
                } else {
                    closeBlock(&out)
                    let block = nextBlock
                    nextBlock += 1
                    open = .text(block: block)
                    out.append(
                        ("content_block_start", ["type": "content_block_start", "index": .int(block), "content_block": ["type": "text", "text": ""]]))
                    out.append(delta(block, ["type": "text_delta", "text": .string(text)]))
                }
            case .toolCallStart(0, let toolIndex, let id, let name):
                startIfNeeded(&out)
                closeBlock(&out)
                let block = nextBlock
                nextBlock += 1
                open = .tool(block: block, toolIndex: toolIndex)
                out.append(
                    (
                        "content_block_start",
                        [
                            "type": "content_block_start", "index": .int(block),
                            "content_block": ["type": "tool_use", "id": .string(id), "name": .string(name), "input": .object(JSONObject())],
                        ]
                    ))
            case .toolCallArgumentsDelta(0, let toolIndex, let json):
                if case .tool(let block, toolIndex) = open {
                    out.append(delta(block, ["type": "input_json_delta", "partial_json": .string(json)]))
                }
            case .finish(0, let reason):
                startIfNeeded(&out)
                closeBlock(&out)
                stopReason = reason
            case .usage(let u):
                usage = u
            case .error(let message, let type):
                out.append(("error", ["type": "error", "error": ["type": .string(type), "message": .string(message)]]))
            default:
                break  // other choices
            }
        }
        return out
    }

    /// The closing events: `message_delta` with stop reason and usage, then `message_stop`.
    /// - Parameter extra: members added to `message_delta` (Warden's own report).
    public mutating func finish(extra: JSONObject? = nil) -> [(String, JSONObject)] {
        var out: [(String, JSONObject)] = []
        startIfNeeded(&out)
        closeBlock(&out)
        var stopSequence = JSONValue.null
        if case .stopSequence(let s?) = stopReason { stopSequence = .string(s) }
        let u = usage ?? Usage(inputTokens: estimatedInputTokens, isEstimated: true)
        var messageDelta: JSONObject = [
            "type": "message_delta",
            "delta": ["stop_reason": .string((stopReason ?? .endTurn).anthropic), "stop_sequence": stopSequence],
            "usage": AnthropicResponseCodec.encodeUsage(u),
        ]
        if let extra { for (k, v) in extra { messageDelta[k] = v } }
        out.append(("message_delta", messageDelta))
        out.append(("message_stop", ["type": "message_stop"]))
        return out
    }

    private mutating func startIfNeeded(_ out: inout [(String, JSONObject)]) {
        guard !started else { return }
        started = true
        out.append(
            (
                "message_start",
                [
                    "type": "message_start",
                    "message": [
                        "id": .string(id), "type": "message", "role": "assistant", "model": .string(model),
                        "content": [], "stop_reason": .null, "stop_sequence": .null,
                        "usage": ["input_tokens": .int(estimatedInputTokens), "output_tokens": 0],
                    ],
                ]
            ))
    }

    private mutating func closeBlock(_ out: inout [(String, JSONObject)]) {
        switch open {
        case .none: return
        case .text(let block), .tool(let block, _):
            out.append(("content_block_stop", ["type": "content_block_stop", "index": .int(block)]))
        }
        open = .none
    }

    private func delta(_ block: Int, _ delta: JSONObject) -> (String, JSONObject) {
        ("content_block_delta", ["type": "content_block_delta", "index": .int(block), "delta": .object(delta)])
    }
}
