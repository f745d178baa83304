import Foundation

/// One tool the models may call (`tools.NAME`): how risky it is, what Warden does with a call to it, and
/// the JSON-schema constraints its arguments must meet.
public struct ToolConfiguration: Sendable, Decodable {
    public enum Risk: String, Sendable, CaseIterable { case read, write, irreversible }
    public enum Action: String, Sendable, CaseIterable {
        case allow, block
        case requireApproval = "require_approval"
    }

    public var risk: Risk
    /// Default: `require_approval` for irreversible tools, `allow` otherwise.
    public var action: Action
    public var arguments: JSONSchema?
    public var description: String?

    enum CodingKeys: String, CodingKey, CaseIterable { case risk, action, arguments, description }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let r = try c.decodeIfPresent(String.self, forKey: .risk) ?? "write"
        guard let risk = Risk(rawValue: r) else {
            throw ConfigurationError(key: (c.codingPath + [CodingKeys.risk]).configKey, "expected read, write or irreversible")
        }
        self.risk = risk
        if let a = try c.decodeIfPresent(String.self, forKey: .action) {
            guard let action = Action(rawValue: a) else {
                throw ConfigurationError(key: (c.codingPath + [CodingKeys.action]).configKey, "expected allow, block or require_approval")
            }
            self.action = action
        } else {
            action = risk == .irreversible ? .requireApproval : .allow
        }
        if let schema = try c.decodeIfPresent(JSONValue.self, forKey: .arguments) {
            guard schema.objectValue != nil || schema.boolValue != nil else {
                throw ConfigurationError(key: (c.codingPath + [CodingKeys.arguments]).configKey, "expected a JSON schema (a map)")
            }
            let parsed = JSONSchema(schema)
            if let problem = parsed.unsupported().first {
                throw ConfigurationError(
                    key: (c.codingPath + [CodingKeys.arguments]).configKey, "Warden cannot check this schema: \(problem)")
            }
            arguments = parsed
        }
        description = try c.decodeIfPresent(String.self, forKey: .description)
    }
}

/// `approvals:` — how long a held tool call waits for a decision, and how long an approved one may be fetched.
public struct ApprovalsConfiguration: Sendable, Decodable {
    public var ttl: ConfigDuration = .seconds(24 * 3600)

    enum CodingKeys: String, CodingKey, CaseIterable { case ttl }

    public init() {}

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ttl = try c.decodeIfPresent(ConfigDuration.self, forKey: .ttl) ?? .seconds(24 * 3600)
    }
}
