import Synchronization

/// Bytes of upstream streams that Warden holds right now (read from an upstream, not yet written to
/// its client), across all streams: the gauge that shows backpressure working.
public enum StreamBufferGauge {
    static let bytes = Atomic<Int>(0)
    static let streams = Atomic<Int>(0)

    /// Bytes held by all open streams.
    public static var bufferedBytes: Int { bytes.load(ordering: .relaxed) }
    /// Upstream streams open.
    public static var openStreams: Int { streams.load(ordering: .relaxed) }

    static func add(_ n: Int) { bytes.wrappingAdd(n, ordering: .relaxed) }
}

/// The hand-over between an upstream stream's pump task and the request that relays it: a queue of
/// at most `limit` bytes. The pump waits while it is full, so a client that reads slowly makes Warden
/// read the upstream slowly (TCP then slows the upstream) instead of buffering without bound.
///
/// One producer and one consumer.
final class StreamBuffer<Element: Sendable>: Sendable {
    private struct State {
        var items: [(element: Element, bytes: Int)] = []
        var head = 0
        var bytes = 0
        var end: Result<Void, any Error>?
        var producer: CheckedContinuation<Void, Never>?
        var consumer: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Adds an element of `bytes` bytes, first waiting while the buffer is over its limit. Returns
    /// false if the consumer has gone (the element is dropped).
    @discardableResult
    func send(_ element: Element, bytes: Int) async -> Bool {
        while true {
            let mustWait = state.withLock { s -> Bool in
                s.end == nil && s.bytes >= limit
            }
            guard mustWait else { break }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.end != nil || s.bytes < limit { return true }
                    s.producer = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        }
        let (accepted, consumer) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
            guard s.end == nil else { return (false, nil) }
            s.items.append((element, bytes))
            s.bytes += bytes
            let c = s.consumer
            s.consumer = nil
            return (true, c)
        }
        if accepted { StreamBufferGauge.add(bytes) }
        consumer?.resume()
        return accepted
    }

    /// Ends the stream after the elements already sent (with an error, or normally).
    func finish(_ end: Result<Void, any Error> = .success(())) {
        let consumer = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.end == nil { s.end = end }
            let c = s.consumer
            s.consumer = nil
            return c
        }
        consumer?.resume()
    }

    /// The consumer has gone: drop what is held and release a waiting producer.
    func cancel() {
        let (producer, dropped) = state.withLock { s -> (CheckedContinuation<Void, Never>?, Int) in
            if s.end == nil { s.end = .failure(CancellationError()) }
            let dropped = s.bytes
            s.items.removeAll()
            s.head = 0
            s.bytes = 0
            let p = s.producer
            s.producer = nil
            return (p, dropped)
        }
        if dropped > 0 { StreamBufferGauge.add(-dropped) }
        producer?.resume()
    }

    /// The next element, nil at the normal end; throws the error the stream ended with.
    func next() async throws -> Element? {
        while true {
            let step = state.withLock { s -> (Element?, Int, CheckedContinuation<Void, Never>?, Result<Void, any Error>?) in
                if s.head < s.items.count {
                    let item = s.items[s.head]
                    s.head += 1
                    if s.head == s.items.count {
                        s.items.removeAll(keepingCapacity: true)
                        s.head = 0
                    }
                    s.bytes -= item.bytes
                    var producer: CheckedContinuation<Void, Never>?
                    if s.bytes < limit {
                        producer = s.producer
                        s.producer = nil
                    }
                    return (item.element, item.bytes, producer, nil)
                }
                return (nil, 0, nil, s.end)
            }
            if let element = step.0 {
                StreamBufferGauge.add(-step.1)
                step.2?.resume()
                return element
            }
            if let end = step.3 {
                try end.get()
                return nil
            }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.head < s.items.count || s.end != nil { return true }
                    s.consumer = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        }
    }
}
