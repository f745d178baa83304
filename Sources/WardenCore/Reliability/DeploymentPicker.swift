/// Weighted choice among a model's deployments.
public enum DeploymentPicker {
    /// Picks an index among `weights` whose entry `isAvailable`, preferring ones not in `tried` (so
    /// retries rotate across deployments). Returns nil when none is available. Allocates nothing.
    ///
    /// - Parameter draw: a uniform draw in 0..<1.
    public static func pick(weights: [Double], isAvailable: (Int) -> Bool, tried: [Int], draw: Double) -> Int? {
        if weights.count == 1 { return isAvailable(0) ? 0 : nil }
        // First pass: the total weight of fresh (untried, available) and of all available deployments.
        var freshTotal = 0.0
        var availableTotal = 0.0
        var lastFresh: Int?
        var lastAvailable: Int?
        for i in weights.indices where isAvailable(i) {
            availableTotal += weights[i]
            lastAvailable = i
            if !tried.contains(i) {
                freshTotal += weights[i]
                lastFresh = i
            }
        }
        let onlyFresh = lastFresh != nil
        guard let fallback = onlyFresh ? lastFresh : lastAvailable else { return nil }
        let total = onlyFresh ? freshTotal : availableTotal
        // Second pass: walk the same pool to the drawn point.
        var target = min(max(draw, 0), 0.999_999_999) * total
        for i in weights.indices where isAvailable(i) && (!onlyFresh || !tried.contains(i)) {
            target -= weights[i]
            if target < 0 { return i }
        }
        return fallback
    }
}
