import Cedar
import Synchronization
import Guardrails
import WardenCore
import WardenProviders
import WardenStore

/// One deployment of a model, ready to call.
public struct RouteDeployment: Sendable {
    public let provider: any ProviderClient
    public let providerName: String
    public let upstreamModel: String
    public let weight: Double
    /// Key of this deployment's circuit breaker.
    public let healthKey: String
    /// What calls to it cost: the deployment's `pricing`, else the model's, else the built-in table's.
    public let pricing: ModelPricing?
}

/// A configured model with its deployments resolved.
public struct RouteModel: Sendable {
    public let name: String
    public let config: ModelConfiguration
    public let deployments: [RouteDeployment]
    public let weights: [Double]
    public let timeouts: AttemptTimeouts
    /// This model then its fallbacks, each with its own retries: the retry plan, built once.
    public let retrySteps: [RetryStateMachine.Step]
    public let contextSteps: [RetryStateMachine.Step]
    /// The highest prices of any deployment the plan can reach, for worst-case budget reservations;
    /// nil when one of them has no price (then spend cannot be bounded and budgets do not reserve).
    public var worstPricing: ModelPricing?
}

/// Everything a request needs from the configuration, immutable and swapped whole on reload.
public final class GatewayRuntime: Sendable {
    public let config: WardenConfiguration
    public let models: [String: RouteModel]
    /// Model names in config order.
    public let modelNames: [String]
    public let providers: [(name: String, client: any ProviderClient)]
    /// The config's static keys with their secrets resolved.
    public let staticKeys: [(config: StaticKeyConfiguration, value: String)]
    public let backoff: BackoffPolicy
    /// `budgets.alerts.secret`, resolved.
    let alertSecret: String?
    /// How the client's address is found (`trusted_proxies`).
    public let clientAddress: ClientAddress
    /// Each model's policy entity (`Warden::Model`), built once per configuration.
    public let policyModels: [String: Entity]

    init(
        config: WardenConfiguration, models: [String: RouteModel], providers: [(name: String, client: any ProviderClient)],
        staticKeys: [(config: StaticKeyConfiguration, value: String)], alertSecret: String? = nil,
        clientAddress: ClientAddress = try! ClientAddress(trustedProxies: [])
    ) {
        self.config = config
        self.clientAddress = clientAddress
        self.policyModels = Dictionary(config.models.map { ($0.name, PolicyEntities.model($0.name, $0.config)) }, uniquingKeysWith: { a, _ in a })
        self.alertSecret = alertSecret
        self.models = models
        self.modelNames = config.models.map(\.name)
        self.providers = providers
        self.staticKeys = staticKeys
        let r = config.reliability
        self.backoff = BackoffPolicy(
            initial: r.backoffInitial.duration, maximum: r.backoffMax.duration, maxRetryAfter: r.maxRetryAfter.duration)
    }

