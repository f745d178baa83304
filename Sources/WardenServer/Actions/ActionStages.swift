import Logging
import Guardrails
import WardenCore
import WardenStore

/// Tool-call guardrails on the answers: every tool call the model returns is decided by `ToolGuard`;
/// a denied call is stripped and the message says so; a call that needs approval is stripped, stored
/// as a pending approval, and named in the message and in `x-warden-approval`. The same request sent
/// again with `x-warden-approval: ID`, once approved, gets the stored call back (once) without a model call.
///
/// Tool calls are only complete at the end of an answer, so a streamed request that offers tools is
/// asked of the model whole and streamed to the client afterwards when tool guarding is active.
struct ToolCallStage: ModelStage {
    let tools: ToolGuard
    let desk: ApprovalDesk

    var roles: Set<RouteStage> { [.toolCalls] }

    func handle(_ model: ModelRequest, context: GatewayContext, next: ModelStageChain) async throws -> ModelOutcome {
        guard let request = model.chat else { return try await next(model, context: context) }
        if let id = context.approvalID {
            let record = try await desk.redeem(id: id, principal: context.principal, fingerprint: request.approvalFingerprint)
            context.record.updateState {
                $0.heldApprovals = [record.id]
                $0.toolCallDecisions.append(["tool": .string(record.tool), "decision": "approved", "approval_id": .string(record.id)])
            }
            let call = ToolUse(id: record.callID ?? "call_\(record.id)", name: record.tool, argumentsJSON: record.arguments)
            return .complete(
                CompletedChat(
                    canonical: ChatResponse(
                        id: "chatcmpl-" + record.id, model: request.model, created: WallClock.unixSeconds(),
                        choices: [ChatChoice(index: 0, content: [.toolUse(call)], stopReason: .toolUse)], usage: Usage())))
        }
        let rules = context.guardrails.toolCalls
        guard !request.tools.isEmpty, tools.isActive(runtime: context.runtime, rules: rules) else {
            return try await next(model, context: context)
        }
        var forwarded = request
        forwarded.makeNonStreaming()
        let outcome = try await next(.chat(forwarded), context: context)
        guard case .complete(let completed) = outcome, var response = completed.response() else { return outcome }
        let started = ContinuousClock.now
        var changed = false
        var held: [String] = []
        var records: [JSONValue] = []
        var verdicts: [GuardrailVerdict] = []
        for (c, choice) in response.choices.enumerated() {
            var content: [ContentBlock] = []
            var notices: [String] = []
            for block in choice.content {
                guard case .toolUse(let use) = block else {
                    content.append(block)
                    continue
                }
                let call = ToolGuard.Call(
                    tool: use.name, arguments: use.argumentsJSON, model: request.model, agent: context.agent, session: context.session)
                let decision = tools.decide(call, principal: context.principal, runtime: context.runtime, rules: rules, logger: context.logger)
                verdicts += decision.verdicts.map {
                    var v = $0
                    v.stage = "tool_call"
                    return v
                }
                var entry: JSONObject = [
                    "tool": .string(use.name), "decision": .string(decision.kind.rawValue), "reasons": .array(decision.reasons.map { .string($0) }),
                ]
                switch decision.kind {
                case .allow:
                    content.append(block)
                case .deny:
                    changed = true
                    notices.append("[Warden blocked the call to the tool '\(use.name)': \(decision.reasons.joined(separator: "; ")).]")
                case .pending:
                    changed = true
                    let record = try await desk.hold(
                        call, callID: use.id, reasons: decision.reasons, principal: context.principal, requestID: context.requestID,
                        fingerprint: request.approvalFingerprint, ttl: context.runtime.config.approvals.ttl)
                    held.append(record.id)
                    entry["approval_id"] = .string(record.id)
                    notices.append(
                        "[Warden is holding the call to the tool '\(use.name)' for approval (\(decision.reasons.joined(separator: "; "))). Approval id: \(record.id). Once it is approved, send the same request again with the header 'x-warden-approval: \(record.id)' to receive the call.]"
                    )
                }
                records.append(.object(entry))
            }
            if !notices.isEmpty {
                content.append(.text(notices.joined(separator: "\n"), cacheControl: nil))
                if !content.contains(where: { if case .toolUse = $0 { true } else { false } }), choice.stopReason == .toolUse {
                    response.choices[c].stopReason = .endTurn
                }
            }
            response.choices[c].content = content
        }
        let elapsed = ContinuousClock.now - started
        context.record.updateTrace {
            $0.guardrailTime += elapsed
        }
        context.record.updateState {
            $0.heldApprovals += held
            $0.toolCallDecisions += records
            $0.verdicts += verdicts
        }
        guard changed else { return outcome }
        response.original = nil
        response.originalAPI = nil
        var rewritten = CompletedChat(canonical: response)
        rewritten.usage = completed.usage
        return .complete(rewritten)
    }
}

