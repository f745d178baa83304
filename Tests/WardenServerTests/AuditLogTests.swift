import Crypto
import Foundation
import NIOCore
import Testing
import WardenAudit
import WardenCore
import WardenStore

@testable import WardenServer
@testable import WardenTools

/// The audit log end to end: a real workload through Warden, then `warden audit verify`'s code over the
/// store it left, with the store tampered in every way the issue names, on SQLite and PostgreSQL.
@Suite("Audit log after a workload", .serialized)
struct AuditLogTests {
    static let models = """
        models:
          fast: {deployments: [{provider: local, model: gpt-4o-mini}]}
        """
    static let audit = "audit: {signing_key: file:./audit-key, checkpoint_every: 5, publish: ./published.jsonl, capture_content: true}"

    /// Runs a workload (admin changes, key events, plain and streamed requests, a refused one), shuts
    /// Warden down, and hands the config path and the request ids to `check`.
    func afterWorkload(_ backend: StoreBackend, _ check: @escaping (String, [String]) async throws -> Void) async throws {
        let ids = RequestIDs()
        try await Harness.with(
            models: Self.models, extra: Self.audit, backend: backend,
            afterShutdown: { path in try await check(path, ids.values) }
        ) { h in
            #expect(try await h.admin("/admin/teams", json: ["name": "research", "budget_usd": 5]).status == 201)
            let key = try await h.createKey(["name": "agent", "team": "research"])
            for i in 0..<11 {
                let reply = try await h.send(
                    "/v1/chat/completions", json: h.chat("fast", "prompt number \(i)", stream: i % 3 == 0), bearer: key.secret)
                #expect(reply.status == 200)
                if let id = reply.headers.first(name: "x-request-id") { ids.add(id) }
            }
            #expect(try await h.admin("/admin/keys/\(key.id)", method: .DELETE).status == 200)
            #expect(try await h.send("/v1/chat/completions", json: h.chat("fast"), bearer: key.secret).status == 401)
        }
    }

    /// Opens the store the way `warden audit …` does, runs `body`, closes it.
    static func withSession(_ path: String, _ body: (StoreSession) async throws -> Void) async throws {
        let session = try await StoreSession.open(options: WardenServer.Options(configPath: path))
        do {
            try await body(session)
        } catch {
            await session.close()
            throw error
        }
        await session.close()
    }

    /// The problem `warden audit verify` reports, or nil when the log verifies.
    static func problem(_ session: StoreSession) async throws -> AuditProblem? {
        do {
            _ = try await session.verifyAudit(verifierKey: nil)
            return nil
        } catch let problem as AuditProblem {
            return problem
        }
    }

    static func record(_ db: any SQLDatabase, _ seq: Int) async throws -> (body: [UInt8], leaf: [UInt8], at: Int64, kind: String) {
        let row = try #require(try await db.query("SELECT at, kind, body, leaf_hash FROM audit_records WHERE seq = ?", [.int(Int64(seq))]).first)
        return (row.bytes("body")!, row.bytes("leaf_hash")!, row.int("at")!, row.string("kind")!)
    }

    static func put(_ db: any SQLDatabase, _ seq: Int, body: [UInt8], leaf: [UInt8]) async throws {
        try await db.query("UPDATE audit_records SET body = ?, leaf_hash = ? WHERE seq = ?", [.blob(body), .blob(leaf), .int(Int64(seq))])
    }

    static func insert(_ db: any SQLDatabase, _ seq: Int, at: Int64, kind: String, body: [UInt8], leaf: [UInt8]) async throws {
        try await db.query(
            "INSERT INTO audit_records (seq, at, kind, body, leaf_hash) VALUES (?, ?, ?, ?, ?)",
            [.int(Int64(seq)), .int(at), .text(kind), .blob(body), .blob(leaf)])
    }

    /// `body` with values edited, as someone hiding what a request did would.
    static func edited(_ body: [UInt8]) throws -> [UInt8] {
        guard case .object(var object) = try JSONParser.parse(body) else { throw Harness.HarnessError.unexpected("record is not an object") }
        object["model"] = "someone-else"
        object["status"] = .int(599)
        return CanonicalJSON.bytes(.object(object))
    }

    @Test("after a workload the log verifies; a changed, removed, swapped, inserted or truncated record and a forged checkpoint are each named (SQLite)")
    func tamperIsNamedSQLite() async throws { try await tamperIsNamed(.sqlite) }

