import ArgumentParser
import Foundation
import NIOCore
import WardenAudit
import WardenCore
import WardenServer
import WardenTools

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
