import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import WardenCore
import WardenProviders

/// The data plane: authenticates, decodes and validates requests, runs them through the pipeline and
/// writes answers (or errors) in the caller's API shape. Every request produces one access-log line.
public final class Gateway: Sendable {
    let holder: RuntimeHolder
    let health: DeploymentHealth
    let pipeline: ChatPipeline
    let connections: ConnectionRegistry
    let governance: Governance
    let accessLog: LogSink?
    let logger: Logger

    init(
        holder: RuntimeHolder, health: DeploymentHealth, pipeline: ChatPipeline, connections: ConnectionRegistry,
        governance: Governance, accessLog: LogSink?, logger: Logger
    ) {
        self.holder = holder
        self.health = health
        self.pipeline = pipeline
        self.connections = connections
        self.governance = governance
        self.accessLog = accessLog
        self.logger = logger
    }

    /// Per-request bookkeeping shared by every endpoint.
    struct Exchange: Sendable {
        let start = ContinuousClock.now
        let requestID: String
        let api: ClientAPI
        let runtime: GatewayRuntime
        var entry: AccessLogEntry
        let trace = RequestTrace()
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
            let t = trace.snapshot
            let d = (now - start) - t.upstream - t.backoff - t.client
            return d < .zero ? .zero : d
        }
    }

    /// Completes an exchange: prices the usage, settles the budget reservation and the rate limiter's
    /// token estimate, books the usage record, and writes the access-log line. Returns the cost.
    @discardableResult
    func complete(_ exchange: Exchange, status: Int, error: GatewayError? = nil, usage: Usage? = nil) async -> NanoDollars? {
        let snapshot = exchange.trace.snapshot
        let cost: NanoDollars? = usage.flatMap { u in snapshot.pricing?.cost(of: u) }
        if let reservation = snapshot.reservation { await governance.ledger.settle(reservation, actual: cost ?? 0) }
        if let admission = snapshot.rateLimit { governance.limiter.correct(admission, actualTokens: usage?.totalTokens ?? 0) }
        if exchange.booksUsage, let principal = exchange.principal, let model = exchange.entry.model {
            governance.writer.record(
                UsageRecord(
                    requestID: exchange.requestID, at: WallClock.unixMilliseconds(), keyID: principal.keyID,
                    keyName: principal.keyName, team: principal.team, model: model,
                    deployment: snapshot.provider.flatMap { p in snapshot.upstreamModel.map { "\(p)/\($0)" } },
                    usage: usage ?? Usage(), cost: cost ?? 0, status: status))
        }
        log(exchange, snapshot: snapshot, status: status, error: error, usage: usage, cost: cost)
        return cost
    }

    /// Writes the access-log line.
    private func log(
        _ exchange: Exchange, snapshot: RequestTrace.Snapshot, status: Int, error: GatewayError?, usage: Usage?, cost: NanoDollars?
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
        entry.trace = snapshot
        accessLog.write { entry.write(to: &$0) }
    }

    func fail(_ exchange: Exchange, _ error: GatewayError) async -> Response {
        if error.status >= 500, let underlying = error.underlying {
            logger.error("request failed", metadata: ["request_id": "\(exchange.requestID)", "error": "\(underlying)"])
        }
        await complete(exchange, status: error.status, error: error)
        var response = HTTPResponses.error(error, api: exchange.api, requestID: exchange.requestID)
        decorate(&response, exchange, cost: nil)
        return response
    }

    /// Warden's response headers: overhead, cost, and the tightest rate limits that applied.
    func decorate(_ response: inout Response, _ exchange: Exchange, cost: NanoDollars?) {
        response.headers[.wardenOverhead] = formatMilliseconds(exchange.overhead())
        if let cost { response.headers[.wardenCost] = cost.usdString }
        if let status = exchange.trace.snapshot.rateLimit?.status {
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
            exchange.trace.update { $0.client += elapsed }
        }
        do {
            body = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw GatewayError.requestTooLarge(limitBytes: limit)
        } catch {
            throw GatewayError.requestTimeout(seconds: exchange.runtime.config.server.bodyTimeout.seconds)
        }
        do {
            if let key {
                let (value, span) = try JSONParser.parse(body, spanOf: key)
                return (value, body, span)
            }
            return (try JSONParser.parse(body), body, nil)
        } catch {
            throw GatewayError.invalidJSON(error.description)
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
