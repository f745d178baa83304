import Foundation
import WardenCore

/// Runs tests in the cedar-integration-tests format: one JSON line per request with the decision, the
/// determining policies and the erroring policies (`nodecision` with `input_error` when the test's
/// policies, entities or the request cannot be built).
public enum Conformance {
    /// Every test file under `paths` (directories are searched recursively, in sorted order): JSON objects
    /// with a `requests` member, excluding `*.entities.json`.
    public static func testFiles(_ paths: [String]) -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if !isDirectory.boolValue {
                out.append(path)
                continue
            }
            let base = path.hasSuffix("/") ? String(path.dropLast()) : path
            let found = (fm.enumerator(atPath: base)?.allObjects as? [String] ?? []).filter {
                $0.hasSuffix(".json") && !$0.hasSuffix(".entities.json")
            }
            for relative in found.sorted() {
                let full = base + "/" + relative
                guard let data = fm.contents(atPath: full), data.first(where: { !" \n\r\t".utf8.contains($0) }) == UInt8(ascii: "{"),
                    let json = try? JSONParser.parse(Array(data)), json["requests"] != nil
                else { continue }
                out.append(full)
            }
        }
        return out
    }

    /// Resolves a path named in a test: absolute, or relative to the nearest ancestor directory of the
    /// test file in which it exists (upstream tests name paths from the repository root).
    static func resolve(_ reference: String, from testPath: String) -> String? {
        let fm = FileManager.default
        if reference.hasPrefix("/") { return fm.fileExists(atPath: reference) ? reference : nil }
        var dir = URL(fileURLWithPath: testPath).deletingLastPathComponent().standardizedFileURL
        while true {
            let candidate = dir.appendingPathComponent(reference).path
            if fm.fileExists(atPath: candidate) { return candidate }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { return nil }
            dir = parent
        }
    }

    /// Evaluates one test file; returns its result lines as JSON objects.
    public static func run(testFile path: String) -> [JSONObject] {
        guard let data = FileManager.default.contents(atPath: path), let spec = try? JSONParser.parse(Array(data)) else {
            return [["test": .string(path), "index": 0, "decision": "nodecision", "reason": [], "errors": [], "input_error": "unreadable test file"]]
        }
        let requests = spec["requests"]?.arrayValue ?? []
        func record(_ i: Int, _ decision: String, _ reason: [String], _ errors: [String], inputError: String? = nil) -> JSONObject {
            var o: JSONObject = [
                "test": .string(path), "index": .int(i),
                "description": .string(requests[i]["description"]?.stringValue ?? "Request \(i)"),
                "decision": .string(decision),
                "reason": .array(Set(reason).sorted().map { .string($0) }), "errors": .array(Set(errors).sorted().map { .string($0) }),
            ]
            if let inputError { o["input_error"] = .string(inputError) }
            return o
        }
        let policies: PolicySet
        let entities: EntityStore
        let schema: CedarSchema?
        do {
            schema = try loadSchema(spec["schema"], testPath: path)
            policies = try loadPolicies(spec["policies"], testPath: path)
            entities = try loadEntities(spec["entities"], testPath: path, schema: schema)
        } catch {
            return requests.indices.map { record($0, "nodecision", [], [], inputError: "\(error)") }
        }
        var out: [JSONObject] = []
        for (i, r) in requests.enumerated() {
            do {
                let action = try CedarJSON.entityUID(r["action"] ?? .null)
                let request = try CedarRequest(
                    principal: CedarJSON.entityUID(r["principal"] ?? .null), action: action,
                    resource: CedarJSON.entityUID(r["resource"] ?? .null),
                    context: CedarJSON.record(r["context"] ?? .object([:]), type: schema?.actions[action]?.context, schema: schema))
                let response = Authorizer.isAuthorized(request, policies: policies, entities: entities)
                out.append(record(i, response.decision.rawValue, response.reasons, response.errors.map(\.policy)))
            } catch {
                out.append(record(i, "nodecision", [], [], inputError: error.message))
            }
        }
        return out
    }

    /// Validates a test's policies against its schema: `{"test", "shouldValidate", "validation_passed",
    /// "problems"}`; nil for a test without a schema.
    public static func validate(testFile path: String) -> JSONObject? {
        guard let data = FileManager.default.contents(atPath: path), let spec = try? JSONParser.parse(Array(data)) else { return nil }
        guard let reference = spec["schema"], !reference.isNull else { return nil }
        var out: JSONObject = ["test": .string(path)]
        if let should = spec["shouldValidate"]?.boolValue { out["shouldValidate"] = .bool(should) }
        do {
            guard let schema = try loadSchema(reference, testPath: path) else { return nil }
            let policies = try loadPolicies(spec["policies"], testPath: path)
            let problems = Validator(schema: schema).validate(policies)
            out["validation_passed"] = .bool(problems.isEmpty)
            out["problems"] = .array(problems.map { .string($0.description) })
        } catch {
            out["validation_passed"] = false
            out["problems"] = [.string("\(error)")]
        }
        return out
    }

    static func loadPolicies(_ reference: JSONValue?, testPath: String) throws -> PolicySet {
        guard let text = reference?.stringValue else { throw CedarInputError("the test has no `policies`") }
        if !text.contains("\n"), text.count < 1024, let file = resolve(text, from: testPath) {
            guard let data = FileManager.default.contents(atPath: file) else { throw CedarInputError("cannot read \(file)") }
            return try PolicySet(text: String(decoding: data, as: UTF8.self), file: text)
        }
        return try PolicySet(text: text)
    }

    /// The test's schema: a `.cedarschema` file (human-readable), a `.json` file, or inline text; nil without one.
    static func loadSchema(_ reference: JSONValue?, testPath: String) throws -> CedarSchema? {
        switch reference {
        case .string(let text)?:
            if !text.contains("\n"), text.count < 1024, let file = resolve(text, from: testPath) {
                guard let data = FileManager.default.contents(atPath: file) else { throw CedarInputError("cannot read \(file)") }
                if file.hasSuffix(".json") { return try CedarSchema(json: try JSONParser.parse(Array(data))) }
                return try CedarSchema(text: String(decoding: data, as: UTF8.self))
            }
            return try CedarSchema(text: text)
        case .object?:
            return try CedarSchema(json: reference!)
        default:
            return nil
        }
    }

    static func loadEntities(_ reference: JSONValue?, testPath: String, schema: CedarSchema? = nil) throws -> EntityStore {
        switch reference {
        case .string(let name)?:
            guard let file = resolve(name, from: testPath), let data = FileManager.default.contents(atPath: file) else {
                throw CedarInputError("entities file not found: \(name)")
            }
            let json: JSONValue
            do { json = try JSONParser.parse(Array(data)) } catch { throw CedarInputError("\(name): \(error)") }
            return try CedarJSON.entities(json, schema: schema)
        case .array?:
            return try CedarJSON.entities(reference!, schema: schema)
        default:
            return try EntityStore([])
        }
    }
}
