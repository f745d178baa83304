import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import WardenCore

@testable import WardenServer

/// Embeddings go through every stage a model call needs: budgets reserve and settle, limits count
/// them, input guardrails read them, and usage and audit record them.
@Suite("Embeddings through every stage", .serialized)
struct EmbeddingsGovernanceTests {
    static let models = """
        models:
          embed: {deployments: [{provider: local, model: text-embedding-3-small}]}
        """

    /// 40 scalars: 10 tokens by the mock's count and by Warden's estimate, so reservation = settlement.
    static let input = String(repeating: "abcd", count: 10)
    /// text-embedding-3-small: 10 × $0.02/M = 200 nano-dollars.
    static let callCost: NanoDollars = 10 * 20

    @Test("a budget of exactly 10 calls admits exactly 10 of 100 concurrent ones, and the spend recorded is theirs (SQLite)")
    func budgetSQLite() async throws { try await budget(.sqlite) }

    @Test("a budget of exactly 10 calls admits exactly 10 of 100 concurrent ones, and the spend recorded is theirs (PostgreSQL)", .requiresPostgres)
    func budgetPostgreSQL() async throws { try await budget(.postgres) }

    func budget(_ backend: StoreBackend) async throws {
        try await Harness.with(models: Self.models, backend: backend) { h in
            let budget = Self.callCost * 10
            let key = try await h.createKey(["name": "embedder", "team": "rag", "budget_usd": .number(budget.usdString), "budget_period": "total"])
            let body = (["model": "embed", "input": .string(Self.input)] as JSONValue).jsonBuffer
            let client = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(connectionPool: .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 128)))
            let results = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for _ in 0..<100 {
                    group.addTask {
                        var request = HTTPClientRequest(url: h.baseURL + "/v1/embeddings")
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer \(key.secret)")
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(body)
                        let response = try await client.execute(request, timeout: .seconds(60))
                        let bytes = try await response.body.collect(upTo: 4 << 20)
                        return (Int(response.status.code), (try? JSONParser.parse(bytes))?["error"]?["code"]?.stringValue)
                    }
                }
                var out: [(Int, String?)] = []
                for try await r in group { out.append(r) }
                return out
            }
            try await client.shutdown()
            #expect(results.filter { $0.0 == 200 }.count == 10, "\(results.map(\.0))")
            #expect(results.filter { $0.0 == 429 && $0.1 == "budget_exceeded" }.count == 90)
            let spent = try await eventuallyValue { () -> String? in
                (try await h.admin("/admin/spend?key=\(key.id)", method: .GET).json?["total"]?["spend_usd"]).map { text($0) }
            } until: { $0 == budget.usdString }
            #expect(spent == budget.usdString, "the spend recorded equals the ten calls served")
            let requests = try await h.admin("/admin/spend?key=\(key.id)", method: .GET).json?["total"]?["requests"]?.intValue
            #expect(requests == 10)
        }
    }

    @Test("tpm counts an embeddings request's input tokens; rpm counts the request")
    func limits() async throws {
        try await Harness.with(models: Self.models) { h in
            // 25 tokens a minute: two 10-token inputs fit, the third does not.
            let key = try await h.createKey(["name": "metered", "team": "rag2", "tpm": 25])
            let body: JSONValue = ["model": "embed", "input": .string(Self.input)]
            for _ in 0..<2 {
                let ok = try await h.send("/v1/embeddings", json: body, bearer: key.secret)
                #expect(ok.status == 200, "\(ok.text)")
                #expect(ok.headers.first(name: "x-ratelimit-limit-tokens") == "25")
            }
            let refused = try await h.send("/v1/embeddings", json: body, bearer: key.secret)
            #expect(refused.status == 429)
            #expect(refused.json?["error"]?["code"] == "rate_limit_exceeded")
            #expect(refused.json?["error"]?["message"]?.stringValue?.contains("tokens per minute") == true)
            let limited = try await h.createKey(["name": "one-a-minute", "team": "rag3", "rpm": 1])
            #expect(try await h.send("/v1/embeddings", json: body, bearer: limited.secret).status == 200)
            #expect(try await h.send("/v1/embeddings", json: body, bearer: limited.secret).status == 429)
        }
    }

    @Test("input guardrails read embeddings inputs: a secret is blocked, an e-mail address is redacted before the upstream")
    func guardrails() async throws {
        let extra = """
            guardrails:
              input:
                - {detector: secrets, action: block}
                - {detector: pii, action: redact, types: [EMAIL_ADDRESS]}
            """
        try await Harness.with(models: Self.models, extra: extra) { h in
            let secret = "sk-proj-" + String(repeating: "Ab3dEf5hIj7kLm9nOp1qRs", count: 2)
            let blocked = try await h.send("/v1/embeddings", json: ["model": "embed", "input": ["fine text", .string("key: \(secret)")]])
            #expect(blocked.status == 400)
            #expect(blocked.json?["error"]?["code"] == "guardrail_blocked")
            let redacted = try await h.send("/v1/embeddings", json: ["model": "embed", "input": "write to jane.doe@example.com please"])
            #expect(redacted.status == 200, "\(redacted.text)")
            #expect(redacted.headers.first(name: "x-warden-guardrails") == "pii=redact")
            let journal = try JSONParser.parse(try await h.client.get(url: h.mockURL + "/mock/journal").get().body!)
            let sent = journal["recent"]?.arrayValue?.last { $0["path"] == "/v1/embeddings" }?["body"]?["input"]?.stringValue
            #expect(sent == "write to [EMAIL_ADDRESS_1] please", "the upstream got: \(sent ?? "nothing")")
        }
    }
}
