/// Parses Cedar policy text: `Annotation* Effect '(' Scope ')' Condition* ';'`, repeated.
///
/// Expressions follow Cedar's grammar and precedence, one relation per level (`1 < 2 < 3` is an
/// error); nesting is bounded so hostile input cannot exhaust the stack.
public struct CedarParser {
    /// The deepest nesting of expressions accepted.
    public static let maximumDepth = 200

    var tokens: [Token]
    var index = 0
    var depth = 0

    /// Parses a whole policy file. Policies are numbered `policy<first>`, `policy<first+1>`, … in order.
    public static func parsePolicies(_ text: String, firstIndex: Int = 0, file: String? = nil) throws(CedarParseError) -> [Policy] {
        do {
            var p = CedarParser(tokens: try Lexer.tokens(text))
            var out: [Policy] = []
            while !p.at(.end) {
                out.append(try p.policy(id: "policy\(firstIndex + out.count)"))
            }
            return out
        } catch {
            var e = error
            e.file = file
            throw e
        }
    }

    /// Parses one expression (for tests and tools).
    public static func parseExpression(_ text: String) throws(CedarParseError) -> Expr {
        var p = CedarParser(tokens: try Lexer.tokens(text))
        let e = try p.expression()
        guard p.at(.end) else { throw p.error("expected end of input, found \(p.peek.text)") }
        return e
    }

    // MARK: Tokens

    var peek: Token { tokens[index] }

    func at(_ kind: TokenKind) -> Bool { tokens[index].kind == kind }

    func atPunct(_ p: String) -> Bool { tokens[index].kind == .punct(p) }

    func atIdentifier(_ name: String) -> Bool { tokens[index].kind == .identifier(name) }

