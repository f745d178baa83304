import Cedar
import Foundation
import Logging
import NIOCore
import NIOPosix
import WardenCore
import WardenProviders
import WardenStore
import WardenServer

/// `warden doctor`: checks a configuration the way `serve` would use it, without serving.
public enum Doctor {
    public enum Level: String, Sendable { case ok = "ok", note = "note", warning = "warn", error = "FAIL" }

    public struct Finding: Sendable {
        public var level: Level
        public var subject: String
        public var detail: String
    }

    /// Runs every check; `probe` sends one real request per provider.
    public static func run(options: WardenServer.Options, probe: Bool) async -> [Finding] {
        var findings: [Finding] = []
        func add(_ level: Level, _ subject: String, _ detail: String) {
            findings.append(Finding(level: level, subject: subject, detail: detail))
        }
        let config: WardenConfiguration
        do {
            config = try WardenServer.loadConfiguration(options)
            add(.ok, "config", options.configPath.map { "\($0) is valid" } ?? "no --config: the embedded default")
        } catch {
            add(.error, "config", error.description)
            return findings
        }

        // Secrets: where each comes from, whether it resolves, and whether its source is discouraged.
        let secrets = config.secretReferences
        if secrets.contains(where: { if case .vault = $0.reference { true } else { false } }) {
            let transport = HTTPTransport(maxConnectionsPerHost: 4)
            do {
                try await VaultSecrets.prefetch(config, transport: transport)
                add(.ok, "vault", "read the vault: secrets from \(config.vault?.address ?? "")")
            } catch {
                add(.error, "vault", error.description)
            }
            await transport.shutdown()
        }
        for (subject, ref) in secrets {
            do {
                _ = try ref.resolve(baseDirectory: config.baseDirectory)
                switch ref {
                case .env(let name):
                    add(.warning, subject, "from environment variable \(name): environments leak into child processes, crash dumps and /proc; prefer file:")
                case .literal:
                    add(.warning, subject, "written in plain text in the config file; prefer file:PATH")
                default:
                    add(.ok, subject, "from \(ref)")
                }
            } catch {
                add(.error, subject, "\(ref): \(error.problem)")
            }
        }
        if config.keys.isEmpty { add(.ok, "keys", "no static keys; stored keys are used (one is generated on first start)") }

        // Policies: loaded as the server would load them.
        if let directory = config.policies {
            do {
                let loaded = try PolicyEngine.load(directory: SecretReference.absolutePath(directory, base: config.baseDirectory))
                let permits = loaded.set.policies.filter { $0.effect == .permit }.count
                add(
                    permits == 0 ? .warning : .ok, "policies",
                    "\(loaded.set.policies.count) policies in \(loaded.files.count) files (\(config.policiesMode.rawValue))"
                        + (permits == 0 ? ": no permit policy, so every request will be denied" : ""))
            } catch {
                add(.error, "policies", error.message)
            }
        } else {
            add(.note, "policies", "none configured: every request is permitted (keys, allow-lists, budgets and limits still apply)")
        }

        // Data directory and store: checked without creating or migrating anything.
        let dataDir = config.dataDirectoryPath
        let fm = FileManager.default
        let quiet = Logger(label: "warden.doctor") { _ in SwiftLogNoOpLogHandler() }
        func inspectStore(password: String?) async {
            do {
                let info = try await SQLStore.inspect(config.resolvedStorage, password: password, logger: quiet)
                if info.schemaVersion > SQLStore.schemaVersion {
                    add(.error, "store", "\(config.resolvedStorage) has schema v\(info.schemaVersion), newer than this Warden (v\(SQLStore.schemaVersion))")
                } else {
                    add(.ok, "store", "\(config.resolvedStorage) (schema v\(info.schemaVersion) of \(SQLStore.schemaVersion), \(info.keys) stored keys)")
                }
            } catch {
                add(.error, "store", "\(config.resolvedStorage) cannot be read: \(error)")
            }
        }
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: dataDir, isDirectory: &isDirectory) {
            if !isDirectory.boolValue {
                add(.error, "data_dir", "\(dataDir) exists and is not a directory")
            } else if !fm.isWritableFile(atPath: dataDir) {
                add(.error, "data_dir", "\(dataDir) is not writable")
            }
        } else {
            let parent = (dataDir as NSString).deletingLastPathComponent
            if fm.isWritableFile(atPath: parent) {
                add(.ok, "data_dir", "\(dataDir) will be created on first start")
            } else {
                add(.error, "data_dir", "\(dataDir) does not exist and \(parent) is not writable")
            }
        }
        switch config.resolvedStorage {
        case .sqlite(let path):
            if fm.fileExists(atPath: path) {
                await inspectStore(password: nil)
            } else {
                add(.ok, "store", "\(path) will be created on first start")
            }
        case .postgres:
            var password: String?
            if let ref = config.storagePassword {
                do {
                    password = try ref.resolve(baseDirectory: config.baseDirectory)
                } catch {
                    add(.error, "storage_password", "\(ref): \(error.problem)")
                }
            }
            if probe { await inspectStore(password: password) } else { add(.ok, "store", "\(config.resolvedStorage) (not probed)") }
        }

