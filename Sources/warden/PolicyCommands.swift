import ArgumentParser
import Cedar
import Foundation
import WardenCore

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Cedar policies: conformance against the reference test format.",
        subcommands: [Conformance.self])

    struct Conformance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate tests in the cedar-integration-tests format; print one JSON line per request.",
            discussion: """
                Walks the directories (or files) given, in sorted order, and evaluates every request of every test \
                file (a JSON object with `policies`, `entities` and `requests`). Each line: {"test", "index", \
                "description", "decision": "allow"|"deny"|"nodecision", "reason": [policy ids], "errors": [policy ids]}, \
                plus "input_error" when the test's inputs cannot be built. Compare with the expectations using \
                ../shared/tools/cedar_reference.py compare.
                """)
        @Argument(help: "Test directories or files.") var paths: [String]

        func run() async throws {
            var out = ""
            for file in Cedar.Conformance.testFiles(paths) {
                for line in Cedar.Conformance.run(testFile: file) {
                    out += String(decoding: JSONValue.object(line).jsonString.utf8, as: UTF8.self)
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
}
