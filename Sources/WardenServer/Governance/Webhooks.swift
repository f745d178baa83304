import AsyncHTTPClient
import Crypto
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import WardenCore
import WardenProviders

/// Delivers HMAC-signed JSON webhooks (budget alerts, published audit checkpoints) off the request path.
///
/// Each delivery is a `POST` with `content-type: application/json`, `x-warden-event: EVENT` and
/// `x-warden-signature: t=UNIX_SECONDS,v1=HEX`, where HEX is HMAC-SHA256 over `"{t}.{body}"` with the
/// configured secret (the scheme Stripe uses: the timestamp lets receivers refuse replays). A delivery
/// is tried up to four times with 1, 2 and 4 s between; the queue holds at most 1,000 deliveries and
/// drops the oldest beyond that, logging each drop.
public final class WebhookSender: Sendable {
    struct Delivery: Sendable {
        var url: String
        var secret: String?
        var event: String
        var body: [UInt8]
    }

    private let stream: AsyncStream<Delivery>
    private let continuation: AsyncStream<Delivery>.Continuation
    let transport: HTTPTransport
    let logger: Logger

    init(transport: HTTPTransport, logger: Logger) {
        (stream, continuation) = AsyncStream.makeStream(of: Delivery.self, bufferingPolicy: .bufferingNewest(1000))
        self.transport = transport
        self.logger = logger
    }

    /// Queues a delivery.
    func send(url: String, secret: String?, event: String, body: JSONObject) {
        let delivery = Delivery(url: url, secret: secret, event: event, body: Array(body.jsonBuffer.readableBytesView))
        if case .dropped = continuation.yield(delivery) {
            logger.warning("webhook queue full; dropped the oldest delivery", metadata: ["warden.webhook.event": "\(event)"])
        }
    }

    /// `t=…,v1=…` for `body` sent at `timestamp`.
    static func signature(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: Array(secret.utf8)))
        mac.update(data: Array("\(timestamp).".utf8))
        mac.update(data: body)
        let hex = Array(mac.finalize()).map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
        return "t=\(timestamp),v1=\(hex)"
    }

    func deliver(_ d: Delivery) async {
        let client = transport.client(connectTimeout: .seconds(5))
        var delay: Duration = .seconds(1)
        for attempt in 1...4 {
            var request = HTTPClientRequest(url: d.url)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.headers.add(name: "user-agent", value: "warden-webhook")
            request.headers.add(name: "x-warden-event", value: d.event)
            if let secret = d.secret {
                request.headers.add(
                    name: "x-warden-signature", value: Self.signature(secret: secret, timestamp: WallClock.unixMilliseconds() / 1000, body: d.body))
            }
            request.body = .bytes(ByteBuffer(bytes: d.body))
            do {
                let response = try await client.execute(request, timeout: .seconds(10))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                if (200..<300).contains(Int(response.status.code)) { return }
                logger.warning(
                    "webhook refused", metadata: ["warden.webhook.event": "\(d.event)", "status": "\(response.status.code)", "attempt": "\(attempt)"])
            } catch {
                logger.warning("webhook failed", metadata: ["warden.webhook.event": "\(d.event)", "error": "\(error)", "attempt": "\(attempt)"])
            }
            if attempt < 4 {
                try? await Task.sleep(for: delay)
                delay *= 2
            }
        }
        logger.error("webhook undelivered after 4 attempts", metadata: ["warden.webhook.event": "\(d.event)"])
    }

    /// Delivers until shutdown, then drains what is still queued (cut short if shutdown runs out of time).
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await gracefulShutdown()
                self.continuation.finish()
            }
            for await delivery in stream { await deliver(delivery) }
            group.cancelAll()
        }
    }
}

struct WebhookService: Service {
    let sender: WebhookSender
    func run() async throws { await sender.run() }
}
