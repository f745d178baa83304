import Logging
import Synchronization
import WardenCore
import WardenProviders

/// Deep readiness: the store answers, and every `required` model has a deployment whose provider
/// answers a real probe and whose circuit is not open. Probe results are cached for `health.cache_ttl`,
/// so frequent readiness checks cost the upstreams little.
public final class Readiness: Sendable {
    private let draining = Atomic<Bool>(false)
    private let probes = Mutex<[String: (result: ProbeResult, at: ContinuousClock.Instant)]>([:])
    let store: any KeyStore
    let storeDescription: String
    /// Records waiting for the store (usage, audit) and their limit; nil in setups without writers.
    let backlog: (@Sendable () -> (usage: Int, audit: Int, limit: Int))?

    init(store: any KeyStore, storeDescription: String, backlog: (@Sendable () -> (usage: Int, audit: Int, limit: Int))? = nil) {
        self.store = store
        self.storeDescription = storeDescription
        self.backlog = backlog
    }

    /// From now on report unready (SIGTERM received).
    public func startDraining() { draining.store(true, ordering: .relaxed) }
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    public struct Report: Sendable {
        public var isReady: Bool
        public var body: JSONObject
    }

    public func check(runtime: GatewayRuntime, health: DeploymentHealth, logger: Logger) async -> Report {
        let config = runtime.config.health
        var storeOK = true
        var storeDetail = storeDescription
        do {
            try await store.ping()
        } catch {
            storeOK = false
            storeDetail = "\(storeDescription): \(error)"
        }
        let results = await probeAll(runtime: runtime, ttl: config.cacheTTL.duration, timeout: config.probeTimeout.duration, logger: logger)
        let now = ContinuousClock.now
        var providers = JSONObject()
        for (name, _) in runtime.providers {
            let r = results[name]
            providers[name] = [
                "ok": .bool(r?.isHealthy ?? false), "detail": .string(r?.detail ?? "not probed"),
                "latency_ms": .double(((r?.latencyMilliseconds ?? 0) * 1000).rounded() / 1000),
            ]
        }
        var models = JSONObject()
        var allRequiredOK = true
        for name in runtime.modelNames {
            guard let model = runtime.models[name] else { continue }
            var healthy = 0
            var deployments: [JSONValue] = []
            for d in model.deployments {
                let providerOK = results[d.providerName]?.isHealthy ?? false
                let circuit = health.state(of: d.healthKey)
                let circuitOK = health.isAvailable(d.healthKey, now: now)
                if providerOK && circuitOK { healthy += 1 }
                deployments.append([
                    "deployment": .string(d.healthKey), "provider_ok": .bool(providerOK),
                    "circuit": .string(Self.describe(circuit)),
                ])
            }
            let ok = healthy > 0
            if model.config.required && !ok { allRequiredOK = false }
            models[name] = [
                "ok": .bool(ok), "required": .bool(model.config.required), "healthy_deployments": .int(healthy),
                "deployments": .array(deployments),
            ]
        }
        let draining = isDraining
        var records: JSONObject = [:]
        var recordsOK = true
        if let backlog = backlog?() {
            recordsOK = backlog.usage < backlog.limit && backlog.audit < backlog.limit
            records = [
                "ok": .bool(recordsOK), "usage_backlog": .int(backlog.usage), "audit_backlog": .int(backlog.audit),
                "limit": .int(backlog.limit),
            ]
        }
        let ready = !draining && storeOK && allRequiredOK && recordsOK
        var body: JSONObject = [
            "status": .string(draining ? "draining" : (ready ? "ready" : "unready")),
            "store": ["ok": .bool(storeOK), "detail": .string(storeDetail)],
            "providers": .object(providers),
            "models": .object(models),
        ]
        if !records.isEmpty { body["records"] = .object(records) }
        return Report(isReady: ready, body: body)
    }

    static func describe(_ state: CircuitBreaker.State) -> String {
        switch state {
        case .closed(let n): n == 0 ? "closed" : "closed (\(n) recent failures)"
        case .open: "open"
        case .halfOpen: "half-open"
        }
    }

    /// Probes every provider whose cached result is older than `ttl`, concurrently.
    func probeAll(runtime: GatewayRuntime, ttl: Duration, timeout: Duration, logger: Logger) async -> [String: ProbeResult] {
        let now = ContinuousClock.now
        var results: [String: ProbeResult] = [:]
        var stale: [(String, any ProviderClient)] = []
        probes.withLock { cache in
            for (name, client) in runtime.providers {
                if let cached = cache[name], now - cached.at < ttl {
                    results[name] = cached.result
                } else {
                    stale.append((name, client))
                }
            }
        }
        guard !stale.isEmpty else { return results }
        await withTaskGroup(of: (String, ProbeResult).self) { group in
            for (name, client) in stale {
                group.addTask { (name, await client.probe(timeout: timeout, logger: logger)) }
            }
            for await (name, result) in group {
                results[name] = result
                probes.withLock { $0[name] = (result, ContinuousClock.now) }
            }
        }
        return results
    }
}
