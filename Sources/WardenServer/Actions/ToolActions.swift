import Cedar
import Guardrails
import Logging
import WardenAudit
import WardenCore
import WardenStore

/// What Warden decided about one tool call.
public struct ToolDecision: Sendable, Equatable {
    public enum Kind: String, Sendable { case allow, deny, pending }

    public var kind: Kind
    /// Why (empty when nothing stood in the way): the tool's configuration, a policy, a detector, the schema.
    public var reasons: [String]
    /// Detector findings on the arguments (`guardrails.tool_calls`), for the audit record and the header.
    public var verdicts: [GuardrailVerdict]
}

/// Decides tool calls: the tool's declaration in `tools:` (its action and argument schema), the Cedar
/// policies (action `tool:<name>`, resource `Warden::Tool::"<name>"`, the arguments in the context),
/// and the `guardrails.tool_calls` detectors on the arguments. The strictest outcome wins: deny, then
/// pending (held for approval), then allow.
struct ToolGuard: Sendable {
    let check: PolicyCheck

    struct Call {
        var tool: String
        var arguments: String
        var model: String?
        var agent: String?
        var session: String?
    }

    /// Whether anything governs tool calls, so answers without it are left alone.
    func isActive(runtime: GatewayRuntime, rules: [GuardrailsConfiguration.Rule]) -> Bool {
        !runtime.config.tools.isEmpty || !rules.isEmpty || check.engine.governsTools
    }

    func decide(_ call: Call, principal: Principal, runtime: GatewayRuntime, rules: [GuardrailsConfiguration.Rule], logger: Logger)
        -> ToolDecision
    {
        var deny: [String] = []
        var hold: [String] = []
        var verdicts: [GuardrailVerdict] = []
        let arguments: JSONValue
        do {
            arguments = try JSONParser.parse(call.arguments)
        } catch {
            return ToolDecision(kind: .deny, reasons: ["the arguments are not valid JSON"], verdicts: [])
        }
        let declared = runtime.config.tools[call.tool]
        if let declared {
            switch declared.action {
            case .block: deny.append("the tool '\(call.tool)' is blocked by configuration")
            case .requireApproval: hold.append("the tool '\(call.tool)' (risk: \(declared.risk.rawValue)) requires approval")
            case .allow: break
            }
            if let schema = declared.arguments {
                let problems = schema.validate(arguments, limit: 5)
                if !problems.isEmpty {
                    deny.append("the arguments break the tool's constraints: " + problems.map(\.description).joined(separator: "; "))
                }
            }
        }
        for rule in rules {
            var counts: [String: Int] = [:]
            for f in rule.findings(in: call.arguments) { counts[f.type, default: 0] += 1 }
            for (type, count) in counts.sorted(by: { $0.key < $1.key }) {
                verdicts.append(GuardrailVerdict(detector: rule.detector.rawValue, type: type, action: rule.action, count: count))
                switch rule.action {
                case .block: deny.append("the \(rule.detector.rawValue) detector found \(type) in the arguments")
                case .requireApproval: hold.append("the \(rule.detector.rawValue) detector found \(type) in the arguments")
                default: break
                }
            }
        }
        if let denial = check.authorizeTool(call, declared: declared, arguments: arguments, principal: principal, runtime: runtime, logger: logger) {
            deny.append(denial)
        }
        if !deny.isEmpty { return ToolDecision(kind: .deny, reasons: deny, verdicts: verdicts) }
        if !hold.isEmpty { return ToolDecision(kind: .pending, reasons: hold, verdicts: verdicts) }
        return ToolDecision(kind: .allow, reasons: [], verdicts: verdicts)
    }
}

extension PolicyEngine {
    /// Whether the policies speak about tools at all (a `tool:` action or the `Warden::Tool` type in a
    /// scope). Only then are tool calls authorized with Cedar: a policy set written for chat alone
    /// (default deny) would otherwise refuse every tool call.
    var governsTools: Bool {
        guard let loaded else { return false }
        func mentions(_ s: ScopeConstraint) -> Bool {
            switch s {
            case .any: false
            case .equal(let uid), .in(let uid): uid.type == "Warden::Tool"
            case .is(let type): type == "Warden::Tool"
            case .isIn(let type, let uid): type == "Warden::Tool" || uid.type == "Warden::Tool"
            }
        }
        return loaded.set.policies.contains { p in
            if mentions(p.resource) { return true }
            switch p.action {
            case .any: return false
            case .equal(let uid): return uid.id.hasPrefix("tool:")
            case .in(let uids): return uids.contains { $0.id.hasPrefix("tool:") }
            }
        }
    }
}

