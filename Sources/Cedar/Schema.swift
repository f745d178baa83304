import WardenCore

/// A Cedar schema: entity types (attributes, parents, tags, enumerated ids), actions (parents, what they
/// apply to, their context) and common types. Read from the human-readable `.cedarschema` form or the
/// JSON form. It guides JSON parsing of entities and contexts (entity references without `__entity`,
/// extension values written as plain strings) and supplies the action hierarchy.
public struct CedarSchema: Sendable {
    public indirect enum SchemaType: Sendable {
        case bool, long, string
        case set(SchemaType)
        case record([String: Attribute])
        case entity(String)
        case `extension`(String)
        /// A name resolved on use (a common type, an entity type, or an extension type).
        case named(String, namespace: String)
    }

    public struct Attribute: Sendable {
        public var type: SchemaType
        public var required: Bool
    }

    public struct EntityType: Sendable {
        public var name: String
        public var attributes: [String: Attribute]
        public var memberOf: [String]
        public var tags: SchemaType?
        public var enumeration: [String]?
    }

    public struct Action: Sendable {
        public var uid: EntityUID
        public var memberOf: [EntityUID]
        public var principals: [String]
        public var resources: [String]
        public var context: SchemaType?
    }

    public var entityTypes: [String: EntityType] = [:]
    public var actions: [EntityUID: Action] = [:]
    public var commonTypes: [String: SchemaType] = [:]

    public init() {}

    static let extensionTypes: Set<String> = ["ipaddr", "decimal", "datetime", "duration"]

    /// Resolves names to their definitions (common types first, then entity types, then built-ins).
    public func resolve(_ type: SchemaType, depth: Int = 0) -> SchemaType {
        guard case .named(let name, let ns) = type, depth < 32 else { return type }
        let candidates = Self.candidates(name, namespace: ns)
        for c in candidates {
            if let common = commonTypes[c] { return resolve(common, depth: depth + 1) }
            if entityTypes[c] != nil { return .entity(c) }
        }
        let bare = name.hasPrefix("__cedar::") ? String(name.dropFirst("__cedar::".count)) : name
        switch bare {
        case "Bool", "Boolean": return .bool
        case "Long": return .long
        case "String": return .string
        default:
            if Self.extensionTypes.contains(bare) { return .extension(bare) }
            // An entity type not declared (or declared in another namespace): treat as an entity reference.
            return .entity(candidates.first { entityTypes[$0] != nil } ?? (ns.isEmpty || name.contains("::") ? name : "\(ns)::\(name)"))
        }
    }

    /// The qualified names a name written in `namespace` may stand for, nearest first.
    static func candidates(_ name: String, namespace ns: String) -> [String] {
        !ns.isEmpty && !name.contains("::") ? ["\(ns)::\(name)", name] : [name]
    }

    /// Rejects common types defined in terms of themselves (`type T = Set<T>;`), as Cedar does: their
    /// expansion never ends.
    func checkCommonTypeCycles() throws(CedarSchemaError) {
        var done = Set<String>()
        func references(_ type: SchemaType, into out: inout [String]) {
            switch type {
            case .set(let element): references(element, into: &out)
            case .record(let attributes): for a in attributes.values { references(a.type, into: &out) }
            case .named(let name, let ns):
                if let c = Self.candidates(name, namespace: ns).first(where: { commonTypes[$0] != nil || entityTypes[$0] != nil }),
                    commonTypes[c] != nil
                {
                    out.append(c)
                }
            default: break
            }
        }
        func visit(_ name: String, path: [String]) throws(CedarSchemaError) {
            if done.contains(name) { return }
            if path.contains(name) {
                throw CedarSchemaError(message: "common type \(name) is defined in terms of itself (\((path + [name]).joined(separator: " → ")))")
            }
            var next: [String] = []
            if let type = commonTypes[name] { references(type, into: &next) }
            for n in next { try visit(n, path: path + [name]) }
            done.insert(name)
        }
        for name in commonTypes.keys.sorted() { try visit(name, path: []) }
    }

    /// The action entities the schema declares, with their action groups as parents.
    public var actionEntities: [Entity] {
        actions.values.map { Entity(uid: $0.uid, parents: Set($0.memberOf)) }
    }
}

