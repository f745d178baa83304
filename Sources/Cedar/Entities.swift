import WardenCore

/// An entity: attributes, parents in the hierarchy, and tags.
public struct Entity: Sendable {
    public var uid: EntityUID
    public var attributes: [String: CedarValue] {
        didSet { smallAttributes = Self.small(attributes) }
    }
    public var parents: Set<EntityUID>
    public var tags: [String: CedarValue]
    /// The attributes as a list when there are few: found by comparing names, cheaper than hashing.
    private(set) var smallAttributes: [(String, CedarValue)]?

    public init(uid: EntityUID, attributes: [String: CedarValue] = [:], parents: Set<EntityUID> = [], tags: [String: CedarValue] = [:]) {
        self.uid = uid
        self.attributes = attributes
        self.parents = parents
        self.tags = tags
        self.smallAttributes = Self.small(attributes)
    }

    static func small(_ attributes: [String: CedarValue]) -> [(String, CedarValue)]? {
        attributes.count <= 12 ? attributes.map { ($0.key, $0.value) } : nil
    }

    /// The attribute `name`.
    @inline(__always)
    public func attribute(_ name: String) -> CedarValue? {
        if let small = smallAttributes {
            // Lengths first: comparing strings longer than 15 bytes is slow when they differ.
            let length = name.utf8.count
            for (k, v) in small where k.utf8.count == length && k == name { return v }
            return nil
        }
        return attributes[name]
    }
}

/// Entities by uid. `in` walks the hierarchy on demand (depth-first, each entity visited once), so a
/// long chain or a cycle costs time proportional to what is reachable, never a loop or a quadratic
/// closure up front. A handful of entities (a gateway request has three or four) are kept in an array
/// and found by comparison, which beats hashing at that size.
public struct EntityStore: Sendable {
    private var table: [EntityUID: Entity]
    private var small: [Entity]
    static let smallLimit = 8

    public init(_ list: [Entity]) throws(CedarInputError) {
        if list.count <= Self.smallLimit {
            for (i, e) in list.enumerated() where list[..<i].contains(where: { $0.uid == e.uid }) {
                throw CedarInputError("duplicate entity \(e.uid)")
            }
            small = list
            table = [:]
            return
        }
        var entities: [EntityUID: Entity] = [:]
        entities.reserveCapacity(list.count)
        for e in list {
            if entities[e.uid] != nil { throw CedarInputError("duplicate entity \(e.uid)") }
            entities[e.uid] = e
        }
        table = entities
        small = []
    }

    public var count: Int { table.isEmpty ? small.count : table.count }

    public subscript(uid: EntityUID) -> Entity? {
        if table.isEmpty {
            for e in small where e.uid == uid { return e }
            return nil
        }
        return table[uid]
    }

    /// `uid` and every entity reachable from it through parents.
    public func selfAndAncestors(_ uid: EntityUID) -> [EntityUID] {
        var out = [uid]
        guard let start = self[uid], !start.parents.isEmpty else { return out }
        // The common case: parents that have no parents of their own (a key in its team).
        if start.parents.allSatisfy({ self[$0]?.parents.isEmpty ?? true }) {
            for p in start.parents where p != uid { out.append(p) }
            return out
        }
        var seen: Set<EntityUID> = [uid]
        var stack = Array(start.parents)
        while let next = stack.popLast() {
            guard seen.insert(next).inserted else { continue }
            out.append(next)
            if let entity = self[next] { for p in entity.parents where !seen.contains(p) { stack.append(p) } }
        }
        return out
    }

    /// `a in b`: equal, or `b` is reachable from `a` through parents.
    public func isDescendant(_ a: EntityUID, of b: EntityUID) -> Bool {
        if a == b { return true }
        guard let start = self[a], !start.parents.isEmpty else { return false }
        if start.parents.contains(b) { return true }
        // Parents without parents of their own (a key in its team): nothing further up.
        if start.parents.allSatisfy({ self[$0]?.parents.isEmpty ?? true }) { return false }
        var seen: Set<EntityUID> = [a]
        var stack = Array(start.parents)
        while let next = stack.popLast() {
            if next == b { return true }
            guard seen.insert(next).inserted, let entity = self[next] else { continue }
            for p in entity.parents where !seen.contains(p) { stack.append(p) }
        }
        return false
    }

