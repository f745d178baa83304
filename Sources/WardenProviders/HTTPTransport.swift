import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import NIOPosix
import Synchronization
import WardenCore

/// The one HTTP client stack every provider shares.
///
/// AsyncHTTPClient's connect timeout is a client setting, while Warden lets each model set its own; so
/// the transport keeps one `HTTPClient` per distinct connect timeout (in practice one or two), all on
/// the same event loops. Connection establishment is not retried inside AsyncHTTPClient: a refused
/// connection fails at once and Warden's own retry policy (which rotates deployments) decides.
///
/// Warden asks for no compression, but an upstream that compresses anyway is decompressed only up to
/// `decompressionRatio` times its compressed size (a gzip bomb fails the attempt instead of filling
/// memory); the providers' caps on a whole body and on one stream event apply after decompression.
public final class HTTPTransport: Sendable {
    private let eventLoopGroup: any EventLoopGroup
    private let maxConnectionsPerHost: Int
    private let clients = Mutex<[Int64: HTTPClient]>([:])

    /// - Parameter maxConnectionsPerHost: pooled connections per upstream host (AsyncHTTPClient defaults to 8,
    ///   which queues requests under any real load).
    public init(eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, maxConnectionsPerHost: Int = 512) {
        self.eventLoopGroup = eventLoopGroup
        self.maxConnectionsPerHost = maxConnectionsPerHost
    }

    /// Decompressed bytes allowed per compressed byte.
    public static let decompressionRatio = 100

    /// The client for `connectTimeout`, created on first use.
    public func client(connectTimeout: Duration) -> HTTPClient {
        let ms = connectTimeout.clampedMilliseconds
        return clients.withLock { clients in
            if let c = clients[ms] { return c }
            var configuration = HTTPClient.Configuration()
            configuration.timeout = .init(connect: .milliseconds(ms))
            configuration.connectionPool = .init(
                idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: maxConnectionsPerHost)
            configuration.connectionPool.retryConnectionEstablishment = false
            configuration.decompression = .enabled(limit: .ratio(Self.decompressionRatio))
            configuration.redirectConfiguration = .disallow
            configuration.httpVersion = .http1Only
            let c = HTTPClient(eventLoopGroupProvider: .shared(eventLoopGroup), configuration: configuration)
            clients[ms] = c
            return c
        }
    }

    /// Shuts every client down; in-flight requests fail.
    public func shutdown() async {
        let all = clients.withLock { clients in
            let all = Array(clients.values)
            clients.removeAll()
            return all
        }
        for c in all { try? await c.shutdown() }
    }
}

/// Timeouts for one upstream attempt.
public struct AttemptTimeouts: Sendable {
    public var connect: Duration
    public var firstByte: Duration
    public var total: Duration

    public init(connect: Duration, firstByte: Duration, total: Duration) {
        self.connect = connect
        self.firstByte = firstByte
        self.total = total
    }

    public init(_ config: TimeoutConfiguration) {
        self.init(connect: config.connect.duration, firstByte: config.firstByte.duration, total: config.total.duration)
    }
}

/// Why an upstream attempt failed: the retry classification, plus what the client may need to see.
public struct UpstreamFailure: Error, Sendable, CustomStringConvertible {
    public var failure: AttemptFailure
    /// The upstream's HTTP status, if it answered.
    public var status: Int?
    /// The upstream's error body, if it answered with JSON.
    public var body: JSONValue?
    /// The wire format of `body`.
    public var api: ClientAPI

    public init(_ failure: AttemptFailure, status: Int? = nil, body: JSONValue? = nil, api: ClientAPI) {
        self.failure = failure
        self.status = status
        self.body = body
        self.api = api
    }

    public var description: String {
        var s = "\(failure)"
        if let status { s += " status=\(status)" }
        return s
    }

    /// Whether this failure says something about the deployment's health (counts toward its circuit breaker).
    public var countsAgainstDeployment: Bool {
        switch failure {
        case .connection, .timeout, .retryableStatus: true
        default: false
        }
    }
}

extension HTTPTransport {
    /// Sends one request and waits for the response head, mapping transport errors to `UpstreamFailure`.
    /// Non-2xx answers are read (up to 64 KiB) and classified by `classify`.
    func send(
        _ request: HTTPClientRequest, timeouts: AttemptTimeouts, api: ClientAPI, logger: Logger,
        classify: (Int, JSONValue?, HTTPHeaders) -> AttemptFailure
    ) async throws -> HTTPClientResponse {
        let deadline = NIODeadline.now() + .nanoseconds(min(timeouts.firstByte, timeouts.total).clampedNanoseconds)
        let response: HTTPClientResponse
        do {
            response = try await client(connectTimeout: timeouts.connect).execute(request, deadline: deadline, logger: logger)
        } catch {
            throw Self.mapTransportError(error, api: api)
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let status = Int(response.status.code)
            var bytes: ByteBuffer?
            do { bytes = try await response.body.collect(upTo: 64 * 1024) } catch {}
            let body = bytes.flatMap { try? JSONParser.parse($0) }
            throw UpstreamFailure(classify(status, body, response.headers), status: status, body: body, api: api)
        }
        return response
    }