/// A schema that does not parse: where, and what was expected.
public struct CedarSchemaError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Parses the human-readable schema syntax (`namespace`, `entity`, `action`, `type`, annotations).
struct SchemaParser {
    var tokens: [Token]
    var index = 0
    var schema = CedarSchema()
    /// How deeply types nest here (`Set<Set<…>>`, records in records): bounded so that a hostile
    /// schema file cannot exhaust the stack.
    var typeDepth = 0
    static let maximumTypeDepth = 64

    static func parse(_ text: String) throws(CedarSchemaError) -> CedarSchema {
        let tokens: [Token]
        do { tokens = try Lexer.tokens(text) } catch { throw CedarSchemaError(message: error.description) }
        var p = SchemaParser(tokens: tokens)
        try p.declarations(namespace: "", topLevel: true)
        try p.schema.checkCommonTypeCycles()
        return p.schema
    }

    var peek: Token { tokens[index] }
    func at(_ p: String) -> Bool { tokens[index].kind == .punct(p) }
    func atWord(_ w: String) -> Bool { tokens[index].kind == .identifier(w) }
    mutating func advance() -> Token {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    func fail(_ message: String) -> CedarSchemaError { CedarSchemaError(message: "\(peek.location): \(message), found \(peek.text)") }

    mutating func expect(_ p: String) throws(CedarSchemaError) {
        guard at(p) else { throw fail("expected `\(p)`") }
        _ = advance()
    }

    mutating func identifier() throws(CedarSchemaError) -> String {
        guard case .identifier(let s) = peek.kind else { throw fail("expected a name") }
        _ = advance()
        return s
    }

    mutating func name() throws(CedarSchemaError) -> String {
        if case .string(let raw) = peek.kind {
            _ = advance()
            guard let s = Lexer.unescapeString(raw) else { throw fail("invalid escape") }
            return s
        }
        return try identifier()
    }

    mutating func path() throws(CedarSchemaError) -> String {
        var parts = [try identifier()]
        while at("::"), case .identifier = tokens[index + 1].kind {
            _ = advance()
            parts.append(try identifier())
        }
        return parts.joined(separator: "::")
    }

    mutating func annotations() throws(CedarSchemaError) {
        while at("@") {
            _ = advance()
            _ = try identifier()
            if at("(") {
                _ = advance()
                _ = try name()
                try expect(")")
            }
        }
    }

    mutating func declarations(namespace: String, topLevel: Bool) throws(CedarSchemaError) {
        while true {
            try annotations()
            if topLevel, peek.kind == .end { return }
            if !topLevel, at("}") { return }
            guard case .identifier(let keyword) = peek.kind else { throw fail("expected a declaration") }
            switch keyword {
            case "namespace" where topLevel:
                _ = advance()
                let ns = try path()
                try expect("{")
                try declarations(namespace: ns, topLevel: false)
                try expect("}")
            case "entity":
                _ = advance()
                try entity(namespace: namespace)
            case "action":
                _ = advance()
                try action(namespace: namespace)
            case "type":
                _ = advance()
                let n = try identifier()
                try expect("=")
                let t = try type(namespace: namespace)
                schema.commonTypes[namespace.isEmpty ? n : "\(namespace)::\(n)"] = t
                try expect(";")
            default:
                throw fail("expected `entity`, `action`, `type` or `namespace`")
            }
        }
    }

    func qualify(_ name: String, _ namespace: String) -> String { namespace.isEmpty ? name : "\(namespace)::\(name)" }

    mutating func entity(namespace: String) throws(CedarSchemaError) {
        var names = [try identifier()]
        while at(",") {
            _ = advance()
            names.append(try identifier())
        }
        var memberOf: [String] = []
        var attributes: [String: CedarSchema.Attribute] = [:]
        var tags: CedarSchema.SchemaType?
        var enumeration: [String]?
        if atWord("enum") {
            _ = advance()
            try expect("[")
            var ids: [String] = []
            while !at("]") {
                ids.append(try name())
                if at(",") { _ = advance() } else { break }
            }
            try expect("]")
            enumeration = ids
        }
        if atWord("in") {
            _ = advance()
            if at("[") {
                _ = advance()
                while !at("]") {
                    memberOf.append(try path())
                    if at(",") { _ = advance() } else { break }
                }
                try expect("]")
            } else {
                memberOf.append(try path())
            }
        }
        if at("=") { _ = advance() }
        if at("{") {
            guard case .record(let r) = try record(namespace: namespace) else { throw fail("expected a record") }
            attributes = r
        }
        if atWord("tags") {
            _ = advance()
            tags = try type(namespace: namespace)
        }
        try expect(";")
        for n in names {
            let q = qualify(n, namespace)
            schema.entityTypes[q] = CedarSchema.EntityType(
                name: q, attributes: attributes, memberOf: memberOf.map { $0.contains("::") || namespace.isEmpty ? $0 : "\(namespace)::\($0)" },
                tags: tags, enumeration: enumeration)
        }
    }

    /// An action reference in `in [...]`: `"name"`, `name`, or `Type::"name"`.
    mutating func actionReference(namespace: String) throws(CedarSchemaError) -> EntityUID {
        let actionType = qualify("Action", namespace)
        if case .string = peek.kind { return EntityUID(type: actionType, id: try name()) }
        var parts = [try identifier()]
        while at("::") {
            _ = advance()
            if case .string = peek.kind { return EntityUID(type: parts.joined(separator: "::"), id: try name()) }
            parts.append(try identifier())
        }
        guard parts.count == 1 else { throw fail("expected an action name") }
        return EntityUID(type: actionType, id: parts[0])
    }

    mutating func action(namespace: String) throws(CedarSchemaError) {
        var names = [try name()]
        while at(",") {
            _ = advance()
            names.append(try name())
        }
        var memberOf: [EntityUID] = []
        if atWord("in") {
            _ = advance()
            if at("[") {
                _ = advance()
                while !at("]") {
                    memberOf.append(try actionReference(namespace: namespace))
                    if at(",") { _ = advance() } else { break }
                }
                try expect("]")
            } else {
                memberOf.append(try actionReference(namespace: namespace))
            }
        }
        var principals: [String] = []
        var resources: [String] = []
        var context: CedarSchema.SchemaType?
        if atWord("appliesTo") {
            _ = advance()
            try expect("{")
            while !at("}") {
                let key = try identifier()
                try expect(":")
                switch key {
                case "principal", "resource":
                    var list: [String] = []
                    if at("[") {
                        _ = advance()
                        while !at("]") {
                            list.append(qualifyType(try path(), namespace))
                            if at(",") { _ = advance() } else { break }
                        }
                        try expect("]")
                    } else {
                        list.append(qualifyType(try path(), namespace))
                    }
                    if key == "principal" { principals = list } else { resources = list }
                case "context":
                    context = try type(namespace: namespace)
                default:
                    throw fail("expected principal, resource or context")
                }
                if at(",") { _ = advance() } else { break }
            }
            try expect("}")
        }
        if atWord("attributes") { throw fail("action attributes are not supported") }
        try expect(";")
        for n in names {
            let uid = EntityUID(type: qualify("Action", namespace), id: n)
            schema.actions[uid] = CedarSchema.Action(uid: uid, memberOf: memberOf, principals: principals, resources: resources, context: context)
        }
    }

    func qualifyType(_ name: String, _ namespace: String) -> String {
        name.contains("::") || namespace.isEmpty ? name : "\(namespace)::\(name)"
    }

    mutating func record(namespace: String) throws(CedarSchemaError) -> CedarSchema.SchemaType {
        try expect("{")
        var attributes: [String: CedarSchema.Attribute] = [:]
        while !at("}") {
            try annotations()
            if at("}") { break }
            let n = try name()
            var required = true
            if at("?") {
                _ = advance()
                required = false
            }
            try expect(":")
            attributes[n] = CedarSchema.Attribute(type: try type(namespace: namespace), required: required)
            if at(",") { _ = advance() } else { break }
        }
        try expect("}")
        return .record(attributes)
    }

    mutating func type(namespace: String) throws(CedarSchemaError) -> CedarSchema.SchemaType {
        typeDepth += 1
        defer { typeDepth -= 1 }
        guard typeDepth <= Self.maximumTypeDepth else { throw fail("types nest deeper than \(Self.maximumTypeDepth) levels") }
        if at("{") { return try record(namespace: namespace) }
        let n = try path()
        if n == "Set" || n == "__cedar::Set" {
            try expect("<")
            let element = try type(namespace: namespace)
            try expect(">")
            return .set(element)
        }
        return .named(n, namespace: namespace)
    }
}

extension CedarSchema {
    /// Parses the human-readable form.
    public init(text: String) throws(CedarSchemaError) {
        self = try SchemaParser.parse(text)
    }

