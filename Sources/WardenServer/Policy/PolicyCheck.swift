import Cedar
import Foundation
import Logging
import WardenCore

/// Warden's entity model for policies (documented in docs/policies.md):
/// - principal `Warden::Key::"<key id>"` (static keys: `static:<name>`), attributes `name`, `tags`
///   (set of strings), `metadata` (record of strings), `team` (the team entity); parent its team;
/// - `Warden::Team::"<team>"` with `name`, `tags`, `metadata`;
/// - action `Warden::Action::"chat"`, `"embed"`, `"batch"`, `"tool:<name>"`;
/// - resource `Warden::Model::"<model>"` with `name`, `tier`, `region` (when configured), `self_hosted`,
///   `tags`, `providers` (its deployments' provider names) and the free-form `attributes`;
/// - context `estimated_tokens`, `max_tokens` (when set), `stream`, `client_ip` (when known), `time`.
public enum PolicyEntities {
    static func strings(_ list: [String]) -> CedarValue { .set(Set(list.map { .string($0) })) }

    static func record(_ map: [String: String]) -> CedarValue { .record(map.mapValues { .string($0) }) }

    public static func teamUID(_ team: String) -> EntityUID { EntityUID(type: "Warden::Team", id: team) }

    public static func keyUID(_ keyID: String) -> EntityUID { EntityUID(type: "Warden::Key", id: keyID) }

    public static func modelUID(_ model: String) -> EntityUID { EntityUID(type: "Warden::Model", id: model) }

    public static func action(_ name: String) -> EntityUID { EntityUID(type: "Warden::Action", id: name) }

    public static func key(_ principal: Principal) -> Entity {
        Entity(
            uid: keyUID(principal.keyID),
            attributes: [
                "name": .string(principal.keyName), "tags": strings(principal.tags), "metadata": record(principal.metadata),
                "team": .entity(teamUID(principal.team)),
            ],
            parents: [teamUID(principal.team)])
    }

    public static func team(_ name: String, record: TeamRecord?) -> Entity {
        Entity(
            uid: teamUID(name),
            attributes: ["name": .string(name), "tags": strings(record?.tags ?? []), "metadata": self.record(record?.metadata ?? [:])])
    }

    public static func model(_ name: String, _ config: ModelConfiguration) -> Entity {
        var attributes: [String: CedarValue] = [
            "name": .string(name), "self_hosted": .bool(config.selfHosted), "tags": strings(config.tags),
            "providers": strings(config.deployments.map(\.provider)),
        ]
        if let tier = config.tier { attributes["tier"] = .string(tier) }
        if let region = config.region { attributes["region"] = .string(region) }
        for (k, v) in config.attributes { attributes[k] = value(v) }
        return Entity(uid: modelUID(name), attributes: attributes)
    }

    package static func value(_ a: ConfigAttribute) -> CedarValue {
        switch a {
        case .bool(let b): .bool(b)
        case .integer(let i): .long(i)
        case .string(let s): .string(s)
        case .list(let l): .set(Set(l.map(value)))
        case .map(let m): .record(m.mapValues(value))
        }
    }

    /// The request context policies see.
    public static func context(estimatedTokens: Int, maxTokens: Int?, stream: Bool, clientIP: String?, now: Int64) -> [String: CedarValue] {
        var context: [String: CedarValue] = [
            "estimated_tokens": .long(Int64(estimatedTokens)), "stream": .bool(stream),
            "time": .datetime(CedarDatetime(milliseconds: now)),
        ]
        if let maxTokens { context["max_tokens"] = .long(Int64(maxTokens)) }
        if let clientIP, let ip = IPAddress(parsing: clientIP) { context["client_ip"] = .ip(ip) }
        return context
    }
}

/// What the policy stage decided for a request, for the audit record and the log.
public struct PolicyTrace: Sendable {
    public var decision: PolicyDecision
    /// Fallback models the policies deny, skipped by the route.
    public var skipped: [String]
}

/// The request-time check shared by every endpoint: authorizes the model and every model it may fall
/// back to. A denied primary model is a 403 (`policy_denied`, naming the determining forbid policies);
/// denied fallbacks are skipped. In shadow mode nothing is enforced, but everything is recorded.
struct PolicyCheck {
    let engine: PolicyEngine
    let identity: IdentityCache

    struct Input {
        var action: String
        var model: String
        var estimatedTokens: Int
        var maxTokens: Int?
        var stream: Bool
        var clientIP: String?
        /// PII the guardrails found (nil when no PII detector ran).
        var piiTypes: Set<String>? = nil
    }

    /// The request's entities, from what the identity snapshot and the runtime built ahead. Their uids
    /// are distinct by construction; if they ever could not form a store, nothing is authorized (an
    /// empty store would let policies that never look at entities decide without them).
    func entities(principal: Principal, models: [String], runtime: GatewayRuntime) throws(GatewayError) -> EntityStore {
        do {
            return try EntityStore(entityList(principal: principal, models: models, runtime: runtime))
        } catch {
            throw GatewayError.policyDenied(
                "Denied by policy: the entities for this request could not be built (\(error.message)), so it cannot be authorized.")
        }
    }

