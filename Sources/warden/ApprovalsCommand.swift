import ArgumentParser
import Foundation
import NIOCore
import WardenAudit
import WardenCore
import WardenServer
import WardenTools

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
