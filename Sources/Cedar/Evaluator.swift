/// A request: who (principal), does what (action), to what (resource), in which context.
public struct CedarRequest: Sendable {
    public var principal: EntityUID
    public var action: EntityUID
    public var resource: EntityUID
    public var context: [String: CedarValue]

    /// A request for evaluating values that need no request.
    static let placeholder = CedarRequest(
        principal: EntityUID(type: "_", id: ""), action: EntityUID(type: "_", id: ""), resource: EntityUID(type: "_", id: ""))

    public init(principal: EntityUID, action: EntityUID, resource: EntityUID, context: [String: CedarValue] = [:]) {
        self.principal = principal
        self.action = action
        self.resource = resource
        self.context = context
    }
}

/// Why an expression could not be evaluated (the policy is then skipped and reported as erroring).
public struct EvaluationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Evaluates expressions with Cedar's semantics: short-circuit `&&`, `||` and `if`; overflow checked;
/// type errors for operands of the wrong type; `==` never errors.
public struct Evaluator {
    public let request: CedarRequest
    public let entities: EntityStore
    /// The request's principal, action and resource entities, looked up once (nil when not in the store).
    let principalEntity: Entity?
    let actionEntity: Entity?
    let resourceEntity: Entity?
    /// The context as a list when it is small (found by comparing names).
    let smallContext: [(String, CedarValue)]?

    @inline(__always)
    func contextValue(_ name: String) -> CedarValue? {
        if let small = smallContext {
            let length = name.utf8.count
            for (k, v) in small where k.utf8.count == length && k == name { return v }
            return nil
        }
        return request.context[name]
    }

    public init(request: CedarRequest, entities: EntityStore) {
        self.request = request
        self.entities = entities
        principalEntity = entities[request.principal]
        actionEntity = entities[request.action]
        resourceEntity = entities[request.resource]
        smallContext = request.context.count <= 12 ? request.context.map { ($0.key, $0.value) } : nil
    }

    /// `principal.a`, `resource.a`, `context.a`: the most common expressions, answered without
    /// building the variable's value or searching the store.
    @inline(__always)
    func variableAttribute(_ v: Variable, _ name: String) throws(EvaluationError) -> CedarValue {
        let entity: Entity?
        let uid: EntityUID
        switch v {
        case .context:
            guard let a = contextValue(name) else { throw EvaluationError("record does not have the attribute `\(name)`") }
            return a
        case .principal: (entity, uid) = (principalEntity, request.principal)
        case .action: (entity, uid) = (actionEntity, request.action)
        case .resource: (entity, uid) = (resourceEntity, request.resource)
        }
        guard let entity else { throw EvaluationError("entity \(uid) does not exist") }
        guard let a = entity.attribute(name) else { throw EvaluationError("\(uid) does not have the attribute `\(name)`") }
        return a
    }

    @inline(__always)
    func variableHas(_ v: Variable, _ name: String) -> Bool {
        switch v {
        case .context: contextValue(name) != nil
        case .principal: principalEntity?.attribute(name) != nil
        case .action: actionEntity?.attribute(name) != nil
        case .resource: resourceEntity?.attribute(name) != nil
        }
    }

    static func typeError(_ expected: String, _ got: CedarValue) -> EvaluationError {
        EvaluationError("type error: expected \(expected), got \(got.typeName)")
    }

    func bool(_ e: Expr) throws(EvaluationError) -> Bool {
        let v = try eval(e)
        guard case .bool(let b) = v else { throw Self.typeError("bool", v) }
        return b
    }

    func long(_ e: Expr) throws(EvaluationError) -> Int64 {
        let v = try eval(e)
        guard case .long(let l) = v else { throw Self.typeError("long", v) }
        return l
    }

