import Foundation
import Testing

@testable import WardenCore

@Suite("Money and pricing")
struct PricingTests {
    @Test("USD text parses exactly into nano-dollars and prints back")
    func usd() {
        #expect(NanoDollars.parseUSD("12.5") == 12_500_000_000)
        #expect(NanoDollars.parseUSD("0.000000001") == 1)
        #expect(NanoDollars.parseUSD("0.0000000001") == nil, "beyond nano precision")
        #expect(NanoDollars.parseUSD("-1") == nil)
        // Exponent forms, as Python's json writes small numbers.
        #expect(NanoDollars.parseUSD("4.5e-05") == 45_000)
        #expect(NanoDollars.parseUSD("1E-9") == 1)
        #expect(NanoDollars.parseUSD("1e-10") == nil, "beyond nano precision")
        #expect(NanoDollars.parseUSD("2.5e3") == 2_500_000_000_000)
        #expect(NanoDollars.parseUSD("1e400") == nil)
        #expect(NanoDollars.parseUSD("-1e-3") == nil)
        #expect(NanoDollars.parseUSD("e5") == nil)
        #expect(NanoDollars(12_500_000_000).usdString == "12.50")
        #expect(NanoDollars(1_234_567).usdString == "0.001234567")
    }

    /// gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per million tokens.
    let mini = ModelPricing(inputPerMTok: 0.15, outputPerMTok: 0.60, cachedInputPerMTok: 0.075)
    /// claude-sonnet-4: $3 input, $0.30 cache read, $3.75 cache write, $15 output.
    let sonnet = ModelPricing(inputPerMTok: 3, outputPerMTok: 15, cachedInputPerMTok: 0.30, cacheWritePerMTok: 3.75)

    @Test("plain usage")
    func plain() {
        // 1000 × 0.15 + 500 × 0.60 = 150 + 300 = 450 µ$ = 450_000 n$
        #expect(mini.cost(of: Usage(inputTokens: 1000, outputTokens: 500)) == 450_000)
    }

    @Test("cached prompt tokens are priced at the cached rate")
    func cached() {
        // 400 plain × 0.15 + 600 cached × 0.075 + 500 × 0.60 = 60 + 45 + 300 = 405 µ$
        #expect(mini.cost(of: Usage(inputTokens: 1000, outputTokens: 500, cachedInputTokens: 600)) == 405_000)
    }

    @Test("Anthropic cache reads and writes")
    func anthropicCache() {
        // input_tokens 100 + read 2000 + write 1000 (canonical input 3100); output 300:
        // 100 × 3 + 2000 × 0.30 + 1000 × 3.75 + 300 × 15 = 300 + 600 + 3750 + 4500 = 9150 µ$
        let usage = Usage(inputTokens: 3100, outputTokens: 300, cachedInputTokens: 2000, cacheWriteTokens: 1000)
        #expect(sonnet.cost(of: usage) == 9_150_000)
    }

    @Test("reasoning tokens at their own rate when one is set")
    func reasoning() {
        let o = ModelPricing(inputPerMTok: 1.10, outputPerMTok: 4.40, reasoningPerMTok: 8)
        // 1000 × 1.10 + (800 - 600) × 4.40 + 600 × 8 = 1100 + 880 + 4800 = 6780 µ$
        #expect(o.cost(of: Usage(inputTokens: 1000, outputTokens: 800, reasoningTokens: 600)) == 6_780_000)
        #expect(mini.cost(of: Usage(inputTokens: 0, outputTokens: 800, reasoningTokens: 600)) == 480_000, "defaults to the output rate")
    }

    @Test("rounding is half up at the nano-dollar; the worst case bounds every real cost")
    func rounding() {
        let tiny = ModelPricing(inputPerMTok: 0.000000001, outputPerMTok: 0)  // 1 n$ per million tokens
        #expect(tiny.cost(of: Usage(inputTokens: 500_000)) == 1, "half a nano-dollar rounds up")
        #expect(tiny.cost(of: Usage(inputTokens: 499_999)) == 0)
        let worst = sonnet.worstCase(promptTokens: 3100, maxOutputTokens: 300)
        #expect(worst >= sonnet.cost(of: Usage(inputTokens: 3100, outputTokens: 300, cachedInputTokens: 2000, cacheWriteTokens: 1000)))
        #expect(worst >= sonnet.cost(of: Usage(inputTokens: 3100, outputTokens: 300)))
    }

    @Test("built-in prices match by longest upstream-model prefix")
    func builtIn() {
        #expect(BuiltInPricing.pricing(forUpstreamModel: "gpt-4o-mini-2024-07-18")?.input == 150_000_000)
        #expect(BuiltInPricing.pricing(forUpstreamModel: "gpt-4o-2024-08-06")?.input == 2_500_000_000)
        #expect(BuiltInPricing.pricing(forUpstreamModel: "my-own-model") == nil)
    }
}