    func entityList(principal: Principal, models: [String], runtime: GatewayRuntime) -> [Entity] {
        let snapshot = identity.snapshot
        var list = [
            snapshot.authenticator.entity(forKeyID: principal.keyID) ?? PolicyEntities.key(principal),
            snapshot.teamEntities[principal.team] ?? PolicyEntities.team(principal.team, record: nil),
        ]
        for name in models {
            if let entity = runtime.policyModels[name] { list.append(entity) }
        }
        return list
    }

    /// Whether `principal` may use `model` for `action` (for listing models); true without policies.
    func permits(principal: Principal, action: String, model: String, runtime: GatewayRuntime) -> Bool {
        guard engine.isActive, runtime.models[model] != nil else { return true }
        let request = CedarRequest(
            principal: PolicyEntities.keyUID(principal.keyID), action: PolicyEntities.action(action),
            resource: PolicyEntities.modelUID(model),
            context: PolicyEntities.context(estimatedTokens: 0, maxTokens: nil, stream: false, clientIP: nil, now: WallClock.unixMilliseconds()))
        guard let store = try? entities(principal: principal, models: [model], runtime: runtime) else { return false }
        guard let decision = engine.authorize(request, entities: store) else { return true }
        return decision.allowed || !decision.enforced
    }

    func check(_ input: Input, principal: Principal, runtime: GatewayRuntime, record: RequestRecord, logger: Logger) throws(GatewayError) {
        guard engine.isActive, let primary = runtime.models[input.model] else { return }
        var reachable = [input.model]
        for name in primary.config.fallbacks + primary.config.contextFallbacks where !reachable.contains(name) && runtime.models[name] != nil {
            reachable.append(name)
        }
        let store = try entities(principal: principal, models: reachable, runtime: runtime)
        var context = PolicyEntities.context(
            estimatedTokens: input.estimatedTokens, maxTokens: input.maxTokens, stream: input.stream, clientIP: input.clientIP,
            now: WallClock.unixMilliseconds())
        if let pii = input.piiTypes {
            context["pii"] = .bool(!pii.isEmpty)
            context["pii_types"] = .set(Set(pii.map { .string($0) }))
        }
        func decide(_ model: String) -> PolicyDecision? {
            engine.authorize(
                CedarRequest(
                    principal: PolicyEntities.keyUID(principal.keyID), action: PolicyEntities.action(input.action),
                    resource: PolicyEntities.modelUID(model), context: context),
                entities: store)
        }
        guard let decision = decide(input.model) else { return }
        var skipped: [String] = []
        for fallback in reachable.dropFirst() {
            if let d = decide(fallback), !d.allowed { skipped.append(fallback) }
        }
        record.updateState {
            $0.policy = PolicyTrace(decision: decision, skipped: skipped)
            if decision.enforced { $0.deniedModels = Set(skipped) }
        }
        if !decision.errors.isEmpty {
            logger.warning("policies failed to evaluate and were skipped", metadata: ["warden.policy.errors": "\(decision.errors)"])
        }
        guard !decision.allowed else { return }
        let reason =
            decision.determining.isEmpty
            ? "no permit policy matched" : "forbidden by \(decision.determining.map { "`\($0)`" }.joined(separator: ", "))"
        guard decision.enforced else {
            logger.notice(
                "policy would deny (shadow mode)",
                metadata: ["warden.policy.reason": "\(reason)", "warden.model": "\(input.model)", "warden.action": "\(input.action)"])
            return
        }
        throw GatewayError.policyDenied(
            "Denied by policy: the key may not \(input.action) with the model '\(input.model)' (\(reason)).")
    }
}

/// The client's address: the peer, or, behind `trusted_proxies`, the first `X-Forwarded-For` hop from
/// the right that is not a trusted proxy.
public struct ClientAddress: Sendable {
    let trusted: [IPAddress]

    public init(trustedProxies: [String]) throws(ConfigurationError) {
        var out: [IPAddress] = []
        for (i, text) in trustedProxies.enumerated() {
            guard let ip = IPAddress(parsing: text) else {
                throw ConfigurationError(key: "trusted_proxies[\(i)]", "expected an IP address or a CIDR range, got '\(text)'")
            }
            out.append(ip)
        }
        trusted = out
    }

    func isTrusted(_ address: String) -> Bool {
        guard let ip = IPAddress(parsing: address) else { return false }
        return trusted.contains { ip.isInRange($0) }
    }

    public func resolve(peer: String?, forwardedFor: String?) -> String? {
        guard let peer else { return nil }
        guard !trusted.isEmpty, isTrusted(peer), let forwardedFor else { return peer }
        let hops = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for hop in hops.reversed() where !isTrusted(hop) {
            return IPAddress(parsing: hop) != nil ? hop : peer
        }
        return hops.first ?? peer
    }
}
