/// Which public API a client called, and so which error and response shape it expects.
public enum ClientAPI: String, Sendable {
    case openAI = "openai"
    case anthropic
}

/// An error Warden answers a client with.
///
/// Modelled on async-http-client's `HTTPClientError`: a struct around a private code with static
/// factories, so adding a case breaks no caller. The `message` is safe to send; `underlying` is for
/// logs only and never leaves the process.
public struct GatewayError: Error, Sendable, CustomStringConvertible {
    enum Code: Sendable, Equatable {
        case malformedHTTP, invalidJSON, invalidValue, missingField, invalidAPIKey, modelNotAllowed, policyDenied
        case modelNotFound, notFound, methodNotAllowed, requestTimeout, requestTooLarge
        case upstreamClientError, upstreamRateLimited, upstreamError, noHealthyDeployment, upstreamTimeout
        case unsupported, internalError, shuttingDown, budgetExceeded, rateLimitExceeded, adminUnauthorized, conflict
        case modelNotPriced, guardrailBlocked, approval, structuredOutputInvalid, duplicateKey, storeUnavailable
        case headersTooLarge, tooManyConnections
    }

    let code: Code
    /// HTTP status sent to the client.
    public let status: Int
    /// OpenAI `error.type`.
    public let type: String
    /// OpenAI `error.code` (also leads the message in Anthropic's shape).
    public let codeName: String
    /// Human-readable message, safe to send.
    public let message: String
    /// The request field at fault, e.g. `messages[0].content`.
    public let param: String?
    /// Seconds the client should wait before retrying, sent as `Retry-After`.
    public var retryAfterSeconds: Int?
    /// An upstream error body passed through to the client (caller-fault upstream 4xx).
    public var upstreamBody: JSONValue?
    /// The wire format `upstreamBody` is in.
    public var upstreamAPI: ClientAPI?
    /// The cause, for logs only.
    public var underlying: (any Error & Sendable)?
    /// Headers the response carries besides the usual ones (e.g. `x-ratelimit-*`).
    public var headers: [(name: String, value: String)] = []

