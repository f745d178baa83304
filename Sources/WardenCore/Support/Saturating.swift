/// Arithmetic that cannot trap on values that came from outside (a client's body, an upstream's usage,
/// a configuration file, a store row): the result sticks at the type's bounds instead of overflowing.
extension FixedWidthInteger {
    /// `self + other`, clamped to the type's range.
    @inlinable
    public func addingSaturated(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }

    /// `self - other`, clamped to the type's range.
    @inlinable
    public func subtractingSaturated(_ other: Self) -> Self {
        let (difference, overflow) = subtractingReportingOverflow(other)
        guard overflow else { return difference }
        return other > 0 ? .min : .max
    }

    /// `self * other`, clamped to the type's range.
    @inlinable
    public func multipliedSaturated(by other: Self) -> Self {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        guard overflow else { return product }
        return (self < 0) == (other < 0) ? .max : .min
    }
}

extension Int64 {
    /// A whole number of units from a `Double` that may be NaN, infinite or out of range: nil for NaN,
    /// clamped to `Int64`'s range otherwise (`Int64(Double)` traps on all three).
    @inlinable
    public init?(clampingFinite value: Double) {
        guard !value.isNaN else { return nil }
        if value >= 9.2e18 {
            self = .max
        } else if value <= -9.2e18 {
            self = .min
        } else {
            self.init(value)
        }
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to `Int64` (about 292 years): for APIs that take nanoseconds
    /// (`TimeAmount`, `NIODeadline`), where `Int64(seconds * 1e9)` would trap on a long duration.
    public var clampedNanoseconds: Int64 {
        let c = components
        guard c.seconds < 9_223_372_036, c.seconds > -9_223_372_036 else { return c.seconds < 0 ? .min : .max }
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }

    /// Whole milliseconds, clamped to `Int64`.
    public var clampedMilliseconds: Int64 {
        let c = components
        guard c.seconds < 9_223_372_036_854_775, c.seconds > -9_223_372_036_854_775 else { return c.seconds < 0 ? .min : .max }
        return c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000
    }
}
