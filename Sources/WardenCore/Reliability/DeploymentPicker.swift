/// Weighted choice among a model's deployments.
public enum DeploymentPicker {
    /// Picks an index among `weights` whose entry `isAvailable`, preferring ones not in `tried` (so
    /// retries rotate across deployments). Returns nil when none is available.
    ///
    /// - Parameter draw: a uniform draw in 0..<1.
    public static func pick(weights: [Double], isAvailable: (Int) -> Bool, tried: [Int], draw: Double) -> Int? {
        var fresh: [Int] = []
        var available: [Int] = []
        for i in weights.indices where isAvailable(i) {
            available.append(i)
            if !tried.contains(i) { fresh.append(i) }
        }
        let pool = fresh.isEmpty ? available : fresh
        guard !pool.isEmpty else { return nil }
        if pool.count == 1 { return pool[0] }
        let total = pool.reduce(0) { $0 + weights[$1] }
        var target = min(max(draw, 0), 0.999_999_999) * total
        for i in pool {
            target -= weights[i]
            if target < 0 { return i }
        }
        return pool[pool.count - 1]
    }
}
