import Foundation
import NIOCore
import WardenAudit
import WardenCore
import WardenStore
import WardenServer

/// `warden audit verify`, `export` and offline verification of an export.
public enum AuditTools {
    public struct VerifyReport: Sendable {
        /// Records read from the store.
        public var records: Int
        /// Leaves in the tree, including pruned ones.
        public var treeSize: Int
        public var prunedBefore: Int
        public var checkpoints: Int
        public var publishedChecked: Int
        /// Records after the last checkpoint (signed within `checkpoint_interval`).
        public var unsigned: Int
    }

    /// Recomputes the whole stored log: every record's hash and chain link, every checkpoint's signature
    /// and root, the state kept by pruning, and any published copies of checkpoints.
    public static func verify(
        store: SQLStore, verifierKey: String, origin: String, published: [(size: Int, note: String)] = []
    ) async throws -> VerifyReport {
        let verifier = AuditVerifier(verifierKey: verifierKey, origin: origin)
        let checkpoints = try await store.checkpoints()
        let start = try AuditState(text: try await store.auditPrunedState())
        var pass = try verifier.begin(
            checkpoints: checkpoints.map { StoredCheckpoint(size: $0.size, note: $0.note) },
            published: published.map { StoredCheckpoint(size: $0.size, note: $0.note) }, start: start.verifierStart)
        var read = 0
        // Column checks are reported after the structural ones, which name inserted or removed records better.
        var columnProblem: AuditProblem?
        while true {
            let page = try await store.auditRecords(fromSeq: pass.size, limit: 5000)
            if page.isEmpty { break }
            try pass.feed(page.map { StoredAuditRecord(seq: $0.seq, body: $0.body, leafHash: $0.leafHash) })
            for row in page where columnProblem == nil {
                do {
                    try AuditVerifier.checkColumns(seq: row.seq, at: row.at, kind: row.kind, body: row.body)
                } catch {
                    columnProblem = error
                }
            }
            read += page.count
        }
        // Records stored out of position (after a gap) are never reached by reading from `pass.size`.
        if let last = try await store.lastAuditRecord(), last.seq >= pass.size {
            throw AuditProblem.recordRemoved(seq: pass.size)
        }
        let size = try pass.finish()
        // The running state the writers keep must agree with the records: catches records deleted or
        // rewritten after the last checkpoint.
        let state = try AuditState(text: try await store.auditState())
        if state.chain.nextSeq > size {
            throw AuditProblem.stateMismatch("records \(size)…\(state.chain.nextSeq - 1) were removed (the log's state counts \(state.chain.nextSeq))")
        }
        if state.chain.nextSeq < size {
            throw AuditProblem.stateMismatch("records from \(state.chain.nextSeq) on were inserted (the log's state counts \(state.chain.nextSeq))")
        }
        if size > 0, state.chain.range.root != pass.root {
            throw AuditProblem.stateMismatch(
                "a record after the last checkpoint (size \(checkpoints.last?.size ?? 0)) was changed: the tree no longer matches the log's state")
        }
        if let columnProblem { throw columnProblem }
        return VerifyReport(
            records: read, treeSize: size, prunedBefore: start.chain.nextSeq, checkpoints: checkpoints.count,
            publishedChecked: published.filter { $0.size >= start.chain.nextSeq && $0.size <= size }.count,
            unsigned: size - (checkpoints.last?.size ?? 0))
    }

    public struct ExportReport: Sendable {
        public var records: Int
        public var checkpoints: Int
        /// Records in the range not yet covered by a checkpoint, left out.
        public var unsignedLeftOut: Int
    }

