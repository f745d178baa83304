/// A sliding-window limit: at most `limit` units in any `window`-long interval.
///
/// Requests per minute use it with one unit per request; tokens per minute with a request's token
/// estimate, corrected afterwards to the real usage. Admissions are kept in `slices` time slices of
/// the window (64: under a second for a minute): units admitted in the same slice share one entry,
/// which leaves the window when its latest admission does. So memory is bounded by the slice count
/// whatever the rate, and the limit is never exceeded: an admission is counted for at least the whole
/// window (at most one slice longer), which can only make a refusal or a `Retry-After` slightly early.
public struct SlidingWindow: Sendable {
    /// May change when an admin changes the limit; what was admitted stays counted.
    public var limit: Int
    public let window: Duration
    /// Live slices, oldest first from `head`: the latest admission time in the slice, its units, its number.
    private var entries: [(at: ContinuousClock.Instant, units: Int, slice: UInt64)] = []
    private var head = 0
    private var total = 0
    /// Slices are counted from the window's first use.
    private var origin: ContinuousClock.Instant?
    private let sliceNanoseconds: Int64

    /// Slices per window.
    public static let slices: Int64 = 64

    public init(limit: Int, window: Duration = .seconds(60)) {
        self.limit = max(0, limit)
        self.window = window
        sliceNanoseconds = max(1, window.clampedNanoseconds / Self.slices)
    }

    public enum Decision: Sendable, Equatable {
        /// Admitted; `ticket` identifies the admission for a later correction.
        case admitted(ticket: UInt64, remaining: Int, reset: Duration)
        /// Refused; the request may be retried after `retryAfter`.
        case refused(retryAfter: Duration, remaining: Int, reset: Duration)
    }

    /// How many slices are live (for tests: bounded whatever the rate).
    public var liveSlices: Int { entries.count - head }

    private mutating func expire(now: ContinuousClock.Instant) {
        while head < entries.count, now - entries[head].at >= window {
            total = total.subtractingSaturated(entries[head].units)
            head += 1
        }
        if head > 16, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }

    /// Time until the window has room for `units` more (zero if it has room now).
    private func wait(for units: Int, now: ContinuousClock.Instant) -> Duration {
        var excess = total.addingSaturated(units).subtractingSaturated(limit)
        guard excess > 0 else { return .zero }
        for i in head..<entries.count {
            excess = excess.subtractingSaturated(entries[i].units)
            if excess <= 0 { return max(.zero, entries[i].at + window - now) }
        }
        return window
    }

    /// Time until the newest live admission leaves the window (when the window is fully replenished, as
    /// OpenAI's `x-ratelimit-reset-*` headers report it).
    private func resetTime(now: ContinuousClock.Instant) -> Duration {
        guard head < entries.count else { return .zero }
        return max(.zero, entries[entries.count - 1].at + window - now)
    }

    public var used: Int { total }

    /// What `admit` would decide, without admitting anything.
    public mutating func peek(_ units: Int, now: ContinuousClock.Instant) -> Decision {
        expire(now: now)
        guard units <= limit else {
            return .refused(retryAfter: window, remaining: max(0, limit.subtractingSaturated(total)), reset: resetTime(now: now))
        }
        guard total.addingSaturated(units) <= limit else {
            return .refused(
                retryAfter: wait(for: units, now: now), remaining: max(0, limit.subtractingSaturated(total)), reset: resetTime(now: now))
        }
        return .admitted(ticket: 0, remaining: limit.subtractingSaturated(total).subtractingSaturated(units), reset: resetTime(now: now))
    }

    /// Admits `units` if they fit in the window at `now`.
    public mutating func admit(_ units: Int, now: ContinuousClock.Instant) -> Decision {
        let decision = peek(units, now: now)
        guard case .admitted = decision else { return decision }
        let start = origin ?? now
        origin = start
        let slice = UInt64(max(0, (now - start).clampedNanoseconds / sliceNanoseconds))
        if head < entries.count, entries[entries.count - 1].slice == slice {
            entries[entries.count - 1].units = entries[entries.count - 1].units.addingSaturated(units)
            entries[entries.count - 1].at = max(entries[entries.count - 1].at, now)
        } else {
            entries.append((now, units, slice))
        }
        total = total.addingSaturated(units)
        return .admitted(ticket: slice, remaining: max(0, limit.subtractingSaturated(total)), reset: resetTime(now: now))
    }

    /// Replaces an admission's `estimate` with the real amount, if its slice is still in the window.
    public mutating func correct(ticket: UInt64, from estimate: Int, to units: Int) {
        guard head < entries.count else { return }
        // Slices increase with position: binary search.
        var lo = head
        var hi = entries.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if entries[mid].slice == ticket {
                let corrected = max(0, entries[mid].units.subtractingSaturated(estimate).addingSaturated(units))
                total = total.addingSaturated(corrected.subtractingSaturated(entries[mid].units))
                entries[mid].units = corrected
                return
            }
            if entries[mid].slice < ticket { lo = mid + 1 } else { hi = mid - 1 }
        }
    }

    /// Remaining capacity and reset time at `now`, without admitting anything.
    public mutating func status(now: ContinuousClock.Instant) -> (remaining: Int, reset: Duration) {
        expire(now: now)
        return (max(0, limit.subtractingSaturated(total)), resetTime(now: now))
    }
}

extension Duration {
    /// OpenAI's rate-limit reset format (Go's duration string): `850ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`.
    public var goDurationString: String {
        let totalMs = Int64(clampingFinite: (seconds * 1000).rounded(.up)) ?? 0
        if totalMs <= 0 { return "0s" }
        if totalMs < 1000 { return "\(totalMs)ms" }
        let h = totalMs / 3_600_000
        let m = (totalMs / 60_000) % 60
        let ms = totalMs % 60_000
        var secondsText = String(ms / 1000)
        if ms % 1000 != 0 {
            var fraction = String(ms % 1000)
            fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            secondsText += "." + fraction
        }
        if h > 0 { return "\(h)h\(m)m\(secondsText)s" }
        if m > 0 { return "\(m)m\(secondsText)s" }
        return "\(secondsText)s"
    }
}
