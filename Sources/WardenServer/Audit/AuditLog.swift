import Crypto
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import WardenAudit
import WardenCore
import WardenStore

/// The key checkpoints are signed with, and its verifier key.
public struct AuditSigner: Sendable {
    public let origin: String
    /// The Ed25519 seed (CryptoKit's key type is not Sendable).
    private let seed: [UInt8]

    public init(origin: String, key: Curve25519.Signing.PrivateKey) {
        self.origin = origin
        self.seed = Array(key.rawRepresentation)
    }

    var key: Curve25519.Signing.PrivateKey {
        // The seed came from a valid key.
        try! Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    }

    /// `origin+keyhash+base64(0x01‖public key)`: what `warden audit public-key` prints and verifiers take.
    public var verifierKey: String { SignedNote.verifierKey(name: origin, publicKey: key.publicKey) }

    public func sign(_ checkpoint: Checkpoint) throws -> String {
        try SignedNote.sign(checkpoint.text, name: origin, key: key)
    }

    /// The generated key's file in the data directory (embedded default and SQLite setups).
    public static func keyFilePath(dataDirectory: String) -> String { dataDirectory + "/audit-signing.key" }

    /// Loads the signing key: `audit.signing_key` (base64 of the 32-byte Ed25519 seed) or, for a SQLite
    /// store, the key generated on first start into the data directory. Replicas sharing a PostgreSQL
    /// store must share one key, so there it has to be configured.
    public static func load(config: WardenConfiguration, dialect: SQLDialect, create: Bool) throws(ConfigurationError) -> AuditSigner {
        let origin = config.audit.origin
        if let reference = config.audit.signingKey {
            let text: String
            do {
                text = try reference.resolve(baseDirectory: config.baseDirectory)
            } catch {
                throw ConfigurationError(key: "audit.signing_key", error.problem)
            }
            guard let key = parseSeed(text) else {
                throw ConfigurationError(key: "audit.signing_key", "expected the base64 of a 32-byte Ed25519 seed (e.g. `head -c 32 /dev/urandom | base64`)")
            }
            return AuditSigner(origin: origin, key: key)
        }
        guard dialect == .sqlite else {
            throw ConfigurationError(
                key: "audit.signing_key",
                "is required with PostgreSQL storage: every replica must sign checkpoints with the same key (base64 of 32 random bytes, e.g. file:/run/secrets/audit-key)")
        }
        let path = keyFilePath(dataDirectory: config.dataDirectoryPath)
        if let data = FileManager.default.contents(atPath: path) {
            guard let key = parseSeed(String(decoding: data, as: UTF8.self)) else {
                throw ConfigurationError(key: "audit.signing_key", "the generated key file \(path) is malformed")
            }
            return AuditSigner(origin: origin, key: key)
        }
        guard create else {
            throw ConfigurationError(key: "audit.signing_key", "no signing key: \(path) does not exist (Warden creates it on first start)")
        }
        let key = Curve25519.Signing.PrivateKey()
        let text = Data(key.rawRepresentation).base64EncodedString() + "\n"
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError(key: "audit.signing_key", "cannot write the generated signing key to \(path)")
        }
        return AuditSigner(origin: origin, key: key)
    }

    static func parseSeed(_ text: String) -> Curve25519.Signing.PrivateKey? {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32 else { return nil }
        return try? Curve25519.Signing.PrivateKey(rawRepresentation: data)
    }
}

/// The tamper-evident audit log's writer.
///
/// Requests, admin changes and key events append records to a bounded in-memory queue (no I/O on the
/// request path); a background service commits it every 100 ms (at once while a backlog remains), at
/// most `chunkSize` records per transaction, under a lock on the log's running state so replicas sharing
/// a store interleave without gaps or collisions. Canonical JSON and hashing run on the blocking thread
/// pool, never on the event loops that serve requests. Each record
/// becomes a leaf of the RFC 6962 tree; a signed checkpoint is added at every multiple of
/// `checkpoint_every` and whenever `checkpoint_interval` has passed since the last one. Checkpoints are
/// also published off the store when `audit.publish` is set. A clean shutdown commits everything and
/// signs a final checkpoint.
public final class AuditLog: Sendable {
    struct Entry: Sendable {
        var at: Int64
        var kind: String
        var fields: JSONObject
        var content: (prompt: String, response: String)?
    }

    let store: SQLStore
    let signer: AuditSigner
    let checkpointEvery: Int
    let checkpointIntervalMs: Int64
    public let capturesContent: Bool
    let retentionDays: Int
    let publisher: CheckpointPublisher?
    let logger: Logger
    let pending: RecordQueue<Entry>
    /// Records per transaction.
    let chunkSize: Int
    /// Commits one at a time, in queue order.
    private let commitLock = AsyncLock()
    /// The state after this process's last commit: decides when an idle log needs a timed checkpoint.
    private let lastKnown = Mutex<AuditState?>(nil)