    public func eval(_ e: Expr) throws(EvaluationError) -> CedarValue {
        switch e {
        case .literal(let v): return v
        case .variable(let v):
            switch v {
            case .principal: return .entity(request.principal)
            case .action: return .entity(request.action)
            case .resource: return .entity(request.resource)
            case .context: return .record(request.context)
            }
        case .not(let x): return .bool(!(try bool(x)))
        case .negate(let x):
            let (r, o) = Int64(0).subtractingReportingOverflow(try long(x))
            if o { throw EvaluationError("integer overflow") }
            return .long(r)
        case .and(let a, let b):
            guard try bool(a) else { return .bool(false) }
            return .bool(try bool(b))
        case .or(let a, let b):
            if try bool(a) { return .bool(true) }
            return .bool(try bool(b))
        case .ifThenElse(let c, let t, let f):
            return try bool(c) ? try eval(t) : try eval(f)
        case .binary(let op, let a, let b):
            return try binary(op, try eval(a), try eval(b))
        case .has(.variable(let variable), let path) where path.count == 1:
            return .bool(variableHas(variable, path[0]))
        case .attribute(.variable(let variable), let name):
            return try variableAttribute(variable, name)
        case .has(let x, let path):
            var v = try eval(x)
            for (i, name) in path.enumerated() {
                guard try has(v, name) else { return .bool(false) }
                if i < path.count - 1 { v = try attribute(v, name) }
            }
            return .bool(true)
        case .like(let x, let pattern):
            let v = try eval(x)
            guard case .string(let s) = v else { throw Self.typeError("string", v) }
            return .bool(Self.matches(Array(s.unicodeScalars), pattern))
        case .isType(let x, let type, let container):
            let v = try eval(x)
            guard case .entity(let uid) = v else { throw Self.typeError("entity", v) }
            guard uid.type == type else {
                // `is … in` still evaluates its right-hand side only when the type matches (short-circuit).
                return .bool(false)
            }
            guard let container else { return .bool(true) }
            return try binary(.in, v, try eval(container))
        case .attribute(let x, let name):
            return try attribute(try eval(x), name)
        case .method(let x, let method, let args):
            let receiver = try eval(x)
            var values: [CedarValue] = []
            values.reserveCapacity(args.count)
            for a in args { values.append(try eval(a)) }
            return try call(method, receiver, values)
        case .call(let function, let args):
            var values: [CedarValue] = []
            for a in args { values.append(try eval(a)) }
            return try Self.construct(function, values)
        case .set(let items):
            var set = Set<CedarValue>()
            set.reserveCapacity(items.count)
            for item in items { set.insert(try eval(item)) }
            return .set(set)
        case .record(let fields):
            var r: [String: CedarValue] = [:]
            r.reserveCapacity(fields.count)
            for (k, x) in fields { r[k] = try eval(x) }
            return .record(r)
        }
    }

    func has(_ v: CedarValue, _ name: String) throws(EvaluationError) -> Bool {
        switch v {
        case .record(let r): return r[name] != nil
        case .entity(let uid): return entities[uid]?.attribute(name) != nil
        default: throw Self.typeError("entity or record", v)
        }
    }

    func attribute(_ v: CedarValue, _ name: String) throws(EvaluationError) -> CedarValue {
        switch v {
        case .record(let r):
            guard let a = r[name] else { throw EvaluationError("record does not have the attribute `\(name)`") }
            return a
        case .entity(let uid):
            guard let entity = entities[uid] else { throw EvaluationError("entity \(uid) does not exist") }
            guard let a = entity.attribute(name) else { throw EvaluationError("\(uid) does not have the attribute `\(name)`") }
            return a
        default:
            throw Self.typeError("entity or record", v)
        }
    }

