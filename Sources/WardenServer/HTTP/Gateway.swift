import HTTPTypes
import Hummingbird
import Logging
import NIOHTTP1
import NIOCore
import Crypto
import Synchronization
import WardenAudit
import Guardrails
import WardenCore
import WardenProviders

/// The data plane: authenticates, decodes and validates requests, runs them through the pipeline and
/// writes answers (or errors) in the caller's API shape. Every request produces one access-log line.
public final class Gateway: Sendable {
    let holder: RuntimeHolder
    let health: DeploymentHealth
    /// Every model stage, in order; `pipelines` holds each model route's share of it.
    let pipeline: ModelPipeline
    let pipelines: [RouteSpec: ModelPipeline]
    let connections: ConnectionRegistry
    let governance: Governance
    let policies: PolicyCheck
    let accessLog: LogSink?
    let logger: Logger

    init(
        holder: RuntimeHolder, health: DeploymentHealth, pipeline: ModelPipeline, connections: ConnectionRegistry,
        governance: Governance, policies: PolicyCheck, accessLog: LogSink?, logger: Logger
    ) {
        self.policies = policies
        self.holder = holder
        self.health = health
        self.pipeline = pipeline
        var pipelines: [RouteSpec: ModelPipeline] = [:]
        for route in RouteTable.all where route.callsModel { pipelines[route] = pipeline.forRoute(route) }
        self.pipelines = pipelines
        self.connections = connections
        self.governance = governance
        self.accessLog = accessLog
        self.logger = logger
    }

    /// The client's address for policies: the peer, or the first untrusted `X-Forwarded-For` hop.
    func clientIP(_ request: Request, context: WardenRequestContext, runtime: GatewayRuntime) -> String? {
        runtime.clientAddress.resolve(peer: context.peer, forwardedFor: request.headers[.xForwardedFor])
    }

    /// Per-request bookkeeping shared by every endpoint.
    struct Exchange: Sendable {
        let start = ContinuousClock.now
        let requestID: String
        let api: ClientAPI
        let runtime: GatewayRuntime
        var entry: AccessLogEntry
        /// What the stages note about the request: its trace and its state.
        let record = RequestRecord()
        /// Who is calling, once authenticated.
        var principal: Principal?
        /// Whether the request's usage and cost are booked (model calls; not token counting).
        var booksUsage = true

        init(request: Request, api: ClientAPI, runtime: GatewayRuntime) {
            requestID = HTTPResponses.requestID(from: request.headers)
            self.api = api
            self.runtime = runtime
            entry = AccessLogEntry(requestID: requestID, method: request.method.rawValue, path: request.uri.path, api: api)
        }

        /// Time spent in Warden: everything except waiting on upstreams, backoff sleeps and the client
        /// (its request body, and taking streamed bytes).
        func overhead(now: ContinuousClock.Instant = .now) -> Duration {
            let t = record.trace
            let d = (now - start) - t.upstream - t.backoff - t.client
            return d < .zero ? .zero : d
        }
    }

