import Cedar
import Foundation
import WardenCore
import WardenServer

/// `warden policy test FILE.yaml` and `warden policy check DIR`: CI for policy repositories.
///
/// A test file (documented in docs/policies.md):
/// ```yaml
/// policies: ./policies            # the directory, relative to this file
/// config: ./warden.yaml           # optional: the models' tier, region, self_hosted, tags, attributes
/// teams:                          # optional: team tags and metadata
///   research: {tags: [frontier-ok], metadata: {cost_center: "42"}}
/// tests:
///   - name: research may use frontier models
///     key: {team: research, tags: [ci], metadata: {owner: ana}}   # id defaults to the test's name
///     action: chat                # default chat
///     model: frontier
///     context: {pii: true, estimated_tokens: 1200, client_ip: 10.1.2.3, time: "2026-11-30T12:00:00Z"}
///     expect: allow               # or deny
///     determining: [everyone]     # optional, compared as a set
/// ```
public enum PolicyTool {
    struct TestFile: Decodable {
        var policies: String
        var config: String?
        var teams: [String: TeamLabels]?
        var tests: [TestCase]

        enum CodingKeys: String, CodingKey, CaseIterable { case policies, config, teams, tests }

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            policies = try c.decode(String.self, forKey: .policies)
            config = try c.decodeIfPresent(String.self, forKey: .config)
            teams = try c.decodeIfPresent([String: TeamLabels].self, forKey: .teams)
            tests = try c.decode([TestCase].self, forKey: .tests)
        }
    }

    struct TeamLabels: Decodable {
        var tags: [String]?
        var metadata: [String: String]?
    }

    struct KeySpec: Decodable {
        var id: String?
        var name: String?
        var team: String
        var tags: [String]?
        var metadata: [String: String]?
    }

    struct TestCase: Decodable {
        var name: String
        var key: KeySpec
        var action: String
        var model: String
        var context: [String: ConfigAttribute]
        var expect: String
        var determining: [String]?

        enum CodingKeys: String, CodingKey, CaseIterable { case name, key, action, model, context, expect, determining }

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            key = try c.decode(KeySpec.self, forKey: .key)
            action = try c.decodeIfPresent(String.self, forKey: .action) ?? "chat"
            model = try c.decode(String.self, forKey: .model)
            context = try c.decodeIfPresent([String: ConfigAttribute].self, forKey: .context) ?? [:]
            expect = try c.decode(String.self, forKey: .expect)
            guard expect == "allow" || expect == "deny" else {
                throw ConfigurationError(key: (c.codingPath + [CodingKeys.expect]).configKey, "expected allow or deny")
            }
            determining = try c.decodeIfPresent([String].self, forKey: .determining)
        }
    }

    public struct TestReport: Sendable {
        public var lines: [String]
        public var passed: Int
        public var failed: Int
    }

    /// Runs the table; every line says `ok` or `FAIL` with what differed.
    public static func test(path: String) throws -> TestReport {
        guard let data = FileManager.default.contents(atPath: path) else { throw PolicyLoadError(message: "cannot read \(path)") }
        let file = try ConfigurationLoader.decode(TestFile.self, yaml: String(decoding: data, as: UTF8.self))
        let base = (path as NSString).deletingLastPathComponent
        let loaded = try PolicyEngine.load(directory: SecretReference.absolutePath(file.policies, base: base.isEmpty ? "." : base))
        var models: [String: ModelConfiguration] = [:]
        if let configPath = file.config {
            let config = try ConfigurationLoader.load(path: SecretReference.absolutePath(configPath, base: base.isEmpty ? "." : base))
            for (name, m) in config.models { models[name] = m }
        }
        var report = TestReport(lines: [], passed: 0, failed: 0)
        for t in file.tests {
            let principal = Principal(
                keyID: t.key.id ?? t.name, keyName: t.key.name ?? t.key.id ?? t.name, team: t.key.team, tags: t.key.tags ?? [],
                metadata: t.key.metadata ?? [:])
            let labels = file.teams?[t.key.team]
            let team = TeamRecord(
                id: t.key.team, name: t.key.team, tags: labels?.tags ?? [], metadata: labels?.metadata ?? [:], createdAt: 0, updatedAt: 0)
            var entities = [PolicyEntities.key(principal), PolicyEntities.team(t.key.team, record: team)]
            if let model = models[t.model] {
                entities.append(PolicyEntities.model(t.model, model))
            } else if file.config != nil {
                report.failed += 1
                report.lines.append("FAIL \(t.name): the config has no model '\(t.model)'")
                continue
            }
            var context = PolicyEntities.context(
                estimatedTokens: 0, maxTokens: nil, stream: false, clientIP: nil, now: Int64(Date().timeIntervalSince1970 * 1000))
            for (k, v) in t.context {
                switch (k, v) {
                case ("client_ip", .string(let s)):
                    guard let ip = IPAddress(parsing: s) else { throw PolicyLoadError(message: "\(t.name): client_ip '\(s)' is not an IP address") }
                    context[k] = .ip(ip)
                case ("time", .string(let s)):
                    guard let d = CedarDatetime(parsing: s) else { throw PolicyLoadError(message: "\(t.name): time '\(s)' is not a datetime") }
                    context[k] = .datetime(d)
                default:
                    context[k] = PolicyEntities.value(v)
                }
            }
            let request = CedarRequest(
                principal: PolicyEntities.keyUID(principal.keyID), action: PolicyEntities.action(t.action),
                resource: PolicyEntities.modelUID(t.model), context: context)
            let response = Authorizer.isAuthorized(request, policies: loaded.set, entities: try EntityStore(entities))
            var problems: [String] = []
            if response.decision.rawValue != t.expect { problems.append("expected \(t.expect), got \(response.decision.rawValue)") }
            if let want = t.determining, Set(want) != Set(response.reasons) {
                problems.append("expected determining \(want.sorted()), got \(response.reasons.sorted())")
            }
            if !response.errors.isEmpty { problems.append("policies failed to evaluate: \(response.errors.map { "\($0.policy): \($0.message)" })") }
            let why = response.reasons.isEmpty ? "no policy matched" : response.reasons.joined(separator: ", ")
            if problems.isEmpty {
                report.passed += 1
                report.lines.append("ok   \(t.name): \(response.decision.rawValue) (\(why))")
            } else {
                report.failed += 1
                report.lines.append("FAIL \(t.name): " + problems.joined(separator: "; "))
            }
        }
        return report
    }
}