    init(
        _ code: Code, status: Int, type: String, codeName: String, message: String, param: String? = nil,
        retryAfterSeconds: Int? = nil
    ) {
        self.code = code
        self.status = status
        self.type = type
        self.codeName = codeName
        self.message = message
        self.param = param
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String {
        var s = "\(status) \(codeName): \(message)"
        if let underlying { s += " (\(underlying))" }
        return s
    }

    /// Whether Warden itself refused the request (auth, validation, policy, budget, guardrail), in which
    /// case retrying the same request cannot succeed and `x-should-retry: false` is sent.
    public var isRefusal: Bool {
        switch code {
        case .malformedHTTP, .invalidJSON, .invalidValue, .missingField, .invalidAPIKey, .modelNotAllowed, .policyDenied,
            .modelNotFound, .notFound, .methodNotAllowed, .requestTimeout, .requestTooLarge, .unsupported,
            .budgetExceeded, .adminUnauthorized, .conflict, .modelNotPriced, .guardrailBlocked, .approval, .duplicateKey,
            .headersTooLarge:
            true
        default: false
        }
    }

    /// What `x-should-retry` says: false for Warden's refusals, true when Warden is briefly unable to serve
    /// (its store's backlog is full), nil when the header is left out.
    public var shouldRetry: Bool? {
        if isRefusal { return false }
        if code == .storeUnavailable || code == .tooManyConnections { return true }
        return nil
    }

    /// Whether this error came from the upstream rather than from Warden's own checks.
    public var isUpstreamFailure: Bool {
        switch code {
        case .upstreamClientError, .upstreamRateLimited, .upstreamError, .noHealthyDeployment, .upstreamTimeout: true
        default: false
        }
    }

    public func with(underlying: any Error & Sendable) -> GatewayError {
        var copy = self
        copy.underlying = underlying
        return copy
    }

    // MARK: Factories

    /// The bytes on the connection are not a valid HTTP/1.1 request.
    public static func malformedHTTP(_ detail: String) -> GatewayError {
        GatewayError(
            .malformedHTTP, status: 400, type: "invalid_request_error", codeName: "malformed_http",
            message: "The request is not valid HTTP/1.1 (\(detail)).")
    }

    public static func invalidJSON(_ detail: String) -> GatewayError {
        GatewayError(
            .invalidJSON, status: 400, type: "invalid_request_error", codeName: "invalid_json",
            message: "The request body is not valid JSON: \(detail).")
    }

    /// The error for a request body the JSON parser refused: `duplicate_key` naming the key, else `invalid_json`.
    public static func unparsable(_ error: JSONParseError) -> GatewayError {
        if let key = error.duplicateKey { return .duplicateKey(key, detail: error.description) }
        return .invalidJSON(error.description)
    }

    /// A key appears twice in one object of the body: Warden and an upstream could read different values
    /// from the same bytes (most parsers keep the last, some the first), so the body is refused.
    public static func duplicateKey(_ key: String, detail: String) -> GatewayError {
        GatewayError(
            .duplicateKey, status: 400, type: "invalid_request_error", codeName: "duplicate_key",
            message: "The request body has the key '\(key)' twice in one object (\(detail)); send each key once.", param: key)
    }

    /// Warden cannot record what it serves (the store is unreachable and the queue of records waiting
    /// for it is full), so it takes no more model requests until the store catches up.
    public static func storeUnavailable() -> GatewayError {
        GatewayError(
            .storeUnavailable, status: 503, type: "api_error", codeName: "store_unavailable",
            message: "Warden cannot record usage right now (its store is unavailable and the backlog is full); retry shortly.",
            retryAfterSeconds: 1)
    }

    public static func invalidValue(_ param: String, _ message: String) -> GatewayError {
        GatewayError(
            .invalidValue, status: 400, type: "invalid_request_error", codeName: "invalid_value",
            message: message, param: param)
    }

    public static func wrongType(_ param: String, expected: String, got: JSONValue) -> GatewayError {
        invalidValue(param, "Invalid type for '\(param)': expected \(expected), but got \(got.typeDescription).")
    }

    public static func missingField(_ param: String) -> GatewayError {
        GatewayError(
            .missingField, status: 400, type: "invalid_request_error", codeName: "missing_field",
            message: "Missing required parameter: '\(param)'.", param: param)
    }

    public static func invalidAPIKey(_ reason: String = "Incorrect or missing API key.") -> GatewayError {
        GatewayError(
            .invalidAPIKey, status: 401, type: "authentication_error", codeName: "invalid_api_key", message: reason)
    }

    public static func modelNotAllowed(_ model: String) -> GatewayError {
        GatewayError(
            .modelNotAllowed, status: 403, type: "permission_error", codeName: "model_not_allowed",
            message: "This key is not allowed to use the model '\(model)'.", param: "model")
    }

    /// A key or team with a budget asked for a model Warden cannot price, so the budget could not hold.
    public static func modelNotPriced(_ model: String) -> GatewayError {
        GatewayError(
            .modelNotPriced, status: 403, type: "permission_error", codeName: "model_not_priced",
            message: "The model '\(model)' has no price (one of its deployments or fallbacks is unknown to Warden's price table and has no `pricing:`), so this key's budget cannot be enforced; ask the operator to set its pricing.",
            param: "model")
    }

    /// An input guardrail with `action: block` found something; the message names the detector and the
    /// type, never the text.
    public static func guardrailBlocked(detector: String, type: String) -> GatewayError {
        GatewayError(
            .guardrailBlocked, status: 400, type: "invalid_request_error", codeName: "guardrail_blocked",
            message: "The request was blocked by a guardrail: the \(detector) detector found \(type).")
    }

    public static func policyDenied(_ message: String) -> GatewayError {
        GatewayError(
            .policyDenied, status: 403, type: "permission_error", codeName: "policy_denied", message: message)
    }

    public static func modelNotFound(_ model: String) -> GatewayError {
        GatewayError(
            .modelNotFound, status: 404, type: "invalid_request_error", codeName: "model_not_found",
            message: "The model '\(model)' does not exist on this gateway.", param: "model")
    }

    public static func notFound(path: String) -> GatewayError {
        GatewayError(
            .notFound, status: 404, type: "invalid_request_error", codeName: "not_found",
            message: "No route for '\(path)'.")
    }

    public static func methodNotAllowed(_ method: String, path: String) -> GatewayError {
        GatewayError(
            .methodNotAllowed, status: 405, type: "invalid_request_error", codeName: "method_not_allowed",
            message: "Method \(method) is not allowed on '\(path)'.")
    }

    public static func requestTimeout(seconds: Double) -> GatewayError {
        GatewayError(
            .requestTimeout, status: 408, type: "invalid_request_error", codeName: "request_timeout",
            message: "The request body was not received within \(formatSeconds(seconds)).")
    }

    /// The request's head did not arrive within `server.header_timeout` of its first byte.
    public static func requestHeaderTimeout(seconds: Double) -> GatewayError {
        GatewayError(
            .requestTimeout, status: 408, type: "invalid_request_error", codeName: "request_timeout",
            message: "The request headers were not received within \(formatSeconds(seconds)).")
    }

    /// The request's headers are over `server.max_header_bytes` or `server.max_header_count`.
    public static func headersTooLarge() -> GatewayError {
        GatewayError(
            .headersTooLarge, status: 431, type: "invalid_request_error", codeName: "request_header_fields_too_large",
            message: "The request's headers are too large or too many.")
    }

    /// Warden already holds `server.max_connections` connections.
    public static func tooManyConnections() -> GatewayError {
        GatewayError(
            .tooManyConnections, status: 503, type: "api_error", codeName: "too_many_connections",
            message: "Warden has too many open connections; retry shortly.", retryAfterSeconds: 1)
    }

    public static func requestTooLarge(limitBytes: Int) -> GatewayError {
        GatewayError(
            .requestTooLarge, status: 413, type: "invalid_request_error", codeName: "request_too_large",
            message: "The request body exceeds the limit of \(limitBytes) bytes.")
    }

    public static func unsupported(_ param: String?, _ message: String) -> GatewayError {
        GatewayError(
            .unsupported, status: 400, type: "invalid_request_error", codeName: "unsupported_parameter",
            message: message, param: param)
    }

    /// A caller-fault error the upstream returned (context too long, bad parameter), passed through.
    public static func upstreamClientError(status: Int, body: JSONValue?, api: ClientAPI, message: String) -> GatewayError {
        var e = GatewayError(
            .upstreamClientError, status: status, type: "invalid_request_error", codeName: "upstream_invalid_request",
            message: message)
        e.upstreamBody = body
        e.upstreamAPI = api
        return e
    }

    public static func upstreamRateLimited(retryAfterSeconds: Int?, detail: String) -> GatewayError {
        GatewayError(
            .upstreamRateLimited, status: 429, type: "rate_limit_error", codeName: "upstream_rate_limited",
            message: "The upstream is rate limiting requests: \(detail).",
            retryAfterSeconds: retryAfterSeconds ?? 1)
    }

    public static func upstreamError(_ reason: String) -> GatewayError {
        GatewayError(
            .upstreamError, status: 502, type: "api_error", codeName: "upstream_error",
            message: "The upstream failed: \(reason).")
    }

    public static func noHealthyDeployment(model: String) -> GatewayError {
        GatewayError(
            .noHealthyDeployment, status: 503, type: "api_error", codeName: "no_healthy_deployment",
            message: "Every deployment of '\(model)' is unavailable (circuit open); try again shortly.",
            retryAfterSeconds: 1)
    }

    public static func upstreamTimeout(_ which: String) -> GatewayError {
        GatewayError(
            .upstreamTimeout, status: 504, type: "api_error", codeName: "upstream_timeout",
            message: "The upstream did not answer in time (\(which)).")
    }

    public static func internalError(_ detail: String = "An internal error occurred.") -> GatewayError {
        GatewayError(.internalError, status: 500, type: "api_error", codeName: "internal_error", message: detail)
    }

    /// A budget cannot pay for the request's worst case.
    public static func budgetExceeded(scope: String, period: String, remaining: String, limit: String, resetsAt: String?)
        -> GatewayError
    {
        let reset = resetsAt.map { "; it resets at \($0)" } ?? " (a total budget: it does not reset)"
        return GatewayError(
            .budgetExceeded, status: 429, type: "insufficient_quota", codeName: "budget_exceeded",
            message: "The \(period) budget of \(scope) cannot cover this request: $\(remaining) of $\(limit) left\(reset).")
    }

    /// A key's or team's requests- or tokens-per-minute limit is reached.
    public static func rateLimitExceeded(_ detail: String, retryAfterSeconds: Int) -> GatewayError {
        GatewayError(
            .rateLimitExceeded, status: 429, type: "rate_limit_error", codeName: "rate_limit_exceeded",
            message: "Rate limit reached: \(detail). Retry after \(retryAfterSeconds)s.", retryAfterSeconds: retryAfterSeconds)
    }

    public static var adminUnauthorized: GatewayError {
        GatewayError(
            .adminUnauthorized, status: 401, type: "authentication_error", codeName: "invalid_admin_key",
            message: "The admin API needs the admin key: 'Authorization: Bearer ADMIN_KEY'.")
    }

    public static func conflict(_ message: String) -> GatewayError {
        GatewayError(.conflict, status: 409, type: "invalid_request_error", codeName: "conflict", message: message)
    }

    /// A request that redeems a held tool call (`x-warden-approval`) the approval does not allow yet or any more.
    public static func approval(status: Int, code: String, _ message: String) -> GatewayError {
        GatewayError(
            .approval, status: status, type: status == 403 ? "permission_error" : "invalid_request_error", codeName: code, message: message,
            param: nil)
    }

    /// The model's answer did not match the request's `response_format` JSON schema, also after one retry.
    public static func structuredOutputInvalid(_ message: String) -> GatewayError {
        GatewayError(.structuredOutputInvalid, status: 502, type: "api_error", codeName: "json_schema_mismatch", message: message)
    }

    public static func notFound(resource: String) -> GatewayError {
        GatewayError(.notFound, status: 404, type: "invalid_request_error", codeName: "not_found", message: "\(resource) does not exist.")
    }

    public static var shuttingDown: GatewayError {
        GatewayError(
            .shuttingDown, status: 503, type: "api_error", codeName: "shutting_down",
            message: "The gateway is shutting down; retry on another replica.", retryAfterSeconds: 1)
    }

    static func formatSeconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s))s" : "\(Int((s * 1000).rounded()))ms"
    }
}

