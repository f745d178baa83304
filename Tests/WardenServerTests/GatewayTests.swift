import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import Testing
import WardenCore

@testable import WardenServer

@Suite("Gateway, in-process with a real mock upstream", .serialized)
struct GatewayTests {
    static let models = """
        models:
          fast: {deployments: [{provider: local, model: gpt-4o-mini}]}
          claude-fast: {deployments: [{provider: claude, model: claude-haiku}]}
          flaky: {deployments: [{provider: local, model: fail-503}], fallbacks: [fast], retries: 1, required: false}
          breaker: {deployments: [{provider: local, model: fail-503}], retries: 0, required: false}
          slow: {deployments: [{provider: local, model: slow-3000}], retries: 0, timeout: {first_byte: 10s, total: 20s}}
        """

    @Test("chat through both wire formats, with the key's identity and the upstream's key kept apart")
    func chatRoundTrips() async throws {
        try await Harness.with(models: Self.models, extra: "reliability: {breaker_failures: 2, backoff_initial: 10ms, backoff_max: 50ms}") { h in
            let reply = try await h.send("/v1/chat/completions", json: h.chat("fast", "ping"))
            #expect(reply.status == 200)
            #expect(reply.json?["choices"]?.arrayValue?.first?["message"]?["content"] == "Echo: ping")
            #expect(reply.headers.first(name: "x-warden-overhead-ms").flatMap(Double.init) != nil)
            #expect(reply.headers.first(name: "x-request-id")?.hasPrefix("req_") == true)

            let translated = try await h.send("/v1/chat/completions", json: h.chat("claude-fast", "pong"))
            #expect(translated.json?["object"] == "chat.completion")
            #expect(translated.json?["choices"]?.arrayValue?.first?["message"]?["content"] == "Echo: pong")
            #expect(translated.json?["choices"]?.arrayValue?.first?["finish_reason"] == "stop")

            let journal = try await JSONParser.parse(h.client.get(url: h.mockURL + "/mock/journal").get().body!)
            let recent = try #require(journal["recent"]?.arrayValue)
            let openAICall = try #require(recent.first { $0["path"] == "/v1/chat/completions" })
            #expect(openAICall["headers"]?["authorization"] == "Bearer upstream-secret", "the provider's key, never the client's")
            #expect(openAICall["body"]?["model"] == "gpt-4o-mini")
            let anthropicCall = try #require(recent.first { $0["path"] == "/v1/messages" })
            #expect(anthropicCall["headers"]?["x-api-key"] == "upstream-secret")
            #expect(anthropicCall["body"]?["max_tokens"] == 4096)

            let log = try #require(h.logs.requests.first)
            #expect(log["key"] == "test")
            #expect(log["team"] == "qa")
            #expect(log["prompt_tokens"] == 1)
            let text = h.logs.lines.map(\.jsonString).joined()
            #expect(!text.contains(h.key) && !text.contains("upstream-secret") && !text.contains("ping"), "no keys or prompts in logs")
        }
    }

    @Test("fallback, then an open circuit answers 503 without calling the upstream")
    func fallbackAndBreaker() async throws {
        try await Harness.with(models: Self.models, extra: "reliability: {breaker_failures: 2, backoff_initial: 10ms, backoff_max: 50ms}") { h in
            let fallback = try await h.send("/v1/chat/completions", json: h.chat("flaky"))
            #expect(fallback.status == 200)
            #expect(fallback.headers.first(name: "x-warden-model") == "fast")
            #expect(fallback.headers.first(name: "x-warden-attempts") == "3")

            // flaky's two failures opened the shared fail-503 deployment's circuit.
            let before = try #require(try await JSONParser.parse(h.client.get(url: h.mockURL + "/mock/journal").get().body!)["requests"]?.intValue)
            let refused = try await h.send("/v1/chat/completions", json: h.chat("breaker"))
            #expect(refused.status == 503)
            #expect(refused.json?["error"]?["code"] == "no_healthy_deployment")
            let after = try #require(try await JSONParser.parse(h.client.get(url: h.mockURL + "/mock/journal").get().body!)["requests"]?.intValue)
            #expect(before == after, "no upstream call while the circuit is open")

            let ready = try await h.send("/health/ready", method: .GET, authenticated: false)
            #expect(ready.json?["models"]?["breaker"]?["ok"] == false)
            #expect(ready.status == 200, "breaker is not required, so Warden stays ready")
        }
    }

