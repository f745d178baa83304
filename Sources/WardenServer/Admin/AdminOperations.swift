import Cedar
import NIOCore
import Guardrails
import WardenCore
import WardenStore

/// The admin operations in JSON, shared by the admin API (`/admin/*`) and the CLI (`warden teams|keys|spend`),
/// so both validate the same way and audit every change.
public struct AdminOperations: Sendable {
    public let service: AdminService
    let audit: AuditLog?
    /// Who acts, for the audit record: `admin_api`, or `cli:USER`.
    let actor: String

    package init(service: AdminService, audit: AuditLog?, actor: String) {
        self.service = service
        self.audit = audit
        self.actor = actor
    }

    public func createTeam(_ body: JSONValue?) async throws -> JSONObject {
        let f = try JSONFields(body ?? [:], path: "")
        let team = try await service.createTeam(name: try f.requireString("name"), try Self.teamChanges(f))
        record("team.create", ["team": .string(team.name)], changes: f.object)
        return Self.json(team)
    }

    public func teams() async throws -> JSONObject {
        ["data": .array(try await service.store.teams().map { .object(Self.json($0)) })]
    }

    public func team(_ name: String) async throws -> JSONObject {
        guard let team = try await service.store.team(named: name) else { throw GatewayError.notFound(resource: "The team '\(name)'") }
        return Self.json(team)
    }

    public func updateTeam(_ name: String, _ body: JSONValue?) async throws -> JSONObject {
        let f = try JSONFields(body ?? [:], path: "")
        let team = try await service.updateTeam(name: name, try Self.teamChanges(f))
        record("team.update", ["team": .string(team.name)], changes: f.object)
        return Self.json(team)
    }

    public func createKey(_ body: JSONValue?) async throws -> JSONObject {
        let f = try JSONFields(body ?? [:], path: "")
        var changes = try Self.keyChanges(f)
        changes.name = try f.requireString("name")
        let (key, secret) = try await service.createKey(team: try f.requireString("team"), changes)
        record("key.create", ["key_id": .string(key.id), "key_name": .string(key.name), "team": .string(key.team)], changes: f.object)
        var out = Self.json(key)
        out["key"] = .string(secret)
        return out
    }

    public func keys(team: String? = nil) async throws -> JSONObject {
        let keys = try await service.store.allKeys().filter { team == nil || $0.team == team }
        return ["data": .array(keys.map { .object(Self.json($0)) })]
    }

    public func key(_ id: String) async throws -> JSONObject {
        guard let key = try await service.store.key(id: id) else { throw GatewayError.notFound(resource: "The key '\(id)'") }
        return Self.json(key)
    }

    public func updateKey(_ id: String, _ body: JSONValue?) async throws -> JSONObject {
        let f = try JSONFields(body ?? [:], path: "")
        let key = try await service.updateKey(id: id, try Self.keyChanges(f))
        record("key.update", ["key_id": .string(key.id), "key_name": .string(key.name), "team": .string(key.team)], changes: f.object)
        return Self.json(key)
    }

    public func revokeKey(_ id: String) async throws -> JSONObject {
        let key = try await service.revokeKey(id: id)
        record("key.revoke", ["key_id": .string(key.id), "key_name": .string(key.name), "team": .string(key.team)])
        return Self.json(key)
    }

    public func rotateKey(_ id: String, _ body: JSONValue?) async throws -> JSONObject {
        let f = try JSONFields(body ?? [:], path: "")
        let overlap = try f.int("overlap_seconds", min: 0, max: 30 * 86_400) ?? 3600
        let (key, secret, previous) = try await service.rotateKey(id: id, overlapSeconds: overlap)
        record(
            "key.rotate",
            ["key_id": .string(key.id), "previous_key_id": .string(previous.id), "team": .string(key.team), "overlap_seconds": .int(overlap)])
        var out = Self.json(key)
        out["key"] = .string(secret)
        out["previous"] = .object(Self.json(previous))
        return out
    }

    /// `POST /admin/policies/reload`: reads the policy directory now; an invalid set is rejected (400) and
    /// the previous one stays.
    func reloadPolicies(_ engine: PolicyEngine) throws -> JSONObject {
        let loaded: PolicyEngine.Loaded?
        do throws(PolicyLoadError) {
            loaded = try engine.reload()
        } catch {
            throw GatewayError.invalidValue("policies", "The policies were not reloaded: \(error.message). The previous policies stay.")
        }
        guard let loaded else { throw GatewayError.invalidValue("policies", "No `policies:` directory is configured.") }
        record("policies.reload", ["policies": .int(loaded.set.policies.count), "files": .array(loaded.files.map { .string($0) })])
        return Self.json(loaded)
    }

    static func json(_ loaded: PolicyEngine.Loaded) -> JSONObject {
        [
            "directory": .string(loaded.directory), "files": .array(loaded.files.map { .string($0) }),
            "policies": .array(
                loaded.set.policies.map { p in
                    ["id": .string(p.id), "effect": .string(p.effect.rawValue)]
                }),
        ]
    }