/// Structured output (`response_format: {type: json_schema}`): the answer must be JSON that meets the
/// schema. An answer that does not is retried once with the problems named; if the retry fails too, the
/// client gets 502 `json_schema_mismatch` naming them. The retry is paid from its own budget reservation,
/// so a budget still cannot be overspent; without room for it, there is no retry.
struct StructuredOutputStage: ModelStage {
    let governance: Governance

    var roles: Set<RouteStage> { [.structuredOutput] }

    func handle(_ model: ModelRequest, context: GatewayContext, next: ModelStageChain) async throws -> ModelOutcome {
        guard let request = model.chat, let format = request.responseFormat, format["type"]?.stringValue == "json_schema",
            let schemaValue = format["json_schema"]?["schema"]
        else { return try await next(model, context: context) }
        let schema = JSONSchema(schemaValue)
        var forwarded = request
        forwarded.makeNonStreaming()
        let outcome = try await next(.chat(forwarded), context: context)
        guard case .complete(let first) = outcome, let response = first.response() else { return outcome }
        let problems = Self.problems(response, schema)
        guard !problems.isEmpty else { return outcome }
        context.logger.notice(
            "structured output did not match its schema; retrying once", metadata: ["request_id": "\(context.requestID)", "warden.problems": "\(problems)"])
        var total = first.usage ?? Usage()
        let answer = response.choices.first.map { ChatMessage(role: .assistant, content: $0.content).text } ?? ""
        guard let retry = try await reserveRetry(forwarded, context: context, answer: answer, problems: problems) else {
            context.record.updateState { $0.usage = total }
            throw GatewayError.structuredOutputInvalid(
                "The model's answer does not match the response_format JSON schema (\(problems.prefix(3).joined(separator: "; "))) and the budget leaves no room to retry.")
        }
        let second = try await next(.chat(retry), context: context)
        guard case .complete(var again) = second, let retried = again.response() else { return second }
        if let u = again.usage { total = total.adding(u) }
        let remaining = Self.problems(retried, schema)
        guard remaining.isEmpty else {
            context.record.updateState { $0.usage = total }
            throw GatewayError.structuredOutputInvalid(
                "The model's answer does not match the response_format JSON schema, also after one retry: \(remaining.prefix(3).joined(separator: "; ")).")
        }
        again.usage = total
        return .complete(again)
    }

    /// What is wrong with each choice's text as JSON for the schema (empty when every choice is valid).
    static func problems(_ response: ChatResponse, _ schema: JSONSchema) -> [String] {
        var out: [String] = []
        for choice in response.choices {
            let text = ChatMessage(role: .assistant, content: choice.content).text
            guard let value = try? JSONParser.parse(text) else {
                out.append("the answer is not valid JSON")
                continue
            }
            out += schema.validate(value, limit: 5).map(\.description)
        }
        return out
    }


    /// The retry request (the answer and a correction appended), with a reservation for it when the key has a budget;
    /// nil when the budget cannot pay for it.
    func reserveRetry(_ request: ChatRequest, context: GatewayContext, answer: String, problems: [String]) async throws -> ChatRequest? {
        var retry = request
        let correction =
            "Your answer did not match the required JSON schema: \(problems.prefix(5).joined(separator: "; ")). Answer again with only JSON that matches the schema."
        retry.appendCorrection(answer: answer, correction: correction)
        guard context.record.state.reservation != nil else { return retry }
        let scopes = governance.budgetScopes(for: context.principal)
        guard let pricing = context.runtime.models[request.model]?.worstPricing else { return nil }
        let amount = pricing.worstCase(promptTokens: retry.estimatedInputTokens, maxOutputTokens: retry.maxTokens ?? 0)
        do {
            let extra = try await governance.ledger.reserve(
                amount, scopes: scopes, keyID: context.principal.keyID, team: context.principal.team, now: WallClock.unixMilliseconds())
            context.record.updateState { $0.extraReservations.append(extra) }
            return retry
        } catch is BudgetRefusal {
            return nil
        }
    }
}
