import Synchronization
import Guardrails
import WardenCore
import WardenProviders

/// How a request went: where its time was spent and which upstream served it. For the overhead
/// figure, the response headers and the access log.
public struct RequestTrace: Sendable {
    /// Time spent waiting on upstreams (attempts, stream chunks).
    public var upstream: Duration = .zero
    /// Time spent sleeping between retries.
    public var backoff: Duration = .zero
    /// Time spent waiting on the client: receiving its body, and taking streamed bytes.
    public var client: Duration = .zero
    /// Time spent in guardrail detectors (input, output, tool calls), part of the overhead.
    public var guardrailTime: Duration = .zero
    /// Upstream attempts made.
    public var attempts = 0
    /// The Warden model that finally served (after fallbacks), and its deployment.
    public var servedModel: String?
    public var provider: String?
    public var upstreamModel: String?
    public var isFallback = false
    /// The serving deployment's prices.
    public var pricing: ModelPricing?
}

/// What the stages decided about a request that later stages, the response and its records need.
public struct RequestState: Sendable {
    /// Usage a stage accounted itself (a structured-output retry adds both calls).
    public var usage: Usage?
    /// Money reserved for this request, settled when it completes, and further reservations (a
    /// structured-output retry), settled with it.
    public var reservation: Reservation?
    public var extraReservations: [Reservation] = []
    /// Rate-limit admission (token estimates to correct) and the headers to report.
    public var rateLimit: RateLimiter.Admission?
    /// SHA-256 of the request body and of the bytes answered (the audit record keeps these), and the
    /// text itself only when `audit.capture_content` is on.
    public var promptDigest: [UInt8]?
    public var promptText: String?
    public var responseDigest: [UInt8]?
    public var responseText: String?
    /// The policies' decision, and models the route must skip because the policies deny them.
    public var policy: PolicyTrace?
    public var deniedModels: Set<String> = []
    /// Guardrail verdicts (input, output, tool calls).
    public var verdicts: [GuardrailVerdict] = []
    /// The PII types found when a PII detector ran (nil when none ran), for the policy context.
    public var piiTypes: Set<String>?
    /// Placeholder → the caller's value, for restoring redacted values in the answer.
    public var redactedValues: [String: String] = [:]
    /// The canary token put into the system prompt (`guardrails.canary`).
    public var canary: String?
    /// Tool calls held for approval by this request (their ids, for `x-warden-approval`).
    public var heldApprovals: [String] = []
    /// Tool-call decisions, for the audit record.
    public var toolCallDecisions: [JSONValue] = []
}

/// Everything Warden notes about one request while serving it: its `trace` and its `state`, each
/// behind its own lock, changed by the stages through `updateTrace` and `updateState`.
public final class RequestRecord: Sendable {
    private let traceLock = Mutex(RequestTrace())
    private let stateLock = Mutex(RequestState())

    public init() {}

    public var trace: RequestTrace { traceLock.withLock { $0 } }
    public var state: RequestState { stateLock.withLock { $0 } }

    func updateTrace(_ body: (inout RequestTrace) -> Void) { traceLock.withLock { body(&$0) } }
    func updateState(_ body: (inout RequestState) -> Void) { stateLock.withLock { body(&$0) } }
}