    @Test("after a workload the log verifies; a changed, removed, swapped, inserted or truncated record and a forged checkpoint are each named (PostgreSQL)", .requiresPostgres)
    func tamperIsNamedPostgreSQL() async throws { try await tamperIsNamed(.postgres) }

    func tamperIsNamed(_ backend: StoreBackend) async throws {
        try await afterWorkload(backend) { path, _ in
            try await Self.withSession(path) { session in
                let report = try await session.verifyAudit(verifierKey: nil)
                // 2 admin + 11 requests + revoke + refused request = 15 at least; all signed at shutdown.
                #expect(report.treeSize >= 15)
                #expect(report.unsigned == 0)
                #expect(report.checkpoints >= 3)
                #expect(report.publishedChecked == report.checkpoints)
                let db = session.store.database
                let size = report.treeSize

                // Changed: the bytes, then the bytes with their stored hash recomputed (caught by the chain).
                let original = try await Self.record(db, 6)
                let changed = try Self.edited(original.body)
                try await Self.put(db, 6, body: changed, leaf: original.leaf)
                #expect(try await Self.problem(session) == .recordChanged(seq: 6))
                try await Self.put(db, 6, body: changed, leaf: MerkleTree.leafHash(changed))
                #expect(try await Self.problem(session) == .recordChanged(seq: 6))
                try await Self.put(db, 6, body: original.body, leaf: original.leaf)
                #expect(try await Self.problem(session) == nil)

                // The columns beside the record, which queries and exports select by: its kind and its time.
                let otherKind = original.kind == "admin" ? "request" : "admin"
                try await db.query("UPDATE audit_records SET kind = ? WHERE seq = 6", [.text(otherKind)])
                #expect(
                    try await Self.problem(session)
                        == .columnChanged(seq: 6, column: "kind", stored: "'\(otherKind)'", signed: "'\(original.kind)'"))
                try await db.query("UPDATE audit_records SET kind = ?, at = ? WHERE seq = 6", [.text(original.kind), .int(original.at + 86_400_000)])
                #expect(
                    try await Self.problem(session)
                        == .columnChanged(
                            seq: 6, column: "at", stored: WallClock.rfc3339(unixMilliseconds: original.at + 86_400_000),
                            signed: WallClock.rfc3339(unixMilliseconds: original.at)))
                try await db.query("UPDATE audit_records SET at = ? WHERE seq = 6", [.int(original.at)])
                #expect(try await Self.problem(session) == nil)

                // Removed.
                try await db.query("DELETE FROM audit_records WHERE seq = 6")
                #expect(try await Self.problem(session) == .recordRemoved(seq: 6))
                try await Self.insert(db, 6, at: original.at, kind: original.kind, body: original.body, leaf: original.leaf)
                #expect(try await Self.problem(session) == nil)

                // Swapped (reordered).
                let seventh = try await Self.record(db, 7)
                try await Self.put(db, 6, body: seventh.body, leaf: seventh.leaf)
                try await Self.put(db, 7, body: original.body, leaf: original.leaf)
                #expect(try await Self.problem(session) == .recordReordered(seq: 6, claims: 7))
                try await Self.put(db, 6, body: original.body, leaf: original.leaf)
                try await Self.put(db, 7, body: seventh.body, leaf: seventh.leaf)
                #expect(try await Self.problem(session) == nil)

                // Inserted after the end, with a valid-looking link.
                let last = try await Self.record(db, size - 1)
                let forgedBody = CanonicalJSON.bytes(
                    .object(["kind": "request", "seq": .int(size), "prev": .string(AuditVerifier.hex(last.leaf)), "status": 200]))
                try await Self.insert(db, size, at: last.at, kind: "request", body: forgedBody, leaf: MerkleTree.leafHash(forgedBody))
                guard case .stateMismatch(let text)? = try await Self.problem(session) else {
                    Issue.record("an inserted record was not caught")
                    return
                }
                #expect(text.contains("inserted"))
                try await db.query("DELETE FROM audit_records WHERE seq = ?", [.int(Int64(size))])

                // Truncated: the newest record deleted.
                try await db.query("DELETE FROM audit_records WHERE seq = ?", [.int(Int64(size - 1))])
                #expect(try await Self.problem(session) == .recordsTruncated(after: size - 1, checkpointSize: size))
                try await Self.insert(db, size - 1, at: last.at, kind: last.kind, body: last.body, leaf: last.leaf)
                #expect(try await Self.problem(session) == nil)

                // Forged checkpoints: a root edited under the real signature, then one signed with another key.
                let checkpoint = try #require(try await session.store.checkpoints().first)
                var lines = checkpoint.note.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                lines[2] = Data(repeating: 7, count: 32).base64EncodedString()
                try await db.query(
                    "UPDATE audit_checkpoints SET note = ? WHERE size = ?", [.text(lines.joined(separator: "\n")), .int(Int64(checkpoint.size))])
                guard case .checkpointSignature(let s1, _)? = try await Self.problem(session) else {
                    Issue.record("an edited checkpoint was not caught")
                    return
                }
                #expect(s1 == checkpoint.size)
                let origin = session.config.audit.origin
                let thief = AuditSigner(origin: origin, key: Curve25519.Signing.PrivateKey())
                let forged = try thief.sign(Checkpoint(origin: origin, size: checkpoint.size, root: Array(repeating: 7, count: 32)))
                try await db.query("UPDATE audit_checkpoints SET note = ? WHERE size = ?", [.text(forged), .int(Int64(checkpoint.size))])
                guard case .checkpointSignature(let s2, _)? = try await Self.problem(session) else {
                    Issue.record("a checkpoint signed with another key was not caught")
                    return
                }
                #expect(s2 == checkpoint.size)
                try await db.query("UPDATE audit_checkpoints SET note = ? WHERE size = ?", [.text(checkpoint.note), .int(Int64(checkpoint.size))])
                #expect(try await Self.problem(session) == nil)
            }
        }
    }

    @Test("a log rewritten and re-signed with the real key is caught by the published checkpoints (SQLite)")
    func rewriteWithStolenKeySQLite() async throws { try await rewriteWithStolenKey(.sqlite) }

    @Test("a log rewritten and re-signed with the real key is caught by the published checkpoints (PostgreSQL)", .requiresPostgres)
    func rewriteWithStolenKeyPostgreSQL() async throws { try await rewriteWithStolenKey(.postgres) }

    func rewriteWithStolenKey(_ backend: StoreBackend) async throws {
        try await afterWorkload(backend) { path, _ in
            try await Self.withSession(path) { session in
                let db = session.store.database
                let size = try await session.verifyAudit(verifierKey: nil).treeSize
                let checkpointSizes = Set(try await session.store.checkpoints().map(\.size))
                // Rewrite record 6, re-link everything after it, re-sign every checkpoint and the state.
                var chain = AuditChain()
                try await db.query("DELETE FROM audit_checkpoints")
                for seq in 0..<size {
                    let row = try await Self.record(db, seq)
                    var fields = try #require(try JSONParser.parse(seq == 6 ? try Self.edited(row.body) : row.body).objectValue)
                    fields["seq"] = nil
                    fields["prev"] = nil
                    let record = chain.append(fields)
                    try await Self.put(db, seq, body: record.body, leaf: record.leafHash)
                    if checkpointSizes.contains(seq + 1) {
                        let note = try session.signer.sign(chain.checkpoint(origin: session.config.audit.origin))
                        try await db.query(
                            "INSERT INTO audit_checkpoints (size, at, root, note) VALUES (?, ?, ?, ?)",
                            [.int(Int64(seq + 1)), .int(row.at), .blob(chain.range.root), .text(note)])
                    }
                }
                let state = AuditState(chain: chain, checkpointSize: size, checkpointAt: 0)
                try await db.query("UPDATE settings SET value = ? WHERE name = 'audit.state'", [.text(state.text)])
                // The store alone is consistent again: only the copies kept elsewhere expose it.
                _ = try await AuditTools.verify(store: session.store, verifierKey: session.signer.verifierKey, origin: session.config.audit.origin)
                guard case .publishedCheckpoint(let at, _)? = try await Self.problem(session) else {
                    Issue.record("the rewrite was not caught by the published checkpoints")
                    return
                }
                #expect(at == checkpointSizes.filter { $0 > 6 }.min())
            }
        }
    }

    @Test("retention prunes whole checkpoint ranges and the rest still verifies; exports verify offline; content is erasable (SQLite)")
    func pruneExportEraseSQLite() async throws { try await pruneExportErase(.sqlite) }

    @Test("retention prunes whole checkpoint ranges and the rest still verifies; exports verify offline; content is erasable (PostgreSQL)", .requiresPostgres)
    func pruneExportErasePostgreSQL() async throws { try await pruneExportErase(.postgres) }

    func pruneExportErase(_ backend: StoreBackend) async throws {
        try await afterWorkload(backend) { path, requestIDs in
            try await Self.withSession(path) { session in
                let db = session.store.database
                let before = try await session.verifyAudit(verifierKey: nil)

                // Content: captured apart from the records; erasing it leaves the log verifiable.
                let id = try #require(requestIDs.last)
                let withContent = try await session.store.auditRecordsWithContent(fromSeq: 0, limit: 1000)
                let target = try #require(withContent.first { (try? JSONParser.parse($0.body))?["request_id"]?.stringValue == id })
                let content = try #require(try await session.store.content(ofAuditRecord: target.seq))
                #expect(content.prompt.contains("prompt number 10"))
                #expect((try JSONParser.parse(target.body))["prompt_sha256"]?.stringValue?.count == 64)
                #expect(!String(decoding: target.body, as: UTF8.self).contains("prompt number"))
                #expect(try await session.eraseContent(requestIDs: [id], keyID: nil, before: nil) == 1)
                #expect(try await session.store.content(ofAuditRecord: target.seq) == nil)
                await session.audit.flush(forceCheckpoint: true)
                #expect(try await Self.problem(session) == nil)

                // Export everything and verify it offline; an edited line, or another key, fails.
                var lines: [String] = []
                let exported = try await session.exportAudit(from: 0, to: Int64.max / 2) { lines.append($0) }
                #expect(exported.records == before.treeSize + 1)
                let verified = try AuditTools.verifyExport(lines: lines.map { Substring($0) }, verifierKey: session.signer.verifierKey)
                #expect(verified.records == exported.records)
                var tampered = lines
                let recordLine = try #require(tampered.lastIndex { $0.contains("\"type\":\"record\"") && $0.contains("\"status\":200") })
                tampered[recordLine] = tampered[recordLine].replacingOccurrences(of: "\"status\":200", with: "\"status\":201")
                #expect(throws: AuditTools.ExportProblem.self) {
                    try AuditTools.verifyExport(lines: tampered.map { Substring($0) }, verifierKey: session.signer.verifierKey)
                }
                #expect(throws: AuditTools.ExportProblem.self) {
                    let other = AuditSigner(origin: session.config.audit.origin, key: Curve25519.Signing.PrivateKey())
                    try AuditTools.verifyExport(lines: lines.map { Substring($0) }, verifierKey: other.verifierKey)
                }

                // Retention: with the clock 180 days past record 8, whole checkpoint ranges of older records
                // go; the rest still verifies and exports.
                let eighth = try await Self.record(db, 8)
                let removed = try await session.audit.prune(now: eighth.at + 1 + 180 * 86_400_000)
                #expect(removed >= 5)
                let after = try await session.verifyAudit(verifierKey: nil)
                #expect(after.prunedBefore == removed)
                #expect(after.treeSize == before.treeSize + 1)
                let remaining = try await db.query("SELECT COUNT(*) AS n FROM audit_records").first?.int("n")
                #expect(remaining == Int64(after.treeSize - removed))
                let boundaries = Set(try await session.store.checkpoints().map(\.size))
                #expect(boundaries.contains(removed))
                var kept: [String] = []
                _ = try await session.exportAudit(from: 0, to: Int64.max / 2) { kept.append($0) }
                let keptReport = try AuditTools.verifyExport(lines: kept.map { Substring($0) }, verifierKey: session.signer.verifierKey)
                #expect(keptReport.firstSeq == removed)
                // The state kept at the boundary cannot be edited either.
                try await db.query("UPDATE settings SET value = ? WHERE name = 'audit.pruned'", [.text(AuditState().text)])
                #expect(try await Self.problem(session) != nil)
            }
        }
    }
}

/// Request ids collected by a workload.
final class RequestIDs: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [String] = []
    func add(_ id: String) { lock.withLock { ids.append(id) } }
    var values: [String] { lock.withLock { ids } }
}