    package init(
        store: SQLStore, signer: AuditSigner, configuration: AuditConfiguration, publisher: CheckpointPublisher?, logger: Logger,
        capacity: Int = 20_000, chunkSize: Int = 2_000
    ) {
        self.pending = RecordQueue(capacity: capacity)
        self.chunkSize = chunkSize
        self.store = store
        self.signer = signer
        self.checkpointEvery = max(1, configuration.checkpointEvery)
        self.checkpointIntervalMs = configuration.checkpointInterval.duration.clampedMilliseconds
        self.capturesContent = configuration.captureContent
        self.retentionDays = configuration.retentionDays
        self.publisher = publisher
        self.logger = logger
    }

    /// Queues a record. `fields` must not hold secrets; `content` is kept apart from the record and only
    /// when `audit.capture_content` is on.
    public func append(kind: String, fields: JSONObject, content: (prompt: String, response: String)? = nil) {
        let entry = Entry(at: WallClock.unixMilliseconds(), kind: kind, fields: fields, content: capturesContent ? content : nil)
        pending.append(entry)
    }

    /// Whether nothing waits to be committed.
    package var isIdle: Bool { pending.count == 0 }

    /// Records waiting for the store.
    var backlog: Int { pending.count }

    /// Commits the whole queue, a chunk per transaction (and any checkpoint that is due), stopping at
    /// the first chunk the store refuses (it goes back to the queue).
    /// - Parameter forceCheckpoint: sign a checkpoint of everything committed, due or not (shutdown).
    public func flush(now: Int64 = WallClock.unixMilliseconds(), forceCheckpoint: Bool = false) async {
        repeat {
            guard await commitChunk(now: now, forceCheckpoint: forceCheckpoint && pending.count <= chunkSize) else { return }
        } while pending.count > 0
    }

    /// Commits up to `chunkSize` queued records in one transaction. Returns false if the store refused them.
    @discardableResult
    func commitChunk(now: Int64 = WallClock.unixMilliseconds(), forceCheckpoint: Bool = false) async -> Bool {
        do {
            return try await commitLock.withLock { await commitChunkLocked(now: now, forceCheckpoint: forceCheckpoint) }
        } catch {
            return false  // cancelled while waiting for the lock
        }
    }

    private func commitChunkLocked(now: Int64, forceCheckpoint: Bool) async -> Bool {
        let entries = pending.take(upTo: chunkSize)
        if entries.isEmpty, !forceCheckpoint {
            guard let known = lastKnown.withLock({ $0 }), known.chain.nextSeq > known.checkpointSize,
                now.subtractingSaturated(known.checkpointAt) >= checkpointIntervalMs
            else { return true }
        }
        let signer = signer
        let every = checkpointEvery
        let interval = checkpointIntervalMs
        do {
            let commit = try await store.commitAudit { text in
                var state = try AuditState(text: text)
                var rows: [AuditRow] = []
                var checkpoints: [CheckpointRow] = []
                rows.reserveCapacity(entries.count)
                func sign() throws {
                    let checkpoint = state.chain.checkpoint(origin: signer.origin)
                    checkpoints.append(
                        CheckpointRow(size: checkpoint.size, at: now, root: checkpoint.root, note: try signer.sign(checkpoint)))
                    state.checkpointSize = checkpoint.size
                    state.checkpointAt = now
                }
                for entry in entries {
                    var fields = entry.fields
                    fields["kind"] = .string(entry.kind)
                    fields["at"] = .string(WallClock.rfc3339(unixMilliseconds: entry.at))
                    let record = state.chain.append(fields)
                    rows.append(
                        AuditRow(
                            seq: record.seq, at: entry.at, kind: entry.kind, body: record.body, leafHash: record.leafHash,
                            content: entry.content))
                    if state.chain.nextSeq % every == 0 { try sign() }
                }
                if state.chain.nextSeq > state.checkpointSize, forceCheckpoint || now.subtractingSaturated(state.checkpointAt) >= interval {
                    try sign()
                }
                return AuditCommit(rows: rows, checkpoints: checkpoints, state: state.text)
            }
            if let state = try? AuditState(text: commit.state) { lastKnown.withLock { $0 = state } }
            if let publisher {
                for checkpoint in commit.checkpoints { publisher.publish(checkpoint, origin: signer.origin) }
            }
            return true
        } catch {
            if !(error is CancellationError) {
                logger.error("cannot write audit records; will retry", metadata: ["error": "\(error)", "warden.records": "\(entries.count)"])
            }
            pending.restore(entries)
            return false
        }
    }

