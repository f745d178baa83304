/// Encodes a canonical `ChatRequest` as an Anthropic Messages API body for an upstream.
public enum AnthropicRequestEncoder {
    /// The upstream body. A request that came in through the Anthropic API is forwarded as the client
    /// sent it (thinking, cache_control, betas' fields included), with only `model` replaced.
    ///
    /// - Parameter defaultMaxTokens: sent when the client set no limit (Anthropic requires one).
    /// - Throws: `GatewayError.unsupported` for OpenAI features Anthropic cannot serve (`n` > 1).
    public static func encodeMessages(
        _ request: ChatRequest, upstreamModel: String, defaultMaxTokens: Int
    ) throws(GatewayError) -> JSONObject {
        if request.api == .anthropic {
            var body = request.original
            body["model"] = .string(upstreamModel)
            return body
        }
        if let n = request.n, n > 1 {
            throw GatewayError.unsupported("n", "'n' greater than 1 is not supported by this model's Anthropic deployment.")
        }
        var body = JSONObject()
        body["model"] = .string(upstreamModel)
        body["max_tokens"] = .int(request.maxTokens ?? defaultMaxTokens)

        var systemBlocks: [JSONValue] = []
        var messages: [(role: String, blocks: [JSONValue])] = []
        func append(_ role: String, _ blocks: [JSONValue]) {
            guard !blocks.isEmpty else { return }
            // Anthropic requires alternating roles: merge consecutive turns of the same role.
            if let last = messages.last, last.role == role {
                messages[messages.count - 1].blocks += blocks
            } else {
                messages.append((role, blocks))
            }
        }
        for message in request.messages {
            switch message.role {
            case .system:
                for case .text(let t, let cache) in message.content {
                    var b: JSONObject = ["type": "text", "text": .string(t)]
                    if let cache { b["cache_control"] = cache }
                    systemBlocks.append(.object(b))
                }
            case .user: append("user", message.content.compactMap(encodeBlock))
            case .assistant: append("assistant", message.content.compactMap(encodeBlock))
            case .tool: append("user", message.content.compactMap(encodeBlock))
            }
        }
        if let format = request.responseFormat, let type = format["type"]?.stringValue, type != "text" {
            // Anthropic has no JSON mode; ask for it in the system prompt.
            var instruction = "Respond only with a single valid JSON object, no prose and no code fences."
            if let schema = format["json_schema"]?["schema"] {
                instruction += " The object must conform to this JSON Schema: \(schema.jsonString)"
            }
            systemBlocks.append(["type": "text", "text": .string(instruction)])
        }
        if !systemBlocks.isEmpty {
            let plain = systemBlocks.allSatisfy { $0["cache_control"] == nil }
            body["system"] =
                plain && systemBlocks.count == 1 ? systemBlocks[0]["text"]! : .array(systemBlocks)
        }
        body["messages"] = .array(messages.map { ["role": .string($0.role), "content": .array($0.blocks)] })
        if !request.tools.isEmpty, request.toolChoice != ToolChoice.none {
            body["tools"] = .array(
                request.tools.map { tool in
                    var t: JSONObject = ["name": .string(tool.name), "input_schema": tool.parameters]
                    if let d = tool.description { t["description"] = .string(d) }
                    return .object(t)
                })
            var choice: JSONObject?
            switch request.toolChoice {
            case .auto: choice = ["type": "auto"]
            case .required: choice = ["type": "any"]
            case .function(let name): choice = ["type": "tool", "name": .string(name)]
            case .some(.none), nil: choice = nil
            }
            if request.parallelToolCalls == false {
                var c = choice ?? ["type": "auto"]
                c["disable_parallel_tool_use"] = true
                choice = c
            }
            if let choice { body["tool_choice"] = .object(choice) }
        }
        if let t = request.temperature { body["temperature"] = .double(min(t, 1)) }
        if let p = request.topP { body["top_p"] = .double(p) }
        if !request.stop.isEmpty { body["stop_sequences"] = .array(request.stop.map { .string($0) }) }
        if let u = request.user { body["metadata"] = ["user_id": .string(u)] }
        if request.stream { body["stream"] = true }
        return body
    }

    static func encodeBlock(_ block: ContentBlock) -> JSONValue? {
        switch block {
        case .text(let t, let cache):
            var b: JSONObject = ["type": "text", "text": .string(t)]
            if let cache { b["cache_control"] = cache }
            return .object(b)
        case .image(let url, _):
            if url.hasPrefix("data:"), let comma = url.firstIndex(of: ",") {
                let header = url[url.index(url.startIndex, offsetBy: 5)..<comma]  // image/png;base64
                let media = header.split(separator: ";").first.map(String.init) ?? "image/png"
                return [
                    "type": "image",
                    "source": ["type": "base64", "media_type": .string(media), "data": .string(String(url[url.index(after: comma)...]))],
                ]
            }
            return ["type": "image", "source": ["type": "url", "url": .string(url)]]
        case .toolUse(let u):
            let input: JSONValue
            if let parsed = try? JSONParser.parse(u.argumentsJSON), case .object = parsed {
                input = parsed
            } else {
                input = .object(JSONObject())
            }
            return ["type": "tool_use", "id": .string(u.id), "name": .string(u.name), "input": input]
        case .toolResult(let r):
            var b: JSONObject = ["type": "tool_result", "tool_use_id": .string(r.toolUseID)]
            b["content"] = .array(r.content.compactMap(encodeBlock))
            if r.isError { b["is_error"] = true }
            return .object(b)
        case .other(let raw, .anthropic):
            return raw
        case .other:
            return nil
        }
    }
}