    /// Writes the records whose time lies in `[from, to)` as JSON lines, with the checkpoints that cover
    /// them (and consistency proofs between those checkpoints) and an inclusion proof for each record.
    ///
    /// Lines: one `header`, then `checkpoint` lines in size order, then `record` lines in position order.
    /// Records are exported as the contiguous run of positions that the time range spans, so an export
    /// cannot silently skip a record. Records not yet covered by a checkpoint are left out (and counted).
    public static func export(
        store: SQLStore, verifierKey: String, origin: String, from: Int64, to: Int64, write: (String) throws -> Void
    ) async throws -> ExportReport {
        let inRange = try await store.auditRecords(from: from, to: to)
        let checkpoints = try await store.checkpoints()
        let pruned = try AuditState(text: try await store.auditPrunedState())
        guard let first = inRange.map(\.seq).min(), let last = inRange.map(\.seq).max() else {
            try write(header(origin: origin, verifierKey: verifierKey, from: from, to: to, records: 0))
            return ExportReport(records: 0, checkpoints: 0, unsignedLeftOut: 0)
        }
        guard let lastCheckpoint = checkpoints.last, lastCheckpoint.size > first else {
            try write(header(origin: origin, verifierKey: verifierKey, from: from, to: to, records: 0))
            return ExportReport(records: 0, checkpoints: 0, unsignedLeftOut: last.subtractingSaturated(first).addingSaturated(1))
        }
        let end = min(last.addingSaturated(1), lastCheckpoint.size)
        // A record's checkpoint is the first that covers it; the last record's is the first at or past `end`.
        let cover = checkpoints.first { $0.size >= end } ?? lastCheckpoint
        let used = checkpoints.filter { $0.size > first && $0.size <= cover.size }
        let treeEnd = cover.size
        var tree = PrunedTree(
            prefix: pruned.chain.range, leaves: try await store.auditLeafHashes(from: pruned.chain.nextSeq, to: treeEnd))
        guard tree.size == treeEnd else { throw AuditProblem.recordRemoved(seq: tree.size) }
        var records: [AuditRow] = []
        var next = first
        while next < end {
            let page = try await store.auditRecords(fromSeq: next, limit: min(5000, end - next))
            guard let p = page.first, p.seq == next else { throw AuditProblem.recordRemoved(seq: next) }
            records += page
            next += page.count
        }
        try write(header(origin: origin, verifierKey: verifierKey, from: from, to: to, records: records.count))
        var previous: CheckpointRow?
        for checkpoint in used {
            var line: JSONObject = ["type": "checkpoint", "size": .int(checkpoint.size), "note": .string(checkpoint.note)]
            if let previous, let proof = tree.consistencyProof(oldSize: previous.size, newSize: checkpoint.size) {
                line["consistency_from"] = .int(previous.size)
                line["consistency_proof"] = .array(proof.map { .string(AuditVerifier.hex($0)) })
            }
            try write(String(decoding: line.jsonBuffer.readableBytesView, as: UTF8.self))
            previous = checkpoint
        }
        for record in records {
            guard let checkpoint = used.first(where: { $0.size > record.seq }),
                let proof = tree.inclusionProof(index: record.seq, treeSize: checkpoint.size),
                let body = try? JSONParser.parse(record.body)
            else { throw AuditProblem.recordChanged(seq: record.seq) }
            let line: JSONObject = [
                "type": "record", "seq": .int(record.seq), "record": body, "leaf_hash": .string(AuditVerifier.hex(record.leafHash)),
                "checkpoint": .int(checkpoint.size), "inclusion_proof": .array(proof.map { .string(AuditVerifier.hex($0)) }),
            ]
            try write(String(decoding: line.jsonBuffer.readableBytesView, as: UTF8.self))
        }
        return ExportReport(records: records.count, checkpoints: used.count, unsignedLeftOut: last.addingSaturated(1).subtractingSaturated(end))
    }

    static func header(origin: String, verifierKey: String, from: Int64, to: Int64, records: Int) -> String {
        let object: JSONObject = [
            "type": "header", "format": "warden-audit-export/1", "origin": .string(origin), "verifier_key": .string(verifierKey),
            "from": .string(WallClock.rfc3339(unixMilliseconds: from)), "to": .string(WallClock.rfc3339(unixMilliseconds: to)),
            "records": .int(records), "exported_at": .string(WallClock.rfc3339(unixMilliseconds: WallClock.unixMilliseconds())),
        ]
        return String(decoding: object.jsonBuffer.readableBytesView, as: UTF8.self)
    }

    public struct ExportVerifyReport: Sendable {
        public var records: Int
        public var checkpoints: Int
        public var firstSeq: Int?
        public var lastSeq: Int?
    }

