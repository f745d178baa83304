/// A condition compiled into closures: the same semantics as `Evaluator.eval`, without re-examining
/// the expression tree (and copying its nodes) on every request. Node kinds that are rare in policies
/// fall back to the interpreter.
typealias CompiledExpr = @Sendable (borrowing Evaluator) throws(EvaluationError) -> CedarValue

/// A compiled `when`/`unless` clause. A struct (not a tuple) so the closure is stored at its own type and
/// called without a reabstraction thunk.
struct CompiledCondition: Sendable {
    let isWhen: Bool
    let body: CompiledExpr
}

enum Compiler {
    static func compile(_ e: Expr) -> CompiledExpr {
        switch e {
        case .literal(let v):
            return { (_: borrowing Evaluator) throws(EvaluationError) -> CedarValue in v }
        case .variable(.context):
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in .record(ev.request.context) }
        case .variable(.principal):
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in .entity(ev.request.principal) }
        case .variable(.action):
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in .entity(ev.request.action) }
        case .variable(.resource):
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in .entity(ev.request.resource) }
        case .attribute(.variable(let v), let name):
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in try ev.variableAttribute(v, name) }
        case .has(.variable(let v), let path) where path.count == 1:
            let name = path[0]
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in .bool(ev.variableHas(v, name)) }
        case .attribute(let x, let name):
            let cx = compile(x)
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in try ev.attribute(try cx(ev), name) }
        case .not(let x):
            let cx = compile(x)
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in
                let v = try cx(ev)
                guard case .bool(let b) = v else { throw Evaluator.typeError("bool", v) }
                return .bool(!b)
            }
        case .and(let a, let b):
            let ca = compile(a)
            let cb = compile(b)
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in
                let l = try ca(ev)
                guard case .bool(let lb) = l else { throw Evaluator.typeError("bool", l) }
                guard lb else { return .bool(false) }
                let r = try cb(ev)
                guard case .bool(let rb) = r else { throw Evaluator.typeError("bool", r) }
                return .bool(rb)
            }
        case .or(let a, let b):
            let ca = compile(a)
            let cb = compile(b)
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in
                let l = try ca(ev)
                guard case .bool(let lb) = l else { throw Evaluator.typeError("bool", l) }
                if lb { return .bool(true) }
                let r = try cb(ev)
                guard case .bool(let rb) = r else { throw Evaluator.typeError("bool", r) }
                return .bool(rb)
            }
        case .ifThenElse(let c, let t, let f):
            let cc = compile(c)
            let ct = compile(t)
            let cf = compile(f)
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in
                let v = try cc(ev)
                guard case .bool(let b) = v else { throw Evaluator.typeError("bool", v) }
                return b ? try ct(ev) : try cf(ev)
            }
        case .binary(let op, let a, let b):
            let ca = compile(a)
            let cb = compile(b)
            switch op {
            case .equal:
                return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in .bool(try ca(ev) == (try cb(ev))) }
            case .notEqual:
                return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in .bool(try ca(ev) != (try cb(ev))) }
            default:
                return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in try ev.binary(op, try ca(ev), try cb(ev)) }
            }
        case .method(let x, let method, let args):
            let cx = compile(x)
            let cargs = args.map(compile)
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in
                let receiver = try cx(ev)
                var values: [CedarValue] = []
                values.reserveCapacity(cargs.count)
                for c in cargs { values.append(try c(ev)) }
                return try ev.call(method, receiver, values)
            }
        case .call(let function, let args) where args.count == 1:
            // A constructor of a literal (`decimal("1.5")`, `ip("10.0.0.0/8")`) is computed once; an invalid
            // literal stays an evaluation error, raised when reached, as in the interpreter.
            if case .literal(.string(let s)) = args[0], let value = try? Evaluator.construct(function, s) {
                return { (_: borrowing Evaluator) throws(EvaluationError) -> CedarValue in value }
            }
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in try ev.eval(e) }
        default:
            return { (ev: borrowing Evaluator) throws(EvaluationError) -> CedarValue in try ev.eval(e) }
        }
    }
}