    /// Completes an exchange: prices the usage, settles the budget reservation and the rate limiter's
    /// token estimate, books the usage record, and writes the access-log line. Returns the cost.
    @discardableResult
    func complete(_ exchange: Exchange, status: Int, error: GatewayError? = nil, usage: Usage? = nil) async -> NanoDollars? {
        let trace = exchange.record.trace
        let state = exchange.record.state
        let cost: NanoDollars? = usage.flatMap { u in trace.pricing?.cost(of: u) }
        if let reservation = state.reservation {
            // The cost is booked against the reservations in turn, each up to its amount, the last taking the rest.
            let all = [reservation] + state.extraReservations
            var left = cost ?? 0
            for (i, r) in all.enumerated() {
                let share = i == all.count - 1 ? left : min(left, r.amount)
                left -= share
                let spends = await governance.ledger.settle(r, actual: share)
                governance.alerts.observe(spends, runtime: exchange.runtime)
            }
        }
        if let admission = state.rateLimit { governance.limiter.correct(admission, actualTokens: usage?.totalTokens ?? 0) }
        // Requests refused before reaching a model (bad model, denied, over budget) are not spend.
        if exchange.booksUsage, usage != nil || status < 400, let principal = exchange.principal, let model = exchange.entry.model {
            governance.writer.record(
                UsageRecord(
                    requestID: exchange.requestID, at: WallClock.unixMilliseconds(), keyID: principal.keyID,
                    keyName: principal.keyName, team: principal.team, model: model,
                    deployment: trace.provider.flatMap { p in trace.upstreamModel.map { "\(p)/\($0)" } },
                    usage: usage ?? Usage(), cost: cost ?? 0, status: status))
        }
        log(exchange, trace: trace, state: state, status: status, error: error, usage: usage, cost: cost)
        audit(exchange, trace: trace, state: state, status: status, error: error, usage: usage, cost: cost)
        return cost
    }

    /// The request's audit record: who, which key and team, model and deployment, outcome, tokens, cost,
    /// and SHA-256 hashes of the prompt and the response (their text only with `audit.capture_content`).
    private func audit(
        _ exchange: Exchange, trace: RequestTrace, state: RequestState, status: Int, error: GatewayError?, usage: Usage?,
        cost: NanoDollars?
    ) {
        var fields: JSONObject = [
            "request_id": .string(exchange.requestID), "method": .string(exchange.entry.method), "path": .string(exchange.entry.path),
            "status": .int(status),
        ]
        if let principal = exchange.principal {
            fields["key_id"] = .string(principal.keyID)
            fields["key_name"] = .string(principal.keyName)
            fields["team"] = .string(principal.team)
        }
        if let model = exchange.entry.model { fields["model"] = .string(model) }
        if let served = trace.servedModel, served != exchange.entry.model { fields["served_model"] = .string(served) }
        if let provider = trace.provider, let upstream = trace.upstreamModel { fields["deployment"] = .string("\(provider)/\(upstream)") }
        if let error { fields["error"] = .string(error.codeName) }
        if let usage {
            fields["prompt_tokens"] = .int(usage.inputTokens)
            fields["completion_tokens"] = .int(usage.outputTokens)
            if usage.cachedInputTokens > 0 { fields["cached_tokens"] = .int(usage.cachedInputTokens) }
            if usage.cacheWriteTokens > 0 { fields["cache_write_tokens"] = .int(usage.cacheWriteTokens) }
            if usage.reasoningTokens > 0 { fields["reasoning_tokens"] = .int(usage.reasoningTokens) }
            if usage.isEstimated { fields["usage_estimated"] = .bool(true) }
        }
        if let cost { fields["cost_usd"] = .string(cost.usdString) }
        if let digest = state.promptDigest { fields["prompt_sha256"] = .string(AuditVerifier.hex(digest)) }
        if let digest = state.responseDigest { fields["response_sha256"] = .string(AuditVerifier.hex(digest)) }
        if !state.verdicts.isEmpty { fields["guardrails"] = .array(state.verdicts.map(\.json)) }
        if trace.guardrailTime > .zero { fields["guardrails_ms"] = .number(formatMilliseconds(trace.guardrailTime)) }
        if !state.toolCallDecisions.isEmpty { fields["tool_calls"] = .array(state.toolCallDecisions) }
        if let policy = state.policy {
            var o: JSONObject = [
                "decision": .string(policy.decision.allowed ? "allow" : "deny"),
                "determining": .array(policy.decision.determining.map { .string($0) }),
                "mode": .string(policy.decision.enforced ? "enforce" : "shadow"),
            ]
            if !policy.decision.errors.isEmpty { o["errors"] = .array(policy.decision.errors.map { .string($0) }) }
            if !policy.skipped.isEmpty { o["skipped_fallbacks"] = .array(policy.skipped.map { .string($0) }) }
            fields["policy"] = .object(o)
        }
        var content: (prompt: String, response: String)?
        if state.promptText != nil || state.responseText != nil {
            content = (state.promptText ?? "", state.responseText ?? "")
        }
        governance.audit.append(kind: "request", fields: fields, content: content)
    }