    /// No entities.
    public static let empty = try! EntityStore([])

}

/// Input that cannot be built into entities, a context or a request.
public struct CedarInputError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Cedar's JSON formats for entities and values (`__entity` and `__extn` escapes).
public enum CedarJSON {
    /// The entities file: `[{"uid": {"type","id"}, "attrs": {…}, "parents": [uid…], "tags": {…}}]`. With a
    /// schema, attribute and tag values are read as their declared types, and the schema's action
    /// entities (with their groups) are added.
    public static func entities(_ json: JSONValue, schema: CedarSchema? = nil) throws(CedarInputError) -> EntityStore {
        guard let list = json.arrayValue else { throw CedarInputError("entities must be a JSON array") }
        var out: [Entity] = []
        out.reserveCapacity(list.count)
        for (i, item) in list.enumerated() {
            guard case .object(let o) = item else { throw CedarInputError("entity \(i) is not an object") }
            for key in o.keys where !["uid", "attrs", "parents", "tags"].contains(key) {
                throw CedarInputError("entity \(i) has an unknown field `\(key)`")
            }
            guard let uidJSON = o["uid"] else { throw CedarInputError("entity \(i) has no `uid`") }
            let uid = try entityUID(uidJSON)
            var attributes: [String: CedarValue] = [:]
            if let attrs = o["attrs"] {
                guard case .object(let a) = attrs else { throw CedarInputError("attrs of \(uid) must be an object") }
                let declared = schema?.entityTypes[uid.type]
                for (k, v) in a {
                    if attributes[k] != nil { throw CedarInputError("duplicate attribute `\(k)` of \(uid)") }
                    attributes[k] = try value(v, type: declared?.attributes[k]?.type, schema: schema)
                }
            }
            var parents: Set<EntityUID> = []
            if let p = o["parents"] {
                guard let ps = p.arrayValue else { throw CedarInputError("parents of \(uid) must be an array") }
                for parent in ps { parents.insert(try entityUID(parent)) }
            }
            var tags: [String: CedarValue] = [:]
            if let t = o["tags"] {
                guard case .object(let ts) = t else { throw CedarInputError("tags of \(uid) must be an object") }
                let declared = schema?.entityTypes[uid.type]?.tags
                for (k, v) in ts { tags[k] = try value(v, type: declared, schema: schema) }
            }
            out.append(Entity(uid: uid, attributes: attributes, parents: parents, tags: tags))
        }
        if let schema {
            let present = Set(out.map(\.uid))
            out += schema.actionEntities.filter { !present.contains($0.uid) }
        }
        return try EntityStore(out)
    }

    /// `{"type": T, "id": I}` or `{"__entity": {"type": T, "id": I}}`.
    public static func entityUID(_ json: JSONValue) throws(CedarInputError) -> EntityUID {
        var j = json
        if let inner = json["__entity"] { j = inner }
        guard case .object(let o) = j, let type = o["type"]?.stringValue, let id = o["id"]?.stringValue, o.count == 2 else {
            throw CedarInputError("expected an entity reference {\"type\": …, \"id\": …}, got \(json.typeDescription)")
        }
        guard isValidTypeName(type) else { throw CedarInputError("`\(type)` is not a valid entity type name") }
        return EntityUID(type: type, id: id)
    }

    static func isValidTypeName(_ type: String) -> Bool {
        let parts = type.split(onString: "::")
        return parts.allSatisfy { part in
            guard let first = part.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
            return part.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
        }
    }

    /// A context: a JSON object whose members are values (of the declared record type, with a schema).
    public static func record(_ json: JSONValue, type: CedarSchema.SchemaType? = nil, schema: CedarSchema? = nil) throws(CedarInputError)
        -> [String: CedarValue]
    {
        guard case .object(let o) = json else { throw CedarInputError("the context must be a JSON object") }
        var fields: [String: CedarSchema.Attribute] = [:]
        if let schema, let type, case .record(let r) = schema.resolve(type) { fields = r }
        var out: [String: CedarValue] = [:]
        for (k, v) in o {
            if out[k] != nil { throw CedarInputError("duplicate key `\(k)`") }
            out[k] = try value(v, type: fields[k]?.type, schema: schema)
        }
        return out
    }

