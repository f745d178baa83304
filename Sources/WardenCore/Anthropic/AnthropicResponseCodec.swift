/// Anthropic Messages responses: upstream JSON → canonical, and canonical → client JSON.
public enum AnthropicResponseCodec {
    /// Decodes an upstream `message` object.
    public static func decode(_ value: JSONValue) -> ChatResponse? {
        guard case .object(let o) = value, let content = o["content"]?.arrayValue else { return nil }
        var blocks: [ContentBlock] = []
        for block in content {
            switch block["type"]?.stringValue {
            case "text": blocks.append(.text(block["text"]?.stringValue ?? ""))
            case "tool_use":
                blocks.append(
                    .toolUse(
                        ToolUse(
                            id: block["id"]?.stringValue ?? "", name: block["name"]?.stringValue ?? "",
                            argumentsJSON: (block["input"] ?? .object(JSONObject())).jsonString)))
            default: blocks.append(.other(block, api: .anthropic))
            }
        }
        let reason = o["stop_reason"]?.stringValue.map {
            StopReason(anthropic: $0, stopSequence: o["stop_sequence"]?.stringValue)
        }
        return ChatResponse(
            id: o["id"]?.stringValue ?? "", model: o["model"]?.stringValue ?? "", created: 0,
            choices: [ChatChoice(index: 0, content: blocks, stopReason: reason)],
            usage: o["usage"].flatMap(decodeUsage), original: o, originalAPI: .anthropic)
    }

    /// Decodes Anthropic `usage`. Anthropic's `input_tokens` excludes cache reads and writes; the canonical
    /// `inputTokens` includes them.
    public static func decodeUsage(_ value: JSONValue) -> Usage? {
        guard case .object(let u) = value else { return nil }
        let input = Usage.tokenCount(u["input_tokens"]) ?? 0
        let read = Usage.tokenCount(u["cache_read_input_tokens"]) ?? 0
        let write = Usage.tokenCount(u["cache_creation_input_tokens"]) ?? 0
        return Usage(
            inputTokens: input + read + write, outputTokens: Usage.tokenCount(u["output_tokens"]) ?? 0,
            cachedInputTokens: read, cacheWriteTokens: write)
    }

    /// The `usage` object in Anthropic's shape.
    public static func encodeUsage(_ usage: Usage) -> JSONValue {
        [
            "input_tokens": .int(max(0, usage.inputTokens.subtractingSaturated(usage.cachedInputTokens).subtractingSaturated(usage.cacheWriteTokens))),
            "cache_creation_input_tokens": .int(usage.cacheWriteTokens),
            "cache_read_input_tokens": .int(usage.cachedInputTokens),
            "output_tokens": .int(usage.outputTokens),
        ]
    }

    /// Encodes a canonical response for an Anthropic client. An Anthropic upstream's own object is returned as is.
    public static func encode(_ response: ChatResponse) -> JSONObject {
        if let original = response.original, response.originalAPI == .anthropic { return original }
        let choice = response.choices.first
        var content: [JSONValue] = []
        for block in choice?.content ?? [] {
            switch block {
            case .text(let t, _): content.append(["type": "text", "text": .string(t)])
            case .toolUse(let u):
                let input = (try? JSONParser.parse(u.argumentsJSON)).flatMap { $0.objectValue.map(JSONValue.object) }
                content.append([
                    "type": "tool_use", "id": .string(u.id), "name": .string(u.name),
                    "input": input ?? .object(JSONObject()),
                ])
            case .other(let raw, .anthropic): content.append(raw)
            default: break
            }
        }
        var stopSequence = JSONValue.null
        if case .stopSequence(let s?) = choice?.stopReason { stopSequence = .string(s) }
        return [
            "id": .string(response.id),
            "type": "message",
            "role": "assistant",
            "model": .string(response.model),
            "content": .array(content),
            "stop_reason": choice?.stopReason.map { .string($0.anthropic) } ?? .null,
            "stop_sequence": stopSequence,
            "usage": encodeUsage(response.usage ?? Usage()),
        ]
    }
}