    /// Maps an AsyncHTTPClient/NIO error to an attempt failure; rethrows cancellation.
    static func mapTransportError(_ error: any Error, api: ClientAPI) -> any Error {
        if error is CancellationError { return error }
        if let e = error as? HTTPClientError {
            switch e {
            case .deadlineExceeded: return UpstreamFailure(.timeout("first byte"), api: api)
            case .connectTimeout: return UpstreamFailure(.timeout("connect"), api: api)
            case .readTimeout: return UpstreamFailure(.timeout("read"), api: api)
            case .cancelled: return CancellationError()
            case .remoteConnectionClosed: return UpstreamFailure(.connection("the upstream closed the connection"), api: api)
            default: return UpstreamFailure(.connection("\(e)"), api: api)
            }
        }
        if let e = error as? ChannelError, case .connectTimeout = e {
            return UpstreamFailure(.timeout("connect"), api: api)
        }
        if let e = error as? NIOConnectionError {
            let reason = e.connectionErrors.first.map { "\($0.error)" } ?? "connection failed"
            return UpstreamFailure(.connection("cannot connect to \(e.host):\(e.port): \(reason)"), api: api)
        }
        return UpstreamFailure(.connection("\(error)"), api: api)
    }

    /// An upstream request: the headers given, and a JSON body with its type and length if there is one.
    static func jsonRequest(
        url: String, method: HTTPMethod, headers: [(String, String)], body: JSONObject?
    ) -> HTTPClientRequest {
        jsonRequest(url: url, method: method, headers: headers, bytes: body?.jsonBuffer)
    }

    static func jsonRequest(
        url: String, method: HTTPMethod, headers: [(String, String)], bytes: ByteBuffer?
    ) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (n, v) in headers { request.headers.add(name: n, value: v) }
        if let bytes {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Content-Length", value: String(bytes.readableBytes))
            request.body = .bytes(bytes)
        }
        return request
    }

    /// Reads a whole response body, mapping transport errors like `send` does.
    static func collect(_ response: HTTPClientResponse, upTo limit: Int, api: ClientAPI) async throws -> ByteBuffer {
        do {
            return try await response.body.collect(upTo: limit)
        } catch {
            throw mapTransportError(error, api: api)
        }
    }

    /// The longest wait a `Retry-After` can ask for; longer values are read as this (a day), which is
    /// beyond any `max_retry_after`, so Warden moves on instead of waiting.
    static let retryAfterCeiling: Duration = .seconds(86_400)

    /// Parses OpenAI's `retry-after-ms` and `Retry-After` (delay seconds, or an HTTP date), clamped to
    /// `0...retryAfterCeiling`. Anything else (`inf`, `nan`, `-1`, hex, garbage) is ignored: an
    /// upstream's header must never be able to stop Warden.
    static func retryAfter(_ headers: HTTPHeaders, now: Int64 = WallClock.unixMilliseconds()) -> Duration? {
        let ceiling = retryAfterCeiling.clampedMilliseconds
        if let ms = headers.first(name: "retry-after-ms").flatMap(decimalNumber) {
            return .milliseconds(Int64(min(ms, Double(ceiling)).rounded(.up)))
        }
        guard let value = headers.first(name: "retry-after") else { return nil }
        if let s = decimalNumber(value) {
            return .milliseconds(Int64(min(s * 1000, Double(ceiling)).rounded(.up)))
        }
        if let date = HTTPDate.parse(value) {
            let wait = date.subtractingSaturated(now)
            return .milliseconds(max(0, min(wait, ceiling)))
        }
        return nil
    }

    /// A non-negative decimal number as HTTP headers write one (digits, at most one point): nil for
    /// anything `Double` would also read (`inf`, `nan`, `1e30`, `0x1p4`, `-1`).
    static func decimalNumber(_ text: String) -> Double? {
        let t = text.trimmingSpaces
        guard !t.isEmpty, t.utf8.count <= 32, t.utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == 0x2E }),
            t.utf8.filter({ $0 == 0x2E }).count <= 1, let value = Double(t), value.isFinite
        else { return nil }
        return value
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = self[...]
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
