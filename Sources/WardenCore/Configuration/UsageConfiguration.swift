import Foundation

/// `usage:` — how long per-request usage records are kept. Older ones are rolled up into daily
/// aggregates (per key, team and model), which spend reports and budgets read with the records, so
/// nothing is forgotten; only the per-request detail goes.
public struct UsageConfiguration: Sendable, Decodable {
    /// At least 31: never shorter than the longest budget period that resets (a month).
    public var retentionDays: Int

    /// The shortest retention allowed.
    public static let minimumRetentionDays = 31

    enum CodingKeys: String, CodingKey, CaseIterable { case retention_days }

    public init() {
        retentionDays = 90
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        retentionDays = try c.decodeIfPresent(Int.self, forKey: .retention_days) ?? UsageConfiguration().retentionDays
    }
}
