/// An embeddings request (OpenAI `POST /v1/embeddings`), validated.
///
/// As with `ChatRequest`, the texts and the client's JSON change only together (`rewriteTexts`).
public struct EmbeddingsRequest: Sendable {
    public internal(set) var model: String
    /// The texts to embed; token-array inputs are kept in `original` only.
    public internal(set) var texts: [String]
    /// Number of inputs.
    public internal(set) var inputCount: Int
    /// Requested dimensions, if any.
    public internal(set) var dimensions: Int?
    public internal(set) var original: JSONObject
    /// Tokens of token-array inputs (their lengths).
    public internal(set) var tokenArrayTokens: Int = 0

    init(model: String, texts: [String], inputCount: Int, dimensions: Int?, original: JSONObject, tokenArrayTokens: Int = 0) {
        self.model = model
        self.texts = texts
        self.inputCount = inputCount
        self.dimensions = dimensions
        self.original = original
        self.tokenArrayTokens = tokenArrayTokens
    }

    /// Warden's estimate of the input's tokens: ⌈Unicode scalars / 4⌉ of the texts, plus the length of
    /// token-array inputs.
    public var estimatedInputTokens: Int { TokenEstimator.tokens(in: texts).addingSaturated(tokenArrayTokens) }

    /// Applies `rewrite` to every text input (redaction), in `texts` and in the JSON sent upstream.
    public mutating func rewriteTexts(_ rewrite: (String) -> String) {
        texts = texts.map(rewrite)
        switch original["input"] {
        case .string(let s)?: original["input"] = .string(rewrite(s))
        case .array(let items)?: original["input"] = .array(items.map { if case .string(let s) = $0 { .string(rewrite(s)) } else { $0 } })
        default: break
        }
    }

    public static func decode(_ body: JSONValue) throws(GatewayError) -> EmbeddingsRequest {
        let f = try JSONFields(body, path: "")
        let model = try f.requireString("model")
        guard !model.isEmpty else { throw GatewayError.invalidValue("model", "'model' must not be empty.") }
        let input = try f.require("input")
        var texts: [String] = []
        var count = 0
        var tokenArrayTokens = 0
        switch input {
        case .string(let s):
            texts = [s]
            count = 1
        case .array(let items):
            guard !items.isEmpty else { throw GatewayError.invalidValue("input", "'input' must not be empty.") }
            guard items.count <= 2048 else {
                throw GatewayError.invalidValue("input", "'input' may contain at most 2048 items.")
            }
            count = items.count
            for (i, item) in items.enumerated() {
                switch item {
                case .string(let s): texts.append(s)
                case .number: tokenArrayTokens += 1  // one token array
                case .array(let tokens):
                    guard tokens.allSatisfy({ $0.intValue != nil }) else {
                        throw GatewayError.wrongType("input[\(i)]", expected: "a string or an array of integers", got: item)
                    }
                    tokenArrayTokens += tokens.count
                default:
                    throw GatewayError.wrongType("input[\(i)]", expected: "a string or an array of integers", got: item)
                }
            }
            if texts.isEmpty, items.allSatisfy({ $0.intValue != nil }) { count = 1 }
        default:
            throw GatewayError.wrongType("input", expected: "a string or an array", got: input)
        }
        if let format = try f.string("encoding_format"), format != "float", format != "base64" {
            throw GatewayError.invalidValue(
                "encoding_format", "Invalid 'encoding_format': '\(format)'. Expected 'float' or 'base64'.")
        }
        let dimensions = try f.int("dimensions", min: 1, max: 65536)
        return EmbeddingsRequest(
            model: model, texts: texts, inputCount: count, dimensions: dimensions, original: f.object, tokenArrayTokens: tokenArrayTokens)
    }
}