    func binary(_ op: BinaryOperator, _ a: CedarValue, _ b: CedarValue) throws(EvaluationError) -> CedarValue {
        switch op {
        case .equal: return .bool(a == b)
        case .notEqual: return .bool(a != b)
        case .less, .lessEqual, .greater, .greaterEqual:
            let order: Int
            switch (a, b) {
            case (.long(let x), .long(let y)): order = x < y ? -1 : (x == y ? 0 : 1)
            case (.datetime(let x), .datetime(let y)): order = x < y ? -1 : (x == y ? 0 : 1)
            case (.duration(let x), .duration(let y)): order = x < y ? -1 : (x == y ? 0 : 1)
            case (.long, _): throw Self.typeError("long", b)
            case (.datetime, _): throw Self.typeError("datetime", b)
            case (.duration, _): throw Self.typeError("duration", b)
            default: throw Self.typeError("long, datetime or duration", a)
            }
            switch op {
            case .less: return .bool(order < 0)
            case .lessEqual: return .bool(order <= 0)
            case .greater: return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        case .add, .subtract, .multiply:
            guard case .long(let x) = a else { throw Self.typeError("long", a) }
            guard case .long(let y) = b else { throw Self.typeError("long", b) }
            let (r, o) =
                switch op {
                case .add: x.addingReportingOverflow(y)
                case .subtract: x.subtractingReportingOverflow(y)
                default: x.multipliedReportingOverflow(by: y)
                }
            if o { throw EvaluationError("integer overflow") }
            return .long(r)
        case .in:
            guard case .entity(let child) = a else { throw Self.typeError("entity", a) }
            switch b {
            case .entity(let parent): return .bool(entities.isDescendant(child, of: parent))
            case .set(let set):
                var found = false
                for item in set {
                    guard case .entity(let parent) = item else { throw Self.typeError("set of entities", item) }
                    if !found, entities.isDescendant(child, of: parent) { found = true }
                }
                return .bool(found)
            default: throw Self.typeError("entity or set of entities", b)
            }
        }
    }

    func call(_ method: CedarMethod, _ receiver: CedarValue, _ args: [CedarValue]) throws(EvaluationError) -> CedarValue {
        guard args.count == method.arity else {
            throw EvaluationError("`\(method.rawValue)` takes \(method.arity) argument\(method.arity == 1 ? "" : "s"), got \(args.count)")
        }
        switch method {
        case .contains:
            guard case .set(let s) = receiver else { throw Self.typeError("set", receiver) }
            return .bool(s.contains(args[0]))
        case .containsAll, .containsAny:
            guard case .set(let s) = receiver else { throw Self.typeError("set", receiver) }
            guard case .set(let other) = args[0] else { throw Self.typeError("set", args[0]) }
            return .bool(method == .containsAll ? other.isSubset(of: s) : !other.isDisjoint(with: s))
        case .isEmpty:
            guard case .set(let s) = receiver else { throw Self.typeError("set", receiver) }
            return .bool(s.isEmpty)
        case .hasTag, .getTag:
            guard case .entity(let uid) = receiver else { throw Self.typeError("entity", receiver) }
            guard case .string(let tag) = args[0] else { throw Self.typeError("string", args[0]) }
            if method == .hasTag { return .bool(entities[uid]?.tags[tag] != nil) }
            guard let entity = entities[uid] else { throw EvaluationError("entity \(uid) does not exist") }
            guard let value = entity.tags[tag] else { throw EvaluationError("\(uid) does not have the tag `\(tag)`") }
            return value
        case .lessThan, .lessThanOrEqual, .greaterThan, .greaterThanOrEqual:
            guard case .decimal(let x) = receiver else { throw Self.typeError("decimal", receiver) }
            guard case .decimal(let y) = args[0] else { throw Self.typeError("decimal", args[0]) }
            switch method {
            case .lessThan: return .bool(x < y)
            case .lessThanOrEqual: return .bool(x <= y)
            case .greaterThan: return .bool(x > y)
            default: return .bool(x >= y)
            }
        case .isIpv4, .isIpv6, .isLoopback, .isMulticast:
            guard case .ip(let ip) = receiver else { throw Self.typeError("ipaddr", receiver) }
            switch method {
            case .isIpv4: return .bool(!ip.isV6)
            case .isIpv6: return .bool(ip.isV6)
            case .isLoopback: return .bool(ip.isLoopback)
            default: return .bool(ip.isMulticast)
            }
        case .isInRange:
            guard case .ip(let ip) = receiver else { throw Self.typeError("ipaddr", receiver) }
            guard case .ip(let range) = args[0] else { throw Self.typeError("ipaddr", args[0]) }
            return .bool(ip.isInRange(range))
        case .offset:
            guard case .datetime(let d) = receiver else { throw Self.typeError("datetime", receiver) }
            guard case .duration(let by) = args[0] else { throw Self.typeError("duration", args[0]) }
            let (r, o) = d.milliseconds.addingReportingOverflow(by.milliseconds)
            if o { throw EvaluationError("overflow in datetime offset") }
            return .datetime(CedarDatetime(milliseconds: r))
        case .durationSince:
            guard case .datetime(let d) = receiver else { throw Self.typeError("datetime", receiver) }
            guard case .datetime(let other) = args[0] else { throw Self.typeError("datetime", args[0]) }
            let (r, o) = d.milliseconds.subtractingReportingOverflow(other.milliseconds)
            if o { throw EvaluationError("overflow in durationSince") }
            return .duration(CedarDuration(milliseconds: r))
        case .toDate, .toTime:
            guard case .datetime(let d) = receiver else { throw Self.typeError("datetime", receiver) }
            let day: Int64 = 86_400_000
            let remainder = ((d.milliseconds % day) + day) % day
            if method == .toTime { return .duration(CedarDuration(milliseconds: remainder)) }
            let (r, o) = d.milliseconds.subtractingReportingOverflow(remainder)
            if o { throw EvaluationError("overflow in toDate") }
            return .datetime(CedarDatetime(milliseconds: r))
        case .toMilliseconds, .toSeconds, .toMinutes, .toHours, .toDays:
            guard case .duration(let d) = receiver else { throw Self.typeError("duration", receiver) }
            let unit: Int64 =
                switch method {
                case .toMilliseconds: 1
                case .toSeconds: 1000
                case .toMinutes: 60_000
                case .toHours: 3_600_000
                default: 86_400_000
                }
            return .long(d.milliseconds / unit)
        }
    }

    /// An extension constructor applied to its arguments (one string).
    static func construct(_ function: CedarFunction, _ args: [CedarValue]) throws(EvaluationError) -> CedarValue {
        guard args.count == 1 else { throw EvaluationError("`\(function.rawValue)` takes 1 argument, got \(args.count)") }
        guard case .string(let s) = args[0] else { throw typeError("string", args[0]) }
        return try construct(function, s)
    }

    /// An extension constructor applied to a string.
    static func construct(_ function: CedarFunction, _ s: String) throws(EvaluationError) -> CedarValue {
        switch function {
        case .decimal:
            guard let d = CedarDecimal(parsing: s) else { throw EvaluationError("`\(s)` is not a valid decimal") }
            return .decimal(d)
        case .ip:
            guard let ip = IPAddress(parsing: s) else { throw EvaluationError("`\(s)` is not a valid IP address or range") }
            return .ip(ip)
        case .datetime:
            guard let d = CedarDatetime(parsing: s) else { throw EvaluationError("`\(s)` is not a valid datetime") }
            return .datetime(d)
        case .duration:
            guard let d = CedarDuration(parsing: s) else { throw EvaluationError("`\(s)` is not a valid duration") }
            return .duration(d)
        }
    }

    /// Glob matching with `*` over Unicode scalars (iterative, linear backtracking).
    static func matches(_ s: [UnicodeScalar], _ p: [PatternElement]) -> Bool {
        var si = 0
        var pi = 0
        var star = -1
        var mark = 0
        while si < s.count {
            if pi < p.count, case .scalar(let c) = p[pi], c == s[si] {
                si += 1
                pi += 1
            } else if pi < p.count, p[pi] == .wildcard {
                star = pi
                mark = si
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                si = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == .wildcard { pi += 1 }
        return pi == p.count
    }
}
