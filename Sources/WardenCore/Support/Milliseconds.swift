/// Milliseconds with three decimals (`0.123`), as used in logs, audit records and `x-warden-overhead-ms`.
public func formatMilliseconds(_ d: Duration) -> String {
    let c = d.components
    let micros = max(0, c.seconds.multipliedSaturated(by: 1_000_000).addingSaturated(c.attoseconds / 1_000_000_000_000))
    let ms = micros / 1000
    let frac = micros % 1000
    let fracText = String(frac)
    return "\(ms)." + String(repeating: "0", count: 3 - fracText.count) + fracText
}
