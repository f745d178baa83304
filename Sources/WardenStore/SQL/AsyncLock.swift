import Synchronization

/// A first-in, first-out lock for async code: `withLock` suspends (never blocks a thread) until the
/// lock is free. Used to give one SQLite connection's transactions exclusive use of it.
final class AsyncLock: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0
    }

    private let state = Mutex(State())

    func withLock<T>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        let acquired = state.withLock { s -> Bool in
            if s.locked { return false }
            s.locked = true
            return true
        }
        if acquired { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let immediately = state.withLock { s -> Bool in
                if !s.locked {
                    s.locked = true
                    return true
                }
                s.waiters.append(continuation)
                return false
            }
            if immediately { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.head < s.waiters.count else {
                s.locked = false
                s.waiters.removeAll(keepingCapacity: true)
                s.head = 0
                return nil
            }
            let c = s.waiters[s.head]
            s.head += 1
            return c  // the lock passes straight to the next waiter
        }
        next?.resume()
    }
}