    /// A problem found in an export, naming the line.
    public struct ExportProblem: Error, CustomStringConvertible, Sendable {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Verifies an export offline against a verifier key obtained out of band (`warden audit public-key`):
    /// every checkpoint's signature, the consistency between consecutive checkpoints, each record's leaf
    /// hash from its canonical bytes, its inclusion proof, and the hash chain between adjacent records.
    public static func verifyExport(lines: [Substring], verifierKey: String) throws(ExportProblem) -> ExportVerifyReport {
        var roots: [Int: [UInt8]] = [:]
        var origin: String?
        var previousCheckpoint: (size: Int, root: [UInt8])?
        var previousRecord: (seq: Int, leaf: [UInt8])?
        var report = ExportVerifyReport(records: 0, checkpoints: 0)
        for (index, text) in lines.enumerated() where !text.isEmpty {
            let n = index + 1
            guard let json = try? JSONParser.parse(String(text)), let type = json["type"]?.stringValue else {
                throw ExportProblem(line: n, reason: "not a JSON object with a type")
            }
            switch type {
            case "header":
                origin = json["origin"]?.stringValue
            case "checkpoint":
                guard let size = json["size"]?.intValue, let note = json["note"]?.stringValue else {
                    throw ExportProblem(line: n, reason: "malformed checkpoint")
                }
                let body: String
                do {
                    body = try SignedNote.verify(note, verifierKey: verifierKey)
                } catch {
                    throw ExportProblem(line: n, reason: "the checkpoint at size \(size) does not verify: \(error.description)")
                }
                guard let checkpoint = Checkpoint(text: body), checkpoint.size == size, origin == nil || checkpoint.origin == origin
                else { throw ExportProblem(line: n, reason: "the checkpoint at size \(size) is malformed") }
                if let previous = previousCheckpoint {
                    let proof = (json["consistency_proof"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(AuditVerifier.bytes(hex:)) }
                    guard json["consistency_from"]?.intValue == previous.size,
                        MerkleTree.verifyConsistency(
                            oldSize: previous.size, newSize: size, oldRoot: previous.root, newRoot: checkpoint.root, proof: proof)
                    else {
                        throw ExportProblem(line: n, reason: "the checkpoint at size \(size) is inconsistent with the one at \(previous.size)")
                    }
                }
                roots[size] = checkpoint.root
                previousCheckpoint = (size, checkpoint.root)
                report.checkpoints += 1
            case "record":
                guard let seq = json["seq"]?.intValue, let record = json["record"], let size = json["checkpoint"]?.intValue,
                    let proofValues = json["inclusion_proof"]?.arrayValue
                else { throw ExportProblem(line: n, reason: "malformed record") }
                let bytes = CanonicalJSON.bytes(record)
                let leaf = MerkleTree.leafHash(bytes)
                if let stated = json["leaf_hash"]?.stringValue, stated != AuditVerifier.hex(leaf) {
                    throw ExportProblem(line: n, reason: "record \(seq) was changed (its hash no longer matches)")
                }
                guard record["seq"]?.intValue == seq else {
                    throw ExportProblem(line: n, reason: "record \(seq) claims to be record \(record["seq"]?.intValue ?? -1)")
                }
                guard let root = roots[size] else {
                    throw ExportProblem(line: n, reason: "record \(seq) names checkpoint \(size), which the export does not hold")
                }
                let proof = proofValues.compactMap { $0.stringValue.flatMap(AuditVerifier.bytes(hex:)) }
                guard proof.count == proofValues.count,
                    MerkleTree.verifyInclusion(leaf: leaf, index: seq, treeSize: size, proof: proof, root: root)
                else { throw ExportProblem(line: n, reason: "record \(seq) is not in the tree the checkpoint at size \(size) signs") }
                if let previous = previousRecord {
                    guard seq == previous.seq + 1 else {
                        throw ExportProblem(line: n, reason: "record \(previous.seq + 1) is missing (the export jumps to \(seq))")
                    }
                    guard record["prev"]?.stringValue == AuditVerifier.hex(previous.leaf) else {
                        throw ExportProblem(line: n, reason: "record \(seq) does not link to record \(previous.seq)")
                    }
                }
                previousRecord = (seq, leaf)
                if report.firstSeq == nil { report.firstSeq = seq }
                report.lastSeq = seq
                report.records += 1
            default:
                throw ExportProblem(line: n, reason: "unknown line type '\(type)'")
            }
        }
        return report
    }
}