    /// The audit record of a change: what changed (never a secret: keys are generated, not passed in).
    func record(_ action: String, _ fields: JSONObject, changes: JSONObject? = nil) {
        var event: JSONObject = ["action": .string(action), "actor": .string(actor)]
        for (k, v) in fields { event[k] = v }
        if let changes {
            var c = changes
            c["name"] = nil
            c["team"] = nil
            if !c.isEmpty { event["changes"] = .object(c) }
        }
        audit?.append(kind: "admin", fields: event)
    }

    /// Spend, tokens and requests; `query` holds `team`, `key`, `from`, `to`, `group_by` (all optional).
    public func spend(_ get: (String) -> String?) async throws -> JSONObject {
        var q = SpendQuery(team: get("team"), keyID: get("key"))
        if let from = get("from") {
            guard let ms = Self.parseTime(from) else { throw GatewayError.invalidValue("from", "Invalid 'from': use RFC 3339 or a date like 2026-11-01.") }
            q.from = ms
        }
        if let to = get("to") {
            guard let ms = Self.parseTime(to) else { throw GatewayError.invalidValue("to", "Invalid 'to': use RFC 3339 or a date like 2026-12-01.") }
            q.to = ms
        }
        if let group = get("group_by") {
            guard let g = SpendQuery.Grouping(rawValue: group) else {
                throw GatewayError.invalidValue("group_by", "Invalid 'group_by': expected 'model', 'day', 'team' or 'key'.")
            }
            q.groupBy = g
        }
        let rows = try await service.store.spend(q)
        let data: [JSONValue] = rows.map { row in
            var o: JSONObject = [
                "requests": .int(row.requests), "prompt_tokens": .int(row.promptTokens),
                "completion_tokens": .int(row.completionTokens), "spend_usd": .number(row.cost.usdString),
            ]
            if let group = q.groupBy { o[group.rawValue] = row.group.map { .string($0) } ?? .null }
            return .object(o)
        }
        let total = rows.reduce(into: (0, 0, 0, NanoDollars(0))) { acc, r in
            acc.0 += r.requests
            acc.1 += r.promptTokens
            acc.2 += r.completionTokens
            acc.3 += r.cost
        }
        return [
            "data": .array(data),
            "total": [
                "requests": .int(total.0), "prompt_tokens": .int(total.1), "completion_tokens": .int(total.2),
                "spend_usd": .number(total.3.usdString),
            ],
        ]
    }

    // MARK: JSON

    static func teamChanges(_ f: JSONFields) throws(GatewayError) -> AdminService.TeamChanges {
        var changes = AdminService.TeamChanges(
            budget: try budget(f), rpm: try limit(f, "rpm"), tpm: try limit(f, "tpm"), tags: try tags(f), metadata: try metadata(f))
        changes.guardrails = try guardrails(f)
        return changes
    }

    /// `guardrails`: the configuration's `guardrails:` shape (input, output, tool_calls rules; canary),
    /// validated as the config file is; null removes them.
    static func guardrails(_ f: JSONFields) throws(GatewayError) -> String?? {
        guard let v = f.object["guardrails"] else { return nil }
        if v.isNull { return .some(nil) }
        guard case .object = v else { throw GatewayError.wrongType("guardrails", expected: "an object", got: v) }
        let text = v.jsonString
        do {
            try GuardrailsConfiguration.parse(json: text).checkTypes(at: "guardrails")
        } catch {
            throw GatewayError.invalidValue("guardrails", "Invalid 'guardrails': \(error.description)")
        }
        return .some(text)
    }

    /// `tags`: up to 32 distinct strings of 1 to 128 characters (sorted; duplicates dropped).
    static func tags(_ f: JSONFields) throws(GatewayError) -> [String]? {
        guard let v = f.object["tags"] else { return nil }
        if v.isNull { return [] }
        guard let list = try f.stringList("tags") else { return nil }
        guard list.count <= 32, list.allSatisfy({ (1...128).contains($0.count) }) else {
            throw GatewayError.invalidValue("tags", "'tags' is a list of at most 32 strings of 1 to 128 characters.")
        }
        return Array(Set(list)).sorted()
    }

    /// `metadata`: up to 32 string values of at most 512 characters, keys of at most 64.
    static func metadata(_ f: JSONFields) throws(GatewayError) -> [String: String]? {
        guard let m = f.object["metadata"] else { return nil }
        if m.isNull { return [:] }
        guard case .object(let o) = m else { throw GatewayError.wrongType("metadata", expected: "an object of strings", got: m) }
        var metadata: [String: String] = [:]
        for (k, v) in o {
            guard let s = v.stringValue, (1...64).contains(k.count), s.count <= 512 else {
                throw GatewayError.invalidValue("metadata.\(k)", "Metadata keys are 1 to 64 characters and values strings of at most 512.")
            }
            metadata[k] = s
        }
        guard metadata.count <= 32 else { throw GatewayError.invalidValue("metadata", "At most 32 metadata entries.") }
        return metadata
    }