    /// Builds a runtime: resolves secrets and creates provider clients.
    ///
    /// - Parameter mockBaseURL: where the in-process mock upstream listens (`http://127.0.0.1:PORT`), for `mock` providers.
    public static func build(
        config: WardenConfiguration, transport: HTTPTransport, mockBaseURL: String?
    ) throws(ConfigurationError) -> GatewayRuntime {
        // The detectors' bundled resources must load, or Warden does not start: a rule whose classifier
        // or word list is missing would silently find nothing.
        do {
            try GuardrailResources.load()
        } catch {
            throw ConfigurationError(key: "guardrails", "\(error.description); reinstall Warden with its resources next to the binary")
        }
        try config.guardrails.checkTypes(at: "guardrails")
        for (name, model) in config.models { try model.guardrails.checkTypes(at: "models.\(name).guardrails") }
        for (i, key) in config.keys.enumerated() { try key.guardrails?.checkTypes(at: "keys[\(i)].guardrails") }
        var providers: [(name: String, client: any ProviderClient)] = []
        var byName: [String: any ProviderClient] = [:]
        for (name, p) in config.providers {
            var apiKey: String?
            if let ref = p.apiKey {
                do {
                    apiKey = try ref.resolve(baseDirectory: config.baseDirectory)
                } catch {
                    throw ConfigurationError(key: "providers.\(name).api_key", error.problem)
                }
            }
            let client: any ProviderClient
            switch p.type {
            case .openai:
                client = OpenAIProvider(
                    name: name, baseURL: p.baseURL ?? "", apiKey: apiKey, extraHeaders: p.headers, transport: transport)
            case .anthropic:
                client = AnthropicProvider(
                    name: name, baseURL: p.baseURL ?? "", apiKey: apiKey, anthropicVersion: p.anthropicVersion,
                    extraHeaders: p.headers, transport: transport, defaultMaxTokens: config.server.defaultMaxTokens)
            case .mock:
                guard let mockBaseURL else {
                    throw ConfigurationError(key: "providers.\(name)", "the in-process mock upstream is not running")
                }
                client = OpenAIProvider(
                    name: name, baseURL: mockBaseURL + "/v1", apiKey: apiKey, extraHeaders: p.headers, transport: transport)
            }
            providers.append((name, client))
            byName[name] = client
        }
        var models: [String: RouteModel] = [:]
        for (name, m) in config.models {
            let deployments = m.deployments.map { d in
                RouteDeployment(
                    provider: byName[d.provider]!, providerName: d.provider, upstreamModel: d.model, weight: d.weight,
                    healthKey: "\(d.provider)/\(d.model)",
                    pricing: d.pricing ?? m.pricing ?? BuiltInPricing.pricing(forUpstreamModel: d.model))
            }
            func step(_ model: String) -> RetryStateMachine.Step {
                RetryStateMachine.Step(model: model, retries: config.model(named: model)?.retries ?? 0)
            }
            models[name] = RouteModel(
                name: name, config: m, deployments: deployments, weights: deployments.map(\.weight),
                timeouts: AttemptTimeouts(m.timeout), retrySteps: [step(name)] + m.fallbacks.map(step),
                contextSteps: m.contextFallbacks.map(step))
        }
        for name in models.keys {
            let reachable = ([name] + (config.model(named: name)?.fallbacks ?? []) + (config.model(named: name)?.contextFallbacks ?? []))
                .flatMap { models[$0]?.deployments ?? [] }
            let prices = reachable.map(\.pricing)
            if !prices.isEmpty, prices.allSatisfy({ $0 != nil }) {
                let all = prices.compactMap { $0 }
                var worst = all[0]
                for p in all.dropFirst() {
                    worst.input = max(worst.input, p.input)
                    worst.output = max(worst.output, p.output)
                    worst.cachedInput = max(worst.cachedInput, p.cachedInput)
                    worst.cacheWrite = max(worst.cacheWrite, p.cacheWrite)
                    worst.reasoning = max(worst.reasoning, p.reasoning)
                }
                models[name]?.worstPricing = worst
            }
        }
        var staticKeys: [(config: StaticKeyConfiguration, value: String)] = []
        for (i, k) in config.keys.enumerated() {
            do {
                staticKeys.append((k, try k.key.resolve(baseDirectory: config.baseDirectory)))
            } catch {
                throw ConfigurationError(key: "keys[\(i)].key", error.problem)
            }
        }
        var alertSecret: String?
        if let alerts = config.budgets.alerts {
            do {
                alertSecret = try alerts.secret.resolve(baseDirectory: config.baseDirectory)
            } catch {
                throw ConfigurationError(key: "budgets.alerts.secret", error.problem)
            }
        }
        return GatewayRuntime(
            config: config, models: models, providers: providers, staticKeys: staticKeys, alertSecret: alertSecret,
            clientAddress: try ClientAddress(trustedProxies: config.trustedProxies))
    }
}

/// The current runtime, swapped atomically on reload. Readers take one lock to copy a reference.
public final class RuntimeHolder: Sendable {
    private let current: Mutex<GatewayRuntime>

    public init(_ runtime: GatewayRuntime) { current = Mutex(runtime) }

    public var runtime: GatewayRuntime { current.withLock { $0 } }

    public func replace(with runtime: GatewayRuntime) { current.withLock { $0 = runtime } }
}
