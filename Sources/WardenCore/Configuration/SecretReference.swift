import Foundation
import Synchronization

/// Where a secret comes from: `file:PATH`, `env:NAME`, `vault:MOUNT/PATH#FIELD`, or a literal value.
///
/// Files are the recommended source (Kubernetes and Docker mount secrets as files). `env:` works but is
/// flagged by `warden doctor`, since environment variables leak into crash dumps, `/proc` and child
/// processes. A literal in the config file works too, and is flagged the same way.
public enum SecretReference: Sendable, Hashable, Decodable, CustomStringConvertible {
    case file(String)
    case env(String)
    case vault(String)
    case literal(String)

    public static func parse(_ text: String) -> SecretReference {
        if text.hasPrefix("file:") { return .file(String(text.dropFirst(5))) }
        if text.hasPrefix("env:") { return .env(String(text.dropFirst(4))) }
        if text.hasPrefix("vault:") { return .vault(String(text.dropFirst(6))) }
        return .literal(text)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        guard let text = try? c.decode(String.self), !text.isEmpty else {
            throw ConfigurationError(
                key: decoder.codingPath.configKey, "expected a secret reference: file:PATH, env:NAME or vault:PATH#FIELD")
        }
        self = Self.parse(text)
    }

    /// A description that never contains the secret itself.
    public var description: String {
        switch self {
        case .file(let p): "file:\(p)"
        case .env(let n): "env:\(n)"
        case .vault(let p): "vault:\(p)"
        case .literal: "literal value in the config file"
        }
    }

    /// Whether `warden doctor` should warn about this source.
    public var isDiscouraged: Bool {
        switch self {
        case .env, .literal: true
        case .file, .vault: false
        }
    }

    /// Reads the secret. File contents are trimmed of surrounding whitespace (a trailing newline is usual).
    /// - Parameter baseDirectory: the directory relative file paths are resolved against.
    public func resolve(baseDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigurationError) -> String
    {
        switch self {
        case .literal(let v):
            return v
        case .env(let name):
            guard let v = environment[name], !v.isEmpty else {
                throw ConfigurationError(key: "", "environment variable \(name) is not set")
            }
            return v
        case .file(let path):
            let full = Self.absolutePath(path, base: baseDirectory)
            guard let data = FileManager.default.contents(atPath: full) else {
                throw ConfigurationError(key: "", "cannot read secret file \(full)")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw ConfigurationError(key: "", "secret file \(full) is not UTF-8 text")
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { throw ConfigurationError(key: "", "secret file \(full) is empty") }
            return trimmed
        case .vault(let path):
            guard let value = Self.vaultValues.withLock({ $0[path] }) else {
                throw ConfigurationError(key: "", "vault:\(path) was not read from Vault (is `vault:` configured?)")
            }
            return value
        }
    }

    /// Values of `vault:` references, read from Vault by the last start or reload (memory only).
    static let vaultValues = Mutex<[String: String]>([:])

    /// Replaces the values `vault:` references resolve to (keys are `MOUNT/PATH#FIELD`).
    public static func setVaultValues(_ values: [String: String]) {
        vaultValues.withLock { $0 = values }
    }

    /// `MOUNT/PATH#FIELD` split into the KV v2 mount, the secret's path and the field.
    public static func parseVaultPath(_ text: String) -> (mount: String, path: String, field: String)? {
        guard let hash = text.lastIndex(of: "#") else { return nil }
        let location = text[..<hash]
        let field = String(text[text.index(after: hash)...])
        guard let slash = location.firstIndex(of: "/"), !field.isEmpty else { return nil }
        let mount = String(location[..<slash])
        let path = String(location[location.index(after: slash)...])
        guard !mount.isEmpty, !path.isEmpty, !path.contains(".."), !mount.contains("..") else { return nil }
        return (mount, path, field)
    }

    /// `path` made absolute against `base` unless it already is.
    public static func absolutePath(_ path: String, base: String) -> String {
        if path.hasPrefix("/") { return path }
        var p = path
        while p.hasPrefix("./") { p.removeFirst(2) }
        return base.hasSuffix("/") ? base + p : base + "/" + p
    }
}