    static func keyChanges(_ f: JSONFields) throws(GatewayError) -> AdminService.KeyChanges {
        var changes = AdminService.KeyChanges(budget: try budget(f), rpm: try limit(f, "rpm"), tpm: try limit(f, "tpm"))
        changes.name = try f.string("name")
        if let v = f.object["models"] {
            if v.isNull {
                changes.models = .some(nil)
            } else {
                guard let list = try f.stringList("models"), !list.isEmpty else {
                    throw GatewayError.invalidValue("models", "'models' must be a non-empty list of model names, or null for all models.")
                }
                changes.models = .some(list)
            }
        }
        if let v = f.object["expires_at"] {
            if v.isNull {
                changes.expiresAt = .some(nil)
            } else if let seconds = v.intValue, (0...253_402_300_799).contains(seconds) {  // up to 9999-12-31
                changes.expiresAt = .some(Int64(seconds) * 1000)
            } else if let text = v.stringValue, let ms = parseTime(text) {
                changes.expiresAt = .some(ms)
            } else {
                throw GatewayError.invalidValue("expires_at", "Invalid 'expires_at': use RFC 3339 (2026-12-31T23:59:59Z) or Unix seconds.")
            }
        }
        changes.metadata = try metadata(f)
        changes.tags = try tags(f)
        changes.guardrails = try guardrails(f)
        return changes
    }

    static func budget(_ f: JSONFields) throws(GatewayError) -> BudgetLimit?? {
        guard let v = f.object["budget_usd"] else {
            if f.object["budget_period"] != nil {
                throw GatewayError.invalidValue("budget_period", "'budget_period' needs 'budget_usd'.")
            }
            return nil
        }
        if v.isNull { return .some(nil) }
        let text: String
        switch v {
        case .number(let n): text = n
        case .string(let s): text = s
        default: throw GatewayError.wrongType("budget_usd", expected: "a number", got: v)
        }
        guard let amount = NanoDollars.parseUSD(text) else {
            throw GatewayError.invalidValue("budget_usd", "Invalid 'budget_usd': a non-negative amount in USD with at most nine decimals.")
        }
        var period = BudgetPeriod.monthly
        if let p = try f.string("budget_period") {
            guard let parsed = BudgetPeriod(rawValue: p) else {
                throw GatewayError.invalidValue("budget_period", "Invalid 'budget_period': expected daily, weekly, monthly or total.")
            }
            period = parsed
        }
        return .some(BudgetLimit(amount: amount, period: period))
    }

    static func limit(_ f: JSONFields, _ key: String) throws(GatewayError) -> Int?? {
        guard let v = f.object[key] else { return nil }
        if v.isNull { return .some(nil) }
        guard let n = try f.int(key, min: 1, max: 100_000_000) else { return nil }
        return .some(n)
    }

    static func json(_ team: TeamRecord) -> JSONObject {
        [
            "id": .string(team.id), "name": .string(team.name),
            "budget_usd": team.budget.map { .number($0.amount.usdString) } ?? .null,
            "budget_period": team.budget.map { .string($0.period.rawValue) } ?? .null,
            "rpm": team.rpm.map { .int($0) } ?? .null, "tpm": team.tpm.map { .int($0) } ?? .null,
            "tags": .array(team.tags.map { .string($0) }), "metadata": jsonMetadata(team.metadata),
            "guardrails": team.guardrails.flatMap { try? JSONParser.parse($0) } ?? .null,
            "created_at": .string(WallClock.rfc3339(unixMilliseconds: team.createdAt)),
            "updated_at": .string(WallClock.rfc3339(unixMilliseconds: team.updatedAt)),
        ]
    }

    static func jsonMetadata(_ metadata: [String: String]) -> JSONValue {
        var object = JSONObject()
        for (k, v) in metadata.sorted(by: { $0.key < $1.key }) { object[k] = .string(v) }
        return .object(object)
    }

    static func json(_ key: StoredKey) -> JSONObject {
        [
            "id": .string(key.id), "name": .string(key.name), "team": .string(key.team), "prefix": .string(key.prefix),
            "models": key.models.map { .array($0.map { .string($0) }) } ?? .null,
            "budget_usd": key.budget.map { .number($0.amount.usdString) } ?? .null,
            "budget_period": key.budget.map { .string($0.period.rawValue) } ?? .null,
            "rpm": key.rpm.map { .int($0) } ?? .null, "tpm": key.tpm.map { .int($0) } ?? .null,
            "tags": .array(key.tags.map { .string($0) }), "metadata": jsonMetadata(key.metadata),
            "guardrails": key.guardrails.flatMap { try? JSONParser.parse($0) } ?? .null,
            "created_at": .string(WallClock.rfc3339(unixMilliseconds: key.createdAt)),
            "expires_at": key.expiresAt.map { .string(WallClock.rfc3339(unixMilliseconds: $0)) } ?? .null,
            "revoked_at": key.revokedAt.map { .string(WallClock.rfc3339(unixMilliseconds: $0)) } ?? .null,
            "rotated_from": key.rotatedFrom.map { .string($0) } ?? .null,
        ]
    }

    /// RFC 3339 (`2026-11-29T21:34:19Z`, fractional seconds and offsets allowed) or a date (`2026-11-29`).
    static func parseTime(_ text: String) -> Int64? {
        WallClock.parseRFC3339(text)
    }
}
