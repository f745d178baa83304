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
    /// The events of one network read. `isLast` marks the read that ended the stream (its end marker,
    /// or the end of the body).
    public struct Batch: Sendable {
        public var chunks: [ChatStreamChunk]
        public var isLast: Bool
    }

    /// Why the stream ended early.
    public enum StreamError: Error, Sendable, Equatable {
        /// The connection broke or the upstream sent something unreadable.
        case broken(String)
        /// The model's total timeout passed.
        case timedOut
    }

    private let state: State
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
        let (stream, continuation) = AsyncThrowingStream<Batch, any Error>.makeStream()
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
                    if !batch.isEmpty || done { continuation.yield(Batch(chunks: batch, isLast: done)) }
                    if done { break }
                }
                if !done {
                    var tail: [ChatStreamChunk] = []
                    if let last = parser.finish(), let chunk = try decode(last) { tail.append(chunk) }
                    continuation.yield(Batch(chunks: tail, isLast: true))
                }
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
        self.state = State(stream.makeAsyncIterator())
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
        while true {
            if let chunk = state.takeOne() { return chunk }
            if state.isDone { return nil }
            try await refill()
        }
    }

    /// The rest of the current read's chunks if some are left, else the next read's; nil at the end.
    /// `isLast` marks the read that ended the stream, so its closing frames can share one write.
    public func nextBatch() async throws -> Batch? {
        while true {
            if let rest = state.takeRest() { return rest }
            if state.isDone { return nil }
            try await refill()
        }
    }

    /// The chunks left from the current read, without waiting (nil if none are left).
    public func pendingBatch() -> Batch? {
        state.takeRest()
    }

    private func refill() async throws {
        guard let batch = try await state.iterator.next() else {
            if Task.isCancelled { throw CancellationError() }
            state.finished = true
            return
        }
        state.load(batch)
    }

    /// Holds the single consumer's iterator and the rest of the current batch. Not thread-safe by
    /// design: a stream has exactly one reader, the request's own task, which calls in turn.
    private final class State: @unchecked Sendable {
        var iterator: AsyncThrowingStream<Batch, any Error>.AsyncIterator
        private var chunks: [ChatStreamChunk] = []
        private var index = 0
        private var currentIsLast = false
        /// The upstream produced nothing more (after a last batch, or when the body simply ended).
        var finished = false

        init(_ iterator: AsyncThrowingStream<Batch, any Error>.AsyncIterator) { self.iterator = iterator }

        var isDone: Bool { finished || (currentIsLast && index >= chunks.count) }

        func load(_ batch: Batch) {
            chunks = batch.chunks
            index = 0
            currentIsLast = batch.isLast
        }

        func takeOne() -> ChatStreamChunk? {
            guard index < chunks.count else { return nil }
            defer { index += 1 }
            return chunks[index]
        }

        /// The chunks not yet taken from the current batch, if any (or an empty last batch once).
        func takeRest() -> Batch? {
            if index < chunks.count {
                let rest = Array(chunks[index...])
                index = chunks.count
                return Batch(chunks: rest, isLast: currentIsLast)
            }
            return nil
        }
    }

    /// Stops reading the upstream (the client went away or Warden gave up on the stream).
    public func cancel() {
        timer?.cancel()
        pump.cancel()
    }
}
