/// A per-deployment circuit breaker, as a state machine over an injected time.
///
/// Closed: requests flow; `failureThreshold` consecutive failures open it. Open: requests are refused
/// until `cooldown` has passed, then one trial request is let through (half-open). The trial's success
/// closes the circuit; its failure opens it for another cool-down. A trial that never reports back (its
/// client went away) stops blocking after one cool-down.
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case closed(consecutiveFailures: Int)
        case open(until: ContinuousClock.Instant)
        case halfOpen(trialStarted: ContinuousClock.Instant)
    }

    public let failureThreshold: Int
    public let cooldown: Duration
    public private(set) var state: State = .closed(consecutiveFailures: 0)

    public init(failureThreshold: Int, cooldown: Duration) {
        self.failureThreshold = max(1, failureThreshold)
        self.cooldown = cooldown
    }

    /// Whether a request may go to this deployment now. In the half-open state the first caller gets
    /// the trial and later callers are refused until it reports.
    public mutating func acquire(now: ContinuousClock.Instant) -> Bool {
        switch state {
        case .closed:
            return true
        case .open(let until):
            guard now >= until else { return false }
            state = .halfOpen(trialStarted: now)
            return true
        case .halfOpen(let started):
            guard now - started >= cooldown else { return false }
            state = .halfOpen(trialStarted: now)
            return true
        }
    }

    /// Whether a request would be let through now (no state change), for health reports and routing.
    public func isAvailable(now: ContinuousClock.Instant) -> Bool {
        switch state {
        case .closed: true
        case .open(let until): now >= until
        case .halfOpen(let started): now - started >= cooldown
        }
    }

    public var isOpen: Bool { if case .closed = state { false } else { true } }

    public mutating func recordSuccess() {
        state = .closed(consecutiveFailures: 0)
    }

    public mutating func recordFailure(now: ContinuousClock.Instant) {
        switch state {
        case .closed(let n):
            state = n + 1 >= failureThreshold ? .open(until: now + cooldown) : .closed(consecutiveFailures: n + 1)
        case .halfOpen, .open:
            state = .open(until: now + cooldown)
        }
    }
}