    @Test("a client that disconnects cancels the upstream call, and the request is logged as 499")
    func disconnectCancelsUpstream() async throws {
        try await Harness.with(models: Self.models) { h in
            await #expect(throws: (any Error).self) {
                _ = try await h.send("/v1/chat/completions", json: h.chat("slow"), timeout: .milliseconds(300))
            }
            let cancelled = try await eventually(timeout: .seconds(3)) { h.mock.journal.clientDisconnects >= 1 }
            #expect(cancelled, "the mock saw Warden go away long before its 3 s answer")
            let logged = try await eventually { h.logs.requests.contains { $0["status"] == 499 } }
            #expect(logged)
            let line = h.logs.requests.first { $0["status"] == 499 }
            #expect(line?["usage_estimated"] == true)
        }
    }

    @Test("the config file reloads on change; an invalid file is rejected and the old config stays")
    func reload() async throws {
        try await Harness.with(models: Self.models) { h in
            #expect(try await h.send("/v1/chat/completions", json: h.chat("newcomer")).status == 404)
            try h.rewriteConfig(models: Self.models + "\n  newcomer: {deployments: [{provider: local, model: n1}]}")
            let served = try await eventually(timeout: .seconds(5)) {
                try await h.send("/v1/chat/completions", json: h.chat("newcomer")).status == 200
            }
            #expect(served)
            try "models: [this is not: valid".write(toFile: h.directory + "/warden.yaml", atomically: true, encoding: .utf8)
            let rejected = try await eventually(timeout: .seconds(5)) {
                h.logs.lines.contains { $0["msg"] == "configuration reload rejected; the previous configuration stays" }
            }
            #expect(rejected)
            #expect(try await h.send("/v1/chat/completions", json: h.chat("newcomer")).status == 200)
        }
    }

    @Test("a body that does not arrive within body_timeout gets 408, and the server keeps serving")
    func slowBody() async throws {
        try await Harness.with(models: Self.models, extra: "server: {body_timeout: 300ms}") { h in
            let port = Int(h.baseURL.split(separator: ":").last!)!
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).get()
            let received = ResponseCollector()
            try await channel.pipeline.addHandler(received).get()
            let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(h.key)\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":"
            try await channel.writeAndFlush(ByteBuffer(string: head)).get()
            try await channel.closeFuture.get()
            let text = received.text
            #expect(text.hasPrefix("HTTP/1.1 408"))
            #expect(text.contains("request_timeout"))
            #expect(text.lowercased().contains("x-should-retry: false"))
            #expect(try await h.send("/v1/chat/completions", json: h.chat("fast")).status == 200)
        }
    }

    @Test("bytes that are not HTTP get a JSON 400, not an empty body")
    func malformedHTTP() async throws {
        try await Harness.with(models: Self.models) { h in
            let port = Int(h.baseURL.split(separator: ":").last!)!
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).get()
            let received = ResponseCollector()
            try await channel.pipeline.addHandler(received).get()
            try await channel.writeAndFlush(ByteBuffer(string: "POST /v1/chat/completions HTTP/1.1\r\nHost x\r\n\r\n")).get()
            try await channel.closeFuture.get()
            let text = received.text
            #expect(text.hasPrefix("HTTP/1.1 400"))
            #expect(text.contains("malformed_http"))
            #expect(try await h.send("/v1/chat/completions", json: h.chat("fast")).status == 200)
        }
    }

    @Test("SIGTERM-style shutdown: unready at once, requests still served during drain_delay")
    func drain() async throws {
        try await Harness.with(models: Self.models, extra: "shutdown: {drain_delay: 1s, timeout: 5s}") { h in
            #expect(try await h.send("/health/ready", method: .GET, authenticated: false).status == 200)
            h.control.shutdown()
            let unready = try await eventually(timeout: .seconds(1)) {
                let r = try await h.send("/health/ready", method: .GET, authenticated: false)
                return r.status == 503 && r.json?["status"] == "draining"
            }
            #expect(unready)
            #expect(try await h.send("/v1/chat/completions", json: h.chat("fast")).status == 200)
        }
    }
}

/// Reads everything a raw connection receives.
final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private var buffer = ByteBuffer()
    private let lock = NSLock()

    var text: String { lock.withLock { String(buffer: buffer) } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        lock.withLock { _ = buffer.writeBuffer(&incoming) }
    }
}
