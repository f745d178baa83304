/// OpenAI chat-completion responses: upstream JSON → canonical, and canonical → client JSON.
public enum OpenAIResponseCodec {
    /// Decodes an upstream `chat.completion` object. Lenient: OpenAI-compatible servers (vLLM, Ollama)
    /// omit fields OpenAI always sends.
    public static func decode(_ value: JSONValue) -> ChatResponse? {
        guard case .object(let o) = value, let choicesValue = o["choices"]?.arrayValue else { return nil }
        var choices: [ChatChoice] = []
        for (i, c) in choicesValue.enumerated() {
            guard case .object(let co) = c else { continue }
            var blocks: [ContentBlock] = []
            if let message = co["message"]?.objectValue {
                if let text = message["content"]?.stringValue { blocks.append(.text(text)) }
                if let calls = message["tool_calls"]?.arrayValue {
                    for call in calls {
                        guard let fn = call["function"] else { continue }
                        blocks.append(
                            .toolUse(
                                ToolUse(
                                    id: call["id"]?.stringValue ?? "", name: fn["name"]?.stringValue ?? "",
                                    argumentsJSON: fn["arguments"]?.stringValue ?? "{}")))
                    }
                }
            }
            let reason = co["finish_reason"]?.stringValue.map(StopReason.init(openAI:))
            choices.append(ChatChoice(index: co["index"]?.intValue ?? i, content: blocks, stopReason: reason))
        }
        return ChatResponse(
            id: o["id"]?.stringValue ?? "", model: o["model"]?.stringValue ?? "", created: o["created"]?.intValue ?? 0,
            choices: choices, usage: o["usage"].flatMap(decodeUsage), original: o, originalAPI: .openAI)
    }

    /// Decodes an OpenAI `usage` object, including cached prompt tokens and reasoning tokens.
    public static func decodeUsage(_ value: JSONValue) -> Usage? {
        guard case .object(let u) = value else { return nil }
        guard let prompt = Usage.tokenCount(u["prompt_tokens"]) ?? Usage.tokenCount(u["input_tokens"]) else { return nil }
        var usage = Usage(
            inputTokens: prompt, outputTokens: Usage.tokenCount(u["completion_tokens"]) ?? Usage.tokenCount(u["output_tokens"]) ?? 0)
        if let cached = Usage.tokenCount(u["prompt_tokens_details"]?["cached_tokens"]) { usage.cachedInputTokens = cached }
        if let reasoning = Usage.tokenCount(u["completion_tokens_details"]?["reasoning_tokens"]) { usage.reasoningTokens = reasoning }
        return usage
    }

    /// The `usage` object in OpenAI's shape.
    public static func encodeUsage(_ usage: Usage) -> JSONValue {
        [
            "prompt_tokens": .int(usage.inputTokens),
            "completion_tokens": .int(usage.outputTokens),
            "total_tokens": .int(usage.totalTokens),
            "prompt_tokens_details": ["cached_tokens": .int(usage.cachedInputTokens)],
            "completion_tokens_details": ["reasoning_tokens": .int(usage.reasoningTokens)],
        ]
    }

    /// Encodes a canonical response for an OpenAI client. An OpenAI upstream's own object is returned as is.
    public static func encode(_ response: ChatResponse) -> JSONObject {
        if let original = response.original, response.originalAPI == .openAI { return original }
        var choices: [JSONValue] = []
        for choice in response.choices {
            var message: JSONObject = ["role": "assistant"]
            var text: String?
            var calls: [JSONValue] = []
            for block in choice.content {
                switch block {
                case .text(let t, _): text = (text ?? "") + t
                case .toolUse(let u):
                    calls.append([
                        "id": .string(u.id), "type": "function",
                        "function": ["name": .string(u.name), "arguments": .string(u.argumentsJSON)],
                    ])
                default: break
                }
            }
            message["content"] = text.map { .string($0) } ?? .null
            message["refusal"] = .null
            if !calls.isEmpty { message["tool_calls"] = .array(calls) }
            choices.append([
                "index": .int(choice.index),
                "message": .object(message),
                "logprobs": .null,
                "finish_reason": choice.stopReason.map { .string($0.openAI) } ?? .null,
            ])
        }
        var o: JSONObject = [
            "id": .string(response.id),
            "object": "chat.completion",
            "created": .int(response.created),
            "model": .string(response.model),
            "choices": .array(choices),
        ]
        if let usage = response.usage { o["usage"] = encodeUsage(usage) }
        return o
    }
}
