/// Why the model stopped generating.
public enum StopReason: Sendable, Equatable {
    case endTurn
    case maxTokens
    case stopSequence(String?)
    case toolUse
    case contentFilter
    /// A reason neither mapping knows, kept verbatim.
    case other(String)

    /// OpenAI's `finish_reason`.
    public var openAI: String {
        switch self {
        case .endTurn, .stopSequence: "stop"
        case .maxTokens: "length"
        case .toolUse: "tool_calls"
        case .contentFilter: "content_filter"
        case .other(let s): s
        }
    }

    /// Anthropic's `stop_reason`.
    public var anthropic: String {
        switch self {
        case .endTurn: "end_turn"
        case .maxTokens: "max_tokens"
        case .stopSequence: "stop_sequence"
        case .toolUse: "tool_use"
        case .contentFilter: "refusal"
        case .other(let s): s
        }
    }

    public init(openAI: String) {
        switch openAI {
        case "stop": self = .endTurn
        case "length": self = .maxTokens
        case "tool_calls", "function_call": self = .toolUse
        case "content_filter": self = .contentFilter
        default: self = .other(openAI)
        }
    }

    public init(anthropic: String, stopSequence: String? = nil) {
        switch anthropic {
        case "end_turn", "pause_turn": self = .endTurn
        case "max_tokens", "model_context_window_exceeded": self = .maxTokens
        case "stop_sequence": self = .stopSequence(stopSequence)
        case "tool_use": self = .toolUse
        case "refusal": self = .contentFilter
        default: self = .other(anthropic)
        }
    }
}

/// Token usage as the upstream reported it, in canonical terms.
///
/// `inputTokens` counts every prompt token, cached or not (OpenAI's `prompt_tokens`); the cached and
/// cache-write parts are broken out so pricing can treat them apart. Anthropic reports
/// `input_tokens` without cache reads and writes, so its decoder adds them back.
public struct Usage: Sendable, Equatable {
    public var inputTokens: Int
    public var outputTokens: Int
    /// Prompt tokens served from the provider's prompt cache.
    public var cachedInputTokens: Int
    /// Prompt tokens written to the provider's prompt cache (Anthropic).
    public var cacheWriteTokens: Int
    /// Output tokens spent on reasoning (included in `outputTokens`).
    public var reasoningTokens: Int
    /// Whether Warden estimated these numbers (e.g. a stream cut short) rather than the upstream reporting them.
    public var isEstimated: Bool

    public init(
        inputTokens: Int = 0, outputTokens: Int = 0, cachedInputTokens: Int = 0, cacheWriteTokens: Int = 0,
        reasoningTokens: Int = 0, isEstimated: Bool = false
    ) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.reasoningTokens = reasoningTokens
        self.isEstimated = isEstimated
    }

    public var totalTokens: Int { inputTokens.addingSaturated(outputTokens) }

    /// The largest token count Warden accepts anywhere (`max_tokens`, an upstream's usage): far above
    /// any model's window, and small enough that sums and prices of such counts never overflow.
    public static let maximumTokens = 1_000_000_000

    /// A token count read from outside (an upstream's usage), clamped to `0...maximumTokens`.
    public static func tokenCount(_ value: JSONValue?) -> Int? {
        guard let value else { return nil }
        if let i = value.intValue { return Swift.min(Swift.max(i, 0), maximumTokens) }
        if case .number(let text) = value, text.first != "-" { return maximumTokens }  // beyond Int
        return nil
    }

    /// The sum of two usages (an answer and its retry), each count saturating.
    public func adding(_ other: Usage) -> Usage {
        Usage(
            inputTokens: inputTokens.addingSaturated(other.inputTokens), outputTokens: outputTokens.addingSaturated(other.outputTokens),
            cachedInputTokens: cachedInputTokens.addingSaturated(other.cachedInputTokens),
            cacheWriteTokens: cacheWriteTokens.addingSaturated(other.cacheWriteTokens),
            reasoningTokens: reasoningTokens.addingSaturated(other.reasoningTokens), isEstimated: isEstimated || other.isEstimated)
    }
}

