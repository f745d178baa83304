import Synchronization
import WardenCore
import WardenProviders

/// What happened to one request on its way upstream, for the response headers and the access log.
public final class RequestTrace: Sendable {
    public struct Snapshot: Sendable {
        /// Time spent waiting on upstreams (attempts, stream chunks).
        public var upstream: Duration = .zero
        /// Time spent sleeping between retries.
        public var backoff: Duration = .zero
        /// Time spent waiting on the client: receiving its body, and taking streamed bytes.
        public var client: Duration = .zero
        public var attempts = 0
        /// The Warden model that finally served (after fallbacks).
        public var servedModel: String?
        public var provider: String?
        public var upstreamModel: String?
        public var isFallback = false
        public var usage: Usage?
        /// The serving deployment's prices.
        public var pricing: ModelPricing?
        /// Money reserved for this request, settled when it completes.
        public var reservation: Reservation?
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
        /// Guardrail verdicts; the PII types found when a PII detector ran (nil when none ran); the
        /// placeholder → value map for restoring redacted values in the answer.
        public var guardrails: [GuardrailVerdict] = []
        public var piiTypes: Set<String>?
        public var restore: [String: String] = [:]
        /// Time spent in guardrail detectors (input, output, tool calls), part of the overhead.
        public var guardrailTime: Duration = .zero
        /// The canary token put into the system prompt (`guardrails.canary`).
        public var canary: String?
        /// Tool calls held for approval by this request (their ids, for `x-warden-approval`).
        public var approvals: [String] = []
        /// Tool-call decisions, for the audit record.
        public var toolCalls: [JSONValue] = []
        /// Further budget reservations (a structured-output retry), settled with the main one.
        public var extraReservations: [Reservation] = []
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }
}

/// Runs one call against a model with Warden's reliability policy: weighted choice of deployment
/// (skipping open circuits), retries with backoff rotating deployments, then fallback models.
/// Nothing here writes to the client, so everything happens before the client's first byte.
struct RouteExecutor: Sendable {
    let runtime: GatewayRuntime
    let health: DeploymentHealth

    struct Served<T: Sendable>: Sendable {
        var value: T
        var model: RouteModel
        var deployment: RouteDeployment
    }

    func run<T: Sendable>(
        model name: String, trace: RequestTrace,
        attempt: (RouteDeployment, RouteModel) async throws -> T
    ) async throws -> Served<T> {
        guard let primary = runtime.models[name] else { throw GatewayError.modelNotFound(name) }
        let denied = trace.snapshot.deniedModels
        var machine = RetryStateMachine(
            steps: denied.isEmpty ? primary.retrySteps : primary.retrySteps.filter { !denied.contains($0.model) },
            contextSteps: denied.isEmpty ? primary.contextSteps : primary.contextSteps.filter { !denied.contains($0.model) },
            backoff: runtime.backoff)
        var action = machine.start()
        // Deployments already tried, per model; filled only when a request needs a second attempt.
        var tried: [(model: String, index: Int)] = []
        var current: (model: String, index: Int)?
        var lastFailure: UpstreamFailure?
        var lastModel = name
        while true {
            switch action {
            case .giveUp(let failure):
                throw finalError(failure, last: lastFailure, model: lastModel)
            case .attempt(let modelName, let delay, let isFallback):
                lastModel = modelName
                if delay > .zero {
                    let start = ContinuousClock.now
                    try await Task.sleep(for: delay)
                    trace.update { $0.backoff += ContinuousClock.now - start }
                }
                guard let model = runtime.models[modelName] else {
                    action = machine.next(after: .noHealthyDeployment, jitter: .random(in: 0...1))
                    continue
                }
                if let previous = current { tried.append(previous) }
                current = nil
                let triedHere = tried.isEmpty ? [] : tried.filter { $0.model == modelName }.map(\.index)
                guard let index = pickDeployment(model, tried: triedHere) else {
                    action = machine.next(after: .noHealthyDeployment, jitter: .random(in: 0...1))
                    continue
                }
                current = (modelName, index)
                let deployment = model.deployments[index]
                trace.update {
                    $0.attempts += 1
                    $0.servedModel = modelName
                    $0.provider = deployment.providerName
                    $0.upstreamModel = deployment.upstreamModel
                    $0.pricing = deployment.pricing
                    $0.isFallback = isFallback
                }
                let start = ContinuousClock.now
                do {
                    let value = try await attempt(deployment, model)
                    let end = ContinuousClock.now
                    trace.update { $0.upstream += end - start }
                    health.recordSuccess(deployment.healthKey)
                    return Served(value: value, model: model, deployment: deployment)
                } catch let failure as UpstreamFailure {
                    let end = ContinuousClock.now
                    trace.update { $0.upstream += end - start }
                    // A call cut short because the client left says nothing about the deployment.
                    if Task.isCancelled { throw CancellationError() }
                    if failure.countsAgainstDeployment {
                        health.recordFailure(deployment.healthKey, now: end)
                    } else {
                        health.recordSuccess(deployment.healthKey)
                    }
                    lastFailure = failure
                    action = machine.next(after: failure.failure, jitter: .random(in: 0...1))
                } catch {
                    let end = ContinuousClock.now
                    trace.update { $0.upstream += end - start }
                    throw error
                }
            }
        }
    }

    /// Weighted choice among available deployments not yet tried for this model (then any available).
    private func pickDeployment(_ model: RouteModel, tried: [Int]) -> Int? {
        let now = ContinuousClock.now
        var excluded = tried
        for _ in 0..<model.deployments.count {
            guard
                let index = DeploymentPicker.pick(
                    weights: model.weights,
                    isAvailable: { i in
                        !(excluded.count > tried.count && excluded[tried.count...].contains(i))
                            && health.isAvailable(model.deployments[i].healthKey, now: now)
                    },
                    tried: excluded, draw: .random(in: 0..<1))
            else { return nil }
            if health.acquire(model.deployments[index].healthKey, now: now) { return index }
            excluded.append(index)  // lost the half-open trial to another request
        }
        return nil
    }

    private func finalError(_ failure: AttemptFailure, last: UpstreamFailure?, model: String) -> GatewayError {
        switch failure {
        case .callerError, .contextTooLong:
            let status = last?.status ?? 400
            let message =
                last?.body?["error"]?["message"]?.stringValue ?? "The upstream rejected the request (\(status))."
            return .upstreamClientError(status: status, body: last?.body, api: last?.api ?? .openAI, message: message)
        default:
            return failure.gatewayError(model: model)
        }
    }
}