extension PolicyCheck {
    /// Cedar's say on a tool call (nil: allowed, or nothing to say); in shadow mode a denial is logged only.
    func authorizeTool(
        _ call: ToolGuard.Call, declared: ToolConfiguration?, arguments: JSONValue, principal: Principal, runtime: GatewayRuntime,
        logger: Logger
    ) -> String? {
        guard engine.governsTools else { return nil }
        var entities = entityList(principal: principal, models: call.model.map { [$0] } ?? [], runtime: runtime)
        var attributes: [String: CedarValue] = ["name": .string(call.tool), "declared": .bool(declared != nil)]
        if let declared { attributes["risk"] = .string(declared.risk.rawValue) }
        let tool = EntityUID(type: "Warden::Tool", id: call.tool)
        entities.append(Entity(uid: tool, attributes: attributes))
        var context = PolicyEntities.context(estimatedTokens: 0, maxTokens: nil, stream: false, clientIP: nil, now: WallClock.unixMilliseconds())
        context["arguments"] = PolicyEntities.cedar(arguments) ?? .record([:])
        if let model = call.model { context["model"] = .string(model) }
        if let agent = call.agent { context["agent"] = .string(agent) }
        if let session = call.session { context["session"] = .string(session) }
        let store = (try? EntityStore(entities)) ?? .empty
        guard
            let decision = engine.authorize(
                CedarRequest(
                    principal: PolicyEntities.keyUID(principal.keyID), action: PolicyEntities.action("tool:\(call.tool)"), resource: tool,
                    context: context),
                entities: store), !decision.allowed
        else { return nil }
        let reason =
            decision.determining.isEmpty
            ? "no permit policy matched" : "forbidden by \(decision.determining.map { "`\($0)`" }.joined(separator: ", "))"
        guard decision.enforced else {
            logger.notice("policy would deny a tool call (shadow mode)", metadata: ["warden.tool": "\(call.tool)", "warden.policy.reason": "\(reason)"])
            return nil
        }
        return "denied by policy (\(reason))"
    }
}

extension PolicyEntities {
    /// A JSON value as Cedar sees it: integers are longs, other numbers strings, objects records,
    /// arrays sets; null has no Cedar form and is left out.
    static func cedar(_ v: JSONValue) -> CedarValue? {
        switch v {
        case .null: nil
        case .bool(let b): .bool(b)
        case .number(let n): Int64(n).map(CedarValue.long) ?? .string(n)
        case .string(let s): .string(s)
        case .array(let a): .set(Set(a.compactMap(cedar)))
        case .object(let o):
            .record(Dictionary(o.compactMap { m in cedar(m.value).map { (m.key, $0) } }, uniquingKeysWith: { a, _ in a }))
        }
    }
}

/// Held tool calls: creates them, lets people decide them, hands approved ones back once; every step is audited.
struct ApprovalDesk: Sendable {
    let store: SQLStore
    let audit: AuditLog

    func hold(
        _ call: ToolGuard.Call, callID: String?, reasons: [String], principal: Principal, requestID: String?, fingerprint: String?,
        ttl: ConfigDuration
    ) async throws -> ApprovalRecord {
        let now = WallClock.unixMilliseconds()
        var record = ApprovalRecord(
            id: "apr_" + String(KeyMaterial.generate(prefix: "").prefix(32)), createdAt: now,
            expiresAt: now.addingSaturated(ttl.duration.clampedMilliseconds), keyID: principal.keyID, team: principal.team, tool: call.tool,
            arguments: call.arguments, reasons: reasons)
        record.callID = callID
        record.model = call.model
        record.requestID = requestID
        record.fingerprint = fingerprint
        record.agent = call.agent
        record.session = call.session
        try await store.insertApproval(record)
        var fields = Self.fields(record, event: "requested")
        fields["reasons"] = .array(reasons.map { .string($0) })
        fields["arguments_sha256"] = .string(KeyMaterial.hash(call.arguments))
        audit.append(kind: "approval", fields: fields)
        return record
    }

