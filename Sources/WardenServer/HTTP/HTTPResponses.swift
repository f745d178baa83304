import HTTPTypes
import Hummingbird
import NIOCore
import WardenCore

extension HTTPField.Name {
    static let requestID = HTTPField.Name("x-request-id")!
    static let shouldRetry = HTTPField.Name("x-should-retry")!
    static let wardenOverhead = HTTPField.Name("x-warden-overhead-ms")!
    static let wardenCost = HTTPField.Name("x-warden-cost-usd")!
    static let wardenModel = HTTPField.Name("x-warden-model")!
    static let wardenAttempts = HTTPField.Name("x-warden-attempts")!
    static let xForwardedFor = HTTPField.Name("x-forwarded-for")!
    static let wardenGuardrails = HTTPField.Name("x-warden-guardrails")!
    static let wardenGuardrailsTime = HTTPField.Name("x-warden-guardrails-ms")!
    static let wardenApproval = HTTPField.Name("x-warden-approval")!
    static let wardenAgent = HTTPField.Name("x-warden-agent")!
    static let wardenSession = HTTPField.Name("x-warden-session")!
    static let anthropicVersion = HTTPField.Name("anthropic-version")!
    static let anthropicBeta = HTTPField.Name("anthropic-beta")!
    static let apiKey = HTTPField.Name("x-api-key")!
}

enum HTTPResponses {
    static let jsonContentType = "application/json"

    /// A JSON response.
    static func json(_ buffer: ByteBuffer, status: HTTPResponse.Status = .ok, requestID: String) -> Response {
        var headers = HTTPFields()
        headers.reserveCapacity(6)
        headers[.contentType] = jsonContentType
        headers[.contentLength] = String(buffer.readableBytes)
        headers[.requestID] = requestID
        return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
    }

    /// An error in the caller's API shape, with `x-should-retry: false` for Warden's own refusals (and
    /// `true` when Warden is briefly unable to serve).
    static func error(_ error: GatewayError, api: ClientAPI, requestID: String) -> Response {
        var response = json(error.body(for: api).jsonBuffer, status: HTTPResponse.Status(code: error.status), requestID: requestID)
        if let retry = error.shouldRetry { response.headers[.shouldRetry] = retry ? "true" : "false" }
        if let retryAfter = error.retryAfterSeconds { response.headers[.retryAfter] = String(retryAfter) }
        for (name, value) in error.headers {
            if let field = HTTPField.Name(name) { response.headers[field] = value }
        }
        return response
    }

    /// A request id: the client's `x-request-id` if it is short and plain, else a new one.
    static func requestID(from headers: HTTPFields) -> String {
        if let given = headers[.requestID], (1...128).contains(given.utf8.count),
            given.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
        {
            return given
        }
        return RequestIDGenerator.next()
    }
}

/// `req_` + 24 hex digits: a random per-process prefix and a counter, so ids are unique without a syscall.
enum RequestIDGenerator {
    private static let prefix: String = {
        let v = UInt64.random(in: .min ... .max) >> 16
        return "req_" + pad(String(v, radix: 16), 12)
    }()
    private static let counter = AtomicCounter()

    static func next() -> String { prefix + pad(String(counter.next(), radix: 16), 12) }

    private static func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? String(s.suffix(n)) : String(repeating: "0", count: n - s.count) + s
    }
}

import Synchronization

final class AtomicCounter: Sendable {
    private let value = Atomic<UInt64>(0)
    func next() -> UInt64 { value.add(1, ordering: .relaxed).newValue }
}
