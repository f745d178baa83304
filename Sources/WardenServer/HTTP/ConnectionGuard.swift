import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import Synchronization
import WardenCore

/// Per-connection protection that Hummingbird does not give: a deadline on receiving a request body
/// (answered with 408, so slow-loris clients cannot hold a connection and a task forever), and
/// cancellation of a request's work when its client disconnects.
///
/// It sits in the channel pipeline after HTTP decoding, so it sees request heads and ends and response
/// heads. The body timer starts at a request head that announces a body and stops at the request's
/// end or when a response starts, whichever comes first.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let bodyTimeout: TimeAmount
    private let registry: ConnectionRegistry
    private var timer: Scheduled<Void>?
    private var isAnthropicPath = false
    private var responseStarted = false

    init(bodyTimeout: TimeAmount, registry: ConnectionRegistry) {
        self.bodyTimeout = bodyTimeout
        self.registry = registry
    }

    /// A request whose head announced a body that has not fully arrived yet.
    private var awaitingBody = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            context.triggerUserOutboundEvent(RequestBoundary.headReceived, promise: nil)
            responseStarted = false
            isAnthropicPath = head.path?.hasPrefix("/v1/messages") ?? false
            let length = head.headerFields[.contentLength].flatMap(Int.init) ?? 0
            let chunked = head.headerFields[.transferEncoding]?.lowercased().contains("chunked") ?? false
            awaitingBody = length > 0 || chunked
        case .body:
            break
        case .end:
            context.triggerUserOutboundEvent(RequestBoundary.requestEnded, promise: nil)
            awaitingBody = false
            timer?.cancel()
            timer = nil
        }
        context.fireChannelRead(data)
    }

    /// The timer starts only when a read ends with the body still incomplete: a typical request arrives
    /// whole in one read and never pays for a timer.
    func channelReadComplete(context: ChannelHandlerContext) {
        if awaitingBody, timer == nil, !responseStarted {
            let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
            let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(in: bodyTimeout) {
                loopBoundSelf.value.bodyTimedOut(context: loopBoundContext.value)
            }
        }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .head = unwrapOutboundIn(data) {
            responseStarted = true
            awaitingBody = false
            timer?.cancel()
            timer = nil
        }
        context.write(data, promise: promise)
    }

    /// Hummingbird allows remote half-closure, so a client that goes away shows up first as the end of its
    /// input (the channel stays active until Warden writes). Like nginx, Warden treats the end of input
    /// during a request as the client abandoning it.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            registry.connectionClosed(ObjectIdentifier(context.channel))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        registry.connectionClosed(ObjectIdentifier(context.channel))
        context.fireChannelInactive()
    }

    /// A request that is not valid HTTP/1.1 gets a JSON 400 (431 for headers over the limits) and the
    /// connection is closed. (Left alone, Hummingbird would answer with an empty body.)
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        timer?.cancel()
        timer = nil
        guard !responseStarted else {
            context.close(promise: nil)
            return
        }
        if parserError == .headerOverflow {
            refuse(.headersTooLarge(), status: .requestHeaderFieldsTooLarge, context: context)
        } else {
            refuse(.malformedHTTP("\(error)"), status: .badRequest, context: context)
        }
    }

    private func bodyTimedOut(context: ChannelHandlerContext) {
        timer = nil
        guard !responseStarted, awaitingBody else { return }
        refuse(.requestTimeout(seconds: Double(bodyTimeout.nanoseconds) / 1e9), status: .requestTimeout, context: context)
    }

    /// Answers `error` directly on the channel and closes it.
    private func refuse(_ error: GatewayError, status: HTTPResponse.Status, context: ChannelHandlerContext) {
        responseStarted = true
        awaitingBody = false
        let body = error.body(for: isAnthropicPath ? .anthropic : .openAI).jsonBuffer
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(body.readableBytes)
        fields[.connection] = "close"
        fields[HTTPField.Name("x-should-retry")!] = error.shouldRetry == true ? "true" : "false"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}

/// Which request task is running on which connection, so a disconnect can cancel it.
///
/// The request registers its own task for the span of its upstream work and deregisters before that span
/// ends; cancellation happens under the same lock, so a task is never touched after it left the span.
final class ConnectionRegistry: Sendable {
    private struct Watched: @unchecked Sendable {
        // Only used under `watched`'s lock, while the owning task is inside `cancellingOnDisconnect`.
        let task: UnsafeCurrentTask
    }

    private let watched = Mutex<[ObjectIdentifier: Watched]>([:])

    func connectionClosed(_ id: ObjectIdentifier) {
        watched.withLock { table in
            if let entry = table.removeValue(forKey: id) { entry.task.cancel() }
        }
    }

    /// Runs `operation`, cancelling it if the connection `id` closes meanwhile.
    func cancellingOnDisconnect<T>(
        _ id: ObjectIdentifier?, isolation: isolated (any Actor)? = #isolation, _ operation: () async throws -> T
    ) async throws -> T {
        guard let id else { return try await operation() }
        withUnsafeCurrentTask { task in
            guard let task else { return }
            watched.withLock { $0[id] = Watched(task: task) }
        }
        defer { _ = watched.withLock { $0.removeValue(forKey: id) } }
        return try await operation()
    }
}
