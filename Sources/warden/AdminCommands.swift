import ArgumentParser
import Foundation
import NIOCore
import WardenAudit
import WardenCore
import WardenServer

/// Where a store command finds its store: `--config FILE`, or the embedded default's data directory.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The YAML configuration file whose store to use. Without it: the embedded default's (./warden-data).")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Data directory, overriding the config's `data_dir`.")
    var dataDir: String?

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    /// Opens the store, runs `body`, and closes it (committing the audit records of any change). Errors
    /// print as `warden: …` and exit 1 (78 for configuration errors).
    func withSession(_ body: (StoreSession) async throws -> Void) async throws {
        let session: StoreSession
        do {
            session = try await StoreSession.open(options: WardenServer.Options(configPath: config, dataDirOverride: dataDir))
        } catch let error as ConfigurationError {
            fail("configuration error: \(error)", code: 78)
        } catch {
            fail("cannot open the store: \(error)")
        }
        do {
            try await body(session)
            await session.close()
        } catch let error as GatewayError {
            await session.close()
            fail(error.message)
        } catch let error as ExitCode {
            await session.close()
            throw error
        } catch {
            await session.close()
            fail("\(error)")
        }
    }

    func fail(_ message: String, code: Int32 = 1) -> Never {
        FileHandle.standardError.write(Data("warden: \(message)\n".utf8))
        Foundation.exit(code)
    }
}

/// Tags and metadata of teams and keys (policies read them as `tags` and `metadata`).
struct LabelOptions: ParsableArguments {
    @Option(name: .customLong("tag"), help: "A tag (repeat for several); replaces the tags. `--tag none` removes them.")
    var tags: [String] = []

    @Option(name: .customLong("metadata"), help: "KEY=VALUE metadata (repeat for several); replaces the metadata.")
    var metadata: [String] = []

    @Option(
        name: .customLong("guardrails"),
        help: "Own guardrails, added to the global ones: the config's `guardrails:` shape as JSON or YAML, or @FILE; `none` removes them.")
    var guardrails: String?

    func fields() throws -> JSONObject {
        var out: JSONObject = [:]
        if tags == ["none"] {
            out["tags"] = .array([])
        } else if !tags.isEmpty {
            out["tags"] = .array(tags.map { .string($0) })
        }
        if !metadata.isEmpty {
            var m: JSONObject = [:]
            for pair in metadata {
                guard let eq = pair.firstIndex(of: "=") else { throw ValidationError("--metadata takes KEY=VALUE") }
                m[String(pair[..<eq])] = .string(String(pair[pair.index(after: eq)...]))
            }
            out["metadata"] = .object(m)
        }
        if let guardrails {
            if guardrails == "none" {
                out["guardrails"] = .null
            } else {
                let text = guardrails.hasPrefix("@") ? try String(contentsOfFile: String(guardrails.dropFirst()), encoding: .utf8) : guardrails
                do {
                    out["guardrails"] = try ConfigurationLoader.decode(JSONValue.self, yaml: text)
                } catch {
                    throw ValidationError("--guardrails: \(error)")
                }
            }
        }
        return out
    }
}

/// Limits shared by teams and keys, turned into the admin API's JSON fields.
struct LimitOptions: ParsableArguments {
    @Option(name: .customLong("budget-usd"), help: "Budget in USD per period (e.g. 25 or 0.50); `none` removes it.")
    var budgetUSD: String?

    @Option(name: .customLong("budget-period"), help: "daily, weekly (from Monday), monthly or total; UTC. Default monthly.")
    var budgetPeriod: String?

    @Option(help: "Requests per minute (sliding 60 s window); `none` removes the limit.")
    var rpm: String?

    @Option(help: "Tokens per minute; `none` removes the limit.")
    var tpm: String?

    func fields() throws -> JSONObject {
        var out: JSONObject = [:]
        if let budgetUSD { out["budget_usd"] = budgetUSD == "none" ? .null : .number(budgetUSD) }
        if let budgetPeriod { out["budget_period"] = .string(budgetPeriod) }
        for (name, value) in [("rpm", rpm), ("tpm", tpm)] {
            guard let value else { continue }
            if value == "none" {
                out[name] = .null
            } else {
                guard Int(value) != nil else { throw ValidationError("--\(name) must be a whole number or `none`") }
                out[name] = .number(value)
            }
        }
        return out
    }
}

