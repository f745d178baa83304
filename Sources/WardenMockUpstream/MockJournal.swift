import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOHTTPTypes
import NIOCore
import Synchronization
import WardenCore

/// The mock's request context: the core storage plus the connection, so slow answers can notice a
/// client that went away.
public struct MockRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    public var maxUploadSize: Int { 64 * 1024 * 1024 }

    /// Whether the client closed its side (Hummingbird allows half-closure, so the channel itself stays
    /// active until the mock writes).
    var clientGone: Bool { !channel.isActive || ClientGoneDetector.isGone(channel) }
}

/// Notes connections whose client closed its input, for `MockRequestContext.clientGone`.
final class ClientGoneDetector: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPRequestPart

    private static let gone = Mutex<Set<ObjectIdentifier>>([])

    static func isGone(_ channel: any Channel) -> Bool { gone.withLock { $0.contains(ObjectIdentifier(channel)) } }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            _ = Self.gone.withLock { $0.insert(ObjectIdentifier(context.channel)) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        _ = Self.gone.withLock { $0.remove(ObjectIdentifier(context.channel)) }
        context.fireChannelInactive()
    }
}

/// What the mock saw: request and disconnect counters and the last 100 requests (method, path,
/// headers, JSON body), served at `GET /mock/journal` so end-to-end tests can check what Warden sent.
public final class MockJournal: Sendable {
    private struct State {
        var requests = 0
        var clientDisconnects = 0
        var recent: [JSONValue] = []
        var webhooks: [JSONValue] = []
    }

    private let state = Mutex(State())

    public init() {}

    func record(method: String, path: String, headers: HTTPFields, body: JSONValue?) {
        var h = JSONObject()
        for field in headers { h[field.name.canonicalName] = .string(field.value) }
        let entry: JSONValue = [
            "method": .string(method), "path": .string(path), "headers": .object(h), "body": body ?? .null,
        ]
        state.withLock { s in
            s.requests += 1
            s.recent.append(entry)
            if s.recent.count > 100 { s.recent.removeFirst(s.recent.count - 100) }
        }
    }

    /// A webhook delivery received at `/mock/webhooks` (the raw body is kept, for checking signatures).
    func recordWebhook(headers: HTTPFields, body: String) {
        var h = JSONObject()
        for field in headers { h[field.name.canonicalName] = .string(field.value) }
        let entry: JSONValue = ["headers": .object(h), "body": .string(body)]
        state.withLock { s in
            s.webhooks.append(entry)
            if s.webhooks.count > 1000 { s.webhooks.removeFirst(s.webhooks.count - 1000) }
        }
    }

    func webhooks() -> JSONObject { state.withLock { ["data": .array($0.webhooks)] } }

    func clientDisconnected() {
        state.withLock { $0.clientDisconnects += 1 }
    }

    public var clientDisconnects: Int { state.withLock { $0.clientDisconnects } }

    func snapshot() -> JSONObject {
        state.withLock { s in
            ["requests": .int(s.requests), "client_disconnects": .int(s.clientDisconnects), "recent": .array(s.recent)]
        }
    }
}
