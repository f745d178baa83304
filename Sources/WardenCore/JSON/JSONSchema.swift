import Foundation

/// A JSON Schema validator for the keywords structured output and tool arguments use (draft 2020-12 and
/// draft 7 spellings): `type`, `enum`, `const`, `properties`, `required`, `additionalProperties`,
/// `patternProperties`, `propertyNames`, `dependentRequired`, `dependentSchemas`, `items` (and draft-7
/// tuple `items` with `additionalItems`), `prefixItems`, `minItems`, `maxItems`, `uniqueItems`,
/// `contains`, `minContains`, `maxContains`, `minLength`, `maxLength`, `pattern`, `minimum`, `maximum`,
/// `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`, `minProperties`, `maxProperties`, `allOf`,
/// `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, boolean schemas, and `$ref` to a JSON pointer in the
/// same document (`#`, `#/$defs/…`, `#/definitions/…`, percent-encoded or not). `format`, `title`,
/// `description`, `default`, `examples`, `content*` and unknown keywords are annotations and never
/// change the answer.
///
/// Not evaluated: `$id` below the root, `$anchor`, `$dynamicRef`/`$dynamicAnchor`,
/// `$recursiveRef`/`$recursiveAnchor`, `unevaluatedItems`, `unevaluatedProperties`, `$vocabulary`, a
/// `$ref` to another document or to an anchor, and a `$schema` other than draft 2020-12, 2019-09, 7
/// or 6. `unsupported()` names them, so a schema that uses one is refused where it is given (a tool's
/// `arguments` at startup, a request's `response_format` with 400) rather than checked as if the
/// keyword were not there; a check never passes by accident. An invalid `pattern` is a violation.
public struct JSONSchema: Sendable {
    public let root: JSONValue

    public init(_ root: JSONValue) { self.root = root }