    func decide(id: String, approve: Bool, actor: String, note: String?) async throws -> ApprovalRecord {
        let now = WallClock.unixMilliseconds()
        guard let before = try await store.approval(id: id) else { throw GatewayError.notFound(resource: "The approval '\(id)'") }
        guard before.status(at: now) == .pending else {
            throw GatewayError.conflict("The approval '\(id)' is already \(before.status(at: now).rawValue).")
        }
        guard let after = try await store.decideApproval(id: id, approve: approve, by: actor, note: note, now: now),
            after.status == (approve ? .approved : .rejected)
        else {
            throw GatewayError.conflict("The approval '\(id)' was decided or expired meanwhile.")
        }
        var fields = Self.fields(after, event: approve ? "approved" : "rejected")
        fields["actor"] = .string(actor)
        if let note { fields["note"] = .string(note) }
        audit.append(kind: "approval", fields: fields)
        return after
    }

    /// The approved call for a request that carries `x-warden-approval: ID`, handed back once.
    func redeem(id: String, principal: Principal, fingerprint: String) async throws -> ApprovalRecord {
        let now = WallClock.unixMilliseconds()
        // Another key's approval reads as unknown: ids are not confirmed across keys.
        guard let record = try await store.approval(id: id), record.keyID == principal.keyID else {
            throw GatewayError.approval(status: 404, code: "approval_not_found", "The approval '\(id)' does not exist for this key.")
        }
        switch record.status(at: now) {
        case .pending:
            throw GatewayError.approval(status: 409, code: "approval_pending", "The call to '\(record.tool)' is still waiting for approval ('\(id)').")
        case .rejected:
            throw GatewayError.approval(
                status: 403, code: "approval_rejected", "The call to '\(record.tool)' was rejected\(record.note.map { ": \($0)" } ?? ".")")
        case .expired:
            throw GatewayError.approval(status: 409, code: "approval_expired", "The approval '\(id)' expired before anyone decided it.")
        case .approved:
            break
        }
        guard record.fingerprint == fingerprint else {
            throw GatewayError.approval(
                status: 409, code: "approval_mismatch", "The approval '\(id)' was given for a different request; send the same request again.")
        }
        guard try await store.redeemApproval(id: id, now: now) else {
            throw GatewayError.approval(status: 409, code: "approval_used", "The approved call '\(id)' was already handed back once.")
        }
        audit.append(kind: "approval", fields: Self.fields(record, event: "redeemed"))
        return record
    }

    static func fields(_ r: ApprovalRecord, event: String) -> JSONObject {
        var o: JSONObject = [
            "event": .string(event), "approval_id": .string(r.id), "tool": .string(r.tool), "key_id": .string(r.keyID), "team": .string(r.team),
        ]
        if let m = r.model { o["model"] = .string(m) }
        if let q = r.requestID { o["request_id"] = .string(q) }
        return o
    }

    static func json(_ r: ApprovalRecord, now: Int64) -> JSONObject {
        var o: JSONObject = [
            "id": .string(r.id), "status": .string(r.status(at: now).rawValue), "tool": .string(r.tool),
            "arguments": (try? JSONParser.parse(r.arguments)) ?? .string(r.arguments), "reasons": .array(r.reasons.map { .string($0) }),
            "key_id": .string(r.keyID), "team": .string(r.team), "created_at": .string(WallClock.rfc3339(unixMilliseconds: r.createdAt)),
            "expires_at": .string(WallClock.rfc3339(unixMilliseconds: r.expiresAt)),
        ]
        if let v = r.model { o["model"] = .string(v) }
        if let v = r.requestID { o["request_id"] = .string(v) }
        if let v = r.agent { o["agent"] = .string(v) }
        if let v = r.session { o["session"] = .string(v) }
        if let v = r.decidedAt { o["decided_at"] = .string(WallClock.rfc3339(unixMilliseconds: v)) }
        if let v = r.decidedBy { o["decided_by"] = .string(v) }
        if let v = r.note { o["note"] = .string(v) }
        if let v = r.usedAt { o["used_at"] = .string(WallClock.rfc3339(unixMilliseconds: v)) }
        return o
    }
}

extension ChatRequest {
    /// What identifies "the same request sent again": SHA-256 of the canonical JSON of the client's body
    /// without the fields that may differ between two sends of it (streaming, the output cap, ids).
    var approvalFingerprint: String {
        var o = original
        for k in ["stream", "stream_options", "max_tokens", "max_completion_tokens", "user", "metadata", "store", "service_tier"] { o[k] = nil }
        return KeyMaterial.hash(String(decoding: CanonicalJSON.bytes(.object(o)), as: UTF8.self))
    }
}
