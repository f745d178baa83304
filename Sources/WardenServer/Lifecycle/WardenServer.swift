import Cedar
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import WardenCore
import WardenMockUpstream
import WardenProviders
import WardenStore

/// Assembles and runs a Warden server: store, providers, the in-process mock upstream when configured,
/// the HTTP server, background services, signal handling and reloads.
public enum WardenServer {
    public struct Options: Sendable {
        /// The config file; nil runs the embedded default.
        public var configPath: String?
        public var listenOverride: ListenAddress?
        public var dataDirOverride: String?
        /// Where logs go.
        public var logSink: LogSink
        /// Print a first-start key to stdout (`serve`); the demo reads it from `Listening` instead.
        public var printGeneratedKey: Bool
        /// Overrides the config's log level (the demo keeps the console quiet).
        public var logLevelOverride: LogConfiguration.Level?
        /// Turns the per-request log off whatever the config says.
        public var disableAccessLog: Bool

        public init(
            configPath: String? = nil, listenOverride: ListenAddress? = nil, dataDirOverride: String? = nil,
            logSink: LogSink = LogSink(), printGeneratedKey: Bool = true, logLevelOverride: LogConfiguration.Level? = nil,
            disableAccessLog: Bool = false
        ) {
            self.configPath = configPath
            self.listenOverride = listenOverride
            self.dataDirOverride = dataDirOverride
            self.logSink = logSink
            self.printGeneratedKey = printGeneratedKey
            self.logLevelOverride = logLevelOverride
            self.disableAccessLog = disableAccessLog
        }
    }

