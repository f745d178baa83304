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
        // One element per network read: the events of a read travel together, so a burst of events
        // costs one hand-over between tasks, not one per event.
        let (stream, continuation) = AsyncThrowingStream<[ChatStreamChunk], any Error>.makeStream()
        let timedOut = Atomic<Bool>(false)
        let pump = Task {
            var parser = ServerSentEventParser()
            do {
                var done = false
                for try await buffer in body {
                    var batch: [ChatStreamChunk] = []
                    for event in try parser.parse(buffer) {
                        guard let chunk = try decode(event) else {
                            done = true
                            break
                        }
                        batch.append(chunk)
                    }
                    if !batch.isEmpty { continuation.yield(batch) }
                    if done { break }
                }
                if !done, let last = parser.finish(), let chunk = try decode(last) { continuation.yield([chunk]) }
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
    /// Throws `StreamError` when the upstream breaks or times out, and `CancellationError` when the
    /// calling task is cancelled (its client went away).
    public func next() async throws -> ChatStreamChunk? {
        let chunk = try await iterator.next()
        if chunk == nil, Task.isCancelled { throw CancellationError() }
        return chunk
    }

    /// Holds the single consumer's iterator and the rest of the current batch. Not thread-safe by
    /// design: a stream has exactly one reader, the request's own task, which calls `next()` in turn.
    private final class IteratorBox: @unchecked Sendable {
        var iterator: AsyncThrowingStream<[ChatStreamChunk], any Error>.AsyncIterator
        var pending: [ChatStreamChunk] = []
        var index = 0

        init(_ iterator: AsyncThrowingStream<[ChatStreamChunk], any Error>.AsyncIterator) { self.iterator = iterator }

        func next() async throws -> ChatStreamChunk? {
            if index < pending.count {
                defer { index += 1 }
                return pending[index]
            }
            guard let batch = try await iterator.next(), !batch.isEmpty else { return nil }
            pending = batch
            index = 1
            return batch[0]
        }
    }

    /// Stops reading the upstream (the client went away or Warden gave up on the stream).
    public func cancel() {
        timer?.cancel()
        pump.cancel()
    }
}
