/// A set of policies, in order (ids are positional unless the caller names them).
public struct PolicySet: Sendable {
    public var policies: [Policy]

    public init(_ policies: [Policy] = []) { self.policies = policies }

    /// Parses policy text; ids are `policy0`, `policy1`, … in file order.
    public init(text: String, file: String? = nil) throws(CedarParseError) {
        policies = try CedarParser.parsePolicies(text, file: file)
    }
}

public enum Decision: String, Sendable {
    case allow, deny
}

/// What the authorizer decided and why.
public struct AuthorizationResponse: Sendable {
    public var decision: Decision
    /// The policies that determined the decision: the satisfied forbids on deny, the satisfied permits on allow.
    public var reasons: [String]
    /// The policies whose evaluation failed (skipped), with why.
    public var errors: [(policy: String, message: String)]
}

/// Cedar's authorization: default deny, forbid overrides permit, erroring policies are skipped.
public enum Authorizer {
    public static func isAuthorized(_ request: CedarRequest, policies: PolicySet, entities: EntityStore) -> AuthorizationResponse {
        let evaluator = Evaluator(request: request, entities: entities)
        var permits: [String] = []
        var forbids: [String] = []
        var errors: [(String, String)] = []
        for policy in policies.policies {
            do {
                if try satisfied(policy, evaluator) {
                    if policy.effect == .permit { permits.append(policy.id) } else { forbids.append(policy.id) }
                }
            } catch {
                errors.append((policy.id, error.message))
            }
        }
        if !forbids.isEmpty { return AuthorizationResponse(decision: .deny, reasons: forbids, errors: errors) }
        if !permits.isEmpty { return AuthorizationResponse(decision: .allow, reasons: permits, errors: errors) }
        return AuthorizationResponse(decision: .deny, reasons: [], errors: errors)
    }

    /// Whether the policy's scope matches and every condition holds.
    public static func satisfied(_ policy: Policy, _ evaluator: Evaluator) throws(EvaluationError) -> Bool {
        let request = evaluator.request
        let entities = evaluator.entities
        guard scopeMatches(policy.principal, request.principal, entities), scopeMatches(policy.resource, request.resource, entities)
        else { return false }
        switch policy.action {
        case .any: break
        case .equal(let uid): guard request.action == uid else { return false }
        case .in(let list): guard list.contains(where: { entities.isDescendant(request.action, of: $0) }) else { return false }
        }
        for condition in policy.conditions {
            let value = try evaluator.eval(condition.body)
            guard case .bool(let b) = value else { throw Evaluator.typeError("bool", value) }
            if b != condition.isWhen { return false }
        }
        return true
    }

    static func scopeMatches(_ constraint: ScopeConstraint, _ uid: EntityUID, _ entities: EntityStore) -> Bool {
        switch constraint {
        case .any: true
        case .equal(let e): uid == e
        case .in(let e): entities.isDescendant(uid, of: e)
        case .is(let type): uid.type == type
        case .isIn(let type, let e): uid.type == type && entities.isDescendant(uid, of: e)
        }
    }
}
