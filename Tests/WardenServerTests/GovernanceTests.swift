import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import WardenAudit
import WardenCore
import WardenStore

@testable import WardenServer
@testable import WardenTools

/// Budgets, rate limits, keys and cost in the request path, against a real mock upstream and both stores.
@Suite("Governance in the request path", .serialized)
struct GovernanceTests {
    static let models = """
        models:
          fast: {deployments: [{provider: local, model: gpt-4o-mini}]}
        """

    /// A prompt of 40 scalars (10 tokens by the mock's count and Warden's estimate) whose echo is longer
    /// than 5 tokens: with max_tokens 5 the answer is exactly 5 tokens, so reservation = settlement.
    static let exactPrompt = String(repeating: "abcd", count: 10)
    /// gpt-4o-mini: 10 × $0.15/M + 5 × $0.60/M = 4,500 nano-dollars.
    static let exactCost: NanoDollars = 10 * 150 + 5 * 600

    func exactRequest(_ h: Harness) -> JSONValue {
        ["model": "fast", "max_tokens": 5, "messages": [["role": "user", "content": .string(Self.exactPrompt)]]]
    }

    @Test("200 concurrent requests against a budget that allows exactly 10: 10 succeed, spend never exceeds it (SQLite)")
    func budgetUnderConcurrencySQLite() async throws { try await budgetUnderConcurrency(.sqlite) }

    @Test("200 concurrent requests against a budget that allows exactly 10: 10 succeed, spend never exceeds it (PostgreSQL)", .requiresPostgres)
    func budgetUnderConcurrencyPostgreSQL() async throws { try await budgetUnderConcurrency(.postgres) }

