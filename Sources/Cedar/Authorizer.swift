/// A set of policies, in order, indexed by the entities their scopes name so that a request only looks
/// at the policies that can apply to it.
public struct PolicySet: Sendable {
    public let policies: [Policy]
    /// The same policies behind references, so the hot loop retains one pointer instead of copying each
    /// policy's fields.
    let boxes: [PolicyBox]
    let principals: ScopeIndex
    let actions: ScopeIndex
    let resources: ScopeIndex

    public init(_ policies: [Policy] = []) {
        self.policies = policies
        boxes = policies.map(PolicyBox.init)
        principals = ScopeIndex(policies.map { Self.uids($0.principal) })
        actions = ScopeIndex(
            policies.map { p in
                switch p.action {
                case .any: nil
                case .equal(let uid): [uid]
                case .in(let list): list
                }
            })
        resources = ScopeIndex(policies.map { Self.uids($0.resource) })
    }

    /// Parses policy text; ids are `policy0`, `policy1`, … in file order.
    public init(text: String, file: String? = nil) throws(CedarParseError) {
        self.init(try CedarParser.parsePolicies(text, file: file))
    }

    static func uids(_ c: ScopeConstraint) -> [EntityUID]? {
        switch c {
        case .any, .is: nil
        case .equal(let uid), .in(let uid), .isIn(_, let uid): [uid]
        }
    }

    /// The policies whose scope can match the request: the entities each scope names must be the
    /// request's entity or one of its ancestors. A candidate's scope is still checked in full.
    func candidates(_ request: CedarRequest, _ entities: EntityStore) -> [Int] {
        var mask = principals.mask(for: entities.selfAndAncestors(request.principal), count: policies.count)
        actions.intersect(&mask, with: entities.selfAndAncestors(request.action))
        resources.intersect(&mask, with: entities.selfAndAncestors(request.resource))
        var out: [Int] = []
        for (w, word) in mask.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                let b = bits.trailingZeroBitCount
                out.append(w * 64 + b)
                bits &= bits - 1
            }
        }
        return out
    }
}

final class PolicyBox: Sendable {
    let id: String
    let effect: Effect
    let principal: ScopeConstraint
    let action: ActionConstraint
    let resource: ScopeConstraint
    let conditions: [Condition]
    let compiled: [CompiledCondition]

    init(_ policy: Policy) {
        compiled = policy.conditions.map { CompiledCondition(isWhen: $0.isWhen, body: Compiler.compile($0.body)) }
        id = policy.id
        effect = policy.effect
        principal = policy.principal
        action = policy.action
        resource = policy.resource
        conditions = policy.conditions
    }
}

/// For one scope position: the policies that name no entity there, and the policies by named entity.
struct ScopeIndex: Sendable {
    var unconstrained: [UInt64]
    var byUID: [EntityUID: [Int]]

    init(_ named: [[EntityUID]?]) {
        unconstrained = Array(repeating: 0, count: (named.count + 63) / 64)
        byUID = [:]
        for (i, uids) in named.enumerated() {
            guard let uids else {
                unconstrained[i / 64] |= 1 << UInt64(i % 64)
                continue
            }
            for uid in uids { byUID[uid, default: []].append(i) }
        }
    }

    func mask(for reachable: [EntityUID], count: Int) -> [UInt64] {
        var mask = unconstrained
        for uid in reachable {
            for i in byUID[uid] ?? [] { mask[i / 64] |= 1 << UInt64(i % 64) }
        }
        return mask
    }

    func intersect(_ mask: inout [UInt64], with reachable: [EntityUID]) {
        var mine = unconstrained
        for uid in reachable {
            for i in byUID[uid] ?? [] { mine[i / 64] |= 1 << UInt64(i % 64) }
        }
        for w in mask.indices { mask[w] &= mine[w] }
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
        for index in policies.candidates(request, entities) {
            let box = policies.boxes[index]
            do {
                if try satisfied(box, evaluator) {
                    if box.effect == .permit { permits.append(box.id) } else { forbids.append(box.id) }
                }
            } catch {
                errors.append((box.id, error.message))
            }
        }
        if !forbids.isEmpty { return AuthorizationResponse(decision: .deny, reasons: forbids, errors: errors) }
        if !permits.isEmpty { return AuthorizationResponse(decision: .allow, reasons: permits, errors: errors) }
        return AuthorizationResponse(decision: .deny, reasons: [], errors: errors)
    }

    /// Whether the policy's scope matches and every condition holds.
    public static func satisfied(_ policy: Policy, _ evaluator: Evaluator) throws(EvaluationError) -> Bool {
        try satisfied(PolicyBox(policy), evaluator)
    }

    static func satisfied(_ policy: PolicyBox, _ evaluator: Evaluator) throws(EvaluationError) -> Bool {
        let request = evaluator.request
        let entities = evaluator.entities
        guard scopeMatches(policy.principal, request.principal, entities), scopeMatches(policy.resource, request.resource, entities)
        else { return false }
        switch policy.action {
        case .any: break
        case .equal(let uid): guard request.action == uid else { return false }
        case .in(let list): guard list.contains(where: { entities.isDescendant(request.action, of: $0) }) else { return false }
        }
        for condition in policy.compiled {
            let value = try condition.body(evaluator)
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
