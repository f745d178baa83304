import NIOCore

/// The only ways a chat request changes after it was decoded. Each keeps the canonical fields, the
/// client's JSON (`original`) and its bytes (`originalBytes`) consistent: the bytes are kept only while
/// they still say exactly what the other two say.
extension ChatRequest {
    /// A one-turn request Warden makes itself (a guard model's question), in the OpenAI shape.
    public static func prompt(model: String, text: String, maxTokens: Int, temperature: Double) -> ChatRequest {
        var request = ChatRequest(
            model: model, messages: [ChatMessage(role: .user, content: [.text(text, cacheControl: nil)])], api: .openAI,
            original: [
                "model": .string(model), "messages": [["role": "user", "content": .string(text)]], "max_tokens": .int(maxTokens),
                "temperature": .double(temperature),
            ])
        request.maxTokens = maxTokens
        request.temperature = temperature
        return request
    }

    /// Keeps the client's body bytes, with where its top-level `model` value lies, for byte-for-byte forwarding.
    public mutating func keepOriginalBytes(_ body: ByteBuffer, modelSpan: Range<Int>) {
        originalBytes = (body, modelSpan)
    }

    /// Sets the output cap Warden sends upstream.
    public mutating func limitOutput(to tokens: Int) {
        maxTokens = tokens
        original["max_tokens"] = .int(tokens)
        originalBytes = nil
    }

    /// Asks the upstream for a whole answer (Warden streams it to the client afterwards).
    public mutating func makeNonStreaming() {
        guard stream else { return }
        stream = false
        original["stream"] = nil
        original["stream_options"] = nil
        originalBytes = nil
    }

    /// Applies `rewrite` to every text the client sent (message text, tool results, the system prompt),
    /// in the canonical messages and in the original JSON that same-API upstreams receive.
    public mutating func rewriteTexts(_ rewrite: (String) -> String) {
        messages = messages.map { message in
            var m = message
            m.content = m.content.map { block in
                switch block {
                case .text(let t, let cache): return .text(rewrite(t), cacheControl: cache)
                case .toolResult(var r):
                    r.content = r.content.map { if case .text(let t, let c) = $0 { .text(rewrite(t), cacheControl: c) } else { $0 } }
                    return .toolResult(r)
                default: return block
                }
            }
            return m
        }
        func walk(_ v: JSONValue, key: String?) -> JSONValue {
            switch v {
            case .string(let s) where key == "content" || key == "text" || key == "system": return .string(rewrite(s))
            case .array(let a): return .array(a.map { walk($0, key: key == "system" ? "system" : nil) })
            case .object(var o):
                for (k, value) in o where k == "content" || k == "text" || k == "messages" || k == "system" || value.arrayValue != nil {
                    o[k] = walk(value, key: k)
                }
                return .object(o)
            default: return v
            }
        }
        if let m = original["messages"] { original["messages"] = walk(m, key: "messages") }
        if let s = original["system"] { original["system"] = walk(s, key: "system") }
        originalBytes = nil
    }

    /// Whether the request has a system (or developer) prompt.
    public var hasSystemPrompt: Bool { messages.contains { $0.role == .system } }

    /// Appends a line to the first system prompt, in the canonical messages and the original JSON.
    public mutating func appendToSystemPrompt(_ line: String) {
        guard let i = messages.firstIndex(where: { $0.role == .system }) else { return }
        messages[i].content.append(.text("\n" + line, cacheControl: nil))
        switch api {
        case .openAI:
            guard case .array(var list)? = original["messages"],
                let j = list.firstIndex(where: { ["system", "developer"].contains($0["role"]?.stringValue ?? "") }),
                case .object(var m) = list[j]
            else { break }
            switch m["content"] {
            case .string(let s)?: m["content"] = .string(s + "\n" + line)
            case .array(let parts)?: m["content"] = .array(parts + [["type": "text", "text": .string(line)]])
            default: break
            }
            list[j] = .object(m)
            original["messages"] = .array(list)
        case .anthropic:
            switch original["system"] {
            case .string(let s)?: original["system"] = .string(s + "\n" + line)
            case .array(let parts)?: original["system"] = .array(parts + [["type": "text", "text": .string(line)]])
            default: break
            }
        }
        originalBytes = nil
    }

    /// Appends the model's answer and a user turn that corrects it (a structured-output retry). Both APIs
    /// take string content for these two turns.
    public mutating func appendCorrection(answer: String, correction: String) {
        messages.append(ChatMessage(role: .assistant, content: [.text(answer, cacheControl: nil)]))
        messages.append(ChatMessage(role: .user, content: [.text(correction, cacheControl: nil)]))
        var list = original["messages"]?.arrayValue ?? []
        list.append(["role": "assistant", "content": .string(answer)])
        list.append(["role": "user", "content": .string(correction)])
        original["messages"] = .array(list)
        originalBytes = nil
    }
}
