import NIOCore

/// Encodes a canonical `ChatRequest` as an OpenAI chat-completions body for an upstream.
public enum OpenAIRequestEncoder {
    /// The upstream body's bytes. For an OpenAI client whose bytes Warden still has, the client's body is
    /// forwarded with only the `model` value replaced (and the usage option added to streams when the
    /// client did not set it), without re-serializing it.
    public static func body(_ request: ChatRequest, upstreamModel: String) -> ByteBuffer {
        if request.api == .openAI, let (original, span) = request.originalBytes {
            let needsUsageOption = request.stream && request.original["stream_options"]?["include_usage"] != .bool(true)
            if !needsUsageOption || request.original["stream_options"] == nil {
                var out = ByteBuffer()
                out.reserveCapacity(original.readableBytes + upstreamModel.utf8.count + 48)
                var head = original.getSlice(at: original.readerIndex, length: span.lowerBound)!
                out.writeBuffer(&head)
                JSONValue.writeString(upstreamModel, to: &out)
                var tail = original.getSlice(
                    at: original.readerIndex + span.upperBound, length: original.readableBytes - span.upperBound)!
                if needsUsageOption {
                    // The body ends with its object's closing brace (and maybe whitespace): add the option before it.
                    var end = tail.readableBytes
                    while end > 0, tail.getInteger(at: tail.readerIndex + end - 1, as: UInt8.self) != UInt8(ascii: "}") { end -= 1 }
                    guard end > 0 else { return encodeChat(request, upstreamModel: upstreamModel).jsonBuffer }
                    var beforeBrace = tail.getSlice(at: tail.readerIndex, length: end - 1)!
                    out.writeBuffer(&beforeBrace)
                    out.writeStaticString(#","stream_options":{"include_usage":true}}"#)
                } else {
                    out.writeBuffer(&tail)
                }
                return out
            }
        }
        return encodeChat(request, upstreamModel: upstreamModel).jsonBuffer
    }

    /// The upstream body. A request that came in through the OpenAI API is forwarded as the client sent
    /// it (unknown fields included), with `model` replaced and usage always requested on streams.
    public static func encodeChat(_ request: ChatRequest, upstreamModel: String) -> JSONObject {
        if request.api == .openAI {
            var body = request.original
            body["model"] = .string(upstreamModel)
            if request.stream {
                var options = body["stream_options"]?.objectValue ?? JSONObject()
                options["include_usage"] = true
                body["stream_options"] = .object(options)
            }
            return body
        }
        var body = JSONObject()
        body["model"] = .string(upstreamModel)
        body["messages"] = .array(request.messages.map(encodeMessage))
        if !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map { tool in
                    var fn: JSONObject = ["name": .string(tool.name), "parameters": tool.parameters]
                    if let d = tool.description { fn["description"] = .string(d) }
                    return ["type": "function", "function": .object(fn)]
                })
        }
        if let choice = request.toolChoice {
            switch choice {
            case .auto: body["tool_choice"] = "auto"
            case .none: body["tool_choice"] = "none"
            case .required: body["tool_choice"] = "required"
            case .function(let name): body["tool_choice"] = ["type": "function", "function": ["name": .string(name)]]
            }
        }
        if let p = request.parallelToolCalls, !request.tools.isEmpty { body["parallel_tool_calls"] = .bool(p) }
        if let m = request.maxTokens { body["max_tokens"] = .int(m) }
        if let t = request.temperature { body["temperature"] = .double(t) }
        if let p = request.topP { body["top_p"] = .double(p) }
        if !request.stop.isEmpty { body["stop"] = .array(request.stop.map { .string($0) }) }
        if let u = request.user { body["user"] = .string(u) }
        if let s = request.seed { body["seed"] = .int(s) }
        if let f = request.responseFormat { body["response_format"] = f }
        if request.stream {
            body["stream"] = true
            body["stream_options"] = ["include_usage": true]
        }
        return body
    }

    static func encodeMessage(_ message: ChatMessage) -> JSONValue {
        switch message.role {
        case .system:
            return ["role": "system", "content": .string(message.text)]
        case .tool:
            var id = ""
            var text = ""
            for case .toolResult(let r) in message.content {
                id = r.toolUseID
                for case .text(let t, _) in r.content { text += t }
            }
            return ["role": "tool", "tool_call_id": .string(id), "content": .string(text)]
        case .assistant:
            var m: JSONObject = ["role": "assistant"]
            let text = message.text
            var calls: [JSONValue] = []
            for case .toolUse(let u) in message.content {
                calls.append([
                    "id": .string(u.id), "type": "function",
                    "function": ["name": .string(u.name), "arguments": .string(u.argumentsJSON)],
                ])
            }
            m["content"] = text.isEmpty && !calls.isEmpty ? .null : .string(text)
            if !calls.isEmpty { m["tool_calls"] = .array(calls) }
            return .object(m)
        case .user:
            var m: JSONObject = ["role": "user"]
            let hasOnlyText = message.content.allSatisfy { if case .text = $0 { true } else { false } }
            if hasOnlyText {
                m["content"] = .string(message.text)
            } else {
                var parts: [JSONValue] = []
                for block in message.content {
                    switch block {
                    case .text(let t, _): parts.append(["type": "text", "text": .string(t)])
                    case .image(let url, let detail):
                        var image: JSONObject = ["url": .string(url)]
                        if let detail { image["detail"] = .string(detail) }
                        parts.append(["type": "image_url", "image_url": .object(image)])
                    case .other(let raw, .openAI): parts.append(raw)
                    default: break  // Anthropic-only blocks have no OpenAI form.
                    }
                }
                m["content"] = .array(parts)
            }
            if let name = message.name { m["name"] = .string(name) }
            return .object(m)
        }
    }
}
