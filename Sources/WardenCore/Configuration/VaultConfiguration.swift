import Foundation

/// `vault:` — HashiCorp Vault for `vault:MOUNT/PATH#FIELD` secret references (KV version 2).
///
/// Warden logs in with a token read from a secret reference (a file, ideally: Vault Agent writes one) or
/// with AppRole, reads every referenced secret at start and on each reload, and keeps the values in
/// memory only.
public struct VaultConfiguration: Sendable, Decodable {
    /// `http(s)://HOST:PORT`.
    public var address: String
    public var token: SecretReference?
    public var approle: AppRole?
    /// Vault Enterprise namespace (`X-Vault-Namespace`).
    public var namespace: String?
    public var timeout: ConfigDuration

    public struct AppRole: Sendable, Decodable {
        public var roleID: SecretReference
        public var secretID: SecretReference
        /// Where AppRole is mounted (default `approle`).
        public var mount: String

        enum CodingKeys: String, CodingKey, CaseIterable { case role_id, secret_id, mount }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            roleID = try c.decode(SecretReference.self, forKey: .role_id)
            secretID = try c.decode(SecretReference.self, forKey: .secret_id)
            mount = try c.decodeIfPresent(String.self, forKey: .mount) ?? "approle"
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case address, token, approle, namespace, timeout }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        address = try c.decode(String.self, forKey: .address)
        guard address.hasPrefix("http://") || address.hasPrefix("https://") else {
            throw ConfigurationError(key: (c.codingPath + [CodingKeys.address]).configKey, "expected http(s)://HOST:PORT")
        }
        while address.hasSuffix("/") { address.removeLast() }
        token = try c.decodeIfPresent(SecretReference.self, forKey: .token)
        approle = try c.decodeIfPresent(AppRole.self, forKey: .approle)
        guard (token == nil) != (approle == nil) else {
            throw ConfigurationError(key: c.codingPath.configKey.isEmpty ? "vault" : c.codingPath.configKey, "set exactly one of token or approle")
        }
        if case .vault = token { throw ConfigurationError(key: "vault.token", "cannot itself come from Vault") }
        namespace = try c.decodeIfPresent(String.self, forKey: .namespace)
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? .seconds(5)
    }
}
