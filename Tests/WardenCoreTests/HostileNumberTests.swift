import Foundation
import NIOCore
import Testing

@testable import WardenAudit
@testable import WardenCore

/// Numbers that come from outside (a client's body, an upstream's usage, a configuration, a store row)
/// at the edges of their types: each is refused or clamped, and nothing traps.
@Suite("Hostile numbers")
struct HostileNumberTests {
    @Test("saturating arithmetic sticks at the bounds")
    func saturating() {
        #expect(Int64.max.addingSaturated(1) == .max)
        #expect(Int64.min.addingSaturated(-1) == .min)
        #expect(Int64.min.subtractingSaturated(1) == .min)
        #expect(Int64.max.subtractingSaturated(-1) == .max)
        #expect(Int64.max.multipliedSaturated(by: 2) == .max)
        #expect(Int64.max.multipliedSaturated(by: -2) == .min)
        #expect(Int(5).addingSaturated(6) == 11)
        #expect(Int64(clampingFinite: .infinity) == .max)
        #expect(Int64(clampingFinite: -1e300) == .min)
        #expect(Int64(clampingFinite: .nan) == nil)
        #expect(Int64(clampingFinite: 12.9) == 12)
        #expect(Duration.seconds(Int64.max).clampedNanoseconds == .max)
        #expect(Duration.seconds(2).clampedNanoseconds == 2_000_000_000)
        #expect(Duration.milliseconds(1500).clampedMilliseconds == 1500)
        #expect(Duration.seconds(-Int64.max).clampedMilliseconds == .min)
    }

