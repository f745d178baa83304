/// Decodes and validates Anthropic Messages API request bodies into `ChatRequest`.
public enum AnthropicRequestDecoder {
    /// Decodes `POST /v1/messages`. `requireMaxTokens` is false for `count_tokens`, which has no `max_tokens`.
    public static func decodeMessages(_ body: JSONValue, requireMaxTokens: Bool = true) throws(GatewayError) -> ChatRequest {
        let f = try JSONFields(body, path: "")
        let model = try f.requireString("model")
        guard !model.isEmpty else { throw GatewayError.invalidValue("model", "'model' must not be empty.") }
        var messages: [ChatMessage] = []
        if let system = f.value("system") {
            let blocks = try decodeBlocks(system, path: "system")
            if !blocks.isEmpty { messages.append(ChatMessage(role: .system, content: blocks)) }
        }
        let rawMessages = try f.requireArray("messages")
        guard !rawMessages.isEmpty else {
            throw GatewayError.invalidValue("messages", "'messages' must contain at least one message.")
        }
        for (i, m) in rawMessages.enumerated() {
            let path = "messages[\(i)]"
            let mf = try JSONFields(m, path: path)
            let roleName = try mf.requireString("role")
            guard roleName == "user" || roleName == "assistant" else {
                throw GatewayError.invalidValue(
                    mf.param("role"), "Invalid '\(mf.param("role"))': '\(roleName)'. Expected 'user' or 'assistant'.")
            }
            let blocks = try decodeBlocks(try mf.require("content"), path: mf.param("content"))
            if roleName == "assistant" {
                messages.append(ChatMessage(role: .assistant, content: blocks))
                continue
            }
            // Tool results become canonical tool messages, in order, before the rest of the user turn.
            var rest: [ContentBlock] = []
            for block in blocks {
                if case .toolResult = block {
                    messages.append(ChatMessage(role: .tool, content: [block]))
                } else {
                    rest.append(block)
                }
            }
            if !rest.isEmpty || blocks.isEmpty { messages.append(ChatMessage(role: .user, content: rest)) }
        }
        var request = ChatRequest(model: model, messages: messages, api: .anthropic, original: f.object)
        let maxTokens = try f.int("max_tokens", min: 1, max: Usage.maximumTokens)
        if requireMaxTokens, maxTokens == nil { throw GatewayError.missingField("max_tokens") }
        request.maxTokens = maxTokens
        request.temperature = try f.double("temperature", min: 0, max: 1)
        request.topP = try f.double("top_p", min: 0, max: 1)
        if let stop = try f.stringList("stop_sequences") { request.stop = stop }
        request.stream = (try f.bool("stream")) ?? false
        request.includeUsage = true
        if let metadata = try f.fields("metadata") { request.user = try metadata.string("user_id") }
        if let tools = try f.array("tools") {
            request.tools = try tools.enumerated().map { (i, t) throws(GatewayError) in
                let tf = try JSONFields(t, path: "tools[\(i)]")
                let name = try tf.requireString("name")
                var extra = tf.object
                for k in ["name", "description", "input_schema"] { extra.removeValue(forKey: k) }
                let schema: JSONValue = tf.value("input_schema") ?? ["type": "object"]
                return ToolDefinition(name: name, description: try tf.string("description"), parameters: schema, extra: extra)
            }
        }
        if let choice = try f.fields("tool_choice") {
            let type = try choice.requireString("type")
            switch type {
            case "auto": request.toolChoice = .auto
            case "any": request.toolChoice = .required
            case "none": request.toolChoice = ToolChoice.none
            case "tool": request.toolChoice = .function(try choice.requireString("name"))
            default:
                throw GatewayError.invalidValue(
                    "tool_choice.type", "Invalid 'tool_choice.type': '\(type)'. Expected 'auto', 'any', 'tool' or 'none'.")
            }
            if let disable = try choice.bool("disable_parallel_tool_use") { request.parallelToolCalls = !disable }
        }
        return request
    }

    /// Decodes a `content` (or `system`) value: a string or an array of content blocks.
    static func decodeBlocks(_ value: JSONValue, path: String) throws(GatewayError) -> [ContentBlock] {
        switch value {
        case .string(let s): return [.text(s)]
        case .array(let items):
            var out: [ContentBlock] = []
            out.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                out.append(try decodeBlock(item, path: "\(path)[\(i)]"))
            }
            return out
        default:
            throw GatewayError.wrongType(path, expected: "a string or an array of content blocks", got: value)
        }
    }

    static func decodeBlock(_ value: JSONValue, path: String) throws(GatewayError) -> ContentBlock {
        let f = try JSONFields(value, path: path)
        let type = try f.requireString("type")
        switch type {
        case "text":
            return .text(try f.requireString("text"), cacheControl: f.value("cache_control"))
        case "image":
            guard let source = try f.fields("source") else { throw GatewayError.missingField(f.param("source")) }
            let kind = try source.requireString("type")
            switch kind {
            case "base64":
                let media = try source.requireString("media_type")
                let data = try source.requireString("data")
                return .image(url: "data:\(media);base64,\(data)", detail: nil)
            case "url":
                return .image(url: try source.requireString("url"), detail: nil)
            default:
                return .other(value, api: .anthropic)
            }
        case "tool_use":
            let input = f.value("input") ?? .object(JSONObject())
            return .toolUse(ToolUse(id: try f.requireString("id"), name: try f.requireString("name"), argumentsJSON: input.jsonString))
        case "tool_result":
            let id = try f.requireString("tool_use_id")
            var content: [ContentBlock] = []
            if let c = f.value("content") { content = try decodeBlocks(c, path: f.param("content")) }
            return .toolResult(ToolResult(toolUseID: id, content: content, isError: (try f.bool("is_error")) ?? false))
        default:
            // thinking, redacted_thinking, document, search_result, server tool blocks…
            return .other(value, api: .anthropic)
        }
    }
}