    /// Records the digest (and, when capturing content, the text) of the bytes answered.
    func noteResponse(_ body: ByteBuffer, _ exchange: Exchange) {
        let digest = Array(SHA256.hash(data: body.readableBytesView))
        let text = governance.audit.capturesContent ? String(buffer: body) : nil
        exchange.record.updateState {
            $0.responseDigest = digest
            $0.responseText = text
        }
    }

    /// Writes the access-log line.
    private func log(
        _ exchange: Exchange, trace: RequestTrace, state: RequestState, status: Int, error: GatewayError?, usage: Usage?,
        cost: NanoDollars?
    ) {
        guard let accessLog, exchange.runtime.config.log.accessLog else { return }
        var entry = exchange.entry
        let now = ContinuousClock.now
        entry.status = status
        entry.errorCode = error?.codeName
        entry.usage = usage ?? entry.usage
        entry.cost = cost
        entry.latency = now - exchange.start
        entry.overhead = exchange.overhead(now: now)
        entry.trace = trace
        entry.state = state
        accessLog.write { entry.write(to: &$0) }
    }

    func fail(_ exchange: Exchange, _ error: GatewayError) async -> Response {
        if error.status >= 500, let underlying = error.underlying {
            logger.error("request failed", metadata: ["request_id": "\(exchange.requestID)", "error": "\(underlying)"])
        }
        var response = HTTPResponses.error(error, api: exchange.api, requestID: exchange.requestID)
        noteResponse(error.body(for: exchange.api).jsonBuffer, exchange)
        // A stage that used the model before failing (a structured-output retry) leaves the usage to book.
        let usage = exchange.record.state.usage
        let cost = await complete(exchange, status: error.status, error: error, usage: usage)
        decorate(&response, exchange, cost: cost)
        return response
    }

