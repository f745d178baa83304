import Foundation
import Logging
import WardenAudit
import WardenCore
import WardenProviders
import WardenStore
import WardenServer

/// The store opened directly by a CLI command (`warden teams|keys|spend|audit`): the configuration's
/// store (or the embedded default's, under its data directory), migrated, with the same admin
/// operations and audit log the server uses. A running server sees changes within a second.
public final class StoreSession: Sendable {
    public let config: WardenConfiguration
    public let store: SQLStore
    public let operations: AdminOperations
    public let signer: AuditSigner
    let audit: AuditLog
    let actor: String

    init(config: WardenConfiguration, store: SQLStore, signer: AuditSigner, audit: AuditLog, actor: String) {
        self.config = config
        self.store = store
        self.signer = signer
        self.audit = audit
        self.actor = actor
        self.operations = AdminOperations(service: AdminService(store: store), audit: audit, actor: actor)
    }

    /// Opens the store the options' configuration names.
    public static func open(options: WardenServer.Options) async throws -> StoreSession {
        let config = try WardenServer.loadConfiguration(options)
        let logger = Logger(label: "warden.cli") { _ in
            var handler = StreamLogHandler.standardError(label: "warden")
            handler.logLevel = .warning
            return handler
        }
        try FileManager.default.createDirectory(atPath: config.dataDirectoryPath, withIntermediateDirectories: true)
        if config.secretReferences.contains(where: { if case .vault = $0.reference { true } else { false } }) {
            let transport = HTTPTransport(maxConnectionsPerHost: 4)
            do {
                try await VaultSecrets.prefetch(config, transport: transport)
            } catch {
                await transport.shutdown()
                throw error
            }
            await transport.shutdown()
        }
        var password: String?
        if let reference = config.storagePassword {
            do {
                password = try reference.resolve(baseDirectory: config.baseDirectory)
            } catch {
                throw ConfigurationError(key: "storage_password", error.problem)
            }
        }
        let store = try await SQLStore.open(config.resolvedStorage, password: password, logger: logger)
        do {
            let signer = try AuditSigner.load(config: config, dialect: store.database.dialect, create: true)
            let audit = AuditLog(store: store, signer: signer, configuration: config.audit, publisher: nil, logger: logger)
            let user = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "unknown"
            return StoreSession(config: config, store: store, signer: signer, audit: audit, actor: "cli:\(user)")
        } catch {
            await store.close()
            throw error
        }
    }

    /// Commits the audit records of what this session changed (with a checkpoint over them), then closes.
    public func close() async {
        if !audit.isIdle { await audit.flush(forceCheckpoint: true) }
        await store.close()
    }

    /// `warden audit verify`: the stored log, and the published checkpoint file when `audit.publish` is one.
    public func verifyAudit(verifierKey: String?) async throws -> AuditTools.VerifyReport {
        var published: [(size: Int, note: String)] = []
        if let target = config.audit.publish, !target.hasPrefix("http://"), !target.hasPrefix("https://") {
            published = try CheckpointPublisher.read(path: SecretReference.absolutePath(target, base: config.baseDirectory))
        }
        return try await AuditTools.verify(
            store: store, verifierKey: verifierKey ?? signer.verifierKey, origin: config.audit.origin, published: published)
    }

    /// `warden audit export`.
    public func exportAudit(from: Int64, to: Int64, write: (String) throws -> Void) async throws -> AuditTools.ExportReport {
        try await AuditTools.export(
            store: store, verifierKey: signer.verifierKey, origin: config.audit.origin, from: from, to: to, write: write)
    }

    /// `warden audit erase-content`: deletes captured prompt and response text (GDPR erasure) of the
    /// records matching any of the selectors, leaving the records and their hashes, so the log still
    /// verifies. The erasure itself is audited (what was selected and how many, never the content).
    public func eraseContent(requestIDs: Set<String>, keyID: String?, before: Int64?) async throws -> Int {
        var seqs: [Int] = []
        var next = 0
        while true {
            let page = try await store.auditRecordsWithContent(fromSeq: next, limit: 5000)
            guard let last = page.last else { break }
            for row in page {
                let body = try? JSONParser.parse(row.body)
                let matches =
                    (body?["request_id"]?.stringValue).map(requestIDs.contains) == true
                    || (keyID != nil && body?["key_id"]?.stringValue == keyID)
                    || (before.map { row.at < $0 } ?? false)
                if matches { seqs.append(row.seq) }
            }
            guard last.seq < Int.max else { break }
            next = last.seq + 1
        }
        guard !seqs.isEmpty else { return 0 }
        try await store.eraseAuditContent(seqs: seqs)
        var event: JSONObject = ["action": "audit.content_erase", "actor": .string(actor), "records": .int(seqs.count)]
        if !requestIDs.isEmpty { event["request_ids"] = .array(requestIDs.sorted().map(JSONValue.string)) }
        if let keyID { event["key_id"] = .string(keyID) }
        if let before { event["before"] = .string(WallClock.rfc3339(unixMilliseconds: before)) }
        audit.append(kind: "admin", fields: event)
        return seqs.count
    }
}
