import HTTPTypes

/// What a route goes through. Every route declares its stages in `RouteTable`: the gateway's skeleton
/// runs the ones it owns (authentication, record admission, usage, audit) and builds the route's
/// pipeline from the stages that implement the rest, so no route can silently skip one.
public enum RouteStage: String, CaseIterable, Sendable, Comparable {
    /// A data-plane key (`Authorization: Bearer` or `x-api-key`): 401 without a valid one.
    case authentication
    /// The admin key: 401 without it.
    case adminAuthentication
    /// 503 `store_unavailable` while the records of answered requests cannot be written.
    case recordAdmission
    /// The model exists (404) and the key may use it (403).
    case modelAccess
    /// Tool calls in the answer are decided (allowed, stripped, held for approval); approved calls redeemed.
    case toolCalls
    /// Input guardrails (block, redact, flag), where configured.
    case inputGuardrails
    /// Output guardrails judged on the whole answer by an external guard model.
    case outputGuardrails
    /// The Cedar policies authorize the request.
    case policies
    /// Requests per minute, per key and team.
    case requestLimit
    /// Tokens per minute on the input estimate (plus the output cap), corrected to the real usage.
    case tokenLimit
    /// The worst case is reserved against the key's and team's budgets, and settled to the real cost.
    case budget
    /// `response_format: json_schema` answers are validated, with one retry.
    case structuredOutput
    /// The upstream call (retries, fallbacks, circuit breakers).
    case upstream
    /// A usage record (tokens, cost) is booked.
    case usage
    /// An audit record is written.
    case audit

    public static func < (a: RouteStage, b: RouteStage) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The stages the gateway's skeleton runs itself, around the pipeline.
    static let skeleton: Set<RouteStage> = [.authentication, .adminAuthentication, .recordAdmission, .usage, .audit]
}

/// One route: its method and path (as Hummingbird prints it: `{id}` for a parameter) and the stages it goes through.
struct RouteSpec: Sendable, Hashable, CustomStringConvertible {
    let method: HTTPRequest.Method
    let path: String
    let stages: Set<RouteStage>

    init(_ method: HTTPRequest.Method, _ path: String, _ stages: Set<RouteStage>) {
        self.method = method
        self.path = path
        self.stages = stages
    }

    func has(_ stage: RouteStage) -> Bool { stages.contains(stage) }

    /// Whether the route calls a model (and so must go through every stage a model call needs).
    var callsModel: Bool { stages.contains(.upstream) }

    var description: String { "\(method.rawValue) \(path)" }
}

/// Every route Warden serves, with its stages. The router is built from it, and a test fails for any
/// registered route that is missing here (or listed here and not registered).
enum RouteTable {
    /// What every route that calls a model gets (chat, messages, embeddings, and any added later).
    static let modelCall: Set<RouteStage> = [
        .authentication, .recordAdmission, .modelAccess, .inputGuardrails, .policies, .requestLimit, .tokenLimit, .budget, .upstream,
        .usage, .audit,
    ]
    /// Chat adds what only a generated answer has: tool calls, output guardrails, structured output.
    static let chat = modelCall.union([.toolCalls, .outputGuardrails, .structuredOutput])

    static let chatCompletions = RouteSpec(.post, "/v1/chat/completions", chat)
    static let messages = RouteSpec(.post, "/v1/messages", chat)
    static let embeddings = RouteSpec(.post, "/v1/embeddings", modelCall)
    /// Counting tokens is free: no budget, no usage, no token limit, but it is still a request to limit.
    static let countTokens = RouteSpec(
        .post, "/v1/messages/count_tokens", [.authentication, .recordAdmission, .modelAccess, .policies, .requestLimit, .upstream, .audit])

    static let dataPlane: [RouteSpec] = [
        chatCompletions, messages, embeddings, countTokens,
        RouteSpec(.get, "/v1/models", [.authentication, .policies, .audit]),
        RouteSpec(.get, "/v1/models/{id}", [.authentication, .modelAccess, .policies, .audit]),
        RouteSpec(.post, "/v1/actions/authorize", [.authentication, .modelAccess, .policies, .audit]),
        RouteSpec(.get, "/v1/actions/approvals/{id}", [.authentication, .audit]),
    ]

    static let health: [RouteSpec] = [
        RouteSpec(.get, "/health/live", []),
        RouteSpec(.get, "/health/ready", []),
    ]

    /// Admin routes: reads need the admin key; changes are audited too.
    static let admin: [RouteSpec] = {
        let read: Set<RouteStage> = [.adminAuthentication]
        let change: Set<RouteStage> = [.adminAuthentication, .audit]
        return [
            RouteSpec(.get, "/admin/stats", read),
            RouteSpec(.post, "/admin/teams", change),
            RouteSpec(.get, "/admin/teams", read),
            RouteSpec(.get, "/admin/teams/{name}", read),
            RouteSpec(.patch, "/admin/teams/{name}", change),
            RouteSpec(.post, "/admin/keys", change),
            RouteSpec(.get, "/admin/keys", read),
            RouteSpec(.get, "/admin/keys/{id}", read),
            RouteSpec(.patch, "/admin/keys/{id}", change),
            RouteSpec(.delete, "/admin/keys/{id}", change),
            RouteSpec(.post, "/admin/keys/{id}/rotate", change),
            RouteSpec(.get, "/admin/spend", read),
            RouteSpec(.get, "/admin/policies", read),
            RouteSpec(.post, "/admin/policies/reload", change),
            RouteSpec(.get, "/admin/approvals", read),
            RouteSpec(.post, "/admin/approvals/{id}/approve", change),
            RouteSpec(.post, "/admin/approvals/{id}/reject", change),
        ]
    }()

    static let all: [RouteSpec] = dataPlane + health + admin
}
