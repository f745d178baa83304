import Cedar
import Foundation
import WardenCore
import WardenServer

/// `warden policy bench`: authorizations per second over a gateway-shaped workload.
public enum PolicyBench {
    public struct Result: Sendable {
        public var lines: [String]
        public var medianMicroseconds: Double
    }

    /// N policies in four shapes a gateway's policy repository has: team permits with attribute
    /// conditions, region/context forbids with exceptions, per-model permits with time and stream
    /// conditions, and typed forbids on metadata.
    static func policies(_ n: Int) -> String {
        var text = ""
        for i in 0..<n {
            let team = "team\(i % 50)"
            switch i % 4 {
            case 0:
                text += """
                    @id("p\(i)")
                    permit (principal in Warden::Team::"\(team)", action == Warden::Action::"chat", resource)
                    when { resource.tier == "standard" || principal.tags.contains("t\(i % 20)") };

                    """
            case 1:
                text += """
                    @id("p\(i)")
                    forbid (principal, action, resource)
                    when { resource has region && resource.region == "r\(i % 7)" && context.estimated_tokens > \(1000 + i * 10) }
                    unless { principal in Warden::Team::"\(team)" };

                    """
            case 2:
                text += """
                    @id("p\(i)")
                    permit (principal, action in [Warden::Action::"chat", Warden::Action::"embed"], resource == Warden::Model::"model\(i % 40)")
                    when { context.time > datetime("2026-01-01") && !context.stream };

                    """
            default:
                text += """
                    @id("p\(i)")
                    forbid (principal is Warden::Key in Warden::Team::"\(team)", action, resource)
                    when { resource.self_hosted == false && principal.metadata has "cc\(i % 9)" && resource.tags.contains("restricted") };

                    """
            }
        }
        return text
    }

    public static func run(policies n: Int, requests: Int, rounds: Int) -> Result {
        let set: PolicySet
        do {
            set = try PolicySet(text: policies(n))
        } catch {
            return Result(lines: ["generated policies do not parse: \(error)"], medianMicroseconds: .nan)
        }
        // 500 keys in 50 teams, 40 models with gateway attributes.
        let principals = (0..<500).map { k in
            Principal(
                keyID: "key_\(k)", keyName: "agent-\(k)", team: "team\(k % 50)", tags: ["t\(k % 20)", "ci"],
                metadata: k % 3 == 0 ? ["cc\(k % 9)": "finance"] : [:])
        }
        let teams = (0..<50).map { t in TeamRecord(id: "team\(t)", name: "team\(t)", tags: ["tier-\(t % 3)"], createdAt: 0, updatedAt: 0) }
        let models: [(String, ModelConfiguration)] = (0..<40).map { m in
            var config = ModelConfiguration(deployments: [DeploymentConfiguration(provider: "p\(m % 4)", model: "upstream-\(m)")])
            config.tier = m % 5 == 0 ? "frontier" : "standard"
            config.region = "r\(m % 7)"
            config.selfHosted = m % 6 == 0
            config.tags = m % 4 == 0 ? ["restricted"] : []
            config.attributes = [("context_window", .integer(Int64(8192 << (m % 4))))]
            return ("model\(m)", config)
        }
        // As in the gateway, entities are built once (per identity snapshot and configuration).
        let keyEntities = principals.map(PolicyEntities.key)
        let teamEntities = teams.map { PolicyEntities.team($0.name, record: $0) }
        let modelEntities = models.map { PolicyEntities.model($0.0, $0.1) }
        var timings: [Double] = []
        var allowed = 0
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            for r in 0..<requests {
                let k = r % principals.count
                let principal = principals[k]
                let m = (r * 7) % models.count
                let name = models[m].0
                // What the gateway does per request: the request's entities and context, then the authorizer.
                let store = (try? EntityStore([keyEntities[k], teamEntities[k % 50], modelEntities[m]])) ?? .empty
                let request = CedarRequest(
                    principal: PolicyEntities.keyUID(principal.keyID), action: PolicyEntities.action("chat"),
                    resource: PolicyEntities.modelUID(name),
                    context: PolicyEntities.context(
                        estimatedTokens: 200 + r % 3000, maxTokens: 512, stream: r % 2 == 0, clientIP: "10.0.0.1",
                        now: 1_790_000_000_000))
                if Authorizer.isAuthorized(request, policies: set, entities: store).decision == .allow { allowed += 1 }
            }
            timings.append((ContinuousClock.now - start).seconds * 1e6 / Double(requests))
        }
        timings.sort()
        let median = timings[timings.count / 2]
        return Result(
            lines: [
                "policies: \(n), keys: 500 in 50 teams, models: 40, requests per round: \(requests), rounds: \(rounds)",
                "allowed: \(allowed / rounds) of \(requests) per round",
                "µs per authorization, by round (sorted): " + timings.map { String(format: "%.2f", $0) }.joined(separator: " "),
            ],
            medianMicroseconds: median)
    }
}