    /// A value read as `type` (the schema's declared type), or schema-less when there is none: entity
    /// references may omit `__entity`, and extension values may be plain strings.
    public static func value(_ json: JSONValue, type: CedarSchema.SchemaType?, schema: CedarSchema?, depth: Int = 0) throws(CedarInputError)
        -> CedarValue
    {
        guard let schema, let declared = type else { return try value(json, depth: depth) }
        if depth > 64 { throw CedarInputError("value nested deeper than 64 levels") }
        switch schema.resolve(declared) {
        case .entity:
            if case .object(let o) = json, o["__extn"] == nil { return .entity(try entityUID(json)) }
        case .extension(let name):
            if case .string(let s) = json {
                let function: CedarFunction? =
                    switch name {
                    case "ipaddr": .ip
                    case "decimal": .decimal
                    case "datetime": .datetime
                    case "duration": .duration
                    default: nil
                    }
                guard let function else { throw CedarInputError("unknown extension type `\(name)`") }
                do {
                    return try Evaluator.construct(function, s)
                } catch {
                    throw CedarInputError(error.message)
                }
            }
        case .set(let element):
            if let list = json.arrayValue {
                var set = Set<CedarValue>()
                for item in list { set.insert(try value(item, type: element, schema: schema, depth: depth + 1)) }
                return .set(set)
            }
        case .record(let fields):
            if case .object(let o) = json, o["__entity"] == nil, o["__extn"] == nil {
                var out: [String: CedarValue] = [:]
                for (k, v) in o {
                    if out[k] != nil { throw CedarInputError("duplicate key `\(k)`") }
                    out[k] = try value(v, type: fields[k]?.type, schema: schema, depth: depth + 1)
                }
                return .record(out)
            }
        default:
            break
        }
        return try value(json, depth: depth)
    }

    /// A value: booleans, integers (Long), strings, arrays (sets), objects (records), and the escapes.
    public static func value(_ json: JSONValue, depth: Int = 0) throws(CedarInputError) -> CedarValue {
        if depth > 64 { throw CedarInputError("value nested deeper than 64 levels") }
        switch json {
        case .null: throw CedarInputError("null is not a Cedar value")
        case .bool(let b): return .bool(b)
        case .number(let n):
            guard let l = Int64(n) else { throw CedarInputError("`\(n)` is not a Long (Cedar has no floating point)") }
            return .long(l)
        case .string(let s): return .string(s)
        case .array(let a):
            var set = Set<CedarValue>()
            for item in a { set.insert(try value(item, depth: depth + 1)) }
            return .set(set)
        case .object(let o):
            if o.count == 1, let e = o["__entity"] { return .entity(try entityUID(.object(["__entity": e]))) }
            if o.count == 1, let x = o["__extn"] {
                // {"fn": F, "arg": V} or {"fn": F, "args": [V…]}: a constructor, or a method with its receiver first.
                guard let fn = x["fn"]?.stringValue else { throw CedarInputError("__extn needs a \"fn\"") }
                var args: [CedarValue] = []
                if let arg = x["arg"] {
                    args = [try value(arg, depth: depth + 1)]
                } else if let list = x["args"]?.arrayValue {
                    for a in list { args.append(try value(a, depth: depth + 1)) }
                } else {
                    throw CedarInputError("__extn needs \"arg\" or \"args\"")
                }
                do {
                    if let f = CedarFunction(rawValue: fn) { return try Evaluator.construct(f, args) }
                    guard let m = CedarMethod(rawValue: fn), let receiver = args.first else {
                        throw CedarInputError("unknown extension function `\(fn)`")
                    }
                    return try Evaluator(request: .placeholder, entities: .empty).call(m, receiver, Array(args.dropFirst()))
                } catch let error as EvaluationError {
                    throw CedarInputError(error.message)
                } catch let error as CedarInputError {
                    throw error
                } catch {
                    throw CedarInputError("\(error)")
                }
            }
            var out: [String: CedarValue] = [:]
            for (k, v) in o {
                if out[k] != nil { throw CedarInputError("duplicate key `\(k)`") }
                out[k] = try value(v, depth: depth + 1)
            }
            return .record(out)
        }
    }
}
