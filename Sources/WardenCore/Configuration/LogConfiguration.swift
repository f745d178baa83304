public struct LogConfiguration: Sendable, Decodable {
    public enum Level: String, Sendable, Decodable, CaseIterable { case trace, debug, info, notice, warning, error }
    public var level: Level
    /// One JSON line per request.
    public var accessLog: Bool

    enum CodingKeys: String, CodingKey, CaseIterable { case level, access_log }

    public init() {
        level = .info
        accessLog = true
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try c.decodeIfPresent(String.self, forKey: .level) {
            guard let l = Level(rawValue: text) else {
                throw ConfigurationError(
                    key: (c.codingPath + [CodingKeys.level]).configKey,
                    "unknown level '\(text)' (expected \(Level.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            level = l
        } else {
            level = .info
        }
        accessLog = try c.decodeIfPresent(Bool.self, forKey: .access_log) ?? true
    }
}