    func budgetUnderConcurrency(_ backend: StoreBackend) async throws {
        try await Harness.with(models: Self.models, backend: backend) { h in
            let budget = Self.exactCost * 10
            let key = try await h.createKey(["name": "tight", "team": "budgets", "budget_usd": .number(budget.usdString), "budget_period": "total"])
            let client = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(connectionPool: .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)))
            let body = exactRequest(h).jsonBuffer
            let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for _ in 0..<200 {
                    group.addTask {
                        var request = HTTPClientRequest(url: h.baseURL + "/v1/chat/completions")
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer \(key.secret)")
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(body)
                        let response = try await client.execute(request, timeout: .seconds(60))
                        let bytes = try await response.body.collect(upTo: 1 << 20)
                        let code = (try? JSONParser.parse(bytes))?["error"]?["code"]?.stringValue
                        if response.status == .tooManyRequests {
                            #expect(response.headers.first(name: "x-should-retry") == "false")
                        }
                        return (Int(response.status.code), code)
                    }
                }
                var out: [(Int, String?)] = []
                for try await s in group { out.append(s) }
                return out
            }
            try await client.shutdown()
            #expect(statuses.filter { $0.0 == 200 }.count == 10)
            #expect(statuses.filter { $0.0 == 429 && $0.1 == "budget_exceeded" }.count == 190)
            // Recorded spend: exactly the budget, never more.
            let spent = try await eventuallyValue { () -> String? in
                let s = try await h.admin("/admin/spend?key=\(key.id)", method: .GET).json?["total"]?["spend_usd"]
                return s.map { text($0) }
            } until: { $0 == budget.usdString }
            #expect(spent == budget.usdString)
            let refusal = try await h.send("/v1/chat/completions", json: exactRequest(h), bearer: key.secret)
            #expect(refusal.json?["error"]?["type"] == "insufficient_quota")
            let message = refusal.json?["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains("key 'tight'") && message.contains("total"), "names the budget: \(message)")
        }
    }

    @Test("rpm 30: a burst of 60 lets 30 through; the rest get 429 with Retry-After and OpenAI's headers")
    func requestsPerMinute() async throws {
        try await Harness.with(models: Self.models) { h in
            let key = try await h.createKey(["name": "burst", "team": "limits", "rpm": 30])
            let replies = try await withThrowingTaskGroup(of: Harness.Reply.self) { group in
                for _ in 0..<60 { group.addTask { try await h.send("/v1/chat/completions", json: h.chat("fast"), bearer: key.secret) } }
                var out: [Harness.Reply] = []
                for try await r in group { out.append(r) }
                return out
            }
            let passed = replies.filter { $0.status == 200 }
            let limited = replies.filter { $0.status == 429 }
            #expect(passed.count == 30)
            #expect(limited.count == 30)
            for r in limited {
                #expect(r.json?["error"]?["code"] == "rate_limit_exceeded")
                #expect(r.headers.first(name: "retry-after").flatMap(Int.init).map { (1...60).contains($0) } == true)
            }
            let headers = try #require(passed.first?.headers)
            #expect(headers.first(name: "x-ratelimit-limit-requests") == "30")
            #expect(headers.first(name: "x-ratelimit-remaining-requests").flatMap(Int.init).map { (0..<30).contains($0) } == true)
            #expect(headers.first(name: "x-ratelimit-reset-requests")?.hasSuffix("s") == true)
        }
    }

    @Test("a revoked key is refused on its next request, an expired key too; rotation overlaps (SQLite)")
    func revocationExpiryRotationSQLite() async throws { try await revocationExpiryRotation(.sqlite) }

    @Test("a revoked key is refused on its next request, an expired key too; rotation overlaps (PostgreSQL)", .requiresPostgres)
    func revocationExpiryRotationPostgreSQL() async throws { try await revocationExpiryRotation(.postgres) }

    func revocationExpiryRotation(_ backend: StoreBackend) async throws {
        try await Harness.with(models: Self.models, backend: backend) { h in
            let key = try await h.createKey(["name": "short", "team": "keys"])
            #expect(try await h.send("/v1/chat/completions", json: h.chat("fast"), bearer: key.secret).status == 200)
            #expect(try await h.admin("/admin/keys/\(key.id)", method: .DELETE).status == 200)
            let refused = try await h.send("/v1/chat/completions", json: h.chat("fast"), bearer: key.secret)
            #expect(refused.status == 401)
            #expect(refused.json?["error"]?["code"] == "invalid_api_key")

            // Expiry without waiting for it: valid for an hour, then its expiry moved into the past.
            let expiring = try await h.createKey([
                "name": "soon", "team": "keys",
                "expires_at": .string(WallClock.rfc3339(unixMilliseconds: WallClock.unixMilliseconds() + 3_600_000)),
            ])
            #expect(try await h.send("/v1/chat/completions", json: h.chat("fast"), bearer: expiring.secret).status == 200)
            let moved = try await h.admin(
                "/admin/keys/\(expiring.id)", method: .PATCH,
                json: ["expires_at": .string(WallClock.rfc3339(unixMilliseconds: WallClock.unixMilliseconds() - 1000))])
            #expect(moved.status == 200)
            let expired = try await h.send("/v1/chat/completions", json: h.chat("fast"), bearer: expiring.secret)
            #expect(expired.status == 401)
            #expect(expired.json?["error"]?["code"] == "invalid_api_key")

            let old = try await h.createKey(["name": "rotating", "team": "keys", "models": ["fast"]])
            let rotated = try await h.admin("/admin/keys/\(old.id)/rotate", json: ["overlap_seconds": 60])
            #expect(rotated.status == 201)
            let fresh = try #require(rotated.json?["key"]?.stringValue)
            #expect(rotated.json?["models"] == ["fast"], "the replacement keeps the settings")
            #expect(try await h.send("/v1/chat/completions", json: h.chat("fast"), bearer: old.secret).status == 200, "overlap")
            #expect(try await h.send("/v1/chat/completions", json: h.chat("fast"), bearer: fresh).status == 200)
            let id = try #require(rotated.json?["id"]?.stringValue)
            _ = try await h.admin("/admin/keys/\(id)/rotate", json: ["overlap_seconds": 0])
            #expect(try await h.send("/v1/chat/completions", json: h.chat("fast"), bearer: fresh).status == 401, "no overlap")
        }
    }

    @Test("a change made by another process (the CLI, a replica) is seen within a second")
    func changesFromElsewhere() async throws {
        try await Harness.with(models: Self.models) { h in
            let key = try await h.createKey(["name": "elsewhere", "team": "keys"])
            #expect(try await h.send("/v1/chat/completions", json: h.chat("fast"), bearer: key.secret).status == 200)
            let session = try await StoreSession.open(options: .init(configPath: h.directory + "/warden.yaml"))
            _ = try await session.operations.revokeKey(key.id)
            _ = try await session.operations.createTeam(["name": "from-cli", "rpm": 1])
            await session.close()
            let start = ContinuousClock.now
            let refused = try await eventually(timeout: .seconds(2)) {
                try await h.send("/v1/chat/completions", json: h.chat("fast"), bearer: key.secret).status == 401
            }
            #expect(refused)
            #expect(ContinuousClock.now - start < .milliseconds(1500))
        }
    }

    @Test("models allow-list: 403 for other models, and /v1/models lists only the allowed ones")
    func allowList() async throws {
        try await Harness.with(models: Self.models + "\n  other: {deployments: [{provider: local, model: gpt-4o}]}") { h in
            let key = try await h.createKey(["name": "narrow", "team": "keys", "models": ["fast"]])
            #expect(try await h.send("/v1/chat/completions", json: h.chat("fast"), bearer: key.secret).status == 200)
            let denied = try await h.send("/v1/chat/completions", json: h.chat("other"), bearer: key.secret)
            #expect(denied.status == 403)
            #expect(denied.json?["error"]?["code"] == "model_not_allowed")
            let listed = try await h.send("/v1/models", method: .GET, bearer: key.secret)
            #expect(listed.json?["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["fast"])
        }
    }

    @Test("budgets.strict on SQLite: the reservation is in the store during the upstream call, settles to the real cost, and the budget holds")
    func strictReservations() async throws {
        try await Harness.with(models: Self.models, extra: "budgets: {strict: true}", mockLatency: .milliseconds(600)) { h in
            let key = try await h.createKey([
                "name": "strict", "team": "s", "budget_usd": .number((Self.exactCost * 2).usdString), "budget_period": "total",
            ])
            let inFlight = Task { try await h.send("/v1/chat/completions", json: exactRequest(h), bearer: key.secret) }
            let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
            let db = try await SQLiteDatabase.open(path: h.directory + "/data/warden.sqlite", logger: quiet)
            func reserved() async throws -> Int64 {
                try await db.query("SELECT COALESCE(SUM(reserved_nano), 0) AS n FROM budget_usage").first?.int("n") ?? 0
            }
            func spent() async throws -> Int64 {
                try await db.query("SELECT COALESCE(MAX(spent_nano), 0) AS n FROM budget_usage").first?.int("n") ?? 0
            }
            // Persisted before the upstream answers (the mock takes 600 ms): key and team scopes both hold it.
            #expect(try await eventually(timeout: .milliseconds(450)) { try await reserved() > 0 })
            #expect(try await inFlight.value.status == 200)
            #expect(try await reserved() == 0)
            #expect(try await spent() == Self.exactCost)
            #expect(try await h.send("/v1/chat/completions", json: exactRequest(h), bearer: key.secret).status == 200)
            let refused = try await h.send("/v1/chat/completions", json: exactRequest(h), bearer: key.secret)
            #expect(refused.status == 429)
            #expect(refused.json?["error"]?["code"] == "budget_exceeded")
            await db.close()
        }
    }

    @Test("a budgeted key is refused a model Warden cannot price (the budget could not hold); an unbudgeted key is served")
    func unpricedModel() async throws {
        let models = Self.models + "\n  finetune: {deployments: [{provider: local, model: acme-finetune-7b}]}"
            + "\n  priced: {deployments: [{provider: local, model: acme-finetune-7b}], pricing: {input_per_mtok: 1, output_per_mtok: 2}}"
        try await Harness.with(models: models) { h in
            let budgeted = try await h.createKey(["name": "b", "team": "money", "budget_usd": 1])
            let refused = try await h.send("/v1/chat/completions", json: h.chat("finetune"), bearer: budgeted.secret)
            #expect(refused.status == 403)
            #expect(refused.json?["error"]?["code"] == "model_not_priced")
            #expect(refused.headers.first(name: "x-should-retry") == "false")
            let served = try await h.send("/v1/chat/completions", json: h.chat("priced"), bearer: budgeted.secret)
            #expect(served.status == 200)
            #expect(served.headers.first(name: "x-warden-cost-usd") != nil)
            #expect(try await h.send("/v1/chat/completions", json: h.chat("finetune")).status == 200, "no budget, nothing to bound")
        }
    }

    @Test("the admin API: its key is required, input is validated, secrets never come back")
    func adminAPI() async throws {
        try await Harness.with(models: Self.models) { h in
            #expect(try await h.send("/admin/keys", method: .GET).status == 401, "a data-plane key is not an admin key")
            #expect(try await h.send("/admin/keys", method: .GET, authenticated: false).status == 401)
            let team = try await h.admin("/admin/teams", json: ["name": "research", "budget_usd": 25, "budget_period": "weekly", "rpm": 100])
            #expect(team.status == 201)
            #expect(team.json?["budget_usd"] == .number("25.00"))
            #expect(try await h.admin("/admin/teams", json: ["name": "research"]).status == 409)
            let badPeriod = try await h.admin("/admin/teams", json: ["name": "x", "budget_usd": 1, "budget_period": "hourly"])
            #expect(badPeriod.status == 400)
            #expect(badPeriod.json?["error"]?["param"] == "budget_period")
            #expect(try await h.admin("/admin/teams", json: ["name": "bad name!"]).status == 400)
            #expect(try await h.admin("/admin/keys", json: ["name": "k", "team": "research", "rpm": -1]).status == 400)
            #expect(try await h.admin("/admin/keys/key_missing", method: .GET).status == 404)
            let created = try await h.createKey(["name": "k", "team": "research", "metadata": ["owner": "ana"]])
            let listed = try await h.admin("/admin/keys", method: .GET)
            #expect(!listed.text.contains(created.secret))
            #expect(!listed.text.contains(KeyMaterial.hash(created.secret)))
            let patched = try await h.admin("/admin/keys/\(created.id)", method: .PATCH, json: ["rpm": 5, "budget_usd": .null])
            #expect(patched.json?["rpm"] == 5)
            #expect(try await h.admin("/admin/teams/research", method: .GET).json?["rpm"] == 100)
        }
    }

    @Test("cost per usage shape, JSON and streamed, matches the configured pricing exactly")
    func costPerUsageShape() async throws {
        let pricing = "pricing: {input_per_mtok: 3, output_per_mtok: 15, cached_input_per_mtok: 0.3, cache_write_per_mtok: 3.75, reasoning_per_mtok: 20}"
        let models = """
            models:
              plain: {deployments: [{provider: local, model: plain}], \(pricing)}
              cached: {deployments: [{provider: local, model: cache-8-0}], \(pricing)}
              anthropic-cache: {deployments: [{provider: claude, model: cache-6-4}], \(pricing)}
              reasoning: {deployments: [{provider: local, model: reasoning-7}], \(pricing)}
            """
        // Nano-dollars per token at these prices.
        let (input, output, cachedInput, cacheWrite, reasoning): (Int64, Int64, Int64, Int64, Int64) = (3000, 15000, 300, 3750, 20000)
        try await Harness.with(models: models) { h in
            let key = try await h.createKey(["name": "costs", "team": "costs"])
            for model in ["plain", "cached", "anthropic-cache", "reasoning"] {
                for stream in [false, true] {
                    var body = h.chat(model, "what does this cost, exactly?", stream: stream).objectValue!
                    if stream { body["stream_options"] = ["include_usage": true] }
                    let reply = try await h.send("/v1/chat/completions", json: .object(body), bearer: key.secret)
                    #expect(reply.status == 200)
                    let usage: JSONValue
                    let reported: String?
                    if stream {
                        let chunks = reply.text.split(separator: "\n").filter { $0.hasPrefix("data: {") }.compactMap {
                            try? JSONParser.parse(String($0.dropFirst(6)))
                        }
                        let last = try #require(chunks.last { $0["usage"]?.objectValue != nil })
                        usage = try #require(last["usage"])
                        reported = last["warden"]?["cost_usd"].map { text($0) }
                    } else {
                        usage = try #require(reply.json?["usage"])
                        reported = reply.headers.first(name: "x-warden-cost-usd")
                    }
                    // The usage the client saw (OpenAI's shape: cached inside prompt_tokens, reasoning inside completion_tokens).
                    let prompt = Int64(usage["prompt_tokens"]?.intValue ?? -1)
                    let completion = Int64(usage["completion_tokens"]?.intValue ?? -1)
                    let cached = Int64(usage["prompt_tokens_details"]?["cached_tokens"]?.intValue ?? 0)
                    let thinking = Int64(usage["completion_tokens_details"]?["reasoning_tokens"]?.intValue ?? 0)
                    let written: Int64 = model == "anthropic-cache" ? 4 : 0  // OpenAI's shape has no cache-write field
                    switch model {
                    case "cached": #expect(cached == 8)
                    case "anthropic-cache": #expect(cached == 6)
                    case "reasoning": #expect(thinking == 7)
                    default: #expect(cached == 0 && thinking == 0)
                    }
                    let expected =
                        (prompt - cached - written) * input + cached * cachedInput + written * cacheWrite
                        + (completion - thinking) * output + thinking * reasoning
                    #expect(reported == NanoDollars(expected).usdString, "\(model) stream=\(stream): \(usage.jsonString)")
                }
            }
            // The usage records hold the same money.
            let total = try await eventuallyValue {
                try await h.admin("/admin/spend?key=\(key.id)", method: .GET).json?["total"]?["requests"]?.intValue
            } until: { $0 == 8 }
            #expect(total == 8)
        }
    }

    @Test("budget alerts: an HMAC-signed webhook once at each of 50, 80 and 100 % (SQLite)")
    func budgetAlertsSQLite() async throws { try await budgetAlerts(.sqlite) }

    @Test("budget alerts: an HMAC-signed webhook once at each of 50, 80 and 100 % (PostgreSQL)", .requiresPostgres)
    func budgetAlertsPostgreSQL() async throws { try await budgetAlerts(.postgres) }

    func budgetAlerts(_ backend: StoreBackend) async throws {
        try await Harness.with(
            models: Self.models, extra: "budgets: {alerts: {webhook: \"{MOCK}/mock/webhooks\", secret: file:./alert-secret}}",
            backend: backend
        ) { h in
            let team = try await h.admin(
                "/admin/teams", json: ["name": "alerted", "budget_usd": .number((Self.exactCost * 10).usdString), "budget_period": "monthly"])
            #expect(team.status == 201)
            let key = try await h.createKey(["name": "spender", "team": "alerted"])
            var statuses: [Int] = []
            for _ in 0..<11 { statuses.append(try await h.send("/v1/chat/completions", json: exactRequest(h), bearer: key.secret).status) }
            #expect(statuses == Array(repeating: 200, count: 10) + [429])
            let deliveries = try await eventuallyValue {
                try await JSONParser.parse(h.client.get(url: h.mockURL + "/mock/webhooks").get().body!)["data"]?.arrayValue ?? []
            } until: { $0.count >= 3 }
            // Every alert was decided (claimed once in memory and once in the store) before the last
            // request was answered, so by now a duplicate would already be among the deliveries.
            #expect(deliveries.count == 3, "each threshold once")
            var thresholds: [Int] = []
            for delivery in deliveries {
                let body = try #require(delivery["body"]?.stringValue)
                let event = try JSONParser.parse(body)
                #expect(event["type"] == "budget.threshold")
                #expect(event["scope"] == "team")
                #expect(event["name"] == "alerted")
                thresholds.append(event["threshold_percent"]?.intValue ?? -1)
                // x-warden-signature: t=UNIX,v1=HMAC-SHA256(secret, "t.body")
                let header = try #require(delivery["headers"]?["x-warden-signature"]?.stringValue)
                let parts = Dictionary(uniqueKeysWithValues: header.split(separator: ",").map { p in
                    let kv = p.split(separator: "=", maxSplits: 1)
                    return (String(kv[0]), String(kv[1]))
                })
                let t = try #require(parts["t"])
                let mac = HMAC<SHA256>.authenticationCode(for: Array("\(t).\(body)".utf8), using: SymmetricKey(data: Array("alert-secret".utf8)))
                #expect(parts["v1"] == mac.map { String(format: "%02x", $0) }.joined())
            }
            #expect(thresholds.sorted() == [50, 80, 100])
        }
    }
}

/// A JSON scalar as plain text (numbers keep their written form).
func text(_ value: JSONValue) -> String {
    switch value {
    case .string(let s): s
    case .number(let n): n
    default: value.jsonString
    }
}

/// Polls `value` until `done` holds or `timeout` passes; returns the last value.
func eventuallyValue<T>(timeout: Duration = .seconds(5), _ value: () async throws -> T, until done: (T) -> Bool) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    var last = try await value()
    while !done(last), ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(50))
        last = try await value()
    }
    return last
}
