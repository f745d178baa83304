/// Warden's token estimate where no tokenizer answer exists: ⌈Unicode scalars / 4⌉.
///
/// Used for `count_tokens` on non-Anthropic deployments (documented as an estimate), for the usage of
/// streams cut short before the upstream reported usage, and by the mock upstream (which defines its
/// usage this way, so the numbers in tests are exact).
public enum TokenEstimator {
    public static func tokens(scalarCount: Int) -> Int { (scalarCount + 3) / 4 }

    public static func tokens(in texts: [String]) -> Int {
        tokens(scalarCount: texts.reduce(0) { $0 + $1.unicodeScalars.count })
    }

    public static func tokens(in text: String) -> Int { tokens(scalarCount: text.unicodeScalars.count) }
}
