import NIOCore
import Guardrails
import WardenCore

/// One line per request: who, what, how it went, how long it took. Never prompt text, never keys.
public struct AccessLogEntry: Sendable {
    public var requestID: String
    public var method: String
    public var path: String
    public var api: ClientAPI
    public var keyName: String?
    public var team: String?
    public var model: String?
    public var stream = false
    public var status = 0
    public var errorCode: String?
    public var usage: Usage?
    public var cost: NanoDollars?
    public var latency: Duration = .zero
    public var overhead: Duration = .zero
    public var trace: RequestTrace?
    public var state: RequestState?

    public init(requestID: String, method: String, path: String, api: ClientAPI) {
        self.requestID = requestID
        self.method = method
        self.path = path
        self.api = api
    }

    /// Writes the entry as one JSON object.
    func write(to b: inout ByteBuffer) {
        b.writeStaticString("{\"ts\":\"")
        WallClock.writeRFC3339(unixMilliseconds: WallClock.unixMilliseconds(), to: &b)
        b.writeStaticString("\",\"level\":\"info\",\"msg\":\"request\",\"logger\":\"warden.access\"")
        field("request_id", requestID, &b)
        field("method", method, &b)
        field("path", path, &b)
        field("api", api.rawValue, &b)
        if let keyName { field("key", keyName, &b) }
        if let team { field("team", team, &b) }
        if let model { field("model", model, &b) }
        if let t = trace {
            if let m = t.servedModel, m != model { field("served_model", m, &b) }
            if let p = t.provider, let u = t.upstreamModel { field("deployment", "\(p)/\(u)", &b) }
            number("attempts", t.attempts, &b)
            if t.isFallback { b.writeStaticString(",\"fallback\":true") }
            milliseconds("upstream_ms", t.upstream, &b)
            if t.backoff > .zero { milliseconds("backoff_ms", t.backoff, &b) }
        }
        if let s = state {
            if !s.verdicts.isEmpty {
                // `detector/type=action` per verdict (never the matched text).
                field("guardrails", s.verdicts.map { "\($0.detector)/\($0.type)=\($0.action.rawValue)" }.joined(separator: ","), &b)
                milliseconds("guardrails_ms", trace?.guardrailTime ?? .zero, &b)
            }
            if !s.heldApprovals.isEmpty { field("approvals", s.heldApprovals.joined(separator: ","), &b) }
        }
        if stream { b.writeStaticString(",\"stream\":true") }
        number("status", status, &b)
        if let errorCode { field("error", errorCode, &b) }
        if let usage {
            number("prompt_tokens", usage.inputTokens, &b)
            number("completion_tokens", usage.outputTokens, &b)
            if usage.cachedInputTokens > 0 { number("cached_tokens", usage.cachedInputTokens, &b) }
            if usage.reasoningTokens > 0 { number("reasoning_tokens", usage.reasoningTokens, &b) }
            if usage.isEstimated { b.writeStaticString(",\"usage_estimated\":true") }
        }
        if let cost {
            b.writeStaticString(",\"cost_usd\":")
            b.writeString(cost.usdString)
        }
        milliseconds("latency_ms", latency, &b)
        milliseconds("overhead_ms", overhead, &b)
        b.writeInteger(UInt8(ascii: "}"))
    }

    private func field(_ name: StaticString, _ value: String, _ b: inout ByteBuffer) {
        b.writeStaticString(",\"")
        b.writeStaticString(name)
        b.writeStaticString("\":")
        JSONValue.writeString(value, to: &b)
    }

    private func number(_ name: StaticString, _ value: Int, _ b: inout ByteBuffer) {
        b.writeStaticString(",\"")
        b.writeStaticString(name)
        b.writeStaticString("\":")
        b.writeDecimal(value)
    }

    private func milliseconds(_ name: StaticString, _ value: Duration, _ b: inout ByteBuffer) {
        b.writeStaticString(",\"")
        b.writeStaticString(name)
        b.writeStaticString("\":")
        b.writeMilliseconds(value)
    }
}

extension ByteBuffer {
    /// Writes a decimal integer without going through `String`.
    mutating func writeDecimal(_ value: Int) {
        if value < 0 { writeInteger(UInt8(ascii: "-")) }
        var v = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { raw in
            var i = raw.count
            repeat {
                i -= 1
                raw[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            } while v > 0
            writeBytes(UnsafeRawBufferPointer(rebasing: raw[i...]))
        }
    }

    /// Writes a duration as milliseconds with three decimals (`12.345`).
    mutating func writeMilliseconds(_ d: Duration) {
        let c = d.components
        let micros = max(0, c.seconds * 1_000_000 + c.attoseconds / 1_000_000_000_000)
        writeDecimal(Int(micros / 1000))
        writeInteger(UInt8(ascii: "."))
        let frac = Int(micros % 1000)
        if frac < 100 { writeInteger(UInt8(ascii: "0")) }
        if frac < 10 { writeInteger(UInt8(ascii: "0")) }
        writeDecimal(frac)
    }
}
