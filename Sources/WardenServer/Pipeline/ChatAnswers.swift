import Logging
import NIOCore
import WardenCore
import WardenProviders

/// A complete chat answer on its way back to the client: either an upstream's own bytes (sent unchanged
/// to a client of the same API) or a canonical response (translated, or produced by a stage).
public struct CompletedChat: Sendable {
    public enum Body: Sendable {
        case upstream(ProviderChatResult)
        case canonical(ChatResponse)
    }

    public var body: Body
    public var usage: Usage?

    public init(upstream result: ProviderChatResult) {
        body = .upstream(result)
        usage = result.usage
    }

    public init(canonical response: ChatResponse) {
        body = .canonical(response)
        usage = response.usage
    }

    /// The answer in canonical form (decoding the upstream's bytes if need be).
    public func response() -> ChatResponse? {
        switch body {
        case .upstream(let result): result.decodedResponse()
        case .canonical(let response): response
        }
    }
}

/// A streamed chat answer: the first chunk (already received, so the call counts as started) and the rest.
public struct StreamedChat: Sendable {
    public var first: ChatStreamChunk
    public var stream: ChatEventStream
    public var rawAPI: ClientAPI
}