extension GatewayError {
    /// Anthropic's `error.type` for this error.
    public var anthropicType: String {
        switch code {
        case .invalidAPIKey: "authentication_error"
        case .modelNotAllowed, .policyDenied, .modelNotPriced: "permission_error"
        case .modelNotFound, .notFound: "not_found_error"
        case .requestTooLarge: "request_too_large"
        case .upstreamRateLimited, .rateLimitExceeded, .budgetExceeded: "rate_limit_error"
        case .adminUnauthorized: "authentication_error"
        case .noHealthyDeployment, .shuttingDown: "overloaded_error"
        case .upstreamError, .upstreamTimeout, .internalError: "api_error"
        case .upstreamClientError, .approval: Self.anthropicType(forStatus: status)
        case .structuredOutputInvalid: "api_error"
        default: "invalid_request_error"
        }
    }

    /// Anthropic's error type for an HTTP status, as Anthropic's API documents them.
    public static func anthropicType(forStatus status: Int) -> String {
        switch status {
        case 400, 422: "invalid_request_error"
        case 401: "authentication_error"
        case 402: "billing_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 529: "overloaded_error"
        default: status >= 500 ? "api_error" : "invalid_request_error"
        }
    }

    /// OpenAI's error type for an HTTP status.
    public static func openAIType(forStatus status: Int) -> String {
        switch status {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404, 400, 409, 413, 422: "invalid_request_error"
        case 429: "rate_limit_error"
        default: status >= 500 ? "api_error" : "invalid_request_error"
        }
    }

