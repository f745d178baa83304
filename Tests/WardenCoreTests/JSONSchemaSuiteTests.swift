import Foundation
import Testing

@testable import WardenCore

/// The official JSON-Schema-Test-Suite (draft 2020-12, required cases; tests/jsonschema-suite). Every
/// case whose schema uses only what the validator evaluates must give the suite's answer for every
/// instance; every other case must be named by `unsupported()`, which is what makes Warden refuse such a
/// schema where it is configured or sent instead of checking it half-way.
@Suite("JSON-Schema-Test-Suite (draft 2020-12)")
struct JSONSchemaSuiteTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("tests/jsonschema-suite/draft2020-12")

    static let files: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }()

    /// Files whose every case needs something the validator does not do (each is refused as a whole;
    /// defs.json validates against the remote metaschema).
    static let refusedFiles: Set<String> = [
        "anchor.json", "defs.json", "dynamicRef.json", "refRemote.json", "unevaluatedItems.json", "unevaluatedProperties.json",
        "vocabulary.json",
    ]

    @Test("the suite's files are all here")
    func present() {
        #expect(Self.files.count == 46, "\(Self.files.count) files in \(Self.directory.path)")
    }

    @Test("every case is answered as the suite says, or refused as unsupported", arguments: files)
    func file(_ name: String) throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent(name))
        let cases = try #require(try JSONParser.parse(data).arrayValue)
        var checked = 0
        var refused = 0
        for group in cases {
            let description = group["description"]?.stringValue ?? "?"
            let schema = JSONSchema(try #require(group["schema"]))
            let problems = schema.unsupported()
            if !problems.isEmpty {
                refused += 1
                continue
            }
            for test in group["tests"]?.arrayValue ?? [] {
                let instance = try #require(test["data"])
                let valid = try #require(test["valid"]?.boolValue)
                let violations = schema.validate(instance)
                #expect(
                    violations.isEmpty == valid,
                    "\(name) — \(description) — \(test["description"]?.stringValue ?? "?"): expected \(valid ? "valid" : "invalid"), got \(violations)")
                checked += 1
            }
        }
        if Self.refusedFiles.contains(name) {
            #expect(checked == 0, "\(name) has cases the validator now checks: take it off the refused list")
            #expect(refused > 0)
        } else {
            #expect(checked > 0, "\(name): every case was refused")
        }
    }

    @Test("what is refused is named, with where it is")
    func refusals() throws {
        let cases: [(String, String)] = [
            (#"{"unevaluatedProperties": false}"#, "/unevaluatedProperties: not supported"),
            (#"{"properties": {"a": {"$anchor": "x"}}}"#, "/properties/a/$anchor: not supported"),
            (#"{"$ref": "https://example.com/other.json"}"#, "/$ref: only references within the schema"),
            (##"{"$ref": "#foo"}"##, "/$ref: only references within the schema"),
            (#"{"items": {"$id": "https://example.com/item"}}"#, "/items/$id: only the root may set $id"),
            (#"{"$schema": "https://example.com/my-dialect"}"#, "/$schema: the dialect"),
        ]
        for (schema, expected) in cases {
            let found = JSONSchema(try JSONParser.parse(schema)).unsupported()
            #expect(found.contains { $0.contains(expected) }, "\(schema): \(found)")
        }
        // Values are not schemas: an enum or const holding an unsupported keyword's name is fine.
        #expect(JSONSchema(try JSONParser.parse(#"{"const": {"$anchor": "x"}, "enum": [{"unevaluatedItems": 1}]}"#)).unsupported().isEmpty)
        #expect(
            JSONSchema(try JSONParser.parse(##"{"$id": "https://example.com/s", "$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": "#/$defs/a", "$defs": {"a": true}}"##))
                .unsupported().isEmpty)
    }
}
