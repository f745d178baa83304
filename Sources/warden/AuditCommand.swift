import ArgumentParser
import Foundation
import NIOCore
import WardenAudit
import WardenCore
import WardenServer
import WardenTools

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify, export and read the key of the tamper-evident audit log.",
        subcommands: [Verify.self, Export.self, PublicKey.self, EraseContent.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the whole log, or an export offline; exit 1 naming the first problem.",
            discussion: """
                Without --export: reads the store of --config (or the embedded default), recomputes every record's \
                hash and link, every checkpoint's signature and root, what pruning kept, and the published copies \
                of checkpoints when audit.publish is a file. With --export FILE: verifies an export offline \
                against --public-key (the verifier key from `warden audit public-key`, kept apart from the log).
                """)
        @Option(help: "Verify this export file instead of the store.") var export: String?
        @Option(name: .customLong("public-key"), help: "The verifier key (or file:PATH holding it). Required with --export.")
        var publicKey: String?
        @OptionGroup var store: StoreOptions

        func run() async throws {
            var key = publicKey
            if let k = key, k.hasPrefix("file:") {
                guard let data = FileManager.default.contents(atPath: String(k.dropFirst(5))) else {
                    store.fail("cannot read \(k.dropFirst(5))")
                }
                key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            if let export {
                guard let key else { throw ValidationError("--export needs --public-key") }
                guard let data = FileManager.default.contents(atPath: export) else { store.fail("cannot read \(export)") }
                let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                do {
                    let report = try AuditTools.verifyExport(lines: lines, verifierKey: key)
                    let range = report.firstSeq.map { "records \($0)…\(report.lastSeq ?? $0)" } ?? "no records"
                    print("ok: \(report.records) records (\(range)) and \(report.checkpoints) checkpoints verify")
                } catch {
                    store.fail("export does not verify: \(error)")
                }
                return
            }
            try await store.withSession { session in
                do {
                    let r = try await session.verifyAudit(verifierKey: key)
                    var text = "ok: \(r.treeSize) records, \(r.checkpoints) checkpoints verify"
                    if r.prunedBefore > 0 { text += "; records before \(r.prunedBefore) pruned (retention), their subtree hashes verify" }
                    if r.publishedChecked > 0 { text += "; \(r.publishedChecked) published checkpoints match" }
                    if r.unsigned > 0 { text += "; \(r.unsigned) newest records await their checkpoint" }
                    print(text)
                } catch let problem as AuditProblem {
                    store.fail("audit log does not verify: \(problem)")
                }
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write records of a time range as JSON lines with their checkpoints and inclusion proofs.")
        @Option(help: "From (RFC 3339 or a date, inclusive).") var from: String
        @Option(help: "To (RFC 3339 or a date, exclusive).") var to: String
        @Option(help: "Write here instead of stdout.") var output: String?
        @OptionGroup var store: StoreOptions

        func run() async throws {
            guard let fromMs = WallClock.parseRFC3339(from) else { throw ValidationError("--from: use RFC 3339 or a date like 2026-11-01") }
            guard let toMs = WallClock.parseRFC3339(to) else { throw ValidationError("--to: use RFC 3339 or a date like 2026-12-01") }
            var handle = FileHandle.standardOutput
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: nil) , let h = FileHandle(forWritingAtPath: output) else {
                    store.fail("cannot write \(output)")
                }
                handle = h
            }
            try await store.withSession { session in
                let report = try await session.exportAudit(from: fromMs, to: toMs) { line in handle.write(Data((line + "\n").utf8)) }
                var text = "exported \(report.records) records and \(report.checkpoints) checkpoints"
                if report.unsignedLeftOut > 0 {
                    text += "; \(report.unsignedLeftOut) newer records await their checkpoint (audit.checkpoint_interval) and were left out"
                }
                FileHandle.standardError.write(Data((text + "\n").utf8))
            }
            try? handle.close()
        }
    }

    struct EraseContent: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "erase-content",
            abstract: "Erase captured prompt and response text (audit.capture_content), e.g. for a GDPR request.",
            discussion: """
                The records stay, with the hashes of the text, so the log still verifies; only the stored text \
                goes. Selects records by request id (the x-request-id Warden returned), by key, or by time. The \
                erasure is itself an audit record.
                """)
        @Option(name: .customLong("request-id"), help: "A request's id; repeat for several.") var requestIDs: [String] = []
        @Option(name: .customLong("key"), help: "Every request made with this key id.") var keyID: String?
        @Option(help: "Every request before this time (RFC 3339 or a date).") var before: String?
        @OptionGroup var store: StoreOptions

        func run() async throws {
            guard !requestIDs.isEmpty || keyID != nil || before != nil else {
                throw ValidationError("say what to erase: --request-id, --key or --before")
            }
            var beforeMs: Int64?
            if let before {
                guard let ms = WallClock.parseRFC3339(before) else { throw ValidationError("--before: use RFC 3339 or a date like 2026-11-01") }
                beforeMs = ms
            }
            try await store.withSession { session in
                let erased = try await session.eraseContent(requestIDs: Set(requestIDs), keyID: keyID, before: beforeMs)
                print("erased the captured content of \(erased) records")
            }
        }
    }

    struct PublicKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "public-key",
            abstract: "Print the verifier key of the checkpoints (c2sp signed-note format). Keep a copy apart from the log.")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withSession { session in print(session.signer.verifierKey) }
        }
    }
}
