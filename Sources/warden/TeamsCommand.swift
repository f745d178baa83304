import ArgumentParser
import Foundation
import NIOCore
import WardenAudit
import WardenCore
import WardenServer
import WardenTools

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
