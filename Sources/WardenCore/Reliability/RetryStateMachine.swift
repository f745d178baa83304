/// How one attempt at an upstream failed, as far as retrying is concerned.
public enum AttemptFailure: Sendable, Equatable {
    /// Could not connect or the connection broke before a response.
    case connection(String)
    /// A timeout: `connect`, `first byte` or `total`.
    case timeout(String)
    /// A status worth retrying elsewhere: 408, 409, 5xx, and upstream auth/404 (a deployment misconfigured).
    case retryableStatus(Int, String)
    /// 429, with the upstream's `Retry-After` if it sent one.
    case rateLimited(retryAfter: Duration?, String)
    /// The prompt does not fit the model's context window.
    case contextTooLong
    /// The caller's fault (400, 413, 422…): retrying or falling back cannot help.
    case callerError
    /// Every deployment of the model has an open circuit.
    case noHealthyDeployment
}

/// Backoff parameters: exponential with full jitter, capped.
public struct BackoffPolicy: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    /// A `Retry-After` above this is not waited for.
    public var maxRetryAfter: Duration

    public init(initial: Duration, maximum: Duration, maxRetryAfter: Duration) {
        self.initial = initial
        self.maximum = maximum
        self.maxRetryAfter = maxRetryAfter
    }

    /// The wait before retry number `retry` (1-based), for a jitter draw in 0...1.
    public func delay(retry: Int, jitter: Double) -> Duration {
        let exponent = min(max(retry - 1, 0), 20)
        let ceiling = min(maximum, initial * (1 << exponent))
        return ceiling * min(max(jitter, 0), 1)
    }
}

/// Decides what happens after each attempt: retry the same model (after a backoff), move to the next
/// fallback model, or give up. Pure: no clock, no I/O, no randomness of its own, so it is tested by
/// feeding it failures.
///
/// Order: the requested model gets `retries + 1` attempts (the caller rotates deployments); then each
/// model in `fallbacks`, each with its own retries. A context-window error switches to the
/// `contextFallbacks` list instead. Caller errors end at once.
public struct RetryStateMachine: Sendable {
    public struct Step: Sendable, Equatable {
        public var model: String
        public var maxAttempts: Int

        public init(model: String, retries: Int) {
            self.model = model
            self.maxAttempts = retries + 1
        }
    }

    public enum Action: Sendable, Equatable {
        /// Attempt `model` after waiting `delay`. `isFallback` is true once the requested model was abandoned.
        case attempt(model: String, delay: Duration, isFallback: Bool)
        /// Stop; the last failure decides the error.
        case giveUp(AttemptFailure)
    }

    private var steps: [Step]
    private var contextSteps: [Step]
    private var usingContextSteps = false
    private var stepIndex = 0
    private var attemptsInStep = 0
    private var retriesInStep = 0
    private let backoff: BackoffPolicy

    /// Attempts started so far, fallbacks included.
    public private(set) var attempts = 0

    public init(primary: Step, fallbacks: [Step], contextFallbacks: [Step], backoff: BackoffPolicy) {
        self.init(steps: [primary] + fallbacks, contextSteps: contextFallbacks, backoff: backoff)
    }

    /// - Parameter steps: the requested model first, then its fallbacks (precomputed once per configuration).
    public init(steps: [Step], contextSteps: [Step], backoff: BackoffPolicy) {
        precondition(!steps.isEmpty, "a retry plan needs the requested model")
        self.steps = steps
        self.contextSteps = contextSteps
        self.backoff = backoff
    }

    private var current: Step { usingContextSteps ? contextSteps[stepIndex] : steps[stepIndex] }
    private var isFallback: Bool { usingContextSteps || stepIndex > 0 }

    /// The first attempt.
    public mutating func start() -> Action {
        attempts = 1
        attemptsInStep = 1
        return .attempt(model: current.model, delay: .zero, isFallback: false)
    }

    /// What to do after the current attempt failed with `failure`. `jitter` is a uniform draw in 0...1.
    public mutating func next(after failure: AttemptFailure, jitter: Double) -> Action {
        switch failure {
        case .callerError:
            return .giveUp(failure)
        case .contextTooLong:
            guard !usingContextSteps, !contextSteps.isEmpty else {
                // Already on the context list: try its next entry, or give up.
                if usingContextSteps, stepIndex + 1 < contextSteps.count { return advance() }
                return .giveUp(failure)
            }
            usingContextSteps = true
            stepIndex = -1
            return advance()
        case .noHealthyDeployment:
            return advanceOrGiveUp(failure)
        case .rateLimited(let retryAfter, _):
            if let retryAfter, retryAfter > backoff.maxRetryAfter { return advanceOrGiveUp(failure) }
            return retryOrAdvance(failure, jitter: jitter, atLeast: retryAfter ?? .zero)
        case .connection, .timeout, .retryableStatus:
            return retryOrAdvance(failure, jitter: jitter, atLeast: .zero)
        }
    }

    private mutating func retryOrAdvance(_ failure: AttemptFailure, jitter: Double, atLeast: Duration) -> Action {
        guard attemptsInStep < current.maxAttempts else { return advanceOrGiveUp(failure) }
        attemptsInStep += 1
        retriesInStep += 1
        attempts += 1
        let delay = max(backoff.delay(retry: retriesInStep, jitter: jitter), atLeast)
        return .attempt(model: current.model, delay: delay, isFallback: isFallback)
    }

    private mutating func advanceOrGiveUp(_ failure: AttemptFailure) -> Action {
        let count = usingContextSteps ? contextSteps.count : steps.count
        guard stepIndex + 1 < count else { return .giveUp(failure) }
        return advance()
    }

    private mutating func advance() -> Action {
        stepIndex += 1
        attemptsInStep = 1
        retriesInStep = 0
        attempts += 1
        return .attempt(model: current.model, delay: .zero, isFallback: true)
    }
}

extension AttemptFailure {
    /// The error the client gets when this was the last failure.
    public func gatewayError(model: String) -> GatewayError {
        switch self {
        case .connection(let reason): .upstreamError(reason)
        case .timeout(let which): .upstreamTimeout(which)
        case .retryableStatus(_, let reason): .upstreamError(reason)
        case .rateLimited(let retryAfter, let reason):
            .upstreamRateLimited(retryAfterSeconds: retryAfter.map { Int(($0.seconds).rounded(.up)) }, detail: reason)
        case .noHealthyDeployment: .noHealthyDeployment(model: model)
        case .contextTooLong, .callerError: .upstreamError("the upstream rejected the request")
        }
    }
}

extension Duration {
    /// The duration in seconds as a `Double`.
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
