import Foundation
import Testing
import WardenCore

@testable import Guardrails

@Suite("Secrets detector")
struct SecretsTests {
    @Test(
        "provider formats and assigned high-entropy values are found",
        arguments: [
            ("AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY"),
            ("ghp_" + String(repeating: "aB3", count: 12), "GITHUB_TOKEN"),
            ("sk-ant-api03-" + String(repeating: "xY9_", count: 12), "ANTHROPIC_API_KEY"),
            ("api_key = \"Zq8LmN3pR7tV1wX5yB2cD4fG6hJ9kQ0s\"", "GENERIC_SECRET"),
            ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----", "PRIVATE_KEY"),
        ])
    func found(_ text: String, _ type: String) {
        #expect(SecretsDetector.scan(text).map(\.type) == [type], "\(text)")
    }

    @Test(
        "key-like text that is not a secret",
        arguments: [
            "api_key = os.environ[\"OPENAI_API_KEY\"]", "commit 9fceb02d0ae598e95dc970b74767f19372d61af8", "the AKIA prefix",
            "token_count = 4096", "user_id = abcdefghijklmnopqrstuvwx",
        ])
    func notFound(_ text: String) {
        #expect(SecretsDetector.scan(text).isEmpty, "\(text)")
    }

    @Test("the repository's labelled secrets set: every secret found, no hard negative flagged")
    func labelledSet() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tests/guardrails/secrets.jsonl").path
        let rows = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
        let report = GuardEvaluation.classification(rows: rows, detect: { !SecretsDetector.scan($0).isEmpty })
        #expect(report.overall.recall == 1)
        #expect(report.overall.precision == 1)
        #expect(report.hardNegatives >= 30, "the set holds its hard negatives")
        #expect(report.hardNegativesFlagged == 0)
    }
}
