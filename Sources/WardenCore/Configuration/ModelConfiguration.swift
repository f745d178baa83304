public struct ModelConfiguration: Sendable, Decodable {
    public var deployments: [DeploymentConfiguration]
    /// Models tried in order when every deployment of this one failed.
    public var fallbacks: [String]
    /// Models tried when the upstream says the prompt is too long for the context window.
    public var contextFallbacks: [String]
    public var timeout: TimeoutConfiguration
    /// Extra attempts within this model, rotating across its deployments.
    public var retries: Int
    /// Whether `/health/ready` depends on this model having a healthy deployment.
    public var required: Bool
    /// Prices for every deployment of this model (a deployment's own `pricing` wins).
    public var pricing: ModelPricing?
    /// What policies see of the model (`resource.tier`, `resource.region`, `resource.self_hosted`,
    /// `resource.tags`, and each free-form attribute by name).
    public var tier: String?
    public var region: String?
    public var selfHosted = false
    public var tags: [String] = []
    public var attributes: [(name: String, value: ConfigAttribute)] = []
    /// This model's guardrails, added to the global ones.
    public var guardrails = GuardrailsConfiguration()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case deployments, fallbacks, context_fallbacks, timeout, retries, required, pricing, tier, region, self_hosted, tags, attributes
        case guardrails
    }

    /// Names policies already use for the model; `attributes` may not reuse them.
    public static let reservedAttributeNames: Set<String> = ["name", "tier", "region", "self_hosted", "tags", "providers"]

    public init(
        deployments: [DeploymentConfiguration], fallbacks: [String] = [], contextFallbacks: [String] = [],
        timeout: TimeoutConfiguration = TimeoutConfiguration(), retries: Int = 2, required: Bool = true
    ) {
        self.deployments = deployments
        self.fallbacks = fallbacks
        self.contextFallbacks = contextFallbacks
        self.timeout = timeout
        self.retries = retries
        self.required = required
        self.pricing = nil
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        deployments = try c.decode([DeploymentConfiguration].self, forKey: .deployments)
        fallbacks = try c.decodeIfPresent([String].self, forKey: .fallbacks) ?? []
        contextFallbacks = try c.decodeIfPresent([String].self, forKey: .context_fallbacks) ?? []
        timeout = try c.decodeIfPresent(TimeoutConfiguration.self, forKey: .timeout) ?? TimeoutConfiguration()
        retries = try c.decodeIfPresent(Int.self, forKey: .retries) ?? 2
        required = try c.decodeIfPresent(Bool.self, forKey: .required) ?? true
        pricing = try c.decodeIfPresent(PricingConfiguration.self, forKey: .pricing)?.pricing
        guardrails = try c.decodeIfPresent(GuardrailsConfiguration.self, forKey: .guardrails) ?? GuardrailsConfiguration()
        tier = try c.decodeIfPresent(String.self, forKey: .tier)
        region = try c.decodeIfPresent(String.self, forKey: .region)
        selfHosted = try c.decodeIfPresent(Bool.self, forKey: .self_hosted) ?? false
        tags = Array(Set(try c.decodeIfPresent([String].self, forKey: .tags) ?? [])).sorted()
        if c.contains(.attributes) {
            attributes = try OrderedMapping<ConfigAttribute>(from: c.superDecoder(forKey: .attributes)).entries.map { (name: $0.0, value: $0.1) }
            for (name, _) in attributes where Self.reservedAttributeNames.contains(name) {
                throw ConfigurationError(
                    key: (c.codingPath + [CodingKeys.attributes]).configKey + ".\(name)", "is a built-in attribute; set it with models.NAME.\(name)")
            }
        }
    }
}
