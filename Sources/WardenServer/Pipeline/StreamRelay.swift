import NIOCore
import WardenCore

/// Turns upstream stream chunks into the client's SSE frames, translating between APIs when the
/// upstream speaks the other one, and keeps the usage and text seen so far for accounting.
struct StreamRelay {
    let clientAPI: ClientAPI
    let rawAPI: ClientAPI
    /// An OpenAI client asked for the usage chunk (`stream_options.include_usage`).
    let includeUsage: Bool
    private var openAIEncoder: OpenAIStreamEncoder?
    private var anthropicEncoder: AnthropicStreamEncoder?
    private(set) var usage: Usage?
    /// Unicode scalars of generated text and tool arguments, for estimating usage of a cut stream.
    private(set) var generatedScalars = 0
    private(set) var sawError = false

    /// - Parameter reencode: write frames from the canonical events even when the upstream speaks the
    ///   client's API (needed when a stage changes the events, e.g. output guardrails).
    init(clientAPI: ClientAPI, rawAPI: ClientAPI, request: ChatRequest, estimatedInputTokens: Int, reencode: Bool = false) {
        self.clientAPI = clientAPI
        self.rawAPI = rawAPI
        self.includeUsage = request.includeUsage
        if clientAPI != rawAPI || reencode {
            switch clientAPI {
            case .openAI:
                openAIEncoder = OpenAIStreamEncoder(
                    id: "", model: request.model, created: WallClock.unixSeconds(), includeUsage: request.includeUsage)
            case .anthropic:
                anthropicEncoder = AnthropicStreamEncoder(id: "", model: request.model, estimatedInputTokens: estimatedInputTokens)
            }
        }
    }

    /// Frames for one chunk. `report` gives Warden's own numbers (for the usage so far) for the final usage frame.
    mutating func frames(for chunk: ChatStreamChunk, report: (Usage?) -> JSONObject) -> ByteBuffer {
        for event in chunk.events {
            switch event {
            case .usage(let u): usage = u
            case .textDelta(_, let text): generatedScalars += text.unicodeScalars.count
            case .toolCallArgumentsDelta(_, _, let json): generatedScalars += json.unicodeScalars.count
            case .error: sawError = true
            default: break
            }
        }
        var out = ByteBuffer()
        if var encoder = openAIEncoder {
            for var object in encoder.encode(chunk.events) {
                if case .object = object["usage"] { object["warden"] = .object(report(usage)) }
                ServerSentEvent.write(event: nil, json: object, to: &out)
            }
            openAIEncoder = encoder
        } else if var encoder = anthropicEncoder {
            for (name, object) in encoder.encode(chunk.events) {
                ServerSentEvent.write(event: name, json: object, to: &out)
            }
            anthropicEncoder = encoder
        } else if var object = chunk.original {
            // Same API: the upstream's bytes go through unchanged, except the usage report.
            switch clientAPI {
            case .openAI:
                if case .object = object["usage"] {
                    let hasChoices = !(object["choices"]?.arrayValue?.isEmpty ?? true)
                    if includeUsage {
                        object["warden"] = .object(report(usage))
                    } else if hasChoices {
                        object.removeValue(forKey: "usage")
                    } else {
                        return out  // the usage chunk Warden asked for on the client's behalf
                    }
                    ServerSentEvent.write(event: nil, json: object, to: &out)
                } else {
                    Self.forward(chunk, event: nil, object: object, to: &out)
                }
            case .anthropic:
                let name = chunk.eventName ?? object["type"]?.stringValue
                if object["type"] == "message_delta" {
                    object["warden"] = .object(report(usage))
                    ServerSentEvent.write(event: name, json: object, to: &out)
                } else {
                    Self.forward(chunk, event: name, object: object, to: &out)
                }
            }
        }
        return out
    }

    /// Writes a chunk as the upstream sent it (its raw `data:` payload), or re-serialized if that is gone.
    static func forward(_ chunk: ChatStreamChunk, event: String?, object: JSONObject, to out: inout ByteBuffer) {
        guard let raw = chunk.rawData, !raw.utf8.contains(0x0A) else {
            ServerSentEvent.write(event: event, json: object, to: &out)
            return
        }
        if let event {
            out.writeStaticString("event: ")
            out.writeString(event)
            out.writeStaticString("\n")
        }
        out.writeStaticString("data: ")
        out.writeString(raw)
        out.writeStaticString("\n\n")
    }

    /// The frames that end a stream that completed normally.
    mutating func finish(report: JSONObject) -> ByteBuffer {
        var out = ByteBuffer()
        guard !sawError else { return out }
        switch clientAPI {
        case .openAI:
            out.writeStaticString("data: [DONE]\n\n")
        case .anthropic:
            if var encoder = anthropicEncoder {
                for (name, object) in encoder.finish(extra: ["warden": .object(report)]) {
                    ServerSentEvent.write(event: name, json: object, to: &out)
                }
                anthropicEncoder = encoder
            }
        }
        return out
    }

    /// The frame that tells the client the stream broke: the SDKs raise on it.
    func errorFrame(_ error: GatewayError) -> ByteBuffer {
        var out = ByteBuffer()
        switch clientAPI {
        case .openAI:
            ServerSentEvent.write(event: nil, json: error.openAIBody.objectValue ?? JSONObject(), to: &out)
        case .anthropic:
            ServerSentEvent.write(event: "error", json: error.anthropicBody.objectValue ?? JSONObject(), to: &out)
        }
        return out
    }
}
