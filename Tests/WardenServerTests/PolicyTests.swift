import Foundation
import Testing
import WardenCore

@testable import WardenServer
@testable import WardenTools

/// Cedar policies deciding every request, against a real mock upstream.
@Suite("Policies in the request path", .serialized)
struct PolicyTests {
    static let models = """
        models:
          frontier: {deployments: [{provider: local, model: gpt-4o}], tier: frontier, region: us, fallbacks: [eu-small, onprem]}
          eu-small: {deployments: [{provider: local, model: gpt-4o-mini}], region: eu, tags: [cheap]}
          onprem: {deployments: [{provider: local, model: gpt-4o-mini}], self_hosted: true, attributes: {context_window: 8192, owner: infra}}
        """

    static let policies: [String: String] = [
        "policies/base.cedar": """
            @id("everyone")
            permit (principal, action, resource);
            """,
        "policies/rules.cedar": """
            @id("frontier-research-only")
            forbid (principal, action == Warden::Action::"chat", resource)
            when { resource has tier && resource.tier == "frontier" }
            unless { principal in Warden::Team::"research" };

            forbid (principal in Warden::Team::"finance", action, resource)
            unless { resource.self_hosted };

            @id("big-prompts-on-prem")
            forbid (principal, action, resource)
            when { context.estimated_tokens > 100 && resource has context_window && resource.context_window < 9000 };
            """,
    ]

    static let extra = "policies: ./policies"

    /// The `policy` objects of the request records the run left in the audit log.
    static func auditedPolicies(_ configPath: String) async throws -> [JSONValue] {
        let session = try await StoreSession.open(options: WardenServer.Options(configPath: configPath))
        var out: [JSONValue] = []
        for row in try await session.store.auditRecords(fromSeq: 0, limit: 10_000) {
            if let policy = try JSONParser.parse(row.body)["policy"] { out.append(policy) }
        }
        await session.close()
        return out
    }

    @Test("allowed, denied (naming the forbid), fallbacks skipped, /v1/models filtered, decisions audited")
    func enforce() async throws {
        try await Harness.with(
            models: Self.models, extra: Self.extra,
            afterShutdown: { path in
                let policies = try await Self.auditedPolicies(path)
                #expect(policies.contains { $0["decision"] == "deny" && $0["determining"] == ["frontier-research-only"] && $0["mode"] == "enforce" })
                #expect(policies.contains { $0["decision"] == "allow" && $0["determining"] == ["everyone"] })
            }, files: Self.policies
        ) { h in
            let research = try await h.createKey(["name": "r", "team": "research"])
            let support = try await h.createKey(["name": "s", "team": "support", "tags": ["oncall"]])
            let finance = try await h.createKey(["name": "f", "team": "finance"])

            #expect(try await h.send("/v1/chat/completions", json: h.chat("frontier"), bearer: research.secret).status == 200)
            let denied = try await h.send("/v1/chat/completions", json: h.chat("frontier"), bearer: support.secret)
            #expect(denied.status == 403)
            #expect(denied.json?["error"]?["code"] == "policy_denied")
            #expect(denied.json?["error"]?["type"] == "permission_error")
            #expect(denied.headers.first(name: "x-should-retry") == "false")
            #expect(denied.json?["error"]?["message"]?.stringValue?.contains("`frontier-research-only`") == true)
            // A policy without @id is named FILE:policyN.
            let financeDenied = try await h.send("/v1/chat/completions", json: h.chat("eu-small"), bearer: finance.secret)
            #expect(financeDenied.status == 403)
            #expect(financeDenied.json?["error"]?["message"]?.stringValue?.contains("`rules.cedar:policy1`") == true)
            #expect(try await h.send("/v1/chat/completions", json: h.chat("onprem"), bearer: finance.secret).status == 200)
            // Context: a long prompt may not go to the small on-prem model.
            let long = String(repeating: "word ", count: 200)
            #expect(try await h.send("/v1/chat/completions", json: h.chat("onprem", long), bearer: research.secret).status == 403)

            // /v1/models lists only what the key may chat with.
            let listed = try await h.send("/v1/models", method: .GET, bearer: support.secret)
            #expect(listed.json?["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["eu-small", "onprem"])
            #expect(try await h.send("/v1/models/frontier", method: .GET, bearer: support.secret).status == 404)

            // The Anthropic API is authorized the same way, in Anthropic's error shape.
            let anthropic = try await h.send(
                "/v1/messages", json: ["model": "frontier", "max_tokens": 10, "messages": [["role": "user", "content": "hi"]]],
                headers: [("anthropic-version", "2023-06-01")], bearer: support.secret)
            #expect(anthropic.status == 403)
            #expect(anthropic.json?["error"]?["type"] == "permission_error")
        }
    }

    @Test("a denied fallback is skipped, and the skip is audited")
    func fallbacks() async throws {
        let models = """
            models:
              primary: {deployments: [{provider: local, model: fail-503}], retries: 0, fallbacks: [frontier, eu-small], required: false}
              frontier: {deployments: [{provider: local, model: gpt-4o}], tier: frontier}
              eu-small: {deployments: [{provider: local, model: gpt-4o-mini}], region: eu}
            """
        try await Harness.with(
            models: models, extra: Self.extra,
            afterShutdown: { path in
                let policies = try await Self.auditedPolicies(path)
                #expect(policies.contains { $0["skipped_fallbacks"] == ["frontier"] })
            }, files: Self.policies
        ) { h in
            let support = try await h.createKey(["name": "s", "team": "support"])
            let reply = try await h.send("/v1/chat/completions", json: h.chat("primary"), bearer: support.secret)
            #expect(reply.status == 200)
            #expect(reply.headers.first(name: "x-warden-model") == "eu-small", "frontier is denied to support, so it is skipped")
            let research = try await h.createKey(["name": "r", "team": "research"])
            let allowed = try await h.send("/v1/chat/completions", json: h.chat("primary"), bearer: research.secret)
            #expect(allowed.headers.first(name: "x-warden-model") == "frontier")
        } 
    }