    @Test("an upstream's usage is clamped to 0...maximumTokens and never overflows a sum or a price")
    func usage() throws {
        let openAI = try JSONParser.parse(
            #"{"prompt_tokens":9223372036854775807,"completion_tokens":99999999999999999999999,"prompt_tokens_details":{"cached_tokens":-9223372036854775808}}"#)
        let u = try #require(OpenAIResponseCodec.decodeUsage(openAI))
        #expect(u.inputTokens == Usage.maximumTokens)
        #expect(u.outputTokens == Usage.maximumTokens)
        #expect(u.cachedInputTokens == 0)
        #expect(u.totalTokens == 2 * Usage.maximumTokens)
        let anthropic = try JSONParser.parse(
            #"{"input_tokens":9223372036854775807,"cache_read_input_tokens":9223372036854775807,"cache_creation_input_tokens":9223372036854775807,"output_tokens":-5}"#)
        let a = try #require(AnthropicResponseCodec.decodeUsage(anthropic))
        #expect(a.inputTokens == 3 * Usage.maximumTokens)
        #expect(a.outputTokens == 0)
        // Encoding for the other API subtracts without trapping, whatever the parts say.
        let weird = Usage(inputTokens: 0, outputTokens: 1, cachedInputTokens: .max, cacheWriteTokens: .max)
        #expect(AnthropicResponseCodec.encodeUsage(weird)["input_tokens"]?.intValue == 0)
        #expect(Usage(inputTokens: .max, outputTokens: .max).totalTokens == .max)
        #expect(Usage(inputTokens: .max).adding(Usage(inputTokens: 1)).inputTokens == .max)
        // The most expensive price times the most tokens saturates instead of trapping.
        let dear = ModelPricing(inputPerMTok: 1_000_000, outputPerMTok: 1_000_000)
        #expect(dear.cost(of: Usage(inputTokens: .max, outputTokens: .max, reasoningTokens: .max)) == .max)
        #expect(dear.worstCase(promptTokens: .max, maxOutputTokens: .max) == .max)
        #expect(dear.worstCase(promptTokens: -5, maxOutputTokens: 1) == 1_000_000_000)  // $1 per token
    }

    @Test("max_tokens beyond maximumTokens is refused with 400, not an overflow later")
    func maxTokens() throws {
        for body in [
            #"{"model":"m","max_tokens":9223372036854775807,"messages":[{"role":"user","content":"hi"}]}"#,
            #"{"model":"m","max_completion_tokens":1000000001,"messages":[{"role":"user","content":"hi"}]}"#,
        ] {
            let error = #expect(throws: GatewayError.self) { try OpenAIRequestDecoder.decodeChat(try JSONParser.parse(body)) }
            #expect(error?.status == 400)
        }
        let anthropic = #"{"model":"m","max_tokens":99999999999,"messages":[{"role":"user","content":"hi"}]}"#
        let error = #expect(throws: GatewayError.self) { try AnthropicRequestDecoder.decodeMessages(try JSONParser.parse(anthropic)) }
        #expect(error?.param == "max_tokens")
        let ok = try OpenAIRequestDecoder.decodeChat(
            try JSONParser.parse(#"{"model":"m","max_tokens":1000000000,"messages":[{"role":"user","content":"hi"}]}"#))
        #expect(ok.maxTokens == Usage.maximumTokens)
    }

    @Test("canonical JSON takes Int64.min and the largest numbers")
    func canonicalExtremes() throws {
        let value = try JSONParser.parse(#"{"a":-9223372036854775808,"b":9223372036854775807,"c":-1e308}"#)
        let text = String(decoding: CanonicalJSON.bytes(value), as: UTF8.self)
        #expect(text == #"{"a":-9223372036854776000,"b":9223372036854776000,"c":-1e+308}"#)
    }

    @Test("USD amounts at the edges are refused, not trapped on")
    func usdEdges() {
        #expect(NanoDollars.parseUSD("1e-9223372036854775808") == nil)
        #expect(NanoDollars.parseUSD("1e9223372036854775807") == nil)
        #expect(NanoDollars.parseUSD("9223372036.999999999") == nil)
        #expect(NanoDollars.parseUSD("9223372036.854775807") == .max)
        #expect(NanoDollars.parseUSD("9223372037") == nil)
    }

    @Test("timestamps before 1970 format and parse without trapping")
    func wallClockBefore1970() {
        #expect(WallClock.rfc3339(unixMilliseconds: -500) == "1969-12-31T23:59:59.500Z")
        #expect(WallClock.rfc3339(unixMilliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(WallClock.rfc3339(unixMilliseconds: 1_500) == "1970-01-01T00:00:01.500Z")
        var buffer = ByteBuffer()
        WallClock.writeRFC3339(unixMilliseconds: -123, to: &buffer)
        #expect(String(buffer: buffer) == "1969-12-31T23:59:59.877Z")
        #expect(WallClock.parseRFC3339("1969-12-31T23:59:59.5Z") == -500)
    }

    @Test("HTTP dates in all three forms")
    func httpDates() {
        let expected: Int64 = 784_111_777_000  // 1994-11-06 08:49:37 UTC
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == expected)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == expected)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == expected)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 25:49:37 GMT") == nil)
        #expect(HTTPDate.parse("Sun, 06 Foo 1994 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("1e30") == nil)
        #expect(HTTPDate.parse(String(repeating: "a ", count: 100)) == nil)
    }

    @Test("config durations and sizes past their range are refused")
    func configRanges() {
        #expect(ConfigDuration.parse("2s")?.duration == .seconds(2))
        #expect(ConfigDuration.parse("1.5s")?.duration == .milliseconds(1500))
        #expect(ConfigDuration.parse("250ms")?.duration == .milliseconds(250))
        #expect(ConfigDuration.parse("100000000000000000s") == nil)
        #expect(ConfigDuration.parse("0x1p80s") == nil)
        #expect(ConfigDuration.parse("1e3s") == nil)
        #expect(ConfigDuration.parse("-1s") == nil)
        #expect(ConfigDuration.parse("inf s") == nil)
        #expect(ConfigDuration.parse("87600h") != nil)
        #expect(ConfigDuration.parse("87601h") == nil)
        #expect(ConfigByteSize.parse("99999999999GiB") == nil)
        #expect(ConfigByteSize.parse("8MiB")?.bytes == 8 << 20)
        #expect(ConfigurationLoader.isHTTPURL("http://10.0.0.1:70000/v1") == false)
        #expect(ConfigurationLoader.isHTTPURL("http://10.0.0.1:8000/v1"))
        #expect(ConfigurationLoader.isHTTPURL("ftp://example.com") == false)
    }

    @Test("rate-limit windows stay consistent with huge units")
    func slidingWindow() {
        var window = SlidingWindow(limit: 100, window: .seconds(60))
        let now = ContinuousClock.now
        if case .admitted = window.admit(.max, now: now) { Issue.record("admitted more than the limit") }
        guard case .admitted(let ticket, _, _) = window.admit(10, now: now) else {
            Issue.record("refused a small request")
            return
        }
        window.correct(ticket: ticket, from: 10, to: .max)
        if case .admitted = window.admit(1, now: now) { Issue.record("admitted past a saturated window") }
        #expect(window.status(now: now).remaining == 0)
    }
}
