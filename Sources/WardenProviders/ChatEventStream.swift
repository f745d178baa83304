import AsyncHTTPClient
import NIOCore
import Synchronization
import WardenCore

/// A streamed upstream chat response as canonical chunks.
///
/// The upstream body is read by a pump task and decoded there, so that the total deadline and a client
/// going away can cancel the upstream call without cancelling the request's own task (which must stay
/// able to write the final error event to the client).
public final class ChatEventStream: Sendable {
    /// Why the stream ended early.
    public enum StreamError: Error, Sendable, Equatable {
        /// The connection broke or the upstream sent something unreadable.
        case broken(String)
        /// The model's total timeout passed.
        case timedOut
    }

    private let iterator: IteratorBox
    private let pump: Task<Void, Never>
    private let timer: Scheduled<Void>?

    /// Starts pumping `body`.
    /// - Parameters:
    ///   - decode: turns one SSE event into a chunk; returns nil at the end marker (`[DONE]`).
    ///   - deadline: when the whole call must have finished.
    init(
        body: HTTPClientResponse.Body, deadline: NIODeadline, eventLoop: any EventLoop,
        decode: @escaping @Sendable (ServerSentEvent) throws -> ChatStreamChunk?
    ) {
        let (stream, continuation) = AsyncThrowingStream<ChatStreamChunk, any Error>.makeStream()
        let timedOut = Atomic<Bool>(false)
        let pump = Task {
            var parser = ServerSentEventParser()
            do {
                loop: for try await buffer in body {
                    for event in try parser.parse(buffer) {
                        guard let chunk = try decode(event) else { break loop }
                        continuation.yield(chunk)
                    }
                }
                if let last = parser.finish(), let chunk = try decode(last) { continuation.yield(chunk) }
                continuation.finish()
            } catch {
                if timedOut.load(ordering: .acquiring) {
                    continuation.finish(throwing: StreamError.timedOut)
                } else if Task.isCancelled {
                    continuation.finish(throwing: CancellationError())
                } else {
                    continuation.finish(throwing: StreamError.broken(Self.describe(error)))
                }
            }
        }
        continuation.onTermination = { _ in pump.cancel() }
        self.iterator = IteratorBox(stream.makeAsyncIterator())
        self.pump = pump
        self.timer = eventLoop.scheduleTask(deadline: deadline) {
            timedOut.store(true, ordering: .releasing)
            pump.cancel()
        }
    }

    deinit {
        timer?.cancel()
        pump.cancel()
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? HTTPClientError, e == .remoteConnectionClosed {
            return "the upstream closed the connection mid-stream"
        }
        if error is JSONParseError { return "the upstream sent malformed JSON mid-stream (\(error))" }
        return "the upstream stream failed (\(error))"
    }

    /// The next chunk, or nil at the end of the stream. One consumer only, one call at a time.
    ///
    /// Throws `StreamError` when the upstream breaks or times out; returns nil if the calling task is cancelled.
    public func next() async throws -> ChatStreamChunk? {
        try await iterator.next()
    }

    /// Holds the single consumer's iterator. Not thread-safe by design: a stream has exactly one reader,
    /// the request's own task, which calls `next()` sequentially.
    private final class IteratorBox: @unchecked Sendable {
        var iterator: AsyncThrowingStream<ChatStreamChunk, any Error>.AsyncIterator
        init(_ iterator: AsyncThrowingStream<ChatStreamChunk, any Error>.AsyncIterator) { self.iterator = iterator }
        func next() async throws -> ChatStreamChunk? { try await iterator.next() }
    }

    /// Stops reading the upstream (the client went away or Warden gave up on the stream).
    public func cancel() {
        timer?.cancel()
        pump.cancel()
    }
}