    mutating func advance() -> Token {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    func error(_ message: String, at token: Token? = nil) -> CedarParseError {
        CedarParseError(location: (token ?? peek).location, message: message)
    }

    mutating func expect(_ p: String, _ what: String? = nil) throws(CedarParseError) {
        guard atPunct(p) else { throw error("expected \(what ?? "`\(p)`"), found \(peek.text)") }
        _ = advance()
    }

    mutating func expectKeyword(_ k: String) throws(CedarParseError) {
        guard atIdentifier(k) else { throw error("expected `\(k)`, found \(peek.text)") }
        _ = advance()
    }

    mutating func identifier(_ what: String) throws(CedarParseError) -> String {
        guard case .identifier(let s) = peek.kind else { throw error("expected \(what), found \(peek.text)") }
        _ = advance()
        return s
    }

    mutating func stringLiteral(_ what: String) throws(CedarParseError) -> String {
        let t = peek
        guard case .string(let raw) = t.kind else { throw error("expected \(what), found \(t.text)") }
        _ = advance()
        guard let s = Lexer.unescapeString(raw) else { throw error("invalid escape sequence in string literal", at: t) }
        return s
    }

    static let reserved: Set<String> = ["true", "false", "if", "then", "else", "in", "is", "like", "has", "__cedar"]

    // MARK: Policies

    mutating func policy(id: String) throws(CedarParseError) -> Policy {
        var annotations: [(key: String, value: String)] = []
        while atPunct("@") {
            _ = advance()
            let keyToken = peek
            let key = try identifier("an annotation name")
            if annotations.contains(where: { $0.key == key }) { throw error("duplicate annotation `@\(key)`", at: keyToken) }
            var value = ""
            if atPunct("(") {
                _ = advance()
                value = try stringLiteral("a string (the annotation's value)")
                try expect(")")
            }
            annotations.append((key, value))
        }
        let start = peek
        let effectName = try identifier("`permit` or `forbid`")
        guard let effect = Effect(rawValue: effectName) else { throw error("expected `permit` or `forbid`, found `\(effectName)`", at: start) }
        try expect("(")
        try expectKeyword("principal")
        let principal = try scopeConstraint(variable: "principal")
        try expect(",", "`,` after the principal constraint")
        try expectKeyword("action")
        let action = try actionConstraint()
        try expect(",", "`,` after the action constraint")
        try expectKeyword("resource")
        let resource = try scopeConstraint(variable: "resource")
        if atPunct(",") { _ = advance() }  // Cedar accepts a trailing comma after the resource
        try expect(")", "`)` closing the scope")
        var conditions: [Condition] = []
        while atIdentifier("when") || atIdentifier("unless") {
            let isWhen = advance().kind == .identifier("when")
            try expect("{")
            if atPunct("}") { throw error("a `\(isWhen ? "when" : "unless")` clause needs a condition") }
            conditions.append(Condition(isWhen: isWhen, body: try expression()))
            try expect("}", "`}` closing the condition")
        }
        try expect(";", "`;` ending the policy (or `when`/`unless`)")
        return Policy(
            id: id, effect: effect, annotations: annotations, principal: principal, action: action, resource: resource,
            conditions: conditions, location: start.location)
    }

    mutating func scopeConstraint(variable: String) throws(CedarParseError) -> ScopeConstraint {
        if atPunct("==") {
            _ = advance()
            return .equal(try entityReference())
        }
        if atIdentifier("in") {
            _ = advance()
            return .in(try entityReference())
        }
        if atIdentifier("is") {
            _ = advance()
            let type = try path()
            if atIdentifier("in") {
                _ = advance()
                return .isIn(type, try entityReference())
            }
            return .is(type)
        }
        return .any
    }

    mutating func actionConstraint() throws(CedarParseError) -> ActionConstraint {
        if atPunct("==") {
            _ = advance()
            return .equal(try entityReference())
        }
        if atIdentifier("in") {
            _ = advance()
            if atPunct("[") {
                _ = advance()
                var list: [EntityUID] = []
                while !atPunct("]") {
                    list.append(try entityReference())
                    if atPunct(",") { _ = advance() } else { break }
                }
                try expect("]")
                return .in(list)
            }
            return .in([try entityReference()])
        }
        if atIdentifier("is") { throw error("`is` is not allowed in the action constraint") }
        return .any
    }

    /// `Path::"id"` in a scope (template slots such as `?principal` are not supported).
    mutating func entityReference() throws(CedarParseError) -> EntityUID {
        if atPunct("?") { throw error("template slots (`?principal`, `?resource`) are not supported") }
        var parts = [try identifier("an entity type")]
        while atPunct("::") {
            _ = advance()
            if case .string = peek.kind {
                return EntityUID(type: parts.joined(separator: "::"), id: try stringLiteral("an entity id"))
            }
            parts.append(try identifier("an entity type or id"))
        }
        throw error("expected `::\"id\"` after the entity type `\(parts.joined(separator: "::"))`")
    }

    /// `A::B::C` (a type name).
    mutating func path() throws(CedarParseError) -> String {
        var parts = [try identifier("a type name")]
        while atPunct("::") {
            _ = advance()
            parts.append(try identifier("a type name"))
        }
        return parts.joined(separator: "::")
    }

    // MARK: Expressions

    /// An expression and the depth of its tree, which bounds the evaluator's recursion.
    struct Node {
        var expr: Expr
        var depth: Int
    }

    /// The deepest expression tree accepted (long `&&` chains count one level per operand).
    public static let maximumTreeDepth = 1000

    mutating func node(_ expr: Expr, _ children: Node...) throws(CedarParseError) -> Node {
        try node(expr, children)
    }

    mutating func nested<T>(_ body: (inout CedarParser) throws(CedarParseError) -> T) throws(CedarParseError) -> T {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maximumDepth { throw error("expression nested deeper than \(Self.maximumDepth) levels") }
        return try body(&self)
    }

    mutating func expression() throws(CedarParseError) -> Expr { try expressionNode().expr }

    mutating func expressionNode() throws(CedarParseError) -> Node {
        try nested { (p: inout CedarParser) throws(CedarParseError) -> Node in
            if p.atIdentifier("if") {
                _ = p.advance()
                let condition = try p.expressionNode()
                try p.expectKeyword("then")
                let then = try p.expressionNode()
                try p.expectKeyword("else")
                let otherwise = try p.expressionNode()
                return try p.node(.ifThenElse(condition.expr, then.expr, otherwise.expr), condition, then, otherwise)
            }
            return try p.or()
        }
    }

    mutating func or() throws(CedarParseError) -> Node {
        var e = try and()
        while atPunct("||") {
            _ = advance()
            let rhs = try and()
            e = try node(.or(e.expr, rhs.expr), e, rhs)
        }
        return e
    }

    mutating func and() throws(CedarParseError) -> Node {
        var e = try relation()
        while atPunct("&&") {
            _ = advance()
            let rhs = try relation()
            e = try node(.and(e.expr, rhs.expr), e, rhs)
        }
        return e
    }

    static let relationOperators: [String: BinaryOperator] = [
        "==": .equal, "!=": .notEqual, "<": .less, "<=": .lessEqual, ">": .greater, ">=": .greaterEqual,
    ]

    func atRelation() -> Bool {
        if case .punct(let p) = peek.kind, Self.relationOperators[p] != nil { return true }
        return atIdentifier("in") || atIdentifier("has") || atIdentifier("like") || atIdentifier("is")
    }

    mutating func relation() throws(CedarParseError) -> Node {
        let lhs = try add()
        guard atRelation() else { return lhs }
        let opToken = advance()
        let result: Node
        switch opToken.kind {
        case .punct(let p):
            let rhs = try add()
            result = try node(.binary(Self.relationOperators[p]!, lhs.expr, rhs.expr), lhs, rhs)
        case .identifier("in"):
            let rhs = try add()
            result = try node(.binary(.in, lhs.expr, rhs.expr), lhs, rhs)
        case .identifier("has"):
            var names: [String] = []
            if case .string = peek.kind {
                names.append(try stringLiteral("an attribute name"))
            } else {
                names.append(try identifier("an attribute name after `has`"))
                while atPunct("."), case .identifier = tokens[index + 1].kind {
                    _ = advance()
                    names.append(try identifier("an attribute name"))
                }
            }
            result = try node(.has(lhs.expr, names), lhs)
        case .identifier("like"):
            let t = peek
            guard case .string(let raw) = t.kind else { throw error("expected a pattern string after `like`, found \(t.text)") }
            _ = advance()
            guard let pattern = Lexer.unescape(raw, pattern: true) else { throw error("invalid escape sequence in pattern", at: t) }
            result = try node(.like(lhs.expr, pattern), lhs)
        case .identifier("is"):
            let type = try path()
            if atIdentifier("in") {
                _ = advance()
                let rhs = try add()
                result = try node(.isType(lhs.expr, type, in: rhs.expr), lhs, rhs)
            } else {
                result = try node(.isType(lhs.expr, type, in: nil), lhs)
            }
        default:
            throw error("unexpected \(opToken.text)", at: opToken)
        }
        if atRelation() { throw error("relations cannot be chained: use parentheses (found \(peek.text))") }
        return result
    }

    mutating func add() throws(CedarParseError) -> Node {
        var e = try multiply()
        while atPunct("+") || atPunct("-") {
            let op: BinaryOperator = advance().kind == .punct("+") ? .add : .subtract
            let rhs = try multiply()
            e = try node(.binary(op, e.expr, rhs.expr), e, rhs)
        }
        return e
    }

    mutating func multiply() throws(CedarParseError) -> Node {
        var e = try unary()
        while atPunct("*") {
            _ = advance()
            let rhs = try unary()
            e = try node(.binary(.multiply, e.expr, rhs.expr), e, rhs)
        }
        return e
    }

    mutating func unary() throws(CedarParseError) -> Node {
        var ops: [String] = []
        while atPunct("!") || atPunct("-") {
            if case .punct(let p) = advance().kind { ops.append(p) }
        }
        if ops.count > 4 { throw error("more than four unary operators in a row") }
        var e: Node
        // `-` directly before an integer literal is part of the literal, so -9223372036854775808 is a Long.
        if ops.last == "-", case .integer(let digits) = peek.kind {
            let t = advance()
            guard let v = Int64("-" + digits) else { throw error("integer literal `-\(digits)` is out of range", at: t) }
            ops.removeLast()
            e = try accessors(Node(expr: .literal(.long(v)), depth: 1))
        } else {
            e = try member()
        }
        for op in ops.reversed() { e = try node(op == "!" ? .not(e.expr) : .negate(e.expr), e) }
        return e
    }

    mutating func member() throws(CedarParseError) -> Node {
        try accessors(try primary())
    }

    mutating func accessors(_ base: Node) throws(CedarParseError) -> Node {
        var e = base
        while true {
            if atPunct(".") {
                _ = advance()
                let nameToken = peek
                let name = try identifier("an attribute or method name after `.`")
                if atPunct("(") {
                    _ = advance()
                    let args = try expressionList(closing: ")")
                    guard let method = CedarMethod(rawValue: name) else { throw error("unknown method `\(name)`", at: nameToken) }
                    // Cedar checks the arity of its built-in methods when parsing; an extension method's
                    // wrong arity is an evaluation error.
                    if method.isBuiltIn, args.count != method.arity {
                        throw error("`\(name)` takes \(method.arity) argument\(method.arity == 1 ? "" : "s"), got \(args.count)", at: nameToken)
                    }
                    e = try node(.method(e.expr, method, args.map(\.expr)), [e] + args)
                } else {
                    e = try node(.attribute(e.expr, name), e)
                }
            } else if atPunct("[") {
                _ = advance()
                let name = try stringLiteral("a string attribute name inside `[ ]`")
                try expect("]")
                e = try node(.attribute(e.expr, name), e)
            } else {
                return e
            }
        }
    }

    mutating func node(_ expr: Expr, _ children: [Node]) throws(CedarParseError) -> Node {
        let d = (children.map(\.depth).max() ?? 0) + 1
        if d > Self.maximumTreeDepth { throw error("expression deeper than \(Self.maximumTreeDepth) levels") }
        return Node(expr: expr, depth: d)
    }

    mutating func expressionList(closing: String) throws(CedarParseError) -> [Node] {
        var list: [Node] = []
        while !atPunct(closing) {
            list.append(try expressionNode())
            if atPunct(",") { _ = advance() } else { break }
        }
        try expect(closing)
        return list
    }

    mutating func primary() throws(CedarParseError) -> Node {
        let t = peek
        switch t.kind {
        case .integer(let digits):
            _ = advance()
            guard let v = Int64(digits) else { throw error("integer literal `\(digits)` is out of range", at: t) }
            return Node(expr: .literal(.long(v)), depth: 1)
        case .string:
            return Node(expr: .literal(.string(try stringLiteral("a string"))), depth: 1)
        case .punct("("):
            _ = advance()
            let e = try expressionNode()
            try expect(")")
            return e
        case .punct("["):
            _ = advance()
            return try nested { (p: inout CedarParser) throws(CedarParseError) -> Node in
                let items = try p.expressionList(closing: "]")
                return try p.node(.set(items.map(\.expr)), items)
            }
        case .punct("{"):
            _ = advance()
            return try nested { (p: inout CedarParser) throws(CedarParseError) -> Node in try p.recordLiteral() }
        case .punct("?"):
            throw error("template slots (`?principal`, `?resource`) are not supported")
        case .identifier(let name):
            switch name {
            case "true":
                _ = advance()
                return Node(expr: .literal(.bool(true)), depth: 1)
            case "false":
                _ = advance()
                return Node(expr: .literal(.bool(false)), depth: 1)
            case "principal", "action", "resource", "context":
                _ = advance()
                return Node(expr: .variable(Variable(rawValue: name)!), depth: 1)
            default:
                break
            }
            if Self.reserved.contains(name) { throw error("unexpected keyword `\(name)`") }
            var parts = [try identifier("a name")]
            while atPunct("::") {
                _ = advance()
                if case .string = peek.kind {
                    let id = try stringLiteral("an entity id")
                    return Node(expr: .literal(.entity(EntityUID(type: parts.joined(separator: "::"), id: id))), depth: 1)
                }
                parts.append(try identifier("a name or entity id after `::`"))
            }
            let name = parts.joined(separator: "::")
            if atPunct("(") {
                _ = advance()
                let args = try expressionList(closing: ")")
                let bare = name.hasPrefix("__cedar::") ? String(name.dropFirst("__cedar::".count)) : name
                guard let function = CedarFunction(rawValue: bare) else { throw error("unknown function `\(name)`", at: t) }
                return try node(.call(function, args.map(\.expr)), args)
            }
            throw error("unknown variable `\(name)` (variables are principal, action, resource and context)", at: t)
        default:
            throw error("expected an expression, found \(t.text)")
        }
    }

    mutating func recordLiteral() throws(CedarParseError) -> Node {
        var fields: [(String, Expr)] = []
        var children: [Node] = []
        while !atPunct("}") {
            let keyToken = peek
            let key: String
            if case .string = peek.kind {
                key = try stringLiteral("a record key")
            } else {
                key = try identifier("a record key")
            }
            if fields.contains(where: { $0.0 == key }) { throw error("duplicate key `\(key)` in record literal", at: keyToken) }
            try expect(":", "`:` after the record key")
            let value = try expressionNode()
            fields.append((key, value.expr))
            children.append(value)
            if atPunct(",") { _ = advance() } else { break }
        }
        try expect("}")
        return try node(.record(fields), children)
    }
}
