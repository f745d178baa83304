import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization
import WardenCore

/// Limits that apply to a connection before any HTTP parsing: how many may be open at once, and how long
/// a request's head may take to arrive once its first byte has (slow-loris protection).
final class ConnectionLimits: Sendable {
    let maximumConnections: Int
    let headerTimeout: TimeAmount
    private let open = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)

    init(maximumConnections: Int, headerTimeout: TimeAmount) {
        self.maximumConnections = maximumConnections
        self.headerTimeout = headerTimeout
    }

    /// Connections open now, and how many were refused for being one too many.
    var openConnections: Int { open.load(ordering: .relaxed) }
    var refusedConnections: Int { refused.load(ordering: .relaxed) }

    func tryAdmit() -> Bool {
        let now = open.wrappingAdd(1, ordering: .relaxed).newValue
        if now > maximumConnections {
            open.wrappingSubtract(1, ordering: .relaxed)
            refused.wrappingAdd(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func release() { open.wrappingSubtract(1, ordering: .relaxed) }
}

/// What the HTTP-level guard tells the raw-bytes guard about request boundaries (outbound user events).
enum RequestBoundary: Sendable {
    /// A request's head was decoded: its header deadline is over.
    case headReceived
    /// A request ended: the next bytes start a new head.
    case requestEnded
}

/// The first handler of every connection, before HTTP decoding: admits at most
/// `ConnectionLimits.maximumConnections` connections (the others get a 503 `too_many_connections` and
/// are closed), and closes a connection whose request head does not arrive within `headerTimeout` of its
/// first byte (408), so clients that trickle headers cannot hold connections.
final class ConnectionAdmissionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case idle, head, body
    }

    private let limits: ConnectionLimits
    private var admitted = false
    private var refusing = false
    private var phase = Phase.idle
    private var timer: Scheduled<Void>?

    init(limits: ConnectionLimits) {
        self.limits = limits
    }

    func channelActive(context: ChannelHandlerContext) {
        if limits.tryAdmit() {
            admitted = true
        } else {
            // Answered once the client has sent its request (so it reads the answer), or closed if it sends nothing.
            refusing = true
            schedule(in: .seconds(5), context: context) { handler, context in handler.closeNow(context: context) }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if admitted {
            admitted = false
            limits.release()
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if refusing {
            refusing = false
            respond(.tooManyConnections(), status: "503 Service Unavailable", context: context)
            return
        }
        guard admitted else { return }
        if phase == .idle, unwrapInboundIn(data).readableBytes > 0 {
            phase = .head
            let timeout = limits.headerTimeout
            schedule(in: timeout, context: context) { handler, context in
                guard handler.phase == .head else { return }
                handler.respond(
                    .requestHeaderTimeout(seconds: Double(timeout.nanoseconds) / 1e9), status: "408 Request Timeout", context: context)
            }
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let boundary = event as? RequestBoundary else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch boundary {
        case .headReceived:
            phase = .body
            timer?.cancel()
            timer = nil
        case .requestEnded:
            if phase == .body { phase = .idle }
        }
        promise?.succeed()
    }

    private func schedule(
        in delay: TimeAmount, context: ChannelHandlerContext, _ body: @escaping (ConnectionAdmissionHandler, ChannelHandlerContext) -> Void
    ) {
        timer?.cancel()
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            handler.value.timer = nil
            body(handler.value, boundContext.value)
        }
    }

    private func closeNow(context: ChannelHandlerContext) {
        context.close(promise: nil)
    }

    /// Writes a whole HTTP/1.1 error response in raw bytes (no request was decoded) and closes.
    private func respond(_ error: GatewayError, status: String, context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        let body = error.body(for: .openAI).jsonBuffer
        var out = context.channel.allocator.buffer(capacity: 256 + body.readableBytes)
        out.writeString("HTTP/1.1 \(status)\r\ncontent-type: application/json\r\ncontent-length: \(body.readableBytes)\r\nconnection: close\r\n")
        if let retry = error.shouldRetry { out.writeString("x-should-retry: \(retry)\r\n") }
        if let after = error.retryAfterSeconds { out.writeString("retry-after: \(after)\r\n") }
        out.writeString("\r\n")
        out.writeImmutableBuffer(body)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Hummingbird's HTTP/1.1 child channel with `ConnectionAdmissionHandler` in front of its pipeline.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let limits: ConnectionLimits

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(ConnectionAdmissionHandler(limits: limits), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with Warden's connection admission in front.
    static func guardedHTTP1(configuration: HTTP1Channel.Configuration, limits: ConnectionLimits) -> HTTPServerBuilder {
        .init { responder in
            GuardedHTTP1Channel(inner: HTTP1Channel(responder: responder, configuration: configuration), limits: limits)
        }
    }
}
