import ArgumentParser
import Foundation
import NIOCore
import WardenAudit
import WardenCore
import WardenServer
import WardenTools

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
