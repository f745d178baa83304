import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import WardenCore
import WardenProviders

/// Reads the configuration's `vault:` secret references from HashiCorp Vault (KV version 2) before
/// anything resolves them: `GET {address}/v1/{mount}/data/{path}` with `X-Vault-Token`, the token read
/// from `vault.token` or obtained by AppRole login (`POST /v1/auth/{mount}/login`). Each secret is read
/// once per start or reload however many fields are used; values stay in memory.
package enum VaultSecrets {
    package static func prefetch(_ config: WardenConfiguration, transport: HTTPTransport) async throws(ConfigurationError) {
        var wanted: [(key: String, path: String, parsed: (mount: String, path: String, field: String))] = []
        for (key, reference) in config.secretReferences {
            if case .vault(let path) = reference, let parsed = SecretReference.parseVaultPath(path) { wanted.append((key, path, parsed)) }
        }
        guard !wanted.isEmpty else { return }
        guard let vault = config.vault else { throw ConfigurationError(key: wanted[0].key, "is a vault: reference, but there is no `vault:` section") }
        let client = transport.client(connectTimeout: vault.timeout.duration)
        let timeout = TimeAmount.nanoseconds(vault.timeout.duration.clampedNanoseconds)

        func call(_ method: HTTPMethod, _ path: String, token: String?, body: JSONObject?, key: String) async throws(ConfigurationError)
            -> JSONValue
        {
            var request = HTTPClientRequest(url: vault.address + "/v1/" + path)
            request.method = method
            if let token { request.headers.add(name: "X-Vault-Token", value: token) }
            if let namespace = vault.namespace { request.headers.add(name: "X-Vault-Namespace", value: namespace) }
            if let body {
                request.headers.add(name: "content-type", value: "application/json")
                request.body = .bytes(body.jsonBuffer)
            }
            do {
                let response = try await client.execute(request, timeout: timeout)
                let bytes = try await response.body.collect(upTo: 1 << 20)
                guard response.status == .ok else {
                    // Vault's errors name the problem without echoing secrets.
                    let detail = (try? JSONParser.parse(bytes))?["errors"]?.arrayValue?.compactMap(\.stringValue).joined(separator: "; ") ?? ""
                    throw ConfigurationError(key: key, "Vault answered \(response.status.code) for \(path)\(detail.isEmpty ? "" : ": \(detail)")")
                }
                return try JSONParser.parse(bytes)
            } catch let error as ConfigurationError {
                throw error
            } catch {
                throw ConfigurationError(key: key, "cannot reach Vault at \(vault.address): \(error)")
            }
        }

        let token: String
        if let reference = vault.token {
            do { token = try reference.resolve(baseDirectory: config.baseDirectory) } catch {
                throw ConfigurationError(key: "vault.token", error.problem)
            }
        } else if let approle = vault.approle {
            let roleID: String
            let secretID: String
            do {
                roleID = try approle.roleID.resolve(baseDirectory: config.baseDirectory)
                secretID = try approle.secretID.resolve(baseDirectory: config.baseDirectory)
            } catch {
                throw ConfigurationError(key: "vault.approle", error.problem)
            }
            let login = try await call(
                .POST, "auth/\(approle.mount)/login", token: nil, body: ["role_id": .string(roleID), "secret_id": .string(secretID)],
                key: "vault.approle")
            guard let clientToken = login["auth"]?["client_token"]?.stringValue else {
                throw ConfigurationError(key: "vault.approle", "Vault's AppRole login returned no client_token")
            }
            token = clientToken
        } else {
            throw ConfigurationError(key: "vault", "set token or approle")
        }

        var secrets: [String: JSONValue] = [:]
        var values: [String: String] = [:]
        for item in wanted {
            let location = "\(item.parsed.mount)/data/\(item.parsed.path)"
            if secrets[location] == nil {
                secrets[location] = try await call(.GET, location, token: token, body: nil, key: item.key)
            }
            guard let value = secrets[location]?["data"]?["data"]?[item.parsed.field]?.stringValue else {
                throw ConfigurationError(key: item.key, "Vault secret \(item.parsed.mount)/\(item.parsed.path) has no string field '\(item.parsed.field)'")
            }
            values[item.path] = value
        }
        SecretReference.setVaultValues(values)
    }
}