    /// The error body in OpenAI's shape: `{"error":{"message","type","param","code"}}`.
    public var openAIBody: JSONValue {
        if let body = upstreamBody, upstreamAPI == .openAI, body["error"]?.objectValue != nil { return body }
        var message = message
        var code = JSONValue.string(codeName)
        var type = type
        if let body = upstreamBody, upstreamAPI == .anthropic {
            // Anthropic: {"type":"error","error":{"type","message"}}
            if let m = body["error"]?["message"]?.stringValue { message = m }
            if let t = body["error"]?["type"]?.stringValue { code = .string(t) }
            type = Self.openAIType(forStatus: status)
        }
        let error: JSONValue = [
            "message": .string(message),
            "type": .string(type),
            "param": param.map { .string($0) } ?? .null,
            "code": code,
        ]
        return ["error": error]
    }

    /// The error body in Anthropic's shape: `{"type":"error","error":{"type","message"}}`, with Warden's code
    /// leading the message so a client can tell Warden's refusals from Anthropic's.
    public var anthropicBody: JSONValue {
        if let body = upstreamBody, upstreamAPI == .anthropic, body["error"]?.objectValue != nil { return body }
        var text = "\(codeName): \(message)"
        if let body = upstreamBody, upstreamAPI == .openAI, let m = body["error"]?["message"]?.stringValue {
            text = "\(codeName): \(m)"
        }
        return ["type": "error", "error": ["type": .string(anthropicType), "message": .string(text)]]
    }

    /// The body in the shape `api` expects.
    public func body(for api: ClientAPI) -> JSONValue {
        api == .anthropic ? anthropicBody : openAIBody
    }
}
