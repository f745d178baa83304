import AsyncHTTPClient
import NIOCore
import Synchronization
import WardenCore

/// A streamed upstream chat response as canonical chunks.
///
/// The upstream body is read by a pump task and decoded there, so that the total deadline and a client
/// going away can cancel the upstream call without cancelling the request's own task (which must stay
/// able to write the final error event to the client). The pump hands reads over through a
/// `StreamBuffer` of at most `bufferLimit` bytes: while the client reads slowly, the pump stops reading
/// the upstream, so memory stays bounded whatever the upstream's speed.
public final class ChatEventStream: Sendable {
    /// Bytes of upstream reads a stream may hold before the pump waits for the client.
    public static let bufferLimit = 256 * 1024

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
    private let buffer: StreamBuffer<Batch>
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
        let buffer = StreamBuffer<Batch>(limit: Self.bufferLimit)
        let timedOut = Atomic<Bool>(false)
        StreamBufferGauge.streams.wrappingAdd(1, ordering: .relaxed)
        let pump = Task {
            defer { StreamBufferGauge.streams.wrappingAdd(-1, ordering: .relaxed) }
            var parser = ServerSentEventParser()
            do {
                var done = false
                for try await read in body {
                    var batch: [ChatStreamChunk] = []
                    for event in try parser.parse(read) {
                        guard let chunk = try decode(event) else {
                            done = true
                            break
                        }
                        batch.append(chunk)
                    }
                    if !batch.isEmpty || done {
                        guard await buffer.send(Batch(chunks: batch, isLast: done), bytes: read.readableBytes) else { return }
                    }
                    if done { break }
                }
                if !done {
                    var tail: [ChatStreamChunk] = []
                    if let last = parser.finish(), let chunk = try decode(last) { tail.append(chunk) }
                    await buffer.send(Batch(chunks: tail, isLast: true), bytes: 0)
                }
                buffer.finish()
            } catch {
                if timedOut.load(ordering: .acquiring) {
                    buffer.finish(.failure(StreamError.timedOut))
                } else if Task.isCancelled {
                    buffer.finish(.failure(CancellationError()))
                } else {
                    buffer.finish(.failure(StreamError.broken(Self.describe(error))))
                }
            }
        }
        self.state = State(buffer)
        self.buffer = buffer
        self.pump = pump
        self.timer = eventLoop.scheduleTask(deadline: deadline) {
            timedOut.store(true, ordering: .releasing)
            pump.cancel()
        }
    }

    deinit {
        timer?.cancel()
        pump.cancel()
        buffer.cancel()
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? HTTPClientError, e == .remoteConnectionClosed {
            return "the upstream closed the connection mid-stream"
        }
        if error is JSONParseError { return "the upstream sent malformed JSON mid-stream (\(error))" }
        if let tooLong = error as? ServerSentEventParser.TooLong { return "the upstream sent \(tooLong)" }
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
        guard let batch = try await state.source.next() else {
            if Task.isCancelled { throw CancellationError() }
            state.finished = true
            return
        }
        state.load(batch)
    }

    /// Holds the single consumer's iterator and the rest of the current batch. Not thread-safe by
    /// design: a stream has exactly one reader, the request's own task, which calls in turn.
    private final class State: @unchecked Sendable {
        let source: StreamBuffer<Batch>
        private var chunks: [ChatStreamChunk] = []
        private var index = 0
        private var currentIsLast = false
        /// The upstream produced nothing more (after a last batch, or when the body simply ended).
        var finished = false

        init(_ source: StreamBuffer<Batch>) { self.source = source }

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
        buffer.cancel()
    }
}
