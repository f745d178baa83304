import WardenCore

/// What the mock does for an upstream model name.
public enum MockBehaviour: Sendable, Equatable {
    case normal
    /// Always 503.
    case fail503
    /// Always 429 with `Retry-After: 1`.
    case fail429
    /// Waits this long before the response headers.
    case slow(milliseconds: Int)
    /// Closes the connection halfway through the body.
    case dropMidstream
    /// Answers 200 with a body that is not valid JSON.
    case badJSON
    /// A model whose context window holds this many prompt tokens; longer prompts get the provider's
    /// "context too long" 400.
    case contextWindow(tokens: Int)
    /// Reports usage with `read` prompt tokens read from the provider's cache and `write` written to it
    /// (OpenAI's `prompt_tokens_details.cached_tokens`; Anthropic's cache read/creation tokens).
    case cacheUsage(read: Int, write: Int)
    /// Reports this many reasoning tokens on top of the reply's (inside OpenAI's `completion_tokens`).
    case reasoning(tokens: Int)
    /// Echoes every text it received (system prompt, all messages, tool results), one per line: shows
    /// exactly what reached the upstream.
    case echoAll
    /// A stand-in for a Llama Guard model: `unsafe\nS9` when the prompt contains `[mock:unsafe]`, else `safe`.
    case llamaGuard

    public init(model: String) {
        switch model {
        case "fail-503": self = .fail503
        case "fail-429": self = .fail429
        case "drop-midstream": self = .dropMidstream
        case "bad-json": self = .badJSON
        case "echo-all": self = .echoAll
        case "llama-guard": self = .llamaGuard
        default:
            // The numbers a model name carries are bounded: a name must not make the mock do unbounded work.
            if model.hasPrefix("slow-"), let ms = Int(model.dropFirst(5)), (0...3_600_000).contains(ms) {
                self = .slow(milliseconds: ms)
            } else if model.hasPrefix("ctx-"), let n = Int(model.dropFirst(4)), (0...Usage.maximumTokens).contains(n) {
                self = .contextWindow(tokens: n)
            } else if model.hasPrefix("cache-") {
                let parts = model.dropFirst(6).split(separator: "-")
                let range = 0...Usage.maximumTokens
                if parts.count == 2, let read = Int(parts[0]), let write = Int(parts[1]), range.contains(read), range.contains(write) {
                    self = .cacheUsage(read: read, write: write)
                } else {
                    self = .normal
                }
            } else if model.hasPrefix("reasoning-"), let n = Int(model.dropFirst(10)), (0...Usage.maximumTokens).contains(n) {
                self = .reasoning(tokens: n)
            } else {
                self = .normal
            }
        }
    }
}

/// The mock's deterministic answers, independent of HTTP.
public enum MockGenerator {
    /// The text content the mock counts for prompt usage: text blocks of the system prompt and every
    /// message, and the text of tool results.
    public static func promptTexts(_ request: ChatRequest) -> [String] {
        var out: [String] = []
        for message in request.messages {
            for block in message.content {
                switch block {
                case .text(let t, _): out.append(t)
                case .toolResult(let r):
                    for case .text(let t, _) in r.content { out.append(t) }
                default: break
                }
            }
        }
        return out
    }

    /// `Echo: ` followed by the text of the last user message.
    public static func replyText(_ request: ChatRequest) -> String {
        let last = request.messages.last { $0.role == .user }
        return "Echo: " + (last?.text ?? "")
    }

    /// The tool the mock must call, if the request demands one (`required`/`any`, or a named function).
    public static func forcedTool(_ request: ChatRequest) -> ToolDefinition? {
        guard !request.tools.isEmpty else { return nil }
        switch request.toolChoice {
        case .required: return request.tools[0]
        case .function(let name): return request.tools.first { $0.name == name } ?? request.tools[0]
        default: return nil
        }
    }

    /// Arguments that satisfy the schema's required fields.
    public static func arguments(for schema: JSONValue) -> JSONValue {
        exampleValue(for: schema, depth: 0)
    }

    static func exampleValue(for schema: JSONValue, depth: Int) -> JSONValue {
        if let values = schema["enum"]?.arrayValue, let first = values.first { return first }
        if let c = schema["const"] { return c }
        var type = schema["type"]?.stringValue
        if type == nil, let types = schema["type"]?.arrayValue { type = types.first { $0 != "null" }?.stringValue }
        switch type {
        case "integer": return 1
        case "number": return 1
        case "boolean": return true
        case "null": return .null
        case "array":
            // The client's schema sizes the example: at most 16 items, so no schema can make the mock allocate without bound.
            let min = Swift.min(schema["minItems"]?.intValue ?? 0, 16)
            guard min > 0, let items = schema["items"], depth < 8 else { return [] }
            return .array(Array(repeating: exampleValue(for: items, depth: depth + 1), count: min))
        case "object":
            return exampleObject(for: schema, depth: depth)
        case nil where schema["properties"] != nil:
            return exampleObject(for: schema, depth: depth)
        default:
            return "example"
        }
    }

