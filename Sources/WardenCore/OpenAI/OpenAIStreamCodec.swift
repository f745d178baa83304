/// Decodes an OpenAI `chat.completion.chunk` stream into canonical events.
public struct OpenAIStreamDecoder: Sendable {
    private var started = false

    public init() {}

    /// Decodes one SSE `data:` payload. Returns nil for `[DONE]`.
    public mutating func decode(_ data: String) throws(JSONParseError) -> ChatStreamChunk? {
        if data == "[DONE]" { return nil }
        let value = try JSONParser.parse(data)
        guard case .object(let o) = value else { return ChatStreamChunk(events: [], original: nil) }
        var events: [ChatStreamEvent] = []
        if let error = o["error"] {
            events.append(
                .error(
                    message: error["message"]?.stringValue ?? "upstream stream error",
                    type: error["type"]?.stringValue ?? "api_error"))
            return ChatStreamChunk(events: events, original: o, originalAPI: .openAI, rawData: data)
        }
        if !started {
            started = true
            events.append(.start(id: o["id"]?.stringValue ?? "", model: o["model"]?.stringValue ?? ""))
        }
        if let choices = o["choices"]?.arrayValue {
            for (n, c) in choices.enumerated() {
                let index = c["index"]?.intValue ?? n
                if let delta = c["delta"] {
                    if let text = delta["content"]?.stringValue, !text.isEmpty {
                        events.append(.textDelta(choice: index, text: text))
                    }
                    if let calls = delta["tool_calls"]?.arrayValue {
                        for (k, call) in calls.enumerated() {
                            let toolIndex = call["index"]?.intValue ?? k
                            let fn = call["function"]
                            if let id = call["id"]?.stringValue {
                                events.append(
                                    .toolCallStart(
                                        choice: index, index: toolIndex, id: id, name: fn?["name"]?.stringValue ?? ""))
                            }
                            if let args = fn?["arguments"]?.stringValue, !args.isEmpty {
                                events.append(.toolCallArgumentsDelta(choice: index, index: toolIndex, json: args))
                            }
                        }
                    }
                }
                if let reason = c["finish_reason"]?.stringValue {
                    events.append(.finish(choice: index, reason: StopReason(openAI: reason)))
                }
            }
        }
        if let usage = o["usage"].flatMap(OpenAIResponseCodec.decodeUsage) { events.append(.usage(usage)) }
        return ChatStreamChunk(events: events, original: o, originalAPI: .openAI, rawData: data)
    }
}

/// Encodes canonical stream events as OpenAI `chat.completion.chunk` objects, for OpenAI clients of
/// non-OpenAI upstreams.
public struct OpenAIStreamEncoder: Sendable {
    public var id: String
    public var model: String
    public let created: Int
    /// Whether to emit the final usage chunk (the client set `stream_options.include_usage`).
    public let includeUsage: Bool

    public init(id: String, model: String, created: Int, includeUsage: Bool) {
        self.id = id
        self.model = model
        self.created = created
        self.includeUsage = includeUsage
    }

    /// The chunks (as JSON objects) for these events, in order.
    public mutating func encode(_ events: [ChatStreamEvent]) -> [JSONObject] {
        var out: [JSONObject] = []
        for event in events {
            switch event {
            case .start(let id, let model):
                if !id.isEmpty { self.id = id }
                if !model.isEmpty { self.model = model }
                out.append(chunk(choice: 0, delta: ["role": "assistant", "content": ""]))
            case .textDelta(let choice, let text):
                out.append(chunk(choice: choice, delta: ["content": .string(text)]))
            case .toolCallStart(let choice, let index, let id, let name):
                out.append(
                    chunk(
                        choice: choice,
                        delta: [
                            "tool_calls": [
                                [
                                    "index": .int(index), "id": .string(id), "type": "function",
                                    "function": ["name": .string(name), "arguments": ""],
                                ]
                            ]
                        ]))
            case .toolCallArgumentsDelta(let choice, let index, let json):
                out.append(
                    chunk(
                        choice: choice,
                        delta: ["tool_calls": [["index": .int(index), "function": ["arguments": .string(json)]]]]))
            case .finish(let choice, let reason):
                out.append(chunk(choice: choice, delta: JSONObject(), finishReason: reason.openAI))
            case .usage(let usage):
                if includeUsage {
                    var c = base()
                    c["choices"] = .array([])
                    c["usage"] = OpenAIResponseCodec.encodeUsage(usage)
                    out.append(c)
                }
            case .error(let message, let type):
                out.append(["error": ["message": .string(message), "type": .string(type), "param": .null, "code": .null]])
            }
        }
        return out
    }

    private func base() -> JSONObject {
        [
            "id": .string(id), "object": "chat.completion.chunk", "created": .int(created), "model": .string(model),
        ]
    }

    private func chunk(choice: Int, delta: JSONObject, finishReason: String? = nil) -> JSONObject {
        var c = base()
        c["choices"] = [
            [
                "index": .int(choice), "delta": .object(delta), "logprobs": .null,
                "finish_reason": finishReason.map { .string($0) } ?? .null,
            ]
        ]
        if includeUsage { c["usage"] = .null }
        return c
    }
}
