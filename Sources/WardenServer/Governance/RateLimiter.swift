import Synchronization
import WardenCore

/// A key's or team's per-minute limits.
public struct RateLimitScope: Sendable {
    /// `key:<id>` or `team:<name>`.
    public var ledgerKey: String
    /// For messages: "key 'ci'" or "team 'research'".
    public var label: String
    public var rpm: Int?
    public var tpm: Int?
}

/// What the limiter reports for OpenAI's `x-ratelimit-*` headers: the tightest applicable limits.
public struct RateLimitStatus: Sendable {
    public var requests: (limit: Int, remaining: Int, reset: Duration)?
    public var tokens: (limit: Int, remaining: Int, reset: Duration)?

    /// `x-ratelimit-limit-requests`, `-remaining-requests`, `-reset-requests` and the `-tokens` trio.
    public var headers: [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        if let r = requests {
            out.append(("x-ratelimit-limit-requests", String(r.limit)))
            out.append(("x-ratelimit-remaining-requests", String(r.remaining)))
            out.append(("x-ratelimit-reset-requests", r.reset.goDurationString))
        }
        if let t = tokens {
            out.append(("x-ratelimit-limit-tokens", String(t.limit)))
            out.append(("x-ratelimit-remaining-tokens", String(t.remaining)))
            out.append(("x-ratelimit-reset-tokens", t.reset.goDurationString))
        }
        return out
    }
}

/// Requests and tokens per minute per key and per team, as sliding windows, in this process.
///
/// A request is admitted only if every applicable window has room (all or nothing); tokens are admitted
/// on the request's estimate and corrected to the real usage afterwards. Windows are changed in place
/// under the lock (never copied out and back, which would copy their slices on every request).
public final class RateLimiter: Sendable {
    struct Windows {
        var requests: SlidingWindow?
        var tokens: SlidingWindow?

        mutating func configure(_ scope: RateLimitScope) {
            if let rpm = scope.rpm {
                if requests == nil { requests = SlidingWindow(limit: rpm) } else { requests!.limit = rpm }
            } else {
                requests = nil
            }
            if let tpm = scope.tpm {
                if tokens == nil { tokens = SlidingWindow(limit: tpm) } else { tokens!.limit = tpm }
            } else {
                tokens = nil
            }
        }

        /// Keeps the tightest (least remaining) requests and tokens figures.
        mutating func report(now: ContinuousClock.Instant, into status: inout RateLimitStatus) {
            if let s = requests?.status(now: now), let limit = requests?.limit,
                status.requests == nil || s.remaining < status.requests!.remaining
            {
                status.requests = (limit, s.remaining, s.reset)
            }
            if let s = tokens?.status(now: now), let limit = tokens?.limit, status.tokens == nil || s.remaining < status.tokens!.remaining {
                status.tokens = (limit, s.remaining, s.reset)
            }
        }
    }

    /// Tickets to correct once the real token usage is known.
    public struct Admission: Sendable {
        var tokenTickets: [(ledgerKey: String, ticket: UInt64)]
        /// The token estimate each ticket admitted.
        var estimatedTokens: Int
        public var status: RateLimitStatus
    }

    private let windows = Mutex<[String: Windows]>([:])

    public init() {}

    /// Admits a request with `estimatedTokens`, or throws `rate_limit_exceeded` (429 with `Retry-After`).
    public func admit(_ scopes: [RateLimitScope], estimatedTokens: Int, now: ContinuousClock.Instant) throws(GatewayError)
        -> Admission
    {
        let limited = scopes.filter { $0.rpm != nil || $0.tpm != nil }
        guard !limited.isEmpty else { return Admission(tokenTickets: [], estimatedTokens: 0, status: RateLimitStatus()) }
        return try windows.withLock { table throws(GatewayError) -> Admission in
            // First check every window, then commit, so a refusal admits nothing anywhere.
            var refusal: (String, Duration)?
            for scope in limited {
                table[scope.ledgerKey, default: Windows()].configure(scope)
                if case .refused(let after, _, _) = table[scope.ledgerKey]!.requests?.peek(1, now: now) {
                    refusal = Self.later(refusal, ("\(scope.rpm ?? 0) requests per minute for \(scope.label)", after))
                }
                if case .refused(let after, _, _) = table[scope.ledgerKey]!.tokens?.peek(estimatedTokens, now: now) {
                    refusal = Self.later(refusal, ("\(scope.tpm ?? 0) tokens per minute for \(scope.label)", after))
                }
            }
            var status = RateLimitStatus()
            if let (detail, after) = refusal {
                for scope in limited { table[scope.ledgerKey]?.report(now: now, into: &status) }
                var error = GatewayError.rateLimitExceeded(detail, retryAfterSeconds: max(1, Int(after.seconds.rounded(.up))))
                error.headers = status.headers
                throw error
            }
            var tickets: [(String, UInt64)] = []
            for scope in limited {
                _ = table[scope.ledgerKey]!.requests?.admit(1, now: now)
                if case .admitted(let ticket, _, _) = table[scope.ledgerKey]!.tokens?.admit(estimatedTokens, now: now) {
                    tickets.append((scope.ledgerKey, ticket))
                }
                table[scope.ledgerKey]!.report(now: now, into: &status)
            }
            return Admission(tokenTickets: tickets, estimatedTokens: estimatedTokens, status: status)
        }
    }

    /// Replaces token estimates with the real count.
    public func correct(_ admission: Admission, actualTokens: Int) {
        guard !admission.tokenTickets.isEmpty else { return }
        windows.withLock { table in
            for (key, ticket) in admission.tokenTickets {
                table[key]?.tokens?.correct(ticket: ticket, from: admission.estimatedTokens, to: actualTokens)
            }
        }
    }

    static func later(_ a: (String, Duration)?, _ b: (String, Duration)) -> (String, Duration) {
        guard let a else { return b }
        return b.1 > a.1 ? b : a
    }
}
