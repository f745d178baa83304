import Testing
@testable import WardenCore

@testable import WardenMockUpstream

@Suite("Mock upstream generator")
struct MockGeneratorTests {
    func request(_ text: String, system: String? = nil) -> ChatRequest {
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(role: .system, content: [.text(system)])) }
        messages.append(ChatMessage(role: .user, content: [.text(text)]))
        return ChatRequest(model: "mock", messages: messages, api: .openAI)
    }

    @Test("echo text and ceil(scalars/4) usage over system and messages")
    func echo() {
        let r = MockGenerator.response(to: request("héllo wörld", system: "be nice"), id: "x", created: 0)
        #expect(r.choices.first?.content == [.text("Echo: héllo wörld")])
        // "be nice" (7) + "héllo wörld" (11) = 18 scalars → 5 tokens; "Echo: héllo wörld" (17) → 5.
        #expect(r.usage == Usage(inputTokens: 5, outputTokens: 5))
    }

    @Test("a required tool gets a call with the schema's required fields filled")
    func toolCall() throws {
        var r = request("book it")
        r.tools = [
            ToolDefinition(
                name: "book", description: nil,
                parameters: [
                    "type": "object",
                    "properties": [
                        "city": ["type": "string"], "nights": ["type": "integer"], "class": ["enum": ["eco", "biz"]],
                        "guest": ["type": "object", "properties": ["name": ["type": "string"]], "required": ["name"]],
                        "optional": ["type": "string"],
                    ],
                    "required": ["city", "nights", "class", "guest"],
                ])
        ]
        r.toolChoice = .required
        let response = MockGenerator.response(to: r, id: "1", created: 0)
        guard case .toolUse(let use) = response.choices.first?.content.first else {
            Issue.record("expected a tool call")
            return
        }
        #expect(use.name == "book")
        #expect(try JSONParser.parse(use.argumentsJSON) == ["city": "example", "nights": 1, "class": "eco", "guest": ["name": "example"]])
        #expect(response.choices.first?.stopReason == .toolUse)
    }

    @Test("embeddings are deterministic unit vectors")
    func embeddings() {
        let a = MockGenerator.embedding(for: "same", dimensions: 64)
        #expect(a == MockGenerator.embedding(for: "same", dimensions: 64))
        #expect(a != MockGenerator.embedding(for: "other", dimensions: 64))
        let norm = a.reduce(0) { $0 + $1 * $1 }
        #expect(abs(norm - 1) < 1e-9)
    }

    @Test("behaviours by model name")
    func behaviours() {
        #expect(MockBehaviour(model: "fail-503") == .fail503)
        #expect(MockBehaviour(model: "slow-250") == .slow(milliseconds: 250))
        #expect(MockBehaviour(model: "ctx-100") == .contextWindow(tokens: 100))
        #expect(MockBehaviour(model: "gpt-4o") == .normal)
    }
}
