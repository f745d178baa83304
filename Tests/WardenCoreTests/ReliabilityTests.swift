import Testing

@testable import WardenCore

@Suite("Circuit breaker")
struct CircuitBreakerTests {
    let t0 = ContinuousClock.now

    @Test("opens after consecutive failures, half-opens after the cool-down, closes on a good trial")
    func lifecycle() {
        var b = CircuitBreaker(failureThreshold: 3, cooldown: .seconds(30))
        do { let granted = b.acquire(now: t0); #expect(granted) }
        b.recordFailure(now: t0)
        b.recordFailure(now: t0)
        #expect(b.state == .closed(consecutiveFailures: 2))
        b.recordSuccess()
        #expect(b.state == .closed(consecutiveFailures: 0), "a success resets the count")
        for _ in 0..<3 { b.recordFailure(now: t0) }
        #expect(b.state == .open(until: t0 + .seconds(30)))
        do { let granted = b.acquire(now: t0 + .seconds(29)); #expect(!granted) }
        do { let granted = b.acquire(now: t0 + .seconds(30)); #expect(granted, "the first caller after the cool-down gets the trial") }
        do { let granted = b.acquire(now: t0 + .seconds(31)); #expect(!granted, "only one trial at a time") }
        b.recordSuccess()
        do { let granted = b.acquire(now: t0 + .seconds(31)); #expect(granted) }
    }

    @Test("a failed trial reopens; a trial that never reports stops blocking after one cool-down")
    func trials() {
        var b = CircuitBreaker(failureThreshold: 1, cooldown: .seconds(10))
        b.recordFailure(now: t0)
        do { let granted = b.acquire(now: t0 + .seconds(10)); #expect(granted) }
        b.recordFailure(now: t0 + .seconds(11))
        #expect(b.state == .open(until: t0 + .seconds(21)))
        do { let granted = b.acquire(now: t0 + .seconds(21)); #expect(granted) }
        do { let granted = b.acquire(now: t0 + .seconds(25)); #expect(!granted) }
        do { let granted = b.acquire(now: t0 + .seconds(31)); #expect(granted, "the lost trial's slot is given again") }
    }

    @Test("time can jump 72 hours")
    func longJump() {
        var b = CircuitBreaker(failureThreshold: 1, cooldown: .seconds(30))
        b.recordFailure(now: t0)
        #expect(b.isAvailable(now: t0 + .seconds(72 * 3600)))
    }
}

@Suite("Retry state machine")
struct RetryStateMachineTests {
    let backoff = BackoffPolicy(initial: .milliseconds(100), maximum: .seconds(1), maxRetryAfter: .seconds(10))

    func machine(retries: Int = 2, fallbacks: [String] = [], context: [String] = []) -> RetryStateMachine {
        RetryStateMachine(
            primary: .init(model: "a", retries: retries), fallbacks: fallbacks.map { .init(model: $0, retries: 1) },
            contextFallbacks: context.map { .init(model: $0, retries: 0) }, backoff: backoff)
    }

    @Test("retries with exponential backoff, then fallbacks in order, then gives up with the last failure")
    func retriesThenFallbacks() {
        var m = machine(retries: 2, fallbacks: ["b", "c"])
        #expect(m.start() == .attempt(model: "a", delay: .zero, isFallback: false))
        let f = AttemptFailure.retryableStatus(503, "down")
        #expect(m.next(after: f, jitter: 1) == .attempt(model: "a", delay: .milliseconds(100), isFallback: false))
        #expect(m.next(after: f, jitter: 1) == .attempt(model: "a", delay: .milliseconds(200), isFallback: false))
        #expect(m.next(after: f, jitter: 1) == .attempt(model: "b", delay: .zero, isFallback: true))
        #expect(m.next(after: .connection("refused"), jitter: 0.5) == .attempt(model: "b", delay: .milliseconds(50), isFallback: true))
        #expect(m.next(after: f, jitter: 1) == .attempt(model: "c", delay: .zero, isFallback: true))
        #expect(m.next(after: .timeout("first byte"), jitter: 1) == .attempt(model: "c", delay: .milliseconds(100), isFallback: true))
        #expect(m.next(after: .timeout("first byte"), jitter: 1) == .giveUp(.timeout("first byte")))
        #expect(m.attempts == 7)
    }

    @Test("backoff is capped and jittered")
    func backoffCap() {
        #expect(backoff.delay(retry: 10, jitter: 1) == .seconds(1))
        #expect(backoff.delay(retry: 3, jitter: 0.5) == .milliseconds(200))
        #expect(backoff.delay(retry: 1, jitter: 0) == .zero)
    }

    @Test("Retry-After is honoured as a minimum wait; one beyond the limit skips to the fallback")
    func retryAfter() {
        var m = machine(retries: 1, fallbacks: ["b"])
        _ = m.start()
        #expect(
            m.next(after: .rateLimited(retryAfter: .seconds(2), "429"), jitter: 0.1)
                == .attempt(model: "a", delay: .seconds(2), isFallback: false))
        var n = machine(retries: 3, fallbacks: ["b"])
        _ = n.start()
        #expect(n.next(after: .rateLimited(retryAfter: .seconds(60), "429"), jitter: 0.1) == .attempt(model: "b", delay: .zero, isFallback: true))
    }

    @Test("caller errors end at once; context errors switch to the context fallbacks")
    func callerAndContext() {
        var m = machine(fallbacks: ["b"], context: ["long1", "long2"])
        _ = m.start()
        #expect(m.next(after: .contextTooLong, jitter: 0) == .attempt(model: "long1", delay: .zero, isFallback: true))
        #expect(m.next(after: .contextTooLong, jitter: 0) == .attempt(model: "long2", delay: .zero, isFallback: true))
        #expect(m.next(after: .contextTooLong, jitter: 0) == .giveUp(.contextTooLong))
        var n = machine(fallbacks: ["b"])
        _ = n.start()
        #expect(n.next(after: .callerError, jitter: 0) == .giveUp(.callerError))
        var o = machine(fallbacks: ["b"])
        _ = o.start()
        #expect(o.next(after: .contextTooLong, jitter: 0) == .giveUp(.contextTooLong), "no context fallbacks: the error passes through")
    }

    @Test("no healthy deployment moves straight to the next model")
    func openCircuits() {
        var m = machine(retries: 5, fallbacks: ["b"])
        _ = m.start()
        #expect(m.next(after: .noHealthyDeployment, jitter: 0) == .attempt(model: "b", delay: .zero, isFallback: true))
        #expect(m.next(after: .noHealthyDeployment, jitter: 0) == .giveUp(.noHealthyDeployment))
    }

    @Test("the final failure maps to the documented client error")
    func finalErrors() {
        #expect(AttemptFailure.rateLimited(retryAfter: .milliseconds(1500), "x").gatewayError(model: "m").retryAfterSeconds == 2)
        #expect(AttemptFailure.timeout("first byte").gatewayError(model: "m").status == 504)
        #expect(AttemptFailure.connection("refused").gatewayError(model: "m").status == 502)
        #expect(AttemptFailure.noHealthyDeployment.gatewayError(model: "m").status == 503)
    }
}

@Suite("Deployment picker")
struct DeploymentPickerTests {
    @Test("weights are respected across the draw range")
    func weights() {
        let weights: [Double] = [3, 1]
        var counts = [0, 0]
        for i in 0..<400 {
            let index = DeploymentPicker.pick(weights: weights, isAvailable: { _ in true }, tried: [], draw: Double(i) / 400)
            counts[index!] += 1
        }
        #expect(counts == [300, 100])
    }

    @Test("untried deployments are preferred; unavailable ones are skipped")
    func rotation() {
        #expect(DeploymentPicker.pick(weights: [1, 1, 1], isAvailable: { _ in true }, tried: [0, 2], draw: 0.0) == 1)
        #expect(DeploymentPicker.pick(weights: [1, 1], isAvailable: { $0 == 1 }, tried: [], draw: 0.0) == 1)
        #expect(DeploymentPicker.pick(weights: [1, 1], isAvailable: { _ in false }, tried: [], draw: 0.5) == nil)
        #expect(DeploymentPicker.pick(weights: [1, 1], isAvailable: { _ in true }, tried: [0, 1], draw: 0.9) == 1, "all tried: any available")
    }
}