        // Listen address.
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: config.listen.host, port: config.listen.port).get()
            try await channel.close()
            add(.ok, "listen", "\(config.listen) is free")
        } catch {
            add(.warning, "listen", "\(config.listen) cannot be bound now (\(error)); is Warden already running?")
        }

        // Providers.
        let transport = HTTPTransport()
        for (name, provider) in config.providers {
            if provider.type == .mock {
                add(.ok, "providers.\(name)", "built-in mock upstream (in-process)")
                continue
            }
            guard probe else {
                add(.ok, "providers.\(name)", "\(provider.type.rawValue) at \(provider.baseURL ?? "") (not probed)")
                continue
            }
            let apiKey = try? provider.apiKey?.resolve(baseDirectory: config.baseDirectory)
            let client: any ProviderClient =
                provider.type == .anthropic
                ? AnthropicProvider(
                    name: name, baseURL: provider.baseURL ?? "", apiKey: apiKey, anthropicVersion: provider.anthropicVersion,
                    extraHeaders: provider.headers, transport: transport, defaultMaxTokens: config.server.defaultMaxTokens)
                : OpenAIProvider(name: name, baseURL: provider.baseURL ?? "", apiKey: apiKey, extraHeaders: provider.headers, transport: transport)
            let result = await client.probe(
                timeout: config.health.probeTimeout.duration, logger: Logger(label: "warden.doctor") { _ in SwiftLogNoOpLogHandler() })
            add(
                result.isHealthy ? .ok : .error, "providers.\(name)",
                "\(provider.type.rawValue) at \(provider.baseURL ?? ""): \(result.detail) in \(String(format: "%.1f", result.latencyMilliseconds)) ms")
        }
        await transport.shutdown()
        for (name, model) in config.models where model.deployments.count == 1 && model.fallbacks.isEmpty && model.required {
            add(.note, "models.\(name)", "one deployment and no fallbacks: an outage of it makes Warden unready")
        }
        for (name, model) in config.models {
            let unpriced = model.deployments.filter { $0.pricing == nil && model.pricing == nil && BuiltInPricing.pricing(forUpstreamModel: $0.model) == nil }
            if let first = unpriced.first {
                add(
                    .warning, "models.\(name)",
                    "no price for \(first.provider)/\(first.model) (not in the built-in table): cost is not reported, and keys or teams with a budget are refused this model (403 model_not_priced); set models.\(name).pricing")
            }
        }
        return findings
    }

    /// The findings as aligned text lines.
    public static func render(_ findings: [Finding]) -> String {
        let width = findings.map(\.subject.count).max() ?? 0
        return findings.map { f in
            "[\(f.level.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0))] "
                + f.subject.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + f.detail
        }.joined(separator: "\n")
    }
}