    @Test("shadow mode records a deny without enforcing it")
    func shadow() async throws {
        try await Harness.with(models: Self.models, extra: Self.extra + "\npolicies_mode: shadow", files: Self.policies) { h in
            let support = try await h.createKey(["name": "s", "team": "support"])
            #expect(try await h.send("/v1/chat/completions", json: h.chat("frontier"), bearer: support.secret).status == 200)
            #expect(try await eventually { h.logs.lines.contains { $0["msg"] == "policy would deny (shadow mode)" } })
        }
    }

    @Test("a change on disk swaps the set; an invalid set is rejected and the old one stays; reload over the admin API")
    func reload() async throws {
        try await Harness.with(models: Self.models, extra: Self.extra, files: Self.policies) { h in
            let support = try await h.createKey(["name": "s", "team": "support"])
            #expect(try await h.send("/v1/chat/completions", json: h.chat("eu-small"), bearer: support.secret).status == 200)
            let rules = h.directory + "/policies/rules.cedar"
            let original = try String(contentsOfFile: rules, encoding: .utf8)
            try (original + "\nforbid (principal, action, resource) when { resource.name == \"eu-small\" };\n")
                .write(toFile: rules, atomically: true, encoding: .utf8)
            #expect(try await eventually(timeout: .seconds(5)) {
                try await h.send("/v1/chat/completions", json: h.chat("eu-small"), bearer: support.secret).status == 403
            })
            // A broken file is rejected: the previous set stays.
            try "permit (principal, action, resource) when { 1 < };".write(toFile: h.directory + "/policies/broken.cedar", atomically: true, encoding: .utf8)
            let bad = try await h.admin("/admin/policies/reload")
            #expect(bad.status == 400)
            #expect(bad.text.contains("broken.cedar"))
            #expect(try await h.send("/v1/chat/completions", json: h.chat("eu-small"), bearer: support.secret).status == 403)
            try FileManager.default.removeItem(atPath: h.directory + "/policies/broken.cedar")
            try original.write(toFile: rules, atomically: true, encoding: .utf8)
            let good = try await h.admin("/admin/policies/reload")
            #expect(good.status == 200)
            #expect(good.json?["files"]?.arrayValue?.count == 2)
            #expect(try await h.send("/v1/chat/completions", json: h.chat("eu-small"), bearer: support.secret).status == 200)
        }
    }

    @Test("with a schema in the directory the set must validate: a misspelt attribute is rejected at load and on reload")
    func schemaValidation() async throws {
        let schema = try String(contentsOfFile: Self.examples + "/policies/schema.cedarschema", encoding: .utf8)
        var files = Self.policies
        files["policies/schema.cedarschema"] = schema
        try await Harness.with(models: Self.models, extra: Self.extra, files: files) { h in
            let support = try await h.createKey(["name": "s", "team": "support"])
            #expect(try await h.send("/v1/chat/completions", json: h.chat("frontier"), bearer: support.secret).status == 403)
            try "forbid (principal, action, resource) when { resource.teir == \"frontier\" };"
                .write(toFile: h.directory + "/policies/typo.cedar", atomically: true, encoding: .utf8)
            let reload = try await h.admin("/admin/policies/reload")
            #expect(reload.status == 400)
            #expect(reload.text.contains("teir"))
            #expect(try await h.send("/v1/chat/completions", json: h.chat("eu-small"), bearer: support.secret).status == 200)
        }
    }

    /// The repository's examples directory.
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples").path

    @Test("without policies everything is permitted")
    func none() async throws {
        try await Harness.with(models: Self.models) { h in
            let support = try await h.createKey(["name": "s", "team": "support"])
            #expect(try await h.send("/v1/chat/completions", json: h.chat("frontier"), bearer: support.secret).status == 200)
        }
    }

    @Test("the client IP behind trusted proxies and key tags reach the policies")
    func contextAndTags() async throws {
        let files = [
            "policies/ip.cedar": """
                permit (principal, action, resource)
                when { context has client_ip && context.client_ip.isInRange(ip("10.1.0.0/16")) && principal.tags.contains("office") };
                """
        ]
        try await Harness.with(models: Self.models, extra: Self.extra + "\ntrusted_proxies: [127.0.0.1/32]", files: files) { h in
            let tagged = try await h.createKey(["name": "t", "team": "x", "tags": ["office"]])
            let plain = try await h.createKey(["name": "p", "team": "x"])
            let office = [("X-Forwarded-For", "203.0.113.9, 10.1.2.3")]
            #expect(try await h.send("/v1/chat/completions", json: h.chat("eu-small"), headers: office, bearer: tagged.secret).status == 200)
            #expect(try await h.send("/v1/chat/completions", json: h.chat("eu-small"), headers: office, bearer: plain.secret).status == 403)
            let outside = [("X-Forwarded-For", "10.1.2.3, 203.0.113.9")]
            #expect(try await h.send("/v1/chat/completions", json: h.chat("eu-small"), headers: outside, bearer: tagged.secret).status == 403)
        }
    }
}
