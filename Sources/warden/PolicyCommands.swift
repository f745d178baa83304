import ArgumentParser
import Cedar
import Foundation
import WardenCore
import WardenServer
import WardenTools

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Cedar policies: check a directory, run a table of expected decisions, conformance, benchmark.",
        subcommands: [Check.self, Test.self, Conformance.self, Bench.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a policy directory as Warden would: parse every *.cedar file and validate them against schema.cedarschema if present; exit 1 naming the problems.")
        @Argument(help: "The policy directory (the config's `policies:`).") var directory: String

        func run() async throws {
            do {
                let loaded = try PolicyEngine.load(directory: directory)
                let permits = loaded.set.policies.filter { $0.effect == .permit }.count
                print("ok: \(loaded.set.policies.count) policies (\(permits) permit, \(loaded.set.policies.count - permits) forbid) in \(loaded.files.count) files")
                if permits == 0 { print("note: no permit policy, so every request is denied (Cedar denies by default)") }
                if let schema = loaded.schema {
                    print("the policies validate against schema.cedarschema (\(schema.entityTypes.count) entity types, \(schema.actions.count) actions)")
                }
            } catch {
                FileHandle.standardError.write(Data("warden: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a YAML table of requests with expected decisions (for CI of policy repositories).",
            discussion: "The format is documented in docs/policies.md. Exit 1 if any request gets another decision.")
        @Argument(help: "The test file.") var file: String

        func run() async throws {
            let report: PolicyTool.TestReport
            do {
                report = try PolicyTool.test(path: file)
            } catch {
                FileHandle.standardError.write(Data("warden: \(error)\n".utf8))
                throw ExitCode(1)
            }
            for line in report.lines { print(line) }
            print("\(report.passed) passed, \(report.failed) failed")
            if report.failed > 0 { throw ExitCode(1) }
        }
    }

    struct Conformance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate tests in the cedar-integration-tests format; print one JSON line per request.",
            discussion: """
                Walks the directories (or files) given, in sorted order, and evaluates every request of every test \
                file (a JSON object with `policies`, `entities` and `requests`). Each line: {"test", "index", \
                "description", "decision": "allow"|"deny"|"nodecision", "reason": [policy ids], "errors": [policy ids]}, \
                plus "input_error" when the test's inputs cannot be built. Compare with the expectations using \
                ../shared/tools/cedar_reference.py compare (scripts/cedar-conformance does).
                """)
        @Argument(help: "Test directories or files.") var paths: [String]
        @Flag(help: "Validate each test's policies against its schema instead: one {\"test\", \"validation_passed\"} line per test.")
        var validate = false

        func run() async throws {
            var out = ""
            for file in Cedar.Conformance.testFiles(paths) {
                if validate {
                    if let line = Cedar.Conformance.validate(testFile: file) { out += JSONValue.object(line).jsonString + "\n" }
                    continue
                }
                for line in Cedar.Conformance.run(testFile: file) {
                    out += JSONValue.object(line).jsonString
                    out += "\n"
                    if out.utf8.count > 1 << 16 {
                        FileHandle.standardOutput.write(Data(out.utf8))
                        out = ""
                    }
                }
            }
            FileHandle.standardOutput.write(Data(out.utf8))
        }
    }

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Median microseconds per authorization over a gateway-like entity store; the last line is the median.",
            discussion: """
                Generates N policies shaped like a gateway's (team, tier, region, tag, context and forbid rules), \
                keys in teams and models with attributes, then authorizes requests as the gateway does (entities \
                built per request included) and reports the median of --rounds rounds.
                """)
        @Option(help: "Number of policies.") var policies = 100
        @Option(help: "Authorizations per round.") var requests = 20_000
        @Option(help: "Rounds (the median is reported).") var rounds = 7

        func validate() throws {
            guard (1...100_000).contains(policies) else { throw ValidationError("--policies must be between 1 and 100000") }
            guard (1...10_000_000).contains(requests) else { throw ValidationError("--requests must be between 1 and 10000000") }
            guard (1...1000).contains(rounds) else { throw ValidationError("--rounds must be between 1 and 1000") }
        }

        func run() async throws {
            let result = PolicyBench.run(policies: policies, requests: requests, rounds: rounds)
            for line in result.lines { print(line) }
            print(String(format: "%.2f", result.medianMicroseconds))
        }
    }
}