    static func exampleObject(for schema: JSONValue, depth: Int) -> JSONValue {
        var out = JSONObject()
        guard depth < 8 else { return .object(out) }
        let properties = schema["properties"]?.objectValue ?? JSONObject()
        for case .string(let name) in (schema["required"]?.arrayValue ?? []).prefix(64) {
            out[name] = exampleValue(for: properties[name] ?? [:], depth: depth + 1)
        }
        return .object(out)
    }

    /// The usage `behaviour` reports instead of the plain count.
    public static func adjust(_ usage: inout Usage, for behaviour: MockBehaviour) {
        switch behaviour {
        case .cacheUsage(let read, let write):
            // The cached parts are part of the prompt; a prompt shorter than them grows to hold them.
            usage.inputTokens = max(usage.inputTokens, read + write)
            usage.cachedInputTokens = read
            usage.cacheWriteTokens = write
        case .reasoning(let tokens):
            usage.outputTokens += tokens
            usage.reasoningTokens = tokens
        default:
            break
        }
    }

    /// The complete canonical answer to `request`.
    public static func response(to request: ChatRequest, id: String, created: Int) -> ChatResponse {
        let promptTokens = TokenEstimator.tokens(in: promptTexts(request))
        let content: [ContentBlock]
        let reason: StopReason
        let completionTokens: Int
        if let tool = forcedTool(request) {
            let args = arguments(for: tool.parameters).jsonString
            content = [.toolUse(ToolUse(id: "call_\(id)", name: tool.name, argumentsJSON: args))]
            reason = .toolUse
            completionTokens = TokenEstimator.tokens(in: tool.name + args)
        } else {
            var text = replyText(request)
            switch MockBehaviour(model: request.model) {
            case .echoAll: text = "Echo: " + promptTexts(request).joined(separator: "\n")
            case .llamaGuard: text = promptTexts(request).contains { $0.contains("[mock:unsafe]") } ? "unsafe\nS9" : "safe"
            default: break
            }
            if let format = request.responseFormat, format["type"]?.stringValue == "json_schema", let schema = format["json_schema"]?["schema"] {
                // Structured output: a value that meets the schema, unless the prompt asks for a broken one
                // (`[mock:invalid-json]` in the last user message; `[mock:always-invalid-json]` in any).
                let users = request.messages.filter { $0.role == .user }.map(\.text)
                let broken = users.last?.contains("[mock:invalid-json]") == true || users.contains { $0.contains("[mock:always-invalid-json]") }
                text = broken ? "{\"answer\": " : arguments(for: schema).jsonString
            }
            var r = StopReason.endTurn
            if let max = request.maxTokens, TokenEstimator.tokens(in: text) > max {
                text = String(text.unicodeScalars.prefix(max * 4).map(Character.init))
                r = .maxTokens
            }
            content = [.text(text)]
            reason = r
            completionTokens = TokenEstimator.tokens(in: text)
        }
        let choices = (0..<max(1, request.n ?? 1)).map { ChatChoice(index: $0, content: content, stopReason: reason) }
        return ChatResponse(
            id: id, model: request.model, created: created, choices: choices,
            usage: Usage(inputTokens: promptTokens, outputTokens: completionTokens * choices.count))
    }

    /// A deterministic unit vector for `text`: the same text always gives the same vector.
    public static func embedding(for text: String, dimensions: Int) -> [Double] {
        // FNV-1a seeds a splitmix64 generator.
        var seed: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            seed ^= UInt64(b)
            seed = seed &* 0x100_0000_01b3
        }
        var state = seed
        var values: [Double] = []
        let dimensions = Swift.max(0, Swift.min(dimensions, 65_536))
        values.reserveCapacity(dimensions)
        var norm = 0.0
        for _ in 0..<dimensions {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            z ^= z >> 31
            let v = Double(z >> 11) / Double(1 << 53) * 2 - 1
            values.append(v)
            norm += v * v
        }
        let scale = norm > 0 ? 1 / norm.squareRoot() : 0
        return values.map { $0 * scale }
    }
}
