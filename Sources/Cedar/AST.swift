/// The request variables.
public enum Variable: String, Sendable {
    case principal, action, resource, context
}

public enum BinaryOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case `in`, add = "+", subtract = "-", multiply = "*"
}

/// The extension functions and the methods Cedar knows, with their arities (checked at parse time).
public enum CedarFunction: String, Sendable {
    case decimal, ip, datetime, duration

    static let arity = 1
}

public enum CedarMethod: String, Sendable, CaseIterable {
    case contains, containsAll, containsAny, isEmpty, hasTag, getTag
    case lessThan, lessThanOrEqual, greaterThan, greaterThanOrEqual
    case isIpv4, isIpv6, isLoopback, isMulticast, isInRange
    case offset, durationSince, toDate, toTime
    case toMilliseconds, toSeconds, toMinutes, toHours, toDays

    /// Methods of the language itself (sets and tags), as opposed to extension methods.
    var isBuiltIn: Bool {
        switch self {
        case .contains, .containsAll, .containsAny, .isEmpty, .hasTag, .getTag: true
        default: false
        }
    }

    var arity: Int {
        switch self {
        case .isEmpty, .isIpv4, .isIpv6, .isLoopback, .isMulticast, .toDate, .toTime, .toMilliseconds, .toSeconds, .toMinutes,
            .toHours, .toDays:
            0
        default: 1
        }
    }
}

/// A Cedar expression.
public indirect enum Expr: Sendable {
    case literal(CedarValue)
    case variable(Variable)
    case not(Expr)
    case negate(Expr)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case ifThenElse(Expr, Expr, Expr)
    case binary(BinaryOperator, Expr, Expr)
    /// `e has a.b.c`: the path of attribute names.
    case has(Expr, [String])
    case like(Expr, [PatternElement])
    case isType(Expr, String, in: Expr?)
    case attribute(Expr, String)
    case method(Expr, CedarMethod, [Expr])
    case call(CedarFunction, [Expr])
    case set([Expr])
    case record([(String, Expr)])
}

/// The constraint a policy's scope puts on the principal or the resource.
public enum ScopeConstraint: Sendable {
    case any
    case equal(EntityUID)
    case `in`(EntityUID)
    case `is`(String)
    case isIn(String, EntityUID)
}

/// The constraint on the action.
public enum ActionConstraint: Sendable {
    case any
    case equal(EntityUID)
    /// `action in E` or `action in [E1, E2]`.
    case `in`([EntityUID])
}

public enum Effect: String, Sendable {
    case permit, forbid
}

public struct Condition: Sendable {
    /// `when` (true) or `unless` (false).
    public var isWhen: Bool
    public var body: Expr
}

/// One policy: its positional id (`policy0`, …), annotations, effect, scope and conditions.
public struct Policy: Sendable {
    public var id: String
    public var effect: Effect
    public var annotations: [(key: String, value: String)]
    public var principal: ScopeConstraint
    public var action: ActionConstraint
    public var resource: ScopeConstraint
    public var conditions: [Condition]
    public var location: SourceLocation

    public func annotation(_ key: String) -> String? { annotations.first { $0.key == key }?.value }
}
