import Testing

@testable import WardenCore

@Suite("OpenAI request decoding")
struct OpenAIRequestDecodingTests {
    func decode(_ text: String) throws -> ChatRequest {
        try OpenAIRequestDecoder.decodeChat(try JSONParser.parse(text))
    }

    @Test("a full agent turn decodes to canonical form")
    func agentTurn() throws {
        let r = try decode(
            """
            {"model":"fast","messages":[
              {"role":"developer","content":"be brief"},
              {"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA==","detail":"low"}}]},
              {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\\"x\\":1}"}}]},
              {"role":"tool","tool_call_id":"c1","content":"42"}],
             "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"},"strict":true}}],
             "tool_choice":{"type":"function","function":{"name":"f"}},
             "max_completion_tokens":50,"stop":"END","stream":true,"stream_options":{"include_usage":true},
             "n":1,"seed":7,"user":"u1","response_format":{"type":"json_object"},"logit_bias":{"50256":-100}}
            """)
        #expect(r.model == "fast")
        #expect(r.messages.map(\.role) == [.system, .user, .assistant, .tool])
        #expect(r.messages[1].content[1] == .image(url: "data:image/png;base64,AA==", detail: "low"))
        #expect(r.messages[2].content == [.toolUse(ToolUse(id: "c1", name: "f", argumentsJSON: #"{"x":1}"#))])
        #expect(r.messages[3].content == [.toolResult(ToolResult(toolUseID: "c1", content: [.text("42")]))])
        #expect(r.tools.first?.extra["strict"] == true)
        #expect(r.toolChoice == .function("f"))
        #expect(r.maxTokens == 50)
        #expect(r.stop == ["END"])
        #expect(r.stream && r.includeUsage)
        #expect(r.seed == 7 && r.user == "u1")
        #expect(r.original["logit_bias"] != nil, "unknown fields are kept for pass-through")
    }