@Suite("Budget periods (UTC)")
struct BudgetPeriodTests {
    // 2026-11-29T21:34:19.123Z is a Sunday.
    let t: Int64 = 1_795_988_059_123

    func date(_ ms: Int64) -> String { WallClock.rfc3339(unixMilliseconds: ms) }

    @Test("period starts and ends", arguments: [
        (BudgetPeriod.daily, "2026-11-29T00:00:00.000Z", "2026-11-30T00:00:00.000Z"),
        (.weekly, "2026-11-23T00:00:00.000Z", "2026-11-30T00:00:00.000Z"),
        (.monthly, "2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z"),
    ])
    func periods(_ period: BudgetPeriod, start: String, end: String) {
        #expect(date(period.start(containing: t)) == start)
        #expect(period.end(containing: t).map(date) == end)
    }

    @Test("total never resets; December rolls into January")
    func edges() {
        #expect(BudgetPeriod.total.start(containing: t) == 0)
        #expect(BudgetPeriod.total.end(containing: t) == nil)
        let december: Int64 = 1_798_675_200_000 + 86_400_000 * 5  // 2026-12-31 + a few days into 2027
        #expect(date(BudgetPeriod.monthly.start(containing: december)).hasPrefix("2027-01-01"))
    }
}

@Suite("Sliding-window limits")
struct SlidingWindowTests {
    let t0 = ContinuousClock.now

    @Test("at most `limit` in any window; Retry-After names when a slot frees")
    func requests() {
        var w = SlidingWindow(limit: 3, window: .seconds(60))
        for i in 0..<3 {
            guard case .admitted = w.admit(1, now: t0 + .seconds(i)) else {
                Issue.record("request \(i) should pass")
                return
            }
        }
        #expect(w.admit(1, now: t0 + .seconds(10)) == .refused(retryAfter: .seconds(50), remaining: 0, reset: .seconds(52)))
        guard case .admitted = w.admit(1, now: t0 + .seconds(60)) else {
            Issue.record("the first slot is free after 60 s")
            return
        }
    }

    @Test("token estimates are corrected to real usage")
    func tokens() {
        var w = SlidingWindow(limit: 1000)
        guard case .admitted(let ticket, let remaining, _) = w.admit(800, now: t0) else {
            Issue.record("800 of 1000 should be admitted")
            return
        }
        #expect(remaining == 200)
        #expect(w.admit(300, now: t0).isRefused)
        w.correct(ticket: ticket, from: 800, to: 100)
        #expect(!w.admit(300, now: t0).isRefused)
        #expect(w.admit(2000, now: t0).isRefused, "larger than the whole limit")
    }

    @Test("memory is bounded by the slices whatever the rate, and the limit holds over any window")
    func boundedSlices() {
        var w = SlidingWindow(limit: 100_000, window: .seconds(60))
        var admitted: [ContinuousClock.Instant] = []
        // 120 s at 1,000 admissions a second, every millisecond.
        for ms in 0..<120_000 {
            let now = t0 + .milliseconds(ms)
            if case .admitted = w.admit(1, now: now) { admitted.append(now) }
            #expect(w.liveSlices <= Int(SlidingWindow.slices) + 1)
        }
        // Over any 60-second interval, at most the limit was admitted.
        var j = 0
        for i in admitted.indices {
            while admitted[i] - admitted[j] >= .seconds(60) { j += 1 }
            if i - j + 1 > 100_000 { Issue.record("more than the limit in one window"); break }
        }
        #expect(admitted.count == 120_000, "a limit of 100000 per minute admits 1000 a second")
        var tight = SlidingWindow(limit: 50_000, window: .seconds(60))
        var count = 0
        for ms in 0..<60_000 {
            if case .admitted = tight.admit(1, now: t0 + .milliseconds(ms)) { count += 1 }
        }
        #expect(count == 50_000, "exactly the limit in one window")
        #expect(tight.used == 50_000)
    }

    @Test("corrections of coalesced admissions adjust just their own share")
    func coalescedCorrections() {
        var w = SlidingWindow(limit: 1000)
        guard case .admitted(let a, _, _) = w.admit(300, now: t0), case .admitted(let b, _, _) = w.admit(300, now: t0 + .milliseconds(1))
        else {
            Issue.record("refused")
            return
        }
        #expect(a == b, "both fall in the same slice")
        w.correct(ticket: a, from: 300, to: 50)
        #expect(w.used == 350)
        w.correct(ticket: b, from: 300, to: 0)
        #expect(w.used == 50)
    }

    @Test("reset times are written the way OpenAI writes them")
    func goDuration() {
        #expect(Duration.milliseconds(850).goDurationString == "850ms")
        #expect(Duration.seconds(1).goDurationString == "1s")
        #expect(Duration.milliseconds(1500).goDurationString == "1.5s")
        #expect(Duration.seconds(360).goDurationString == "6m0s")
        #expect(Duration.seconds(3723).goDurationString == "1h2m3s")
    }
}

extension SlidingWindow.Decision {
    var isRefused: Bool { if case .refused = self { true } else { false } }
}