    /// Parses the JSON form: `{"Namespace": {"entityTypes": {...}, "actions": {...}, "commonTypes": {...}}}`.
    public init(json: JSONValue) throws(CedarSchemaError) {
        self.init()
        guard case .object(let namespaces) = json else { throw CedarSchemaError(message: "a JSON schema is an object of namespaces") }
        for (ns, body) in namespaces {
            func q(_ n: String) -> String { ns.isEmpty || n.contains("::") ? n : "\(ns)::\(n)" }
            func type(_ j: JSONValue) throws(CedarSchemaError) -> SchemaType {
                guard let t = j["type"]?.stringValue else { throw CedarSchemaError(message: "a type needs \"type\"") }
                switch t {
                case "Boolean", "Bool": return .bool
                case "Long": return .long
                case "String": return .string
                case "Set":
                    guard let e = j["element"] else { throw CedarSchemaError(message: "a Set needs \"element\"") }
                    return .set(try type(e))
                case "Record":
                    var attributes: [String: Attribute] = [:]
                    for (k, v) in j["attributes"]?.objectValue ?? [:] {
                        attributes[k] = Attribute(type: try type(v), required: v["required"]?.boolValue ?? true)
                    }
                    return .record(attributes)
                case "Entity":
                    guard let n = j["name"]?.stringValue else { throw CedarSchemaError(message: "an Entity type needs \"name\"") }
                    return .entity(q(n))
                case "Extension":
                    guard let n = j["name"]?.stringValue else { throw CedarSchemaError(message: "an Extension type needs \"name\"") }
                    return .extension(n)
                case "EntityOrCommon":
                    guard let n = j["name"]?.stringValue else { throw CedarSchemaError(message: "an EntityOrCommon type needs \"name\"") }
                    return .named(n, namespace: ns)
                default:
                    return .named(t, namespace: ns)
                }
            }
            for (n, t) in body["commonTypes"]?.objectValue ?? [:] { commonTypes[q(n)] = try type(t) }
            for (n, e) in body["entityTypes"]?.objectValue ?? [:] {
                var attributes: [String: Attribute] = [:]
                if let shape = e["shape"], case .record(let r) = try type(shape) { attributes = r }
                entityTypes[q(n)] = EntityType(
                    name: q(n), attributes: attributes, memberOf: (e["memberOfTypes"]?.arrayValue ?? []).compactMap(\.stringValue).map(q),
                    tags: try e["tags"].map(type), enumeration: e["enum"]?.arrayValue?.compactMap(\.stringValue))
            }
            for (n, a) in body["actions"]?.objectValue ?? [:] {
                let uid = EntityUID(type: q("Action"), id: n)
                let parents = (a["memberOf"]?.arrayValue ?? []).compactMap { m -> EntityUID? in
                    guard let id = m["id"]?.stringValue else { return nil }
                    return EntityUID(type: m["type"]?.stringValue.map(q) ?? q("Action"), id: id)
                }
                let applies = a["appliesTo"]
                actions[uid] = Action(
                    uid: uid, memberOf: parents, principals: (applies?["principalTypes"]?.arrayValue ?? []).compactMap(\.stringValue).map(q),
                    resources: (applies?["resourceTypes"]?.arrayValue ?? []).compactMap(\.stringValue).map(q),
                    context: try applies?["context"].map(type))
            }
        }
        try checkCommonTypeCycles()
    }
}