    /// What a caller learns once the server listens.
    public struct Listening: Sendable {
        public var host: String
        public var port: Int
        /// The key generated on first start, if this start generated one.
        public var generatedKey: String?
        /// The admin key generated on first start, if this start generated it.
        public var generatedAdminKey: String? = nil
        public var baseURL: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)" }
    }

    /// Loads the configuration the options name (or the embedded default) with overrides applied.
    public static func loadConfiguration(_ options: Options) throws(ConfigurationError) -> WardenConfiguration {
        var config: WardenConfiguration
        if let path = options.configPath {
            config = try ConfigurationLoader.load(path: path)
        } else {
            config = WardenConfiguration.embeddedDefault(baseDirectory: FileManager.default.currentDirectoryPath)
        }
        if let listen = options.listenOverride { config.listen = listen }
        if let dir = options.dataDirOverride {
            config.dataDir = SecretReference.absolutePath(dir, base: FileManager.default.currentDirectoryPath)
        }
        if let level = options.logLevelOverride { config.log.level = level }
        if options.disableAccessLog { config.log.accessLog = false }
        return config
    }

    /// Runs until SIGTERM/SIGINT or `control.shutdown()`, then drains and returns.
    public static func run(
        options: Options, control: WardenControl = WardenControl(),
        onListening: @escaping @Sendable (Listening) async -> Void = { _ in }
    ) async throws {
        let config = try loadConfiguration(options)
        let sink = options.logSink
        let level = config.log.level.swiftLogLevel
        let logger = Logger(label: "warden") { JSONLogHandler(label: $0, sink: sink, level: level) }

        let dataDir = config.dataDirectoryPath
        do {
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        } catch {
            throw ConfigurationError(key: "data_dir", "cannot create \(dataDir): \(error.localizedDescription)")
        }
        let transport = HTTPTransport(maxConnectionsPerHost: config.providers.map(\.config.maxConnections).max() ?? 512)
        do {
            try await VaultSecrets.prefetch(config, transport: transport)
        } catch {
            await transport.shutdown()
            throw error
        }
        var storagePassword: String?
        if let ref = config.storagePassword {
            do {
                storagePassword = try ref.resolve(baseDirectory: config.baseDirectory)
            } catch {
                throw ConfigurationError(key: "storage_password", error.problem)
            }
        }
        let store = try await SQLStore.open(config.resolvedStorage, password: storagePassword, logger: logger)

        let generatedKey = try await ensureFirstKey(store: store, config: config, logger: logger)
        let admin = try await ensureAdminKey(store: store, config: config, logger: logger)
        if generatedKey != nil || admin.generated != nil, options.printGeneratedKey {
            sink.flush()
            printKeyBanner(generatedKey, adminKey: admin.generated, listen: config.listen)
        }

        let needsMock = config.providers.contains { $0.config.type == .mock }
        let mockLatency = config.providers.first { $0.config.type == .mock }?.config.latency?.duration ?? .zero

        // A failure after the store is open (a configuration error found while building the runtime)
        // still closes it.
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                var mockGroup: ServiceGroup?
                var mockBaseURL: String?
                if needsMock {
                    let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
                    let mock = MockUpstream(configuration: .init(latency: mockLatency))
                    let mockLogger = Logger(label: "warden.mock") { JSONLogHandler(label: $0, sink: sink, level: .warning) }
                    let app = mock.application(host: "127.0.0.1", port: 0, logger: mockLogger) { port in
                        portSink.yield(port)
                        portSink.finish()
                    }
                    let serviceGroup = ServiceGroup(configuration: .init(services: [app], logger: mockLogger))
                    mockGroup = serviceGroup
                    group.addTask {
                        defer { portSink.finish() }
                        try await serviceGroup.run()
                    }
                    guard let port = await ports.first(where: { _ in true }) else {
                        throw ConfigurationError(key: "providers", "the in-process mock upstream failed to start")
                    }
                    mockBaseURL = "http://127.0.0.1:\(port)"
                }

                let mockURL = mockBaseURL
                let runtime = try GatewayRuntime.build(config: config, transport: transport, mockBaseURL: mockURL)
                let holder = RuntimeHolder(runtime)
                let governance = try await Governance.start(store: store, runtime: runtime, transport: transport, logger: logger)
                if generatedKey != nil {
                    governance.audit.append(kind: "admin", fields: ["action": "key.create", "actor": "system", "team": "default", "key_name": "default"])
                }
                if admin.generated != nil {
                    governance.audit.append(kind: "admin", fields: ["action": "admin_key.create", "actor": "system"])
                }
                let health = DeploymentHealth(
                    failureThreshold: config.reliability.breakerFailures, cooldown: config.reliability.breakerCooldown.duration)
                let readiness = Readiness(store: store, storeDescription: store.location, backlog: { governance.recordBacklog })
                let connections = ConnectionRegistry()
                let policyEngine = PolicyEngine(logger: logger)
                do throws(PolicyLoadError) {
                    try policyEngine.configure(
                        directory: config.policies.map { SecretReference.absolutePath($0, base: config.baseDirectory) }, mode: config.policiesMode)
                } catch {
                    throw ConfigurationError(key: "policies", error.message)
                }
                if let loaded = policyEngine.loaded {
                    logger.notice(
                        "policies loaded",
                        metadata: [
                            "warden.policies": "\(loaded.set.policies.count)", "warden.policies.files": "\(loaded.files.count)",
                            "warden.policies.mode": "\(config.policiesMode.rawValue)",
                        ])
                }
                let policyCheck = PolicyCheck(engine: policyEngine, identity: governance.identity)
                let gateway = Gateway(
                    holder: holder, health: health,
                    pipeline: .standard(governance: governance, policies: policyCheck, health: health),
                    connections: connections, governance: governance, policies: policyCheck, accessLog: sink, logger: logger)

                let reload: @Sendable () async -> Void = {
                    await Self.reload(
                        options: options, holder: holder, health: health, identity: governance.identity, policies: policyEngine,
                        transport: transport, mockBaseURL: mockURL, logger: logger)
                }
                let control = ControlService(
                    control: control, configPath: options.configPath, readiness: readiness,
                    drainDelay: { holder.runtime.config.shutdown.drainDelay.duration }, reload: reload, logger: logger)

                let listen = config.listen
                let server = config.server
                let httpConfiguration = HTTP1Channel.Configuration(
                    additionalChannelHandlers: [
                        ConnectionGuardHandler(bodyTimeout: .nanoseconds(server.bodyTimeout.duration.clampedNanoseconds), registry: connections)
                    ],
                    idleTimeout: .nanoseconds(server.idleTimeout.duration.clampedNanoseconds),
                    httpDecoderConfiguration: .init(
                        maxHeaderFieldSize: server.maxHeaderBytes.bytes, maxHeaderListSize: server.maxHeaderBytes.bytes,
                        maxHeaderFieldCount: server.maxHeaderCount))
                let limits = ConnectionLimits(
                    maximumConnections: server.maxConnections, headerTimeout: .nanoseconds(server.headerTimeout.duration.clampedNanoseconds))
                let app = Application(
                    router: gateway.router(
                        readiness: readiness, adminKeyDigest: admin.digest, stats: ServerStats(governance: governance, limits: limits, sink: sink)),
                    server: .guardedHTTP1(configuration: httpConfiguration, limits: limits),
                    configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: nil, reuseAddress: true),
                    onServerRunning: { channel in
                        let port = channel.localAddress?.port ?? listen.port
                        logger.notice(
                            "warden listening",
                            metadata: [
                                "warden.listen": "\(listen.host):\(port)", "warden.models": "\(runtime.modelNames.count)",
                                "warden.config": "\(options.configPath ?? "embedded default")",
                            ])
                        await onListening(Listening(host: listen.host, port: port, generatedKey: generatedKey, generatedAdminKey: admin.generated))
                    },
                    logger: logger)

                var groupConfiguration = ServiceGroupConfiguration(
                    // Services shut down in reverse order: the transport after governance, whose last audit
                    // checkpoint may still be published to a webhook.
                    services: [
                        .init(service: LogFlushService(sink: sink)),
                        .init(service: TransportService(transport: transport)),
                    ] + governance.services.map { .init(service: $0) } + [
                        .init(service: PolicyWatchService(engine: policyEngine)),
                        .init(service: control, successTerminationBehavior: .gracefullyShutdownGroup),
                        .init(service: app),
                    ],
                    logger: logger)
                groupConfiguration.maximumGracefulShutdownDuration = config.shutdown.timeout.duration
                groupConfiguration.maximumCancellationDuration = .seconds(5)
                let serviceGroup = ServiceGroup(configuration: groupConfiguration)
                do {
                    try await serviceGroup.run()
                } catch {
                    await mockGroup?.triggerGracefulShutdown()
                    throw error
                }
                await mockGroup?.triggerGracefulShutdown()
                try await group.waitForAll()
                await store.close()
                logger.notice("warden stopped")
                sink.flush()
            }
        } catch {
            await store.close()
            throw error
        }
    }

    /// Generates the first data-plane key (team `default`) when there are no keys at all.
    static func ensureFirstKey(store: SQLStore, config: WardenConfiguration, logger: Logger) async throws -> String? {
        guard config.keys.isEmpty, try await store.keyCount() == 0 else { return nil }
        let key = KeyMaterial.generate()
        try await store.insert(
            StoredKey(
                id: KeyMaterial.identifier(prefix: "key"), name: "default", team: "default", hash: KeyMaterial.hash(key),
                prefix: KeyMaterial.displayPrefix(key), createdAt: WallClock.unixMilliseconds()))
        logger.notice("generated the first data-plane key", metadata: ["warden.key.team": "default"])
        return key
    }

    /// The admin key's digest: `admin_key` from the config, else the key generated on first start (only
    /// its hash is stored). Returns the generated key when this start generated it.
    static func ensureAdminKey(store: SQLStore, config: WardenConfiguration, logger: Logger) async throws
        -> (digest: KeyDigest, generated: String?)
    {
        if let reference = config.adminKey {
            do {
                return (KeyMaterial.digest(try reference.resolve(baseDirectory: config.baseDirectory)), nil)
            } catch {
                throw ConfigurationError(key: "admin_key", error.problem)
            }
        }
        let candidate = KeyMaterial.generate(prefix: "wadm-")
        let hash = KeyMaterial.hash(candidate)
        // Replicas starting together: one hash wins and only its process prints the key.
        let stored = try await store.settingIfAbsent(adminKeySetting, hash)
        guard let digest = KeyDigest(hex: stored) else { throw StoreError("the stored admin key hash is malformed") }
        if stored == hash {
            logger.notice("generated the admin key")
            return (digest, candidate)
        }
        return (digest, nil)
    }

    static let adminKeySetting = "admin_key_sha256"

    static func printKeyBanner(_ key: String?, adminKey: String?, listen: ListenAddress) {
        let base = "http://\(listen)"
        var text = "\n──────────────────────────────────────────────────────────────────────────────\n"
        if let key {
            text += """
                 Warden generated a data-plane key for team "default". It is shown only now;
                 Warden keeps just its SHA-256 hash.

                     \(key)

                 Point an SDK at Warden:
                     export OPENAI_BASE_URL=\(base)/v1 OPENAI_API_KEY=\(key)
                     export ANTHROPIC_BASE_URL=\(base) ANTHROPIC_API_KEY=\(key)


                """
        }
        if let adminKey {
            text += """
                 The admin key (for /admin/*; the CLI needs none), shown only now:

                     \(adminKey)

                """
        }
        text += "──────────────────────────────────────────────────────────────────────────────\n\n\n"
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Re-reads the config file; on success swaps the runtime, on failure logs why and keeps the old one.
    static func reload(
        options: Options, holder: RuntimeHolder, health: DeploymentHealth, identity: IdentityCache, policies: PolicyEngine,
        transport: HTTPTransport, mockBaseURL: String?, logger: Logger
    ) async {
        guard options.configPath != nil else {
            logger.info("reload requested, but Warden runs on the embedded default; nothing to reload")
            return
        }
        do {
            let config = try loadConfiguration(options)
            try await VaultSecrets.prefetch(config, transport: transport)
            let old = holder.runtime.config
            if config.listen != old.listen || config.dataDir != old.dataDir {
                logger.warning("listen and data_dir changes take effect only after a restart")
            }
            let runtime = try GatewayRuntime.build(config: config, transport: transport, mockBaseURL: mockBaseURL)
            // Policies first: a set that does not load rejects the whole reload.
            let directory = config.policies.map { SecretReference.absolutePath($0, base: config.baseDirectory) }
            do throws(PolicyLoadError) {
                try policies.configure(directory: directory, mode: config.policiesMode)
            } catch {
                throw ConfigurationError(key: "policies", error.message)
            }
            health.configure(
                failureThreshold: config.reliability.breakerFailures, cooldown: config.reliability.breakerCooldown.duration)
            holder.replace(with: runtime)
            identity.replaceStaticKeys(runtime.staticKeys)
            logger.notice(
                "configuration reloaded",
                metadata: ["warden.models": "\(runtime.modelNames.count)", "warden.keys": "\(identity.snapshot.authenticator.keyCount)"])
        } catch {
            logger.error("configuration reload rejected; the previous configuration stays", metadata: ["error": "\(error)"])
        }
    }
}

/// Shuts the shared HTTP client down after everything that uses it has stopped.
struct TransportService: Service {
    let transport: HTTPTransport

    func run() async throws {
        try? await gracefulShutdown()
        await transport.shutdown()
    }
}
