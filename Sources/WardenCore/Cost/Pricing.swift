import Foundation

/// Money in nano-dollars (10⁻⁹ USD). Integer, so sums are exact and budgets compare exactly.
public typealias NanoDollars = Int64

extension NanoDollars {
    /// `1.234567` style USD text with up to nine decimals, trailing zeros trimmed (at least two decimals).
    public var usdString: String {
        let negative = self < 0
        let v = self.magnitude
        let whole = v / 1_000_000_000
        var fraction = String(v % 1_000_000_000)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.count > 2, fraction.hasSuffix("0") { fraction.removeLast() }
        return (negative ? "-" : "") + "\(whole).\(fraction)"
    }

    /// Parses USD written as a decimal (`12.5`, `0.000150`, or as JSON encoders write small numbers,
    /// `4.5e-05`) into nano-dollars, exactly; nil beyond nine decimals.
    public static func parseUSD(_ text: String) -> NanoDollars? {
        var t = text.trimmingCharacters(in: .whitespaces)
        if let e = t.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            // Move the decimal point: the mantissa's digits, shifted by the exponent, as a plain decimal.
            guard let exponent = Int(t[t.index(after: e)...]), exponent.magnitude <= 30 else { return nil }
            let mantissa = t[..<e]
            let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count <= 2, !mantissa.hasPrefix("-"), !mantissa.hasPrefix("+") else { return nil }
            let digits = String(parts[0]) + (parts.count == 2 ? String(parts[1]) : "")
            guard !digits.isEmpty, digits.allSatisfy(\.isNumber) else { return nil }
            var point = parts[0].count + exponent
            var padded = digits
            if point <= 0 {
                padded = String(repeating: "0", count: 1 - point) + padded
                point = 1
            }
            if point > padded.count { padded += String(repeating: "0", count: point - padded.count) }
            var fraction = String(padded.dropFirst(point))
            while fraction.hasSuffix("0") { fraction.removeLast() }
            t = String(padded.prefix(point)) + (fraction.isEmpty ? "" : "." + fraction)
        }
        guard !t.isEmpty, !t.hasPrefix("-") else { return nil }
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int64(parts[0].isEmpty ? "0" : String(parts[0])) else { return nil }
        var nanos: Int64 = 0
        if parts.count == 2 {
            let f = parts[1]
            guard f.count <= 9, f.allSatisfy(\.isNumber), !f.isEmpty || !parts[0].isEmpty else { return nil }
            nanos = Int64(String(f) + String(repeating: "0", count: 9 - f.count)) ?? 0
        }
        let (w, overflow) = whole.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflowTotal) = w.addingReportingOverflow(nanos)
        guard !overflow, !overflowTotal else { return nil }
        return total
    }
}

/// USD per million tokens for each kind of token, held exactly as nano-dollars per million tokens.
public struct ModelPricing: Sendable, Equatable {
    public var input: NanoDollars
    public var output: NanoDollars
    /// Prompt tokens read from the provider's cache; defaults to `input`.
    public var cachedInput: NanoDollars
    /// Prompt tokens written to the provider's cache (Anthropic); defaults to `input`.
    public var cacheWrite: NanoDollars
    /// Reasoning tokens (part of the output); defaults to `output`.
    public var reasoning: NanoDollars

    /// - Parameters are USD per million tokens.
    public init(inputPerMTok: Decimal, outputPerMTok: Decimal, cachedInputPerMTok: Decimal? = nil,
                cacheWritePerMTok: Decimal? = nil, reasoningPerMTok: Decimal? = nil) {
        // Prices are validated (at most $1,000,000 per million tokens) before they get here; the clamp
        // keeps a direct caller's mistake from wrapping around.
        func nanos(_ d: Decimal) -> NanoDollars {
            let scaled = d * 1_000_000_000
            guard scaled < Decimal(Int64.max), scaled > 0 else { return 0 }
            return NSDecimalNumber(decimal: scaled).int64Value
        }
        input = nanos(inputPerMTok)
        output = nanos(outputPerMTok)
        cachedInput = cachedInputPerMTok.map(nanos) ?? input
        cacheWrite = cacheWritePerMTok.map(nanos) ?? input
        reasoning = reasoningPerMTok.map(nanos) ?? output
    }