struct TeamsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teams",
        abstract: "Create, list, show and change teams (works on the store directly; a running Warden follows within a second).",
        subcommands: [Create.self, List.self, Show.self, Update.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a team.")
        @Argument(help: "The team's name: letters, digits, '-', '_' or '.'.") var name: String
        @OptionGroup var limits: LimitOptions
        @OptionGroup var labels: LabelOptions
        @OptionGroup var store: StoreOptions

        func run() async throws {
            var body = Output.merge(try limits.fields(), try labels.fields())
            body["name"] = .string(name)
            try await store.withSession { session in
                Output.object(try await session.operations.createTeam(.object(body)), json: store.json)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List teams with their limits.")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withSession { session in
                Output.list(try await session.operations.teams(), columns: ["name", "budget_usd", "budget_period", "rpm", "tpm"], json: store.json)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one team.")
        @Argument var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withSession { session in Output.object(try await session.operations.team(name), json: store.json) }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a team's budget or limits.")
        @Argument var name: String
        @OptionGroup var limits: LimitOptions
        @OptionGroup var labels: LabelOptions
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let body = Output.merge(try limits.fields(), try labels.fields())
            try await store.withSession { session in
                Output.object(try await session.operations.updateTeam(name, .object(body)), json: store.json)
            }
        }
    }
}

