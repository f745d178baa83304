/// Decodes and validates OpenAI chat-completion request bodies into `ChatRequest`.
///
/// Validation covers the fields Warden reads; every other member is left in `original` and forwarded
/// unchanged to OpenAI-compatible upstreams.
public enum OpenAIRequestDecoder {
    public static func decodeChat(_ body: JSONValue) throws(GatewayError) -> ChatRequest {
        let f = try JSONFields(body, path: "")
        let model = try f.requireString("model")
        guard !model.isEmpty else { throw GatewayError.invalidValue("model", "'model' must not be empty.") }
        let rawMessages = try f.requireArray("messages")
        guard !rawMessages.isEmpty else {
            throw GatewayError.invalidValue("messages", "'messages' must contain at least one message.")
        }
        var messages: [ChatMessage] = []
        messages.reserveCapacity(rawMessages.count)
        for (i, m) in rawMessages.enumerated() {
            messages.append(try decodeMessage(m, path: "messages[\(i)]"))
        }
        var request = ChatRequest(model: model, messages: messages, api: .openAI, original: f.object)
        if let tools = try f.array("tools") {
            request.tools = try tools.enumerated().map { (i, t) throws(GatewayError) in
                try decodeTool(t, path: "tools[\(i)]")
            }
        }
        request.toolChoice = try decodeToolChoice(f.value("tool_choice"))
        let maxCompletion = try f.int("max_completion_tokens", min: 1, max: Usage.maximumTokens)
        let maxTokens = try f.int("max_tokens", min: 1, max: Usage.maximumTokens)
        request.maxTokens = maxCompletion ?? maxTokens
        request.temperature = try f.double("temperature", min: 0, max: 2)
        request.topP = try f.double("top_p", min: 0, max: 1)
        if let stop = try f.stringList("stop") { request.stop = stop }
        request.stream = (try f.bool("stream")) ?? false
        if let options = try f.fields("stream_options") {
            request.includeUsage = (try options.bool("include_usage")) ?? false
        }
        request.n = try f.int("n", min: 1, max: 128)
        request.seed = try f.int("seed")
        request.user = try f.string("user")
        if let format = f.value("response_format") {
            let ff = try JSONFields(format, path: "response_format")
            let type = try ff.requireString("type")
            guard ["text", "json_object", "json_schema"].contains(type) else {
                throw GatewayError.invalidValue(
                    "response_format.type",
                    "Invalid 'response_format.type': '\(type)'. Expected 'text', 'json_object' or 'json_schema'.")
            }
            if type == "json_schema", let schema = format["json_schema"]?["schema"],
                let problem = JSONSchema(schema).unsupported().first
            {
                throw GatewayError.invalidValue(
                    "response_format.json_schema.schema",
                    "Invalid 'response_format.json_schema.schema': Warden cannot check this schema: \(problem).")
            }
            request.responseFormat = format
        }
        request.parallelToolCalls = try f.bool("parallel_tool_calls")
        return request
    }

    static func decodeMessage(_ value: JSONValue, path: String) throws(GatewayError) -> ChatMessage {
        let f = try JSONFields(value, path: path)
        let roleName = try f.requireString("role")
        let role: ChatRole
        switch roleName {
        case "system", "developer": role = .system
        case "user": role = .user
        case "assistant": role = .assistant
        case "tool", "function": role = .tool
        default:
            throw GatewayError.invalidValue(
                f.param("role"),
                "Invalid '\(f.param("role"))': '\(roleName)'. Expected 'system', 'developer', 'user', 'assistant' or 'tool'.")
        }
        var content = try decodeContent(f.value("content"), in: f, role: role)
        if role == .assistant, let calls = try f.array("tool_calls") {
            for (i, call) in calls.enumerated() {
                let cf = try JSONFields(call, path: "\(f.param("tool_calls"))[\(i)]")
                guard let fn = try cf.fields("function") else { throw GatewayError.missingField(cf.param("function")) }
                content.append(
                    .toolUse(
                        ToolUse(
                            id: try cf.requireString("id"), name: try fn.requireString("name"),
                            argumentsJSON: (try fn.string("arguments")) ?? "{}")))
            }
        }
        if role == .tool {
            var id = try f.string("tool_call_id")
            if id == nil, roleName == "function" { id = try f.string("name") }
            guard let id else { throw GatewayError.missingField(f.param("tool_call_id")) }
            return ChatMessage(role: .tool, content: [.toolResult(ToolResult(toolUseID: id, content: content))])
        }
        if role != .assistant, f.value("content") == nil {
            throw GatewayError.missingField(f.param("content"))
        }
        return ChatMessage(role: role, content: content, name: try f.string("name"))
    }

    /// Decodes a message's `content`; its path is only spelled out for parts and errors, so the common
    /// string content costs no allocation beyond the text.
    static func decodeContent(_ value: JSONValue?, in message: JSONFields, role: ChatRole) throws(GatewayError) -> [ContentBlock] {
        guard let value else { return [] }
        switch value {
        case .string(let s): return [.text(s)]
        case .array(let parts):
            let path = message.param("content")
            var out: [ContentBlock] = []
            for (i, part) in parts.enumerated() {
                let pf = try JSONFields(part, path: "\(path)[\(i)]")
                let type = try pf.requireString("type")
                switch type {
                case "text", "input_text", "output_text":
                    out.append(.text(try pf.requireString("text")))
                case "image_url":
                    let image = try pf.value("image_url").map { v throws(GatewayError) in
                        try JSONFields(v, path: pf.param("image_url"))
                    }
                    guard let image else { throw GatewayError.missingField(pf.param("image_url")) }
                    out.append(.image(url: try image.requireString("url"), detail: try image.string("detail")))
                default:
                    out.append(.other(part, api: .openAI))
                }
            }
            return out
        default:
            throw GatewayError.wrongType(message.param("content"), expected: "a string or an array of content parts", got: value)
        }
    }

    static func decodeTool(_ value: JSONValue, path: String) throws(GatewayError) -> ToolDefinition {
        let f = try JSONFields(value, path: path)
        let type = (try f.string("type")) ?? "function"
        guard type == "function" else {
            // Other tool types (e.g. custom) are forwarded untouched to OpenAI-compatible upstreams.
            let name = (try f.string("name")) ?? type
            return ToolDefinition(name: name, description: nil, parameters: .null, extra: f.object)
        }
        guard let fn = try f.fields("function") else { throw GatewayError.missingField(f.param("function")) }
        let name = try fn.requireString("name")
        var extra = fn.object
        for k in ["name", "description", "parameters"] { extra.removeValue(forKey: k) }
        let parameters: JSONValue = fn.value("parameters") ?? ["type": "object", "properties": .object(JSONObject())]
        guard case .object = parameters else {
            throw GatewayError.wrongType(fn.param("parameters"), expected: "an object", got: parameters)
        }
        return ToolDefinition(name: name, description: try fn.string("description"), parameters: parameters, extra: extra)
    }

    static func decodeToolChoice(_ value: JSONValue?) throws(GatewayError) -> ToolChoice? {
        guard let value else { return nil }
        switch value {
        case .string("auto"): return .auto
        case .string("none"): return ToolChoice.none
        case .string("required"): return .required
        case .object:
            let f = try JSONFields(value, path: "tool_choice")
            if let fn = try f.fields("function") { return .function(try fn.requireString("name")) }
            throw GatewayError.missingField("tool_choice.function")
        default:
            throw GatewayError.invalidValue(
                "tool_choice", "Invalid 'tool_choice': expected 'auto', 'none', 'required' or a function object.")
        }
    }
}
