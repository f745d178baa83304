import Foundation

/// `audit:` — the tamper-evident log.
public struct AuditConfiguration: Sendable, Decodable {
    /// Store prompt and response text (apart from the hashed records, so it can be erased).
    public var captureContent: Bool
    /// Sign a checkpoint after this many records…
    public var checkpointEvery: Int
    /// …or this long after the last one, whichever comes first.
    public var checkpointInterval: ConfigDuration
    /// The Ed25519 signing key (base64 of the 32-byte seed). Generated into the data directory when absent.
    public var signingKey: SecretReference?
    /// The log's name in checkpoints.
    public var origin: String
    /// Where every checkpoint is also copied: a file path, or an `https://` webhook (HMAC-signed with `publish_secret`).
    public var publish: String?
    public var publishSecret: SecretReference?
    /// At least 180 (the EU AI Act's six months).
    public var retentionDays: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case capture_content, checkpoint_every, checkpoint_interval, signing_key, origin, publish, publish_secret,
            retention_days
    }

    public init() {
        captureContent = false
        checkpointEvery = 1000
        checkpointInterval = .seconds(60)
        signingKey = nil
        origin = "warden/audit"
        publish = nil
        publishSecret = nil
        retentionDays = 180
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AuditConfiguration()
        captureContent = try c.decodeIfPresent(Bool.self, forKey: .capture_content) ?? d.captureContent
        checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpoint_every) ?? d.checkpointEvery
        checkpointInterval = try c.decodeIfPresent(ConfigDuration.self, forKey: .checkpoint_interval) ?? d.checkpointInterval
        signingKey = try c.decodeIfPresent(SecretReference.self, forKey: .signing_key)
        origin = try c.decodeIfPresent(String.self, forKey: .origin) ?? d.origin
        publish = try c.decodeIfPresent(String.self, forKey: .publish)
        publishSecret = try c.decodeIfPresent(SecretReference.self, forKey: .publish_secret)
        retentionDays = try c.decodeIfPresent(Int.self, forKey: .retention_days) ?? d.retentionDays
    }
}
