/// Cedar's strict validator: typechecks every policy against a schema in each request environment
/// (principal type, action, resource type) its scope can match, the way the Lean specification's
/// typechecker does: unknown entity types, actions and attributes, optional attributes read without a
/// `has` guard, and type errors are reported; a policy that can never apply is not an error.
public struct Validator {
    public let schema: CedarSchema

    public init(schema: CedarSchema) { self.schema = schema }

    /// A validation error, naming the policy.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var policy: String
        public var message: String
        public var description: String { "\(policy): \(message)" }
    }

    enum BoolType: Equatable { case anyBool, tt, ff }

    indirect enum VType: Equatable {
        case bool(BoolType)
        case long, string
        case entity(String)
        case set(VType)
        case record([String: VAttr])
        case ext(String)
        /// The type of `[]`'s elements (only valid as a set element before it meets a real type).
        case never
    }

    struct VAttr: Equatable {
        var type: VType
        var required: Bool
    }

    struct Env {
        var principal: String
        var action: EntityUID
        var resource: String
        var context: [String: VAttr]
    }

    struct Failure: Error { var message: String }

    /// A `has`-established fact: this expression (by its printed form) has this attribute.
    struct Capability: Hashable {
        var expr: String
        var attr: String
    }

    typealias Caps = Set<Capability>

    // MARK: Schema types

    func vtype(_ t: CedarSchema.SchemaType) -> VType {
        switch schema.resolve(t) {
        case .bool: .bool(.anyBool)
        case .long: .long
        case .string: .string
        case .set(let e): .set(vtype(e))
        case .record(let r): .record(r.mapValues { VAttr(type: vtype($0.type), required: $0.required) })
        case .entity(let n): .entity(n)
        case .extension(let n): .ext(n)
        case .named(let n, _): .entity(n)
        }
    }

    func isKnownEntityType(_ name: String) -> Bool {
        schema.entityTypes[name] != nil || schema.actions.keys.contains { $0.type == name }
    }

    /// Entity types whose entities may be descendants of `ancestor` (including itself).
    func mayDescend(_ descendant: String, from ancestor: String) -> Bool {
        if descendant == ancestor { return true }
        var seen: Set<String> = [descendant]
        var stack = schema.entityTypes[descendant]?.memberOf ?? []
        while let next = stack.popLast() {
            if next == ancestor { return true }
            guard seen.insert(next).inserted else { continue }
            stack += schema.entityTypes[next]?.memberOf ?? []
        }
        return false
    }

    func actionDescends(_ a: EntityUID, from b: EntityUID) -> Bool {
        if a == b { return true }
        var seen: Set<EntityUID> = [a]
        var stack = schema.actions[a]?.memberOf ?? []
        while let next = stack.popLast() {
            if next == b { return true }
            guard seen.insert(next).inserted else { continue }
            stack += schema.actions[next]?.memberOf ?? []
        }
        return false
    }

    // MARK: Validation

    /// The problems of every policy (empty when the set validates).
    public func validate(_ policies: PolicySet) -> [Problem] {
        var problems: [Problem] = []
        for policy in policies.policies {
            if let message = validate(policy) { problems.append(Problem(policy: policy.id, message: message)) }
        }
        return problems
    }

    func validate(_ policy: Policy) -> String? {
        // Entity types and actions named in the scope must exist.
        for uid in scopeUIDs(policy) {
            if uid.type.hasSuffix("Action") || uid.type == "Action" {
                if schema.actions[uid] == nil, schema.entityTypes[uid.type] == nil { return "unrecognized action \(uid)" }
            } else if schema.entityTypes[uid.type] == nil {
                return "unrecognized entity type `\(uid.type)`"
            }
        }
        for type in scopeTypes(policy) where schema.entityTypes[type] == nil && !schema.actions.keys.contains(where: { $0.type == type }) {
            return "unrecognized entity type `\(type)`"
        }
        let envs = environments(policy)
        // A scope whose principal, action and resource no action of the schema applies to is invalid.
        if envs.isEmpty { return "the scope's principal, action and resource match no action of the schema" }
        for env in envs {
            var caps = Caps()
            do {
                for condition in policy.conditions {
                    let (t, c) = try typeOf(condition.body, caps, env)
                    guard case .bool(let b) = t else { throw Failure(message: "a condition must be a boolean") }
                    if condition.isWhen {
                        if b == .ff { break }
                        caps.formUnion(c)
                    }
                }
            } catch let failure as Failure {
                return failure.message
            } catch {
                return "\(error)"
            }
        }
        return nil
    }

    func scopeUIDs(_ p: Policy) -> [EntityUID] {
        var out: [EntityUID] = []
        for c in [p.principal, p.resource] {
            switch c {
            case .equal(let u), .in(let u), .isIn(_, let u): out.append(u)
            default: break
            }
        }
        switch p.action {
        case .any: break
        case .equal(let u): out.append(u)
        case .in(let list): out += list
        }
        return out
    }

    func scopeTypes(_ p: Policy) -> [String] {
        var out: [String] = []
        for c in [p.principal, p.resource] {
            switch c {
            case .is(let t), .isIn(let t, _): out.append(t)
            default: break
            }
        }
        return out
    }

    /// The request environments the policy's scope can match.
    func environments(_ p: Policy) -> [Env] {
        var out: [Env] = []
        for action in schema.actions.values.sorted(by: { $0.uid.id < $1.uid.id }) {
            switch p.action {
            case .any: break
            case .equal(let u): if action.uid != u { continue }
            case .in(let list): if !list.contains(where: { actionDescends(action.uid, from: $0) }) { continue }
            }
            var context: [String: VAttr] = [:]
            if let c = action.context, case .record(let r) = vtype(c) { context = r }
            for principal in action.principals where scopeAllows(p.principal, type: principal) {
                for resource in action.resources where scopeAllows(p.resource, type: resource) {
                    out.append(Env(principal: principal, action: action.uid, resource: resource, context: context))
                }
            }
        }
        return out
    }

    func scopeAllows(_ c: ScopeConstraint, type: String) -> Bool {
        switch c {
        case .any: true
        case .equal(let u): u.type == type
        case .in(let u): mayDescend(type, from: u.type)
        case .is(let t): t == type
        case .isIn(let t, let u): t == type && mayDescend(type, from: u.type)
        }
    }

    // MARK: Typing

    func lub(_ a: VType, _ b: VType) -> VType? {
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return .bool(x == y ? x : .anyBool)
        case (.never, let t), (let t, .never): return t
        case (.set(let x), .set(let y)): return lub(x, y).map(VType.set)
        case (.record(let x), .record(let y)):
            guard Set(x.keys) == Set(y.keys) else { return nil }
            var out: [String: VAttr] = [:]
            for (k, ax) in x {
                guard let ay = y[k], ax.required == ay.required, let t = lub(ax.type, ay.type) else { return nil }
                out[k] = VAttr(type: t, required: ax.required)
            }
            return .record(out)
        default: return a == b ? a : nil
        }
    }

    func key(_ e: Expr) -> String { "\(e)" }

    func typeOf(_ e: Expr, _ caps: Caps, _ env: Env) throws -> (VType, Caps) {
        switch e {
        case .literal(let v):
            return (try literalType(v), [])
        case .variable(.principal): return (.entity(env.principal), [])
        case .variable(.action): return (.entity(env.action.type), [])
        case .variable(.resource): return (.entity(env.resource), [])
        case .variable(.context): return (.record(env.context), [])
        case .ifThenElse(let c, let t, let f):
            let (tc, cc) = try typeOf(c, caps, env)
            guard case .bool(let b) = tc else { throw Failure(message: "if needs a boolean condition") }
            switch b {
            case .tt: return try typeOf(t, caps.union(cc), env)
            case .ff: return try typeOf(f, caps, env)
            case .anyBool:
                let (tt, ct) = try typeOf(t, caps.union(cc), env)
                let (tf, cf) = try typeOf(f, caps, env)
                guard let l = lub(tt, tf) else { throw Failure(message: "if branches have incompatible types") }
                return (l, cc.union(ct).intersection(cf))
            }
        case .and(let a, let b):
            let (ta, ca) = try typeOf(a, caps, env)
            guard case .bool(let ba) = ta else { throw Failure(message: "&& needs booleans") }
            if ba == .ff { return (.bool(.ff), []) }
            let (tb, cb) = try typeOf(b, caps.union(ca), env)
            guard case .bool(let bb) = tb else { throw Failure(message: "&& needs booleans") }
            if bb == .ff { return (.bool(.ff), []) }
            return (.bool(ba == .tt && bb == .tt ? .tt : .anyBool), ca.union(cb))
        case .or(let a, let b):
            let (ta, ca) = try typeOf(a, caps, env)
            guard case .bool(let ba) = ta else { throw Failure(message: "|| needs booleans") }
            if ba == .tt { return (.bool(.tt), ca) }
            let (tb, cb) = try typeOf(b, caps, env)
            guard case .bool(let bb) = tb else { throw Failure(message: "|| needs booleans") }
            if ba == .ff { return (.bool(bb), cb) }
            if bb == .tt { return (.bool(.tt), cb) }
            if bb == .ff { return (.bool(.anyBool), ca) }
            return (.bool(.anyBool), ca.intersection(cb))
        case .not(let x):
            let (t, _) = try typeOf(x, caps, env)
            guard case .bool(let b) = t else { throw Failure(message: "! needs a boolean") }
            return (.bool(b == .tt ? .ff : b == .ff ? .tt : .anyBool), [])
        case .negate(let x):
            guard try typeOf(x, caps, env).0 == .long else { throw Failure(message: "- needs a Long") }
            return (.long, [])
        case .binary(let op, let a, let b):
            return (try binaryType(op, a, b, caps, env), [])
        case .has(let x, let path):
            var current = x
            var resultCaps = Caps()
            var sawAny = false
            for name in path {
                let (t, c) = try hasType(current, name, caps.union(resultCaps), env)
                if case .bool(.ff) = t { return (.bool(.ff), []) }
                if case .bool(.anyBool) = t { sawAny = true }
                resultCaps.formUnion(c)
                resultCaps.insert(Capability(expr: key(current), attr: name))
                current = .attribute(current, name)
            }
            return (.bool(sawAny ? .anyBool : .tt), resultCaps)
        case .like(let x, _):
            guard try typeOf(x, caps, env).0 == .string else { throw Failure(message: "like needs a String") }
            return (.bool(.anyBool), [])
        case .isType(let x, let type, let container):
            guard case .entity(let et) = try typeOf(x, caps, env).0 else { throw Failure(message: "is needs an entity") }
            guard isKnownEntityType(type) else { throw Failure(message: "unrecognized entity type `\(type)`") }
            guard et == type else {
                if let container { _ = try typeOf(container, caps, env) }
                return (.bool(.ff), [])
            }
            guard let container else { return (.bool(.tt), []) }
            return (try inType(x, container, caps, env), [])
        case .attribute(let x, let name):
            let (t, _) = try typeOf(x, caps, env)
            let attrs: [String: VAttr]
            switch t {
            case .record(let r): attrs = r
            case .entity(let et):
                guard let decl = schema.entityTypes[et] else { throw Failure(message: "`\(et)` has no attributes") }
                attrs = decl.attributes.mapValues { VAttr(type: vtype($0.type), required: $0.required) }
            default: throw Failure(message: "attribute access on a non-entity, non-record")
            }
            guard let a = attrs[name] else { throw Failure(message: "attribute `\(name)` not found") }
            if !a.required, !caps.contains(Capability(expr: key(x), attr: name)) {
                throw Failure(message: "optional attribute `\(name)` read without a `has` check")
            }
            return (a.type, [])
        case .method(let x, let method, let args):
            return try methodType(method, x, args, caps, env)
        case .call(let f, let args):
            guard args.count == 1, case .literal(.string(let s)) = args[0], (try? Evaluator.construct(f, s)) != nil else {
                throw Failure(message: "extension constructor `\(f.rawValue)` needs a valid literal string")
            }
            return (.ext(f == .ip ? "ipaddr" : f.rawValue), [])
        case .set(let items):
            guard !items.isEmpty else { throw Failure(message: "empty set literals cannot be typed") }
            var element: VType = .never
            for item in items {
                let (t, _) = try typeOf(item, caps, env)
                guard let l = lub(element, t) else { throw Failure(message: "set elements have incompatible types") }
                element = l
            }
            return (.set(element), [])
        case .record(let fields):
            var out: [String: VAttr] = [:]
            for (k, v) in fields { out[k] = VAttr(type: try typeOf(v, caps, env).0, required: true) }
            return (.record(out), [])
        }
    }

    func literalType(_ v: CedarValue) throws -> VType {
        switch v {
        case .bool(let b): return .bool(b ? .tt : .ff)
        case .long: return .long
        case .string: return .string
        case .entity(let uid):
            if schema.actions[uid] != nil { return .entity(uid.type) }
            guard schema.entityTypes[uid.type] != nil else { throw Failure(message: "unrecognized entity type `\(uid.type)`") }
            if let ids = schema.entityTypes[uid.type]?.enumeration, !ids.contains(uid.id) {
                throw Failure(message: "`\(uid.id)` is not one of the enumerated ids of `\(uid.type)`")
            }
            return .entity(uid.type)
        default: throw Failure(message: "unexpected literal")
        }
    }

    func hasType(_ x: Expr, _ name: String, _ caps: Caps, _ env: Env) throws -> (VType, Caps) {
        let (t, _) = try typeOf(x, caps, env)
        let cap = Capability(expr: key(x), attr: name)
        switch t {
        case .record(let r):
            guard let a = r[name] else { return (.bool(.ff), []) }
            if a.required || caps.contains(cap) { return (.bool(.tt), []) }
            return (.bool(.anyBool), [cap])
        case .entity(let et):
            guard let decl = schema.entityTypes[et] else {
                if schema.actions.keys.contains(where: { $0.type == et }) { return (.bool(.ff), []) }
                throw Failure(message: "unrecognized entity type `\(et)`")
            }
            guard decl.attributes[name] != nil else { return (.bool(.ff), []) }
            if caps.contains(cap) { return (.bool(.tt), []) }
            return (.bool(.anyBool), [cap])
        default:
            throw Failure(message: "has on a non-entity, non-record")
        }
    }

    func inType(_ a: Expr, _ b: Expr, _ caps: Caps, _ env: Env) throws -> VType {
        guard case .entity(let ta) = try typeOf(a, caps, env).0 else { throw Failure(message: "in needs an entity on the left") }
        let tb = try typeOf(b, caps, env).0
        var rightTypes: [String]
        switch tb {
        case .entity(let t): rightTypes = [t]
        case .set(.entity(let t)): rightTypes = [t]
        default: throw Failure(message: "in needs an entity or a set of entities on the right")
        }
        // Actions: decided by the action hierarchy when both sides are literal actions.
        if schema.actions.keys.contains(where: { $0.type == ta }) {
            let lhs: EntityUID? =
                switch a {
                case .literal(.entity(let u)): u
                case .variable(.action): env.action
                default: nil
                }
            var rhs: [EntityUID]? = nil
            if case .literal(.entity(let u)) = b { rhs = [u] }
            if case .set(let items) = b {
                rhs = items.compactMap { if case .literal(.entity(let u)) = $0 { u } else { nil } }
                if rhs?.count != items.count { rhs = nil }
            }
            if let lhs, let rhs { return .bool(rhs.contains { actionDescends(lhs, from: $0) } ? .tt : .ff) }
            return .bool(.anyBool)
        }
        rightTypes = rightTypes.filter { mayDescend(ta, from: $0) }
        return .bool(rightTypes.isEmpty ? .ff : .anyBool)
    }

    func binaryType(_ op: BinaryOperator, _ a: Expr, _ b: Expr, _ caps: Caps, _ env: Env) throws -> VType {
        switch op {
        case .equal, .notEqual:
            let ta = try typeOf(a, caps, env).0
            let tb = try typeOf(b, caps, env).0
            if case .literal(let x) = a, case .literal(let y) = b {
                let same = x == y
                return .bool((same == (op == .equal)) ? .tt : .ff)
            }
            if lub(ta, tb) != nil { return .bool(.anyBool) }
            if case .entity = ta, case .entity = tb { return .bool(op == .equal ? .ff : .tt) }
            throw Failure(message: "== between incompatible types")
        case .less, .lessEqual, .greater, .greaterEqual:
            let ta = try typeOf(a, caps, env).0
            let tb = try typeOf(b, caps, env).0
            switch (ta, tb) {
            case (.long, .long), (.ext("datetime"), .ext("datetime")), (.ext("duration"), .ext("duration")): return .bool(.anyBool)
            default: throw Failure(message: "comparison needs two Longs, datetimes or durations")
            }
        case .add, .subtract, .multiply:
            guard try typeOf(a, caps, env).0 == .long, try typeOf(b, caps, env).0 == .long else {
                throw Failure(message: "arithmetic needs Longs")
            }
            return .long
        case .in:
            return try inType(a, b, caps, env)
        }
    }

    func methodType(_ m: CedarMethod, _ x: Expr, _ args: [Expr], _ caps: Caps, _ env: Env) throws -> (VType, Caps) {
        guard args.count == m.arity else { throw Failure(message: "`\(m.rawValue)` takes \(m.arity) arguments") }
        let tx = try typeOf(x, caps, env).0
        let targs = try args.map { try typeOf($0, caps, env).0 }
        func need(_ t: VType, _ want: VType) throws {
            guard t == want else { throw Failure(message: "`\(m.rawValue)` got the wrong type") }
        }
        switch m {
        case .contains:
            guard case .set(let e) = tx, lub(e, targs[0]) != nil else { throw Failure(message: "contains: incompatible types") }
            return (.bool(.anyBool), [])
        case .containsAll, .containsAny:
            guard case .set(let e) = tx, case .set(let f) = targs[0], lub(e, f) != nil else {
                throw Failure(message: "\(m.rawValue): incompatible types")
            }
            return (.bool(.anyBool), [])
        case .isEmpty:
            guard case .set = tx else { throw Failure(message: "isEmpty needs a set") }
            return (.bool(.anyBool), [])
        case .hasTag, .getTag:
            guard case .entity(let et) = tx else { throw Failure(message: "\(m.rawValue) needs an entity") }
            try need(targs[0], .string)
            let tags = schema.entityTypes[et]?.tags
            if m == .hasTag {
                guard tags != nil else { return (.bool(.ff), []) }
                return (.bool(.anyBool), [Capability(expr: key(x), attr: "__tag:" + key(args[0]))])
            }
            guard let tags else { throw Failure(message: "`\(et)` has no tags") }
            guard caps.contains(Capability(expr: key(x), attr: "__tag:" + key(args[0]))) else {
                throw Failure(message: "getTag without a hasTag check")
            }
            return (vtype(tags), [])
        case .lessThan, .lessThanOrEqual, .greaterThan, .greaterThanOrEqual:
            try need(tx, .ext("decimal"))
            try need(targs[0], .ext("decimal"))
            return (.bool(.anyBool), [])
        case .isIpv4, .isIpv6, .isLoopback, .isMulticast:
            try need(tx, .ext("ipaddr"))
            return (.bool(.anyBool), [])
        case .isInRange:
            try need(tx, .ext("ipaddr"))
            try need(targs[0], .ext("ipaddr"))
            return (.bool(.anyBool), [])
        case .offset:
            try need(tx, .ext("datetime"))
            try need(targs[0], .ext("duration"))
            return (.ext("datetime"), [])
        case .durationSince:
            try need(tx, .ext("datetime"))
            try need(targs[0], .ext("datetime"))
            return (.ext("duration"), [])
        case .toDate:
            try need(tx, .ext("datetime"))
            return (.ext("datetime"), [])
        case .toTime:
            try need(tx, .ext("datetime"))
            return (.ext("duration"), [])
        case .toMilliseconds, .toSeconds, .toMinutes, .toHours, .toDays:
            try need(tx, .ext("duration"))
            return (.long, [])
        }
    }
}
