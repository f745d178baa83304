import HTTPTypes
import Hummingbird
import NIOCore
import Guardrails
import WardenCore
import WardenStore

extension Gateway {
    var toolGuard: ToolGuard { ToolGuard(check: policies) }
    var approvalDesk: ApprovalDesk { ApprovalDesk(store: governance.store, audit: governance.audit) }

    /// `POST /v1/actions/authorize {tool, arguments, agent?, session?, model?}` → `{decision: allow|deny|pending,
    /// approval_id?, reasons}`: an agent framework asks before it executes a tool. The same checks as for
    /// tool calls in answers (the tool's declaration, Cedar `tool:<name>`, `guardrails.tool_calls`); a
    /// pending decision creates an approval to poll at `GET /v1/actions/approvals/{id}`. Audited.
    func authorizeAction(_ request: Request, context: WardenRequestContext) async -> Response {
        var exchange = Exchange(request: request, api: .openAI, runtime: holder.runtime)
        exchange.booksUsage = false
        do {
            let principal = try authenticate(request, exchange: &exchange)
            let f = try JSONFields(try await readJSON(request, exchange: exchange), path: "")
            guard let tool = try f.string("tool") else { throw GatewayError.missingField("tool") }
            guard WardenConfiguration.isToolName(tool) else {
                throw GatewayError.invalidValue("tool", "A tool name is 1 to 64 letters, digits, '_' or '-'.")
            }
            let arguments: String
            switch f.value("arguments") {
            case nil, .null?: arguments = "{}"
            case .string(let s)?: arguments = s
            case .object(let o)?: arguments = JSONValue.object(o).jsonString
            case let other?: throw GatewayError.wrongType("arguments", expected: "an object or a JSON string", got: other)
            }
            let agent = try f.string("agent")
            let session = try f.string("session")
            let model = try f.string("model")
            for (name, value) in [("agent", agent), ("session", session), ("model", model)] {
                if let value, !(1...128).contains(value.count) { throw GatewayError.invalidValue(name, "'\(name)' is 1 to 128 characters.") }
            }
            if let model { try ModelAccessStage.check(model: model, principal: principal, runtime: exchange.runtime) }
            exchange.entry.model = model
            let rules = exchange.runtime.guardrails(model: model ?? "", principal: principal).toolCalls
            let call = ToolGuard.Call(tool: tool, arguments: arguments, model: model, agent: agent, session: session)
            let decision = toolGuard.decide(call, principal: principal, runtime: exchange.runtime, rules: rules, logger: context.logger)
            var body: JSONObject = ["decision": .string(decision.kind.rawValue), "reasons": .array(decision.reasons.map { .string($0) })]
            var entry: JSONObject = ["tool": .string(tool), "decision": .string(decision.kind.rawValue), "reasons": body["reasons"]!]
            if decision.kind == .pending {
                let record = try await approvalDesk.hold(
                    call, callID: nil, reasons: decision.reasons, principal: principal, requestID: exchange.requestID, fingerprint: nil,
                    ttl: exchange.runtime.config.approvals.ttl)
                body["approval_id"] = .string(record.id)
                body["expires_at"] = .string(WallClock.rfc3339(unixMilliseconds: record.expiresAt))
                entry["approval_id"] = .string(record.id)
                exchange.record.updateState { $0.heldApprovals = [record.id] }
            }
            if !decision.verdicts.isEmpty { body["guardrails"] = .array(decision.verdicts.map(\.json)) }
            exchange.record.updateState {
                $0.toolCallDecisions = [.object(entry)]
                $0.verdicts = decision.verdicts.map {
                    var v = $0
                    v.stage = "tool_call"
                    return v
                }
            }
            let buffer = JSONValue.object(body).jsonBuffer
            noteResponse(buffer, exchange)
            var response = HTTPResponses.json(buffer, requestID: exchange.requestID)
            await complete(exchange, status: 200)
            decorate(&response, exchange, cost: nil)
            return response
        } catch {
            return await fail(exchange, gatewayError(from: error))
        }
    }

    /// `GET /v1/actions/approvals/{id}`: the approval's status, for the key that asked.
    func approvalStatus(_ request: Request, context: WardenRequestContext, id: String) async -> Response {
        var exchange = Exchange(request: request, api: .openAI, runtime: holder.runtime)
        exchange.booksUsage = false
        do {
            let principal = try authenticate(request, exchange: &exchange)
            guard id.count <= 64, let record = try await governance.store.approval(id: id), record.keyID == principal.keyID else {
                throw GatewayError.notFound(resource: "The approval '\(id.prefix(64))'")
            }
            let buffer = JSONValue.object(ApprovalDesk.json(record, now: WallClock.unixMilliseconds())).jsonBuffer
            var response = HTTPResponses.json(buffer, requestID: exchange.requestID)
            exchange.entry.path = "/v1/actions/approvals/{id}"
            await complete(exchange, status: 200)
            decorate(&response, exchange, cost: nil)
            return response
        } catch {
            return await fail(exchange, gatewayError(from: error))
        }
    }
}

extension AdminOperations {
    /// `GET /admin/approvals?status=pending|approved|rejected|expired` (all when absent), newest first.
    public func approvals(status: String?, limit: String?) async throws -> JSONObject {
        var filter: ApprovalRecord.Status?
        if let status {
            guard let s = ApprovalRecord.Status(rawValue: status) else {
                throw GatewayError.invalidValue("status", "Invalid 'status': expected pending, approved, rejected or expired.")
            }
            filter = s
        }
        let n = limit.flatMap(Int.init) ?? 100
        guard (1...1000).contains(n) else { throw GatewayError.invalidValue("limit", "'limit' is between 1 and 1000.") }
        let now = WallClock.unixMilliseconds()
        let list = try await service.store.approvals(status: filter, now: now, limit: n)
        return ["data": .array(list.map { .object(ApprovalDesk.json($0, now: now)) })]
    }

    /// `POST /admin/approvals/{id}/approve` and `/reject`, with an optional `{"note": "…"}`.
    public func decideApproval(_ id: String, approve: Bool, _ body: JSONValue?) async throws -> JSONObject {
        var note: String?
        if let body {
            let f = try JSONFields(body, path: "")
            note = try f.string("note")
            if let n = note, n.count > 1000 { throw GatewayError.invalidValue("note", "'note' is at most 1000 characters.") }
        }
        guard let audit else { throw GatewayError.internalError("approvals need the audit log") }
        let record = try await ApprovalDesk(store: service.store, audit: audit).decide(id: id, approve: approve, actor: actor, note: note)
        return ApprovalDesk.json(record, now: WallClock.unixMilliseconds())
    }
}
