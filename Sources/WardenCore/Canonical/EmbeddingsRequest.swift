/// An embeddings request (OpenAI `POST /v1/embeddings`), validated.
public struct EmbeddingsRequest: Sendable {
    public var model: String
    /// The texts to embed; token-array inputs are kept in `original` only and counted as their lengths.
    public var texts: [String]
    /// Number of inputs.
    public var inputCount: Int
    /// Requested dimensions, if any.
    public var dimensions: Int?
    public var original: JSONObject

    public static func decode(_ body: JSONValue) throws(GatewayError) -> EmbeddingsRequest {
        let f = try JSONFields(body, path: "")
        let model = try f.requireString("model")
        guard !model.isEmpty else { throw GatewayError.invalidValue("model", "'model' must not be empty.") }
        let input = try f.require("input")
        var texts: [String] = []
        var count = 0
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
                case .number: break  // one token array
                case .array(let tokens):
                    guard tokens.allSatisfy({ $0.intValue != nil }) else {
                        throw GatewayError.wrongType("input[\(i)]", expected: "a string or an array of integers", got: item)
                    }
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
        return EmbeddingsRequest(model: model, texts: texts, inputCount: count, dimensions: dimensions, original: f.object)
    }
}
