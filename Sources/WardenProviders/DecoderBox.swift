import Synchronization

/// A stateful stream decoder shared with the pump task. Only the pump touches it, one event at a time,
/// so the lock is never contended; it exists to make the handoff `Sendable`.
final class DecoderBox<Decoder: Sendable>: Sendable {
    private let decoder: Mutex<Decoder>

    init(_ decoder: Decoder) { self.decoder = Mutex(decoder) }

    func withLock<R, E: Error>(_ body: (inout sending Decoder) throws(E) -> sending R) throws(E) -> sending R {
        try decoder.withLock(body)
    }
}
