import NIOCore

/// A chat request in Warden's canonical form, independent of the API the client used.
///
/// Both public APIs decode into it (OpenAI chat completions and Anthropic messages), and each provider
/// encodes it for its upstream. When the client's API and the upstream's wire format are the same, the
/// provider forwards the client's original JSON (`original`) with only the fields Warden owns changed,
/// so nothing the canonical form does not model is lost.
///
/// The request is held three ways: canonical fields, the client's JSON (`original`) and its bytes
/// (`originalBytes`). Outside this module they can only be changed through the methods in
/// `ChatRequest+Changes.swift`, each of which changes all three together, so no stage can edit one
/// and forget the others.
public struct ChatRequest: Sendable {
    /// The model name the client asked for (a Warden model name, not the upstream's).
    public internal(set) var model: String
    public internal(set) var messages: [ChatMessage] {
        didSet { estimatedInputTokens = TokenEstimator.tokens(in: allText) }
    }
    public internal(set) var tools: [ToolDefinition]
    public internal(set) var toolChoice: ToolChoice?
    /// Upper bound on generated tokens, if the client set one.
    public internal(set) var maxTokens: Int?
    public internal(set) var temperature: Double?
    public internal(set) var topP: Double?
    public internal(set) var stop: [String]
    public internal(set) var stream: Bool
    /// Whether a streaming OpenAI client asked for the usage chunk (`stream_options.include_usage`).
    public internal(set) var includeUsage: Bool
    /// Number of choices (OpenAI `n`).
    public internal(set) var n: Int?
    public internal(set) var seed: Int?
    /// End-user id (OpenAI `user`, Anthropic `metadata.user_id`).
    public internal(set) var user: String?
    /// OpenAI `response_format`, passed through.
    public internal(set) var responseFormat: JSONValue?
    /// Whether parallel tool calls are allowed (OpenAI `parallel_tool_calls`; Anthropic `disable_parallel_tool_use`).
    public internal(set) var parallelToolCalls: Bool?
    /// The API the client called.
    public internal(set) var api: ClientAPI
    /// The client's request body as received, for same-format forwarding.
    public internal(set) var original: JSONObject
    /// The client's body bytes and where its top-level `model` value lies in them: a same-API upstream
    /// gets these bytes with only the model spliced in, instead of a re-serialization.
    public internal(set) var originalBytes: (body: ByteBuffer, modelSpan: Range<Int>)?
    /// Warden's estimate of the prompt's tokens (⌈Unicode scalars / 4⌉ of `allText`), computed once and
    /// kept up to date by every change to the messages: limits, budgets and policies share it.
    public private(set) var estimatedInputTokens: Int

    public init(model: String, messages: [ChatMessage], api: ClientAPI, original: JSONObject = JSONObject()) {
        self.model = model
        self.messages = messages
        self.tools = []
        self.toolChoice = nil
        self.maxTokens = nil
        self.temperature = nil
        self.topP = nil
        self.stop = []
        self.stream = false
        self.includeUsage = false
        self.api = api
        self.original = original
        self.originalBytes = nil
        self.estimatedInputTokens = 0
        self.estimatedInputTokens = TokenEstimator.tokens(in: allText)
    }

    /// All text the request carries (system and messages), for token estimates and the mock's usage.
    public var allText: [String] {
        var out: [String] = []
        for m in messages {
            for block in m.content {
                switch block {
                case .text(let t, _): out.append(t)
                case .toolResult(let r):
                    for c in r.content { if case .text(let t, _) = c { out.append(t) } }
                case .toolUse(let u): out.append(u.argumentsJSON)
                default: break
                }
            }
        }
        return out
    }
}

/// Who wrote a message.
public enum ChatRole: String, Sendable, Equatable {
    case system
    case user
    case assistant
    /// The result of a tool call (OpenAI's `tool` role; Anthropic's `tool_result` blocks).
    case tool
}

/// One message of a conversation.
public struct ChatMessage: Sendable, Equatable {
    public var role: ChatRole
    public var content: [ContentBlock]
    /// Optional participant name (OpenAI `name`).
    public var name: String?

    public init(role: ChatRole, content: [ContentBlock], name: String? = nil) {
        self.role = role
        self.content = content
        self.name = name
    }

    /// The concatenated text blocks.
    public var text: String {
        var s = ""
        for case .text(let t, _) in content { s += t }
        return s
    }
}

/// A piece of message content.
public enum ContentBlock: Sendable, Equatable {
    /// Text, with Anthropic `cache_control` if the client set it.
    case text(String, cacheControl: JSONValue?)
    /// An image, by URL (`http…` or `data:` URL).
    case image(url: String, detail: String?)
    case toolUse(ToolUse)
    case toolResult(ToolResult)
    /// A content block Warden does not model (thinking, documents, audio…), as the client's API wrote it.
    case other(JSONValue, api: ClientAPI)

    public static func text(_ s: String) -> ContentBlock { .text(s, cacheControl: nil) }
}

/// A call the model made to a tool.
public struct ToolUse: Sendable, Equatable {
    public var id: String
    public var name: String
    /// Arguments as JSON text (OpenAI sends a string; Anthropic an object, serialized here).
    public var argumentsJSON: String

    public init(id: String, name: String, argumentsJSON: String) {
        self.id = id
        self.name = name
        self.argumentsJSON = argumentsJSON
    }
}

/// The result of a tool call, sent back by the client.
public struct ToolResult: Sendable, Equatable {
    public var toolUseID: String
    public var content: [ContentBlock]
    public var isError: Bool

    public init(toolUseID: String, content: [ContentBlock], isError: Bool = false) {
        self.toolUseID = toolUseID
        self.content = content
        self.isError = isError
    }
}

/// A function the model may call.
public struct ToolDefinition: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// JSON Schema of the arguments.
    public var parameters: JSONValue
    /// Extra fields (e.g. OpenAI `strict`, Anthropic `cache_control`), kept for same-format forwarding.
    public var extra: JSONObject

    public init(name: String, description: String?, parameters: JSONValue, extra: JSONObject = JSONObject()) {
        self.name = name
        self.description = description
        self.parameters = parameters
        self.extra = extra
    }
}

/// How the model should choose tools.
public enum ToolChoice: Sendable, Equatable {
    case auto
    case none
    /// Must call some tool (OpenAI `required`, Anthropic `any`).
    case required
    /// Must call this tool.
    case function(String)
}