    /// Prunes records older than the retention period, whole checkpoint ranges at a time, keeping the
    /// compact range and last leaf hash at the boundary so the rest still verifies. Returns how many
    /// records went.
    @discardableResult
    public func prune(now: Int64 = WallClock.unixMilliseconds()) async throws -> Int {
        try await Self.prune(store: store, retentionDays: retentionDays, now: now)
    }

    static func prune(store: SQLStore, retentionDays: Int, now: Int64) async throws -> Int {
        let cutoff = now.subtractingSaturated(Int64(retentionDays).multipliedSaturated(by: 86_400_000))
        guard let boundary = try await store.auditPruneBoundary(before: cutoff) else { return 0 }
        let keptText = try await store.auditPrunedState()
        var kept = try AuditState(text: keptText)
        guard boundary > kept.chain.nextSeq else { return 0 }
        let removed = boundary - kept.chain.nextSeq
        // Extend the kept frontier over the records about to go, in pages.
        var next = kept.chain.nextSeq
        while next < boundary {
            let page = try await store.auditRecords(fromSeq: next, limit: min(10_000, boundary - next))
            guard let first = page.first, first.seq == next else {
                throw StoreError("audit record \(next) is missing; run `warden audit verify` before pruning")
            }
            var range = kept.chain.range
            for row in page {
                range.append(row.leafHash)
            }
            kept = AuditState(chain: AuditChain(range: range, lastLeafHash: page.last?.leafHash))
            next += page.count
        }
        return try await store.pruneAudit(before: boundary, state: kept.text, expected: keptText) ? removed : 0
    }
}

/// Copies every checkpoint off the store: appended as a JSON line to a file, or POSTed to a webhook
/// (HMAC-signed), so that rewriting the store, even with the signing key, is caught against the copies.
package struct CheckpointPublisher: Sendable {
    enum Target: Sendable {
        case file(String)
        case webhook(url: String, secret: String?, sender: WebhookSender)
    }

    let target: Target
    let logger: Logger

    func publish(_ checkpoint: CheckpointRow, origin: String) {
        let object: JSONObject = [
            "origin": .string(origin), "size": .int(checkpoint.size),
            "at": .string(WallClock.rfc3339(unixMilliseconds: checkpoint.at)), "note": .string(checkpoint.note),
        ]
        switch target {
        case .file(let path):
            var line = object.jsonBuffer
            line.writeString("\n")
            do {
                try Self.append(Array(line.readableBytesView), to: path)
            } catch {
                logger.error("cannot publish an audit checkpoint", metadata: ["warden.audit.publish": "\(path)", "error": "\(error)"])
            }
        case .webhook(let url, let secret, let sender):
            sender.send(url: url, secret: secret, event: "audit.checkpoint", body: object)
        }
    }

    static func append(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError("cannot open \(path): errno \(errno)") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw StoreError("cannot write \(path): errno \(errno)") }
            offset += n
        }
    }

    /// Reads a published checkpoint file (for `warden audit verify`).
    package static func read(path: String) throws -> [(size: Int, note: String)] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var out: [(Int, String)] = []
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() where !line.isEmpty {
            guard let json = try? JSONParser.parse(String(line)), let size = json["size"]?.intValue, let note = json["note"]?.stringValue
            else { throw StoreError("\(path) line \(i + 1) is not a published checkpoint") }
            out.append((size, note))
        }
        return out
    }
}

/// Commits the audit queue (a chunk at once while a backlog remains, else every 100 ms), prunes past the
/// retention period hourly, and at shutdown commits what is left with a final checkpoint.
struct AuditLogService: Service {
    let log: AuditLog

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastPrune: Int64 = 0
            while !Task.isCancelled {
                if log.backlog < log.chunkSize {
                    try? await Task.sleep(for: .milliseconds(100))
                    if Task.isCancelled { break }
                }
                if !(await log.commitChunk()) {
                    try? await Task.sleep(for: .milliseconds(100))
                }
                let now = WallClock.unixMilliseconds()
                if now - lastPrune >= 3_600_000 {
                    lastPrune = now
                    do {
                        let removed = try await log.prune(now: now)
                        if removed > 0 {
                            log.logger.notice("pruned audit records past retention", metadata: ["warden.records": "\(removed)"])
                        }
                    } catch {
                        log.logger.error("audit pruning failed", metadata: ["error": "\(error)"])
                    }
                }
            }
        }
        await log.flush(forceCheckpoint: true)
    }
}