    /// Warden's response headers: overhead, cost, and the tightest rate limits that applied.
    func decorate(_ response: inout Response, _ exchange: Exchange, cost: NanoDollars?) {
        response.headers[.wardenOverhead] = formatMilliseconds(exchange.overhead())
        if let cost { response.headers[.wardenCost] = cost.usdString }
        let verdicts = exchange.record.state.verdicts
        if !verdicts.isEmpty {
            // detector=action per detector (the strongest action), e.g. `pii=redact;secrets=flag`.
            var byDetector: [String: GuardrailVerdict.Action] = [:]
            for v in verdicts where byDetector[v.detector].map({ v.action.strength >= $0.strength }) ?? true { byDetector[v.detector] = v.action }
            response.headers[.wardenGuardrails] = byDetector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.rawValue)" }.joined(separator: ";")
        }
        let trace = exchange.record.trace
        let state = exchange.record.state
        if !state.heldApprovals.isEmpty { response.headers[.wardenApproval] = state.heldApprovals.joined(separator: ",") }
        if trace.guardrailTime > .zero { response.headers[.wardenGuardrailsTime] = formatMilliseconds(trace.guardrailTime) }
        if let status = state.rateLimit?.status {
            for (name, value) in status.headers {
                if let field = HTTPField.Name(name) { response.headers[field] = value }
            }
        }
    }

    // MARK: Shared steps

    func authenticate(_ request: Request, exchange: inout Exchange) throws(GatewayError) -> Principal {
        var key: String?
        if let auth = request.headers[.authorization] {
            key = Self.bearerToken(auth)
        } else if let apiKey = request.headers[.apiKey] {
            key = apiKey
        }
        let principal = try governance.identity.snapshot.authenticator.authenticate(key, nowMilliseconds: WallClock.unixMilliseconds())
        exchange.entry.keyName = principal.keyName
        exchange.entry.team = principal.team
        exchange.principal = principal
        return principal
    }

    /// The token of an `Authorization: Bearer TOKEN` header (scheme case-insensitive), without allocating for the check.
    static func bearerToken(_ header: String) -> String? {
        let utf8 = header.utf8
        guard utf8.count > 7 else { return nil }
        var i = utf8.startIndex
        for expected in "bearer ".utf8 {
            let c = utf8[i]
            guard c == expected || (expected != 0x20 && c == expected - 32) else { return nil }
            i = utf8.index(after: i)
        }
        while i < utf8.endIndex, utf8[i] == 0x20 { i = utf8.index(after: i) }
        return String(header[i...])
    }

    func readJSON(_ request: Request, exchange: Exchange) async throws(GatewayError) -> JSONValue {
        try await readJSON(request, exchange: exchange, spanOf: nil).value
    }

    /// Reads and parses the body; with `spanOf`, also where that top-level member's value lies in the bytes.
    func readJSON(_ request: Request, exchange: Exchange, spanOf key: String?) async throws(GatewayError)
        -> (value: JSONValue, body: ByteBuffer, span: Range<Int>?)
    {
        let limit = exchange.runtime.config.server.maxBodySize.bytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw GatewayError.requestTooLarge(limitBytes: limit)
        }
        let body: ByteBuffer
        let start = ContinuousClock.now
        defer {
            let elapsed = ContinuousClock.now - start
            exchange.record.updateTrace { $0.client += elapsed }
        }
        do {
            body = try await request.body.collect(upTo: limit)
        } catch {
            throw Self.bodyReadError(error, limit: limit, waited: ContinuousClock.now - start, timeout: exchange.runtime.config.server.bodyTimeout)
        }
        let digest = Array(SHA256.hash(data: body.readableBytesView))
        let text = governance.audit.capturesContent ? String(buffer: body) : nil
        exchange.record.updateState {
            $0.promptDigest = digest
            $0.promptText = text
        }
        do {
            if let key {
                let (value, span) = try JSONParser.parse(body, spanOf: key)
                return (value, body, span)
            }
            return (try JSONParser.parse(body), body, nil)
        } catch {
            throw GatewayError.unparsable(error)
        }
    }

    /// Tells apart why a body could not be read: too large (413), not received in time (408), malformed
    /// framing or cut short (400; a client that went away never sees it).
    static func bodyReadError(_ error: any Error, limit: Int, waited: Duration, timeout: ConfigDuration) -> GatewayError {
        switch error {
        case is NIOTooManyBytesError: return GatewayError.requestTooLarge(limitBytes: limit)
        case let parser as HTTPParserError: return GatewayError.malformedHTTP("the body is malformed: \(parser)")
        default:
            if waited >= timeout.duration { return GatewayError.requestTimeout(seconds: timeout.seconds) }
            return GatewayError.malformedHTTP("the body ended before it was complete")
        }
    }

    func forwardedHeaders(_ request: Request, api: ClientAPI) -> [(name: String, value: String)] {
        guard api == .anthropic else { return [] }
        var out: [(name: String, value: String)] = []
        if let v = request.headers[.anthropicVersion] { out.append(("anthropic-version", v)) }
        for v in request.headers[values: .anthropicBeta] { out.append(("anthropic-beta", v)) }
        return out
    }

    /// Maps anything a handler can throw to the error the client sees.
    func gatewayError(from error: any Error) -> GatewayError {
        switch error {
        case let e as GatewayError: e
        case let e as UpstreamFailure: e.failure.gatewayError(model: "").with(underlying: e)
        default: GatewayError.internalError().with(underlying: DescribedError(description: "\(error)"))
        }
    }
}

/// A non-Sendable error captured as its description, for logs.
struct DescribedError: Error, Sendable, CustomStringConvertible {
    let description: String
}