    /// One way the instance fails the schema: where (a JSON pointer, `/items/0/sku`; empty for the root) and why.
    public struct Violation: Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { path.isEmpty ? message : "\(path): \(message)" }
    }

    /// The violations of `instance` (empty when it is valid), at most `limit` of them.
    public func validate(_ instance: JSONValue, limit: Int = 10) -> [Violation] {
        var out: [Violation] = []
        check(instance, against: root, path: "", depth: 0, into: &out, limit: limit)
        return out
    }

    public func isValid(_ instance: JSONValue) -> Bool { validate(instance, limit: 1).isEmpty }

    private func resolve(_ ref: String) -> JSONValue? {
        guard ref.hasPrefix("#"), let fragment = String(ref.dropFirst()).removingPercentEncoding,
            fragment.isEmpty || fragment.hasPrefix("/")
        else { return nil }
        var node = root
        for raw in fragment.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let part = String(raw).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let a = node.arrayValue, let i = Int(part), a.indices.contains(i) {
                node = a[i]
            } else if let next = node[part] {
                node = next
            } else {
                return nil
            }
        }
        return node
    }

    private func check(_ v: JSONValue, against schema: JSONValue, path: String, depth: Int, into out: inout [Violation], limit: Int) {
        guard out.count < limit else { return }
        func fail(_ message: String, at p: String = path) { if out.count < limit { out.append(Violation(path: p, message: message)) } }
        if case .bool(let b) = schema {
            if !b { fail("no value is allowed here") }
            return
        }
        guard case .object(let s) = schema else { return }
        guard depth < 64 else { return fail("the schema nests too deeply (a $ref cycle?)") }
        if let ref = s["$ref"]?.stringValue {
            guard let target = resolve(ref) else { return fail("cannot resolve $ref '\(ref)'") }
            check(v, against: target, path: path, depth: depth + 1, into: &out, limit: limit)
        }
        if let t = s["type"] {
            let allowed = t.stringValue.map { [$0] } ?? (t.arrayValue ?? []).compactMap(\.stringValue)
            if !allowed.contains(where: { Self.hasType(v, $0) }) {
                return fail("expected \(allowed.joined(separator: " or ")), got \(Self.typeName(v))")
            }
        }
        if let e = s["enum"]?.arrayValue, !e.contains(where: { Self.equal($0, v) }) {
            fail("must be one of \(e.map(\.jsonString).joined(separator: ", "))")
        }
        if let c = s["const"], !Self.equal(c, v) { fail("must be \(c.jsonString)") }
        for sub in s["allOf"]?.arrayValue ?? [] { check(v, against: sub, path: path, depth: depth + 1, into: &out, limit: limit) }
        if let any = s["anyOf"]?.arrayValue, !any.contains(where: { passes(v, $0, depth) }) {
            fail("matches none of the anyOf schemas")
        }
        if let one = s["oneOf"]?.arrayValue {
            let n = one.filter { passes(v, $0, depth) }.count
            if n != 1 { fail(n == 0 ? "matches none of the oneOf schemas" : "matches \(n) of the oneOf schemas, not exactly one") }
        }
        if let not = s["not"], passes(v, not, depth) { fail("must not match the 'not' schema") }
        if let cond = s["if"] {
            if passes(v, cond, depth) {
                if let then = s["then"] { check(v, against: then, path: path, depth: depth + 1, into: &out, limit: limit) }
            } else if let otherwise = s["else"] {
                check(v, against: otherwise, path: path, depth: depth + 1, into: &out, limit: limit)
            }
        }
        switch v {
        case .string(let text):
            let length = text.unicodeScalars.count
            if let min = s["minLength"]?.intValue, length < min { fail("must be at least \(min) characters long") }
            if let max = s["maxLength"]?.intValue, length > max { fail("must be at most \(max) characters long") }
            if let pattern = s["pattern"]?.stringValue {
                switch Self.matches(pattern, text) {
                case .none: fail("the schema's pattern '\(pattern)' is not a valid regular expression")
                case .some(false): fail("must match the pattern '\(pattern)'")
                case .some(true): break
                }
            }
        case .number:
            guard let x = v.doubleValue else { break }
            if let m = s["minimum"]?.doubleValue, x < m { fail("must be ≥ \(Self.format(m))") }
            if let m = s["maximum"]?.doubleValue, x > m { fail("must be ≤ \(Self.format(m))") }
            if let m = s["exclusiveMinimum"]?.doubleValue, x <= m { fail("must be > \(Self.format(m))") }
            if let m = s["exclusiveMaximum"]?.doubleValue, x >= m { fail("must be < \(Self.format(m))") }
            if let m = s["multipleOf"]?.doubleValue, m > 0 {
                let q = x / m
                if !q.isFinite || abs(q - q.rounded()) > 1e-9 { fail("must be a multiple of \(Self.format(m))") }
            }
        case .array(let items):
            if let min = s["minItems"]?.intValue, items.count < min { fail("must have at least \(min) items") }
            if let max = s["maxItems"]?.intValue, items.count > max { fail("must have at most \(max) items") }
            if s["uniqueItems"]?.boolValue == true {
                outer: for i in items.indices {
                    for j in items.indices where j > i && Self.equal(items[i], items[j]) {
                        fail("items \(i) and \(j) are equal; items must be unique")
                        break outer
                    }
                }
            }
            var prefix: [JSONValue] = s["prefixItems"]?.arrayValue ?? []
            var rest = s["items"]
            if let tuple = rest?.arrayValue {  // draft 7: `items` as a list, `additionalItems` for the rest
                prefix = tuple
                rest = s["additionalItems"]
            }
            for (i, item) in items.enumerated() {
                if i < prefix.count {
                    check(item, against: prefix[i], path: path + "/\(i)", depth: depth + 1, into: &out, limit: limit)
                } else if let rest {
                    check(item, against: rest, path: path + "/\(i)", depth: depth + 1, into: &out, limit: limit)
                }
            }
            if let contains = s["contains"] {
                let matching = items.count(where: { passes($0, contains, depth) })
                let least = s["minContains"]?.intValue ?? 1
                if matching < least {
                    fail(least == 1 ? "must contain an item matching the 'contains' schema" : "must contain at least \(least) items matching the 'contains' schema")
                }
                if let most = s["maxContains"]?.intValue, matching > most {
                    fail("must contain at most \(most) items matching the 'contains' schema")
                }
            }
        case .object(let members):
            if let min = s["minProperties"]?.intValue, members.count < min { fail("must have at least \(min) properties") }
            if let max = s["maxProperties"]?.intValue, members.count > max { fail("must have at most \(max) properties") }
            for case .string(let name) in s["required"]?.arrayValue ?? [] where members[name] == nil {
                fail("the required property '\(name)' is missing")
            }
            for (trigger, needed) in s["dependentRequired"]?.objectValue ?? JSONObject() where members[trigger] != nil {
                for case .string(let name) in needed.arrayValue ?? [] where members[name] == nil {
                    fail("the property '\(name)' is required when '\(trigger)' is present")
                }
            }
            for (trigger, sub) in s["dependentSchemas"]?.objectValue ?? JSONObject() where members[trigger] != nil {
                check(v, against: sub, path: path, depth: depth + 1, into: &out, limit: limit)
            }
            let properties = s["properties"]?.objectValue ?? JSONObject()
            let patterns = s["patternProperties"]?.objectValue ?? JSONObject()
            for (name, value) in members {
                let p = path + "/" + name.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
                if let names = s["propertyNames"], !passes(.string(name), names, depth) {
                    fail("the property name '\(name)' is not allowed", at: p)
                }
                var known = false
                if let sub = properties[name] {
                    known = true
                    check(value, against: sub, path: p, depth: depth + 1, into: &out, limit: limit)
                }
                for (pattern, sub) in patterns where Self.matches(pattern, name) == true {
                    known = true
                    check(value, against: sub, path: p, depth: depth + 1, into: &out, limit: limit)
                }
                if !known, let extra = s["additionalProperties"] {
                    if extra.boolValue == false {
                        fail("the property '\(name)' is not allowed", at: p)
                    } else {
                        check(value, against: extra, path: p, depth: depth + 1, into: &out, limit: limit)
                    }
                }
            }
        default:
            break
        }
    }

    /// Keywords this validator does not evaluate; a schema that uses one is refused, never half-checked.
    public static let unsupportedKeywords: Set<String> = [
        "$anchor", "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor",
        "unevaluatedItems", "unevaluatedProperties", "$vocabulary",
    ]

    static let knownDialects: Set<String> = [
        "https://json-schema.org/draft/2020-12/schema", "https://json-schema.org/draft/2019-09/schema",
        "http://json-schema.org/draft-07/schema", "http://json-schema.org/draft-06/schema",
    ]

    /// What in the schema this validator cannot evaluate, each as "JSON pointer: reason" (empty when
    /// everything is supported). Walks only the places that hold schemas, never `enum` or `const` values.
    public func unsupported() -> [String] {
        var out: [String] = []
        Self.findUnsupported(root, path: "", isRoot: true, depth: 0, into: &out)
        return out
    }

    private static let schemaMaps = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]
    private static let schemaLists = ["allOf", "anyOf", "oneOf", "prefixItems"]
    private static let schemaValues = [
        "not", "if", "then", "else", "contains", "additionalProperties", "propertyNames", "additionalItems", "items",
    ]

    private static func findUnsupported(_ schema: JSONValue, path: String, isRoot: Bool, depth: Int, into out: inout [String]) {
        guard case .object(let s) = schema, out.count < 20 else { return }
        guard depth < 64 else { return out.append("\(path): the schema nests more than 64 levels") }
        for key in s.keys.sorted() where unsupportedKeywords.contains(key) {
            out.append("\(path)/\(key): not supported")
        }
        if !isRoot, s["$id"] != nil { out.append("\(path)/$id: only the root may set $id") }
        if isRoot, let dialect = s["$schema"]?.stringValue,
            !knownDialects.contains(dialect.hasSuffix("#") ? String(dialect.dropLast()) : dialect)
        {
            out.append("\(path)/$schema: the dialect '\(dialect)' is not supported")
        }
        if let ref = s["$ref"]?.stringValue {
            let fragment = ref.hasPrefix("#") ? String(ref.dropFirst()).removingPercentEncoding : nil
            if fragment.map({ !$0.isEmpty && !$0.hasPrefix("/") }) ?? true {
                out.append("\(path)/$ref: only references within the schema ('#/...') are supported, not '\(ref)'")
            }
        }
        for key in schemaMaps {
            for (name, sub) in s[key]?.objectValue ?? JSONObject() {
                findUnsupported(sub, path: "\(path)/\(key)/\(name)", isRoot: false, depth: depth + 1, into: &out)
            }
        }
        for key in schemaLists {
            for (i, sub) in (s[key]?.arrayValue ?? []).enumerated() {
                findUnsupported(sub, path: "\(path)/\(key)/\(i)", isRoot: false, depth: depth + 1, into: &out)
            }
        }
        for key in schemaValues {
            guard let sub = s[key] else { continue }
            if let list = sub.arrayValue {
                for (i, item) in list.enumerated() {
                    findUnsupported(item, path: "\(path)/\(key)/\(i)", isRoot: false, depth: depth + 1, into: &out)
                }
            } else {
                findUnsupported(sub, path: "\(path)/\(key)", isRoot: false, depth: depth + 1, into: &out)
            }
        }
    }

    private func passes(_ v: JSONValue, _ schema: JSONValue, _ depth: Int) -> Bool {
        var out: [Violation] = []
        check(v, against: schema, path: "", depth: depth + 1, into: &out, limit: 1)
        return out.isEmpty
    }

    static func hasType(_ v: JSONValue, _ type: String) -> Bool {
        switch (type, v) {
        case ("null", .null), ("boolean", .bool), ("number", .number), ("string", .string), ("array", .array), ("object", .object): true
        case ("integer", .number): v.doubleValue.map { $0 == $0.rounded() } ?? false
        default: false
        }
    }

    static func typeName(_ v: JSONValue) -> String {
        switch v {
        case .null: "null"
        case .bool: "boolean"
        case .number: hasType(v, "integer") ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// JSON equality: numbers by value (`1` equals `1.0`), strings by code points (not by Unicode
    /// canonical equivalence, as Swift's `==` would), objects regardless of member order.
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.number, .number): a.doubleValue == b.doubleValue
        case (.string(let x), .string(let y)): x.utf8.elementsEqual(y.utf8)
        case (.array(let x), .array(let y)): x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            x.count == y.count && x.allSatisfy { m in y[m.key].map { equal(m.value, $0) } ?? false }
        default: a == b
        }
    }

    static func format(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d) }

    /// Whether `pattern` (ECMA-262 style, unanchored) matches somewhere in `text`; nil when it does not compile.
    static func matches(_ pattern: String, _ text: String) -> Bool? {
        guard let regex = try? Regex(pattern) else { return nil }
        return (try? regex.firstMatch(in: text)) != nil
    }
}

extension JSONValue: Decodable {
    /// Any YAML or JSON value, as configuration carries JSON schemas (tool arguments, structured output).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self), d.isFinite {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else if let o = try? c.decode([String: JSONValue].self) {
            var object = JSONObject()
            for (k, v) in o.sorted(by: { $0.key < $1.key }) { object[k] = v }
            self = .object(object)
        } else {
            throw ConfigurationError(key: decoder.codingPath.configKey, "expected a JSON value")
        }
    }
}
