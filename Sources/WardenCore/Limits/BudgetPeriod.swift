#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The calendar period a budget applies to, in UTC. Weeks start on Monday.
public enum BudgetPeriod: String, Sendable, Codable, CaseIterable {
    case daily, weekly, monthly, total

    /// The start of the period containing `unixMilliseconds` (0 for `total`).
    public func start(containing unixMilliseconds: Int64) -> Int64 {
        guard self != .total else { return 0 }
        var t = time_t(unixMilliseconds / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        parts.tm_hour = 0
        parts.tm_min = 0
        parts.tm_sec = 0
        switch self {
        case .daily, .total: break
        case .weekly:
            // tm_wday: 0 = Sunday. Days since Monday:
            let sinceMonday = (Int(parts.tm_wday) + 6) % 7
            parts.tm_mday -= Int32(sinceMonday)
        case .monthly:
            parts.tm_mday = 1
        }
        return Int64(timegm(&parts)) * 1000
    }

    /// The start of the next period (when the budget resets); nil for `total`, which never resets.
    public func end(containing unixMilliseconds: Int64) -> Int64? {
        let start = start(containing: unixMilliseconds)
        var t = time_t(start / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        switch self {
        case .total: return nil
        case .daily: parts.tm_mday += 1
        case .weekly: parts.tm_mday += 7
        case .monthly: parts.tm_mon += 1
        }
        return Int64(timegm(&parts)) * 1000
    }
}