struct ApprovalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals",
        abstract: "List and decide tool calls held for approval (works on the store directly; every decision is audited).",
        subcommands: [List.self, Approve.self, Reject.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List approvals, newest first.")
        @Option(help: "pending, approved, rejected or expired (default: all).") var status: String?
        @Option(help: "At most this many (1 to 1000, default 100).") var limit: Int?
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withSession { session in
                Output.list(
                    try await session.operations.approvals(status: status, limit: limit.map(String.init)),
                    columns: ["id", "status", "tool", "key_id", "team", "created_at", "expires_at"], json: store.json)
            }
        }
    }

    /// The approval id and note both decisions take.
    struct Decision: ParsableArguments {
        @Argument(help: "The approval id (apr_…).") var id: String
        @Option(help: "Why (kept in the approval and the audit log).") var note: String?
        @OptionGroup var store: StoreOptions

        func decide(approve: Bool) async throws {
            try await store.withSession { session in
                Output.object(
                    try await session.operations.decideApproval(id, approve: approve, note.map { ["note": .string($0)] }), json: store.json)
            }
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve a held tool call; the same request sent again with x-warden-approval gets it.")
        @OptionGroup var decision: Decision

        func run() async throws { try await decision.decide(approve: true) }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject a held tool call.")
        @OptionGroup var decision: Decision

        func run() async throws { try await decision.decide(approve: false) }
    }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list, change, revoke and rotate virtual keys (works on the store directly).",
        discussion: "A key is shown once, when created or rotated; Warden stores only its SHA-256 hash.",
        subcommands: [Create.self, List.self, Show.self, Update.self, Revoke.self, Rotate.self])

    struct KeyOptions: ParsableArguments {
        @Option(name: .customLong("model"), help: "A model this key may use (repeat for several). Default: all models.")
        var models: [String] = []

        @Flag(name: .customLong("all-models"), help: "Allow every model (removes an allow-list).")
        var allModels = false

        @Option(name: .customLong("expires-at"), help: "Expiry: RFC 3339 (2026-12-31T23:59:59Z) or a date; `none` removes it.")
        var expiresAt: String?

        func fields() throws -> JSONObject {
            var out: JSONObject = [:]
            if allModels {
                out["models"] = .null
            } else if !models.isEmpty {
                out["models"] = .array(models.map { .string($0) })
            }
            if let expiresAt { out["expires_at"] = expiresAt == "none" ? .null : .string(expiresAt) }
            return out
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key (printed once).")
        @Option(help: "The key's name.") var name: String
        @Option(help: "The team it belongs to (created if it does not exist).") var team: String
        @OptionGroup var limits: LimitOptions
        @OptionGroup var labels: LabelOptions
        @OptionGroup var key: KeyOptions
        @OptionGroup var store: StoreOptions

        func run() async throws {
            var body = Output.merge(Output.merge(try limits.fields(), try labels.fields()), try key.fields())
            body["name"] = .string(name)
            body["team"] = .string(team)
            try await store.withSession { session in
                Output.object(try await session.operations.createKey(.object(body)), json: store.json)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")
        @Option(help: "Only this team's keys.") var team: String?
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withSession { session in
                Output.list(
                    try await session.operations.keys(team: team),
                    columns: ["id", "name", "team", "prefix", "budget_usd", "rpm", "tpm", "expires_at", "revoked_at"], json: store.json)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one key.")
        @Argument var id: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withSession { session in Output.object(try await session.operations.key(id), json: store.json) }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a key's name, models, limits, expiry or metadata.")
        @Argument var id: String
        @Option(help: "A new name.") var name: String?
        @OptionGroup var limits: LimitOptions
        @OptionGroup var labels: LabelOptions
        @OptionGroup var key: KeyOptions
        @OptionGroup var store: StoreOptions

        func run() async throws {
            var body = Output.merge(Output.merge(try limits.fields(), try labels.fields()), try key.fields())
            if let name { body["name"] = .string(name) }
            try await store.withSession { session in
                Output.object(try await session.operations.updateKey(id, .object(body)), json: store.json)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a key: refused on its next request (by a running Warden within a second).")
        @Argument var id: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withSession { session in Output.object(try await session.operations.revokeKey(id), json: store.json) }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a replacement key with the same settings; the old one keeps working for the overlap, then expires.")
        @Argument var id: String
        @Option(help: "How long the old key keeps working, in seconds (0 revokes it at once).") var overlap = 3600
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withSession { session in
                Output.object(try await session.operations.rotateKey(id, ["overlap_seconds": .int(overlap)]), json: store.json)
            }
        }
    }
}

struct SpendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spend", abstract: "Spend, tokens and requests, by model, day, team or key; for everything, a team or a key.")
    @Option(help: "Only this team.") var team: String?
    @Option(help: "Only this key id.") var key: String?
    @Option(help: "From (RFC 3339 or a date, inclusive).") var from: String?
    @Option(help: "To (RFC 3339 or a date, exclusive).") var to: String?
    @Option(name: .customLong("group-by"), help: "model, day, team or key.") var groupBy: String?
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let query = ["team": team, "key": key, "from": from, "to": to, "group_by": groupBy]
        try await store.withSession { session in
            let result = try await session.operations.spend { query[$0] ?? nil }
            if store.json {
                Output.object(result, json: true)
                return
            }
            var columns = ["requests", "prompt_tokens", "completion_tokens", "spend_usd"]
            if let groupBy { columns.insert(groupBy, at: 0) }
            Output.list(result, columns: columns, json: false)
            if case .object(let total)? = result["total"] {
                print("total: \(total["requests"]?.intValue ?? 0) requests, $\(total["spend_usd"].map(Output.cell) ?? "0")")
            }
        }
    }
}

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

/// Plain tables and JSON for the store commands.
enum Output {
    static func merge(_ a: JSONObject, _ b: JSONObject) -> JSONObject {
        var out = a
        for (k, v) in b { out[k] = v }
        return out
    }

    static func object(_ object: JSONObject, json: Bool) {
        if json {
            print(String(buffer: object.jsonBuffer))
            return
        }
        let width = object.keys.map(\.count).max() ?? 0
        for (key, value) in object {
            print(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + cell(value))
        }
    }

    static func list(_ object: JSONObject, columns: [String], json: Bool) {
        if json {
            print(String(buffer: object.jsonBuffer))
            return
        }
        let rows: [[String]] = (object["data"]?.arrayValue ?? []).map { row in columns.map { row[$0].map(cell) ?? "" } }
        var widths = columns.map(\.count)
        for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        print(line(columns))
        for row in rows { print(line(row)) }
    }

    static func cell(_ value: JSONValue) -> String {
        switch value {
        case .null: "-"
        case .string(let s): s
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        default: value.jsonString
        }
    }
}
