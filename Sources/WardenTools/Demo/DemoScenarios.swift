import WardenCore
import WardenServer

extension DemoRunner {
    /// A support agent's workload: tickets triaged by a small model, answers drafted by a large one,
    /// a tool-calling loop, retrieval embeddings, streaming to a UI, an Anthropic-SDK client, the flaky
    /// model falling back, and two refusals a client must see clearly.
    static func scenarios() -> [Scenario] {
        let tickets = [
            "My invoice for March shows a double charge, can you check?",
            "The export to CSV button does nothing in Firefox.",
            "How do I rotate the API key for our staging project?",
            "Our webhook deliveries started failing with 502 this morning.",
            "Please cancel the annual plan and refund the unused months.",
            "Can I get the audit log for user 4411 from last week?",
        ]
        let system = "You are Acme's support triage agent. Classify the ticket and draft a short, polite reply."
        @Sendable func chat(_ model: String, _ i: Int) -> JSONObject {
            [
                "model": .string(model),
                "messages": [
                    ["role": "system", "content": .string(system)],
                    ["role": "user", "content": .string(tickets[i % tickets.count])],
                ],
                "temperature": 0.2,
            ]
        }
        let lookupTool: JSONValue = [
            "type": "function",
            "function": [
                "name": "lookup_account",
                "description": "Look up a customer account by email or id.",
                "parameters": [
                    "type": "object",
                    "properties": ["account_id": ["type": "string"], "include_invoices": ["type": "boolean"]],
                    "required": ["account_id", "include_invoices"],
                ],
            ],
        ]
        return [
            Scenario(name: "triage (mock-small)", path: "/v1/chat/completions", count: 24) { chat("mock-small", $0) },
            Scenario(name: "draft reply (mock-large)", path: "/v1/chat/completions", count: 12) { chat("mock-large", $0) },
            Scenario(name: "stream to UI", path: "/v1/chat/completions", count: 8) { i in
                var body = chat("mock-large", i)
                body["stream"] = true
                body["stream_options"] = ["include_usage": true]
                return body
            },
            Scenario(name: "tool call: lookup", path: "/v1/chat/completions", count: 8) { i in
                var body = chat("mock-small", i)
                body["tools"] = [lookupTool]
                body["tool_choice"] = "required"
                return body
            },
            Scenario(name: "tool result → answer", path: "/v1/chat/completions", count: 8) { i in
                [
                    "model": "mock-small",
                    "messages": [
                        ["role": "system", "content": .string(system)],
                        ["role": "user", "content": .string(tickets[i % tickets.count])],
                        [
                            "role": "assistant", "content": .null,
                            "tool_calls": [
                                [
                                    "id": "call_1", "type": "function",
                                    "function": ["name": "lookup_account", "arguments": #"{"account_id":"4411","include_invoices":true}"#],
                                ]
                            ],
                        ],
                        ["role": "tool", "tool_call_id": "call_1", "content": #"{"plan":"annual","invoices":2}"#],
                    ],
                    "tools": [lookupTool],
                ]
            },
            Scenario(name: "embeddings (RAG)", path: "/v1/embeddings", count: 8) { i in
                ["model": "mock-small", "input": .array(tickets.prefix(3 + i % 3).map { .string($0) })]
            },
            Scenario(name: "anthropic SDK /v1/messages", path: "/v1/messages", count: 8, anthropic: true) { i in
                var body: JSONObject = [
                    "model": "mock-large", "max_tokens": 256, "system": .string(system),
                    "messages": [["role": "user", "content": .string(tickets[i % tickets.count])]],
                ]
                if i % 2 == 1 { body["stream"] = true }
                return body
            },
            Scenario(name: "flaky → fallback", path: "/v1/chat/completions", count: 8) { chat("mock-flaky", $0) },
            Scenario(name: "refused: unknown model", path: "/v1/chat/completions", count: 2, body: { chat("gpt-9", $0) }, expectStatus: 404),
            Scenario(name: "refused: bad key", path: "/v1/chat/completions", count: 2, body: { chat("mock-small", $0) }, expectStatus: 401),
        ]
    }
}