    @Test(
        "validation errors name the field",
        arguments: [
            (#"{"messages":[{"role":"user","content":"x"}]}"#, "model", "missing_field"),
            (#"{"model":"m"}"#, "messages", "missing_field"),
            (#"{"model":"m","messages":[]}"#, "messages", "invalid_value"),
            (#"{"model":5,"messages":[{"role":"user","content":"x"}]}"#, "model", "invalid_value"),
            (#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#, "messages[0].role", "invalid_value"),
            (#"{"model":"m","messages":[{"role":"user","content":7}]}"#, "messages[0].content", "invalid_value"),
            (#"{"model":"m","messages":[{"role":"user"}]}"#, "messages[0].content", "missing_field"),
            (#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#, "messages[0].tool_call_id", "missing_field"),
            (#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#, "temperature", "invalid_value"),
            (#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3}"#, "temperature", "invalid_value"),
            (#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}"#, "max_tokens", "invalid_value"),
            (#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#, "stream", "invalid_value"),
            (#"{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]}"#, "tools[0].function", "missing_field"),
            (#"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}}"#, "response_format.type", "invalid_value"),
            (
                #"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object","unevaluatedProperties":false}}}}"#,
                "response_format.json_schema.schema", "invalid_value"
            ),
        ])
    func validation(_ body: String, param: String, code: String) {
        let error = #expect(throws: GatewayError.self) { try decode(body) }
        #expect(error?.param == param)
        #expect(error?.codeName == code)
        #expect(error?.status == 400)
    }

    @Test("a body that is not an object is refused")
    func notAnObject() {
        let error = #expect(throws: GatewayError.self) { try decode("[1,2]") }
        #expect(error?.status == 400)
    }
}

@Suite("Anthropic request decoding")
struct AnthropicRequestDecodingTests {
    @Test("system, tool results and cache_control map to canonical form")
    func decode() throws {
        let r = try AnthropicRequestDecoder.decodeMessages(
            try JSONParser.parse(
                """
                {"model":"claude","max_tokens":100,
                 "system":[{"type":"text","text":"sys","cache_control":{"type":"ephemeral"}}],
                 "messages":[
                   {"role":"user","content":"q"},
                   {"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"s"},{"type":"tool_use","id":"t1","name":"f","input":{"a":1}}]},
                   {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"},{"type":"text","text":"and?"}]}],
                 "tool_choice":{"type":"any","disable_parallel_tool_use":true},
                 "tools":[{"name":"f","input_schema":{"type":"object"}}],
                 "thinking":{"type":"enabled","budget_tokens":1024},"stop_sequences":["X"]}
                """))
        #expect(r.messages.map(\.role) == [.system, .user, .assistant, .tool, .user])
        #expect(r.messages[0].content == [.text("sys", cacheControl: ["type": "ephemeral"])])
        #expect(r.messages[3].content == [.toolResult(ToolResult(toolUseID: "t1", content: [.text("ok")]))])
        #expect(r.toolChoice == .required)
        #expect(r.parallelToolCalls == false)
        #expect(r.stop == ["X"])
        #expect(r.original["thinking"] != nil)
    }

    @Test("max_tokens is required on /v1/messages")
    func maxTokens() {
        let error = #expect(throws: GatewayError.self) {
            try AnthropicRequestDecoder.decodeMessages(
                try JSONParser.parse(#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#))
        }
        #expect(error?.param == "max_tokens")
        #expect(error?.anthropicType == "invalid_request_error")
    }
}

@Suite("Translation between the APIs")
struct TranslationTests {
    @Test("an OpenAI agent turn becomes a valid Anthropic request")
    func openAIToAnthropic() throws {
        let r = try OpenAIRequestDecoder.decodeChat(
            try JSONParser.parse(
                """
                {"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":"q"},
                {"role":"assistant","content":"let me look","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\\"a\\":1}"}},{"id":"c2","type":"function","function":{"name":"g","arguments":"{}"}}]},
                {"role":"tool","tool_call_id":"c1","content":"r1"},{"role":"tool","tool_call_id":"c2","content":"r2"},{"role":"user","content":"thanks"}],
                "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"required",
                "temperature":1.5,"stop":["Z"],"user":"u"}
                """))
        let body = try AnthropicRequestEncoder.encodeMessages(r, upstreamModel: "claude-x", defaultMaxTokens: 4096)
        #expect(body["model"] == "claude-x")
        #expect(body["max_tokens"] == 4096)
        #expect(body["system"] == "s")
        let messages = try #require(body["messages"]?.arrayValue)
        #expect(messages.map { $0["role"]?.stringValue } == ["user", "assistant", "user"])
        let last = try #require(messages[2]["content"]?.arrayValue)
        #expect(last.map { $0["type"]?.stringValue } == ["tool_result", "tool_result", "text"], "tool results merge into one user turn")
        #expect(messages[1]["content"]?.arrayValue?[1]["input"] == ["a": 1])
        #expect(body["tool_choice"] == ["type": "any"])
        #expect(body["temperature"] == 1, "clamped to Anthropic's range")
        #expect(body["stop_sequences"] == ["Z"])
        #expect(body["metadata"] == ["user_id": "u"])
    }

    @Test("n > 1 cannot be served by Anthropic")
    func nUnsupported() throws {
        var r = ChatRequest(model: "m", messages: [ChatMessage(role: .user, content: [.text("x")])], api: .openAI)
        r.n = 2
        #expect(throws: GatewayError.self) { try AnthropicRequestEncoder.encodeMessages(r, upstreamModel: "c", defaultMaxTokens: 1) }
    }

    @Test("same-API forwarding keeps unknown fields and forces usage on streams")
    func passThrough() throws {
        let r = try OpenAIRequestDecoder.decodeChat(
            try JSONParser.parse(#"{"model":"alias","messages":[{"role":"user","content":"x"}],"stream":true,"logprobs":true,"x_custom":{"k":[1]}}"#))
        let body = OpenAIRequestEncoder.encodeChat(r, upstreamModel: "real")
        #expect(body["model"] == "real")
        #expect(body["logprobs"] == true)
        #expect(body["x_custom"] == ["k": [1]])
        #expect(body["stream_options"] == ["include_usage": true])
    }

    @Test("an Anthropic client's request becomes an OpenAI request with tool messages")
    func anthropicToOpenAI() throws {
        let r = try AnthropicRequestDecoder.decodeMessages(
            try JSONParser.parse(
                """
                {"model":"m","max_tokens":10,"system":"s","messages":[{"role":"user","content":"q"},
                {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":1}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r"}]}]}],
                "tools":[{"name":"f","description":"d","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"f"}}
                """))
        let body = OpenAIRequestEncoder.encodeChat(r, upstreamModel: "gpt")
        let messages = try #require(body["messages"]?.arrayValue)
        #expect(messages.map { $0["role"]?.stringValue } == ["system", "user", "assistant", "tool"])
        #expect(messages[2]["tool_calls"]?.arrayValue?.first?["function"]?["arguments"] == #"{"a":1}"#)
        #expect(messages[3]["tool_call_id"] == "t")
        #expect(messages[3]["content"] == "r")
        #expect(body["tool_choice"] == ["type": "function", "function": ["name": "f"]])
        #expect(body["max_tokens"] == 10)
    }

    @Test("responses translate with usage and stop reasons intact")
    func responses() throws {
        let anthropic = try JSONParser.parse(
            """
            {"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"hi"},{"type":"tool_use","id":"t","name":"f","input":{"a":1}}],
             "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":90,"cache_creation_input_tokens":20}}
            """)
        let canonical = try #require(AnthropicResponseCodec.decode(anthropic))
        #expect(canonical.usage == Usage(inputTokens: 120, outputTokens: 5, cachedInputTokens: 90, cacheWriteTokens: 20))
        let openAI = OpenAIResponseCodec.encode(canonical)
        let choice = try #require(openAI["choices"]?.arrayValue?.first)
        #expect(choice["finish_reason"] == "tool_calls")
        #expect(choice["message"]?["content"] == "hi")
        #expect(choice["message"]?["tool_calls"]?.arrayValue?.first?["function"]?["arguments"] == #"{"a":1}"#)
        #expect(openAI["usage"]?["prompt_tokens"] == 120)
        #expect(openAI["usage"]?["prompt_tokens_details"]?["cached_tokens"] == 90)

        let openAIResponse = try JSONParser.parse(
            """
            {"id":"c","object":"chat.completion","created":1,"model":"gpt","choices":[{"index":0,"message":{"role":"assistant","content":"yo"},"finish_reason":"length"}],
             "usage":{"prompt_tokens":100,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":64},"completion_tokens_details":{"reasoning_tokens":3}}}
            """)
        let back = try #require(OpenAIResponseCodec.decode(openAIResponse))
        let message = AnthropicResponseCodec.encode(back)
        #expect(message["stop_reason"] == "max_tokens")
        #expect(message["usage"] == ["input_tokens": 36, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 64, "output_tokens": 7])
        #expect(back.usage?.reasoningTokens == 3)
    }

    @Test("OpenAI stream chunks become Anthropic events in Anthropic's order")
    func streamOpenAIToAnthropic() throws {
        var decoder = OpenAIStreamDecoder()
        var encoder = AnthropicStreamEncoder(id: "msg", model: "m", estimatedInputTokens: 3)
        let chunks = [
            #"{"id":"c","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            #"{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#,
            #"{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}"#,
            #"{"id":"c","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}"#,
            #"{"id":"c","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]},"finish_reason":null}]}"#,
            #"{"id":"c","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            #"{"id":"c","model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4}}"#,
        ]
        var names: [String] = []
        var last: JSONObject?
        for c in chunks {
            let chunk = try #require(try decoder.decode(c))
            for (name, _) in encoder.encode(chunk.events) { names.append(name) }
        }
        #expect(try decoder.decode("[DONE]") == nil)
        for (name, json) in encoder.finish() {
            names.append(name)
            if name == "message_delta" { last = json }
        }
        #expect(
            names == [
                "message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
            ])
        #expect(last?["delta"]?["stop_reason"] == "tool_use")
        #expect(last?["usage"]?["output_tokens"] == 4)
        #expect(last?["usage"]?["input_tokens"] == 9)
    }

    @Test("Anthropic events become OpenAI chunks with tool-call deltas and the usage chunk")
    func streamAnthropicToOpenAI() throws {
        var decoder = AnthropicStreamDecoder()
        var encoder = OpenAIStreamEncoder(id: "x", model: "m", created: 1, includeUsage: true)
        let events: [(String, String)] = [
            ("message_start", #"{"type":"message_start","message":{"id":"msg_1","model":"claude","usage":{"input_tokens":5,"cache_read_input_tokens":2,"output_tokens":1}}}"#),
            ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#),
            ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
            ("content_block_start", #"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"1}"}}"#),
            ("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":12}}"#),
            ("message_stop", #"{"type":"message_stop"}"#),
        ]
        var out: [JSONObject] = []
        for (name, data) in events { out += encoder.encode(try decoder.decode(event: name, data: data).events) }
        #expect(out.first?["choices"]?.arrayValue?.first?["delta"]?["role"] == "assistant")
        let toolStart = out.first { $0["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue?.first?["id"] != nil }
        #expect(toolStart?["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue?.first?["function"]?["name"] == "f")
        let finish = out.first { $0["choices"]?.arrayValue?.first?["finish_reason"] == "tool_calls" }
        #expect(finish != nil)
        let usage = try #require(out.last?["usage"])
        #expect(usage["prompt_tokens"] == 7)
        #expect(usage["completion_tokens"] == 12)
        #expect(usage["prompt_tokens_details"]?["cached_tokens"] == 2)
    }
}

@Suite("Error shapes")
struct ErrorShapeTests {
    @Test("OpenAI shape: message, type, param, code")
    func openAI() {
        let e = GatewayError.missingField("messages")
        #expect(
            e.openAIBody == [
                "error": [
                    "message": "Missing required parameter: 'messages'.", "type": "invalid_request_error", "param": "messages",
                    "code": "missing_field",
                ]
            ])
    }

    @Test("Anthropic shape: Warden's code leads the message")
    func anthropic() {
        let e = GatewayError.noHealthyDeployment(model: "m")
        #expect(e.anthropicBody["type"] == "error")
        #expect(e.anthropicBody["error"]?["type"] == "overloaded_error")
        #expect(e.anthropicBody["error"]?["message"]?.stringValue?.hasPrefix("no_healthy_deployment: ") == true)
    }

    @Test(
        "status and types follow the documented table",
        arguments: [
            (GatewayError.invalidJSON("x"), 400, "invalid_request_error", "invalid_json", "invalid_request_error", true),
            (.invalidAPIKey(), 401, "authentication_error", "invalid_api_key", "authentication_error", true),
            (.modelNotAllowed("m"), 403, "permission_error", "model_not_allowed", "permission_error", true),
            (.modelNotFound("m"), 404, "invalid_request_error", "model_not_found", "not_found_error", true),
            (.requestTimeout(seconds: 30), 408, "invalid_request_error", "request_timeout", "invalid_request_error", true),
            (.requestTooLarge(limitBytes: 8), 413, "invalid_request_error", "request_too_large", "request_too_large", true),
            (.upstreamRateLimited(retryAfterSeconds: 2, detail: "d"), 429, "rate_limit_error", "upstream_rate_limited", "rate_limit_error", false),
            (.upstreamError("r"), 502, "api_error", "upstream_error", "api_error", false),
            (.noHealthyDeployment(model: "m"), 503, "api_error", "no_healthy_deployment", "overloaded_error", false),
            (.upstreamTimeout("first byte"), 504, "api_error", "upstream_timeout", "api_error", false),
        ])
    func table(_ e: GatewayError, status: Int, type: String, code: String, anthropicType: String, refusal: Bool) {
        #expect(e.status == status)
        #expect(e.type == type)
        #expect(e.codeName == code)
        #expect(e.anthropicType == anthropicType)
        #expect(e.isRefusal == refusal)
    }

    @Test("a caller-fault upstream error passes through to its own API and is mapped to the other")
    func passThrough() {
        let upstream: JSONValue = [
            "error": ["message": "too long", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"]
        ]
        let e = GatewayError.upstreamClientError(status: 400, body: upstream, api: .openAI, message: "too long")
        #expect(e.openAIBody == upstream)
        #expect(e.anthropicBody["error"]?["type"] == "invalid_request_error")
        #expect(e.anthropicBody["error"]?["message"]?.stringValue?.contains("too long") == true)
    }
}
