import Synchronization
import WardenCore

/// The circuit breakers of every deployment, keyed by `provider/upstream-model`.
///
/// Kept outside the reloadable runtime so a config reload does not forget which deployments are failing.
public final class DeploymentHealth: Sendable {
    private struct State {
        var breakers: [String: CircuitBreaker] = [:]
        var failureThreshold: Int
        var cooldown: Duration
    }

    private let state: Mutex<State>

    public init(failureThreshold: Int, cooldown: Duration) {
        state = Mutex(State(failureThreshold: failureThreshold, cooldown: cooldown))
    }

    /// Applies new breaker settings (from a reload); existing breakers keep their state until they next close.
    public func configure(failureThreshold: Int, cooldown: Duration) {
        state.withLock {
            $0.failureThreshold = failureThreshold
            $0.cooldown = cooldown
        }
    }

    public func isAvailable(_ key: String, now: ContinuousClock.Instant) -> Bool {
        state.withLock { $0.breakers[key]?.isAvailable(now: now) ?? true }
    }

    /// Takes the right to send a request (the half-open trial, if the circuit is recovering).
    public func acquire(_ key: String, now: ContinuousClock.Instant) -> Bool {
        state.withLock { s in
            guard var breaker = s.breakers[key] else { return true }
            let ok = breaker.acquire(now: now)
            s.breakers[key] = breaker
            return ok
        }
    }

    public func recordSuccess(_ key: String) {
        state.withLock { s in
            // Closed breakers with no failures are not stored: the common path stays a dictionary miss.
            if s.breakers[key] != nil { s.breakers[key] = nil }
        }
    }

    public func recordFailure(_ key: String, now: ContinuousClock.Instant) {
        state.withLock { s in
            var breaker = s.breakers[key] ?? CircuitBreaker(failureThreshold: s.failureThreshold, cooldown: s.cooldown)
            breaker.recordFailure(now: now)
            s.breakers[key] = breaker
        }
    }

    /// A snapshot for health reports.
    public func state(of key: String) -> CircuitBreaker.State {
        state.withLock { $0.breakers[key]?.state ?? .closed(consecutiveFailures: 0) }
    }
}
