/// The wire format a provider speaks.
public enum ProviderType: String, Sendable, Decodable, CaseIterable {
    /// OpenAI or any OpenAI-compatible server (vLLM, Ollama, TGI, LM Studio…).
    case openai
    case anthropic
    /// Warden's built-in deterministic mock upstream, run in-process on a loopback port.
    case mock

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let t = ProviderType(rawValue: text) else {
            throw ConfigurationError(
                key: decoder.codingPath.configKey, "unknown provider type '\(text)' (expected openai, anthropic or mock)")
        }
        self = t
    }
}

public struct ProviderConfiguration: Sendable, Decodable {
    public var type: ProviderType
    /// Base URL including the API version path for OpenAI (`https://api.openai.com/v1`); without it for
    /// Anthropic (`https://api.anthropic.com`). Not used by `mock`.
    public var baseURL: String?
    public var apiKey: SecretReference?
    /// Extra headers sent upstream (e.g. `OpenAI-Organization`).
    public var headers: [String: String]
    /// `mock` only: latency between streamed chunks and before responses.
    public var latency: ConfigDuration?
    /// `anthropic` only: the `anthropic-version` header when the client did not send one.
    public var anthropicVersion: String
    /// Connections kept per upstream host (AsyncHTTPClient's default of 8 is far too low for a gateway).
    public var maxConnections: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, base_url, api_key, headers, latency, anthropic_version, max_connections
    }

    public init(type: ProviderType, baseURL: String? = nil, apiKey: SecretReference? = nil) {
        self.type = type
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.headers = [:]
        self.latency = nil
        self.anthropicVersion = "2023-06-01"
        self.maxConnections = 512
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(ProviderType.self, forKey: .type)
        baseURL = try c.decodeIfPresent(String.self, forKey: .base_url)
        apiKey = try c.decodeIfPresent(SecretReference.self, forKey: .api_key)
        headers = try c.decodeIfPresent([String: String].self, forKey: .headers) ?? [:]
        latency = try c.decodeIfPresent(ConfigDuration.self, forKey: .latency)
        anthropicVersion = try c.decodeIfPresent(String.self, forKey: .anthropic_version) ?? "2023-06-01"
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .max_connections) ?? 512
    }
}

public struct DeploymentConfiguration: Sendable, Decodable {
    public var provider: String
    /// The model name the upstream knows.
    public var model: String
    /// Relative share of traffic (default 1).
    public var weight: Double
    /// This deployment's prices, overriding the model's and the built-in table.
    public var pricing: ModelPricing?

    enum CodingKeys: String, CodingKey, CaseIterable { case provider, model, weight, pricing }

    public init(provider: String, model: String, weight: Double = 1) {
        self.provider = provider
        self.model = model
        self.weight = weight
        self.pricing = nil
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        provider = try c.decode(String.self, forKey: .provider)
        model = try c.decode(String.self, forKey: .model)
        weight = try c.decodeIfPresent(Double.self, forKey: .weight) ?? 1
        pricing = try c.decodeIfPresent(PricingConfiguration.self, forKey: .pricing)?.pricing
    }
}

public struct TimeoutConfiguration: Sendable, Decodable {
    /// Establishing a connection to the upstream.
    public var connect: ConfigDuration
    /// From sending the request to the response headers.
    public var firstByte: ConfigDuration
    /// The whole call, streamed body included.
    public var total: ConfigDuration

    enum CodingKeys: String, CodingKey, CaseIterable { case connect, first_byte, total }

    public init(connect: ConfigDuration = .seconds(5), firstByte: ConfigDuration = .seconds(60), total: ConfigDuration = .seconds(600)) {
        self.connect = connect
        self.firstByte = firstByte
        self.total = total
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TimeoutConfiguration()
        connect = try c.decodeIfPresent(ConfigDuration.self, forKey: .connect) ?? d.connect
        firstByte = try c.decodeIfPresent(ConfigDuration.self, forKey: .first_byte) ?? d.firstByte
        total = try c.decodeIfPresent(ConfigDuration.self, forKey: .total) ?? d.total
    }
}
