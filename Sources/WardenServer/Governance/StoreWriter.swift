import Logging
import ServiceLifecycle
import Synchronization
import WardenCore
import WardenStore

/// Writes usage records and reservation bookkeeping in batches, off the request path.
///
/// Requests only append to an in-memory queue; a background service flushes it every `interval`
/// (100 ms) in one transaction, and once more at shutdown, so a clean stop loses nothing and a crash
/// at most one interval. A failed flush is retried with the next one (records are idempotent by id).
public final class StoreWriter: Sendable {
    struct Pending {
        var usage: [UsageRecord] = []
        var reservations: [ReservationRecord] = []
        var settled: [String] = []
        var isEmpty: Bool { usage.isEmpty && reservations.isEmpty && settled.isEmpty }
    }

    private let pending = Mutex(Pending())
    let store: SQLStore
    let logger: Logger

    init(store: SQLStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    public func record(_ usage: UsageRecord) {
        pending.withLock { $0.usage.append(usage) }
    }

    public func recordReservation(_ reservation: ReservationRecord) {
        pending.withLock { $0.reservations.append(reservation) }
    }

    public func recordSettlement(reservationID: String) {
        pending.withLock { $0.settled.append(reservationID) }
    }

    /// Writes everything queued so far. Order matters: a reservation settled in the same batch is first
    /// inserted, then deleted, so the result is the same as if they had been written one by one.
    public func flush() async {
        let batch = pending.withLock { p -> Pending in
            let out = p
            p = Pending()
            return out
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.insertReservations(batch.reservations)
            try await store.insertUsage(batch.usage)
            try await store.deleteReservations(batch.settled)
        } catch {
            if !(error is CancellationError) {
                logger.error("cannot write usage to the store; will retry", metadata: ["error": "\(error)", "warden.records": "\(batch.usage.count)"])
            }
            pending.withLock { p in
                p.reservations = batch.reservations + p.reservations
                p.usage = batch.usage + p.usage
                p.settled = batch.settled + p.settled
            }
        }
    }
}

/// Flushes a `StoreWriter` every `interval` and at shutdown.
struct StoreWriterService: Service {
    let writer: StoreWriter
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                await writer.flush()
            }
        }
        await writer.flush()
    }
}