/// A complete (non-streamed) chat response in canonical form.
public struct ChatResponse: Sendable {
    public var id: String
    /// The model name the upstream reported.
    public var model: String
    public var created: Int
    public var choices: [ChatChoice]
    public var usage: Usage?
    /// The upstream's original JSON and its format, for same-format pass-through.
    public var original: JSONObject?
    public var originalAPI: ClientAPI?

    public init(
        id: String, model: String, created: Int, choices: [ChatChoice], usage: Usage?,
        original: JSONObject? = nil, originalAPI: ClientAPI? = nil
    ) {
        self.id = id
        self.model = model
        self.created = created
        self.choices = choices
        self.usage = usage
        self.original = original
        self.originalAPI = originalAPI
    }
}

/// One generated alternative.
public struct ChatChoice: Sendable {
    public var index: Int
    /// Text, tool-use and other (e.g. thinking) blocks, in order.
    public var content: [ContentBlock]
    public var stopReason: StopReason?

    public init(index: Int, content: [ContentBlock], stopReason: StopReason?) {
        self.index = index
        self.content = content
        self.stopReason = stopReason
    }
}

/// One event of a streamed chat response, in canonical form.
public enum ChatStreamEvent: Sendable, Equatable {
    /// The response began (Anthropic `message_start`; the first OpenAI chunk).
    case start(id: String, model: String)
    case textDelta(choice: Int, text: String)
    /// A tool call began: its position among the choice's tool calls, id and name.
    case toolCallStart(choice: Int, index: Int, id: String, name: String)
    case toolCallArgumentsDelta(choice: Int, index: Int, json: String)
    /// A choice finished.
    case finish(choice: Int, reason: StopReason)
    case usage(Usage)
    /// The upstream reported an error mid-stream.
    case error(message: String, type: String)
}

/// A group of events decoded from one upstream SSE event, with the upstream's original JSON
/// when it can be forwarded unchanged to a client of the same API.
public struct ChatStreamChunk: Sendable {
    public var events: [ChatStreamEvent]
    public var original: JSONObject?
    public var originalAPI: ClientAPI?
    /// Anthropic event name (`message_start`, `content_block_delta`, …) for same-format forwarding.
    public var eventName: String?
    /// The SSE `data:` payload exactly as the upstream sent it, forwarded unchanged when nothing in it changes.
    public var rawData: String?

    public init(
        events: [ChatStreamEvent], original: JSONObject? = nil, originalAPI: ClientAPI? = nil, eventName: String? = nil,
        rawData: String? = nil
    ) {
        self.events = events
        self.original = original
        self.originalAPI = originalAPI
        self.eventName = eventName
        self.rawData = rawData
    }
}

extension ChatResponse {
    /// The answer as stream events: text split into word chunks, tool arguments in two halves (the mock
    /// upstream streams this way; Warden uses it to stream an answer it holds whole).
    public var streamEvents: [ChatStreamEvent] {
        var events: [ChatStreamEvent] = [.start(id: id, model: model)]
        for choice in choices {
            var toolIndex = 0
            for block in choice.content {
                switch block {
                case .text(let text, _):
                    for piece in Self.splitIntoChunks(text) {
                        events.append(.textDelta(choice: choice.index, text: piece))
                    }
                case .toolUse(let use):
                    events.append(.toolCallStart(choice: choice.index, index: toolIndex, id: use.id, name: use.name))
                    let args = Array(use.argumentsJSON)
                    let half = args.count / 2
                    if half > 0 {
                        events.append(.toolCallArgumentsDelta(choice: choice.index, index: toolIndex, json: String(args[..<half])))
                    }
                    events.append(.toolCallArgumentsDelta(choice: choice.index, index: toolIndex, json: String(args[half...])))
                    toolIndex += 1
                default: break
                }
            }
            if let reason = choice.stopReason { events.append(.finish(choice: choice.index, reason: reason)) }
        }
        if let usage { events.append(.usage(usage)) }
        return events
    }

    /// Splits text after each space, so "Echo: a b" streams as "Echo: ", "a ", "b".
    public static func splitIntoChunks(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in text {
            current.append(ch)
            if ch == " " {
                out.append(current)
                current = ""
            }
        }
        if !current.isEmpty { out.append(current) }
        return out.isEmpty ? [""] : out
    }
}
