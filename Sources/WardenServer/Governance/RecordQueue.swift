import Synchronization

/// The queue between requests and a background writer: requests append (no I/O, a short lock), the
/// writer takes the oldest records in chunks and puts a chunk back in front if the store refused it.
///
/// Appending never fails: the record of an answered request is never dropped. The bound is enforced
/// before a request starts instead (`isSaturated`, answered with 503 `store_unavailable`), so the
/// backlog can exceed `capacity` only by what requests already in flight add.
final class RecordQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var head = 0
        var count: Int { items.count - head }
    }

    private let state = Mutex(State())
    /// Records waiting beyond which new model requests are refused.
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    func append(_ element: Element) {
        state.withLock { $0.items.append(element) }
    }

    /// Records waiting to be written.
    var count: Int { state.withLock { $0.count } }

    /// Whether the backlog has reached `capacity`.
    var isSaturated: Bool { count >= capacity }

    /// Removes and returns the oldest records, at most `limit`.
    func take(upTo limit: Int) -> [Element] {
        state.withLock { s in
            let n = min(limit, s.count)
            guard n > 0 else { return [] }
            let out = Array(s.items[s.head..<(s.head + n)])
            s.head += n
            if s.head == s.items.count {
                s.items.removeAll(keepingCapacity: s.items.capacity <= 4096)
                s.head = 0
            } else if s.head > 1024, s.head * 2 > s.items.count {
                s.items.removeFirst(s.head)
                s.head = 0
            }
            return out
        }
    }

    /// Puts records taken by `take` back in front, in their order (the store refused them).
    func restore(_ elements: [Element]) {
        guard !elements.isEmpty else { return }
        state.withLock { s in
            if s.head >= elements.count {
                s.head -= elements.count
                s.items.replaceSubrange(s.head..<(s.head + elements.count), with: elements)
            } else {
                s.items.replaceSubrange(0..<s.head, with: elements)
                s.head = 0
            }
        }
    }
}