    /// The exact cost of `usage`, rounded half up to a whole nano-dollar.
    ///
    /// Canonical usage counts every prompt token in `inputTokens` (cached and cache-write included) and
    /// reasoning tokens inside `outputTokens`; each part is priced at its own rate.
    public func cost(of usage: Usage) -> NanoDollars {
        // In 128 bits: token counts and prices come from outside (an upstream, a config), and their
        // products must saturate, never trap.
        let cached = Int128(max(0, usage.cachedInputTokens))
        let written = Int128(max(0, usage.cacheWriteTokens))
        let plainInput = max(0, Int128(usage.inputTokens) - cached - written)
        let reasoningTokens = Int128(max(0, min(usage.reasoningTokens, usage.outputTokens)))
        let plainOutput = max(0, Int128(usage.outputTokens) - reasoningTokens)
        let micro = plainInput * Int128(input) + cached * Int128(cachedInput) + written * Int128(cacheWrite)
            + plainOutput * Int128(output) + reasoningTokens * Int128(reasoning)
        return Self.nanoDollars(fromMicro: micro, roundingUp: false)
    }

    /// Nano-dollars from tokens × nano-dollars per million tokens, rounded (half up, or up), clamped to `Int64`.
    static func nanoDollars(fromMicro micro: Int128, roundingUp: Bool) -> NanoDollars {
        let rounded = (micro + (roundingUp ? 999_999 : 500_000)) / 1_000_000
        return NanoDollars(clamping: rounded)
    }

    /// The most a call can cost: every prompt token at the highest input rate, `maxOutputTokens` at the
    /// highest output rate. Reservations use it so that settlement can never exceed them.
    public func worstCase(promptTokens: Int, maxOutputTokens: Int) -> NanoDollars {
        let inputRate = max(input, cachedInput, cacheWrite)
        let outputRate = max(output, reasoning)
        let micro = Int128(max(0, promptTokens)) * Int128(inputRate) + Int128(max(0, maxOutputTokens)) * Int128(outputRate)
        return Self.nanoDollars(fromMicro: micro, roundingUp: true)
    }
}

/// List prices of common public models (USD per million tokens), matched by upstream model name,
/// longest prefix first. Configured `pricing:` overrides them.
public enum BuiltInPricing {
    static let table: [(prefix: String, pricing: ModelPricing)] = [
        ("gpt-4o-mini", .init(inputPerMTok: 0.15, outputPerMTok: 0.60, cachedInputPerMTok: 0.075)),
        ("gpt-4o", .init(inputPerMTok: 2.50, outputPerMTok: 10, cachedInputPerMTok: 1.25)),
        ("gpt-4.1-nano", .init(inputPerMTok: 0.10, outputPerMTok: 0.40, cachedInputPerMTok: 0.025)),
        ("gpt-4.1-mini", .init(inputPerMTok: 0.40, outputPerMTok: 1.60, cachedInputPerMTok: 0.10)),
        ("gpt-4.1", .init(inputPerMTok: 2, outputPerMTok: 8, cachedInputPerMTok: 0.50)),
        ("o4-mini", .init(inputPerMTok: 1.10, outputPerMTok: 4.40, cachedInputPerMTok: 0.275)),
        ("o3-mini", .init(inputPerMTok: 1.10, outputPerMTok: 4.40, cachedInputPerMTok: 0.55)),
        ("o3", .init(inputPerMTok: 2, outputPerMTok: 8, cachedInputPerMTok: 0.50)),
        ("text-embedding-3-small", .init(inputPerMTok: 0.02, outputPerMTok: 0)),
        ("text-embedding-3-large", .init(inputPerMTok: 0.13, outputPerMTok: 0)),
        ("claude-opus-4", .init(inputPerMTok: 15, outputPerMTok: 75, cachedInputPerMTok: 1.50, cacheWritePerMTok: 18.75)),
        ("claude-sonnet-4", .init(inputPerMTok: 3, outputPerMTok: 15, cachedInputPerMTok: 0.30, cacheWritePerMTok: 3.75)),
        ("claude-3-7-sonnet", .init(inputPerMTok: 3, outputPerMTok: 15, cachedInputPerMTok: 0.30, cacheWritePerMTok: 3.75)),
        ("claude-haiku-4-5", .init(inputPerMTok: 1, outputPerMTok: 5, cachedInputPerMTok: 0.10, cacheWritePerMTok: 1.25)),
        ("claude-3-5-haiku", .init(inputPerMTok: 0.80, outputPerMTok: 4, cachedInputPerMTok: 0.08, cacheWritePerMTok: 1)),
        // The mock upstream's models, priced like gpt-4o-mini and gpt-4o so the demo shows real-looking spend.
        ("mock-small", .init(inputPerMTok: 0.15, outputPerMTok: 0.60, cachedInputPerMTok: 0.075)),
        ("mock-large", .init(inputPerMTok: 2.50, outputPerMTok: 10, cachedInputPerMTok: 1.25)),
    ]

    /// The built-in price for an upstream model name, if known.
    public static func pricing(forUpstreamModel name: String) -> ModelPricing? {
        var best: (Int, ModelPricing)?
        for (prefix, pricing) in table where name.hasPrefix(prefix) {
            if best == nil || prefix.count > best!.0 { best = (prefix.count, pricing) }
        }
        return best?.1
    }
}
