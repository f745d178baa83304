import Logging
import ServiceLifecycle
import Synchronization
import WardenCore
import WardenStore

/// Writes usage records and reservation bookkeeping in batches, off the request path.
///
/// Requests only append to a bounded queue; a background service writes it in chunks of at most
/// `chunkSize` operations, one transaction per chunk, every `interval` (100 ms) or at once while a
/// backlog remains, and once more at shutdown, so a clean stop loses nothing and a crash at most one
/// interval. A failed chunk goes back to the front of the queue and is retried (records are idempotent
/// by id), so writes keep their order.
public final class StoreWriter: Sendable {
    enum Operation: Sendable {
        case reserve(ReservationRecord)
        case usage(UsageRecord)
        case settle(String)
    }

    let queue: RecordQueue<Operation>
    let store: SQLStore
    let logger: Logger
    /// Operations per transaction.
    let chunkSize: Int
    /// One chunk at a time, in queue order (the background service and a ledger loading a balance both flush).
    private let flushLock = AsyncLock()

    init(store: SQLStore, logger: Logger, capacity: Int = 20_000, chunkSize: Int = 2_000) {
        self.store = store
        self.logger = logger
        self.queue = RecordQueue(capacity: capacity)
        self.chunkSize = chunkSize
    }

    public func record(_ usage: UsageRecord) {
        queue.append(.usage(usage))
    }

    public func recordReservation(_ reservation: ReservationRecord) {
        queue.append(.reserve(reservation))
    }

    public func recordSettlement(reservationID: String) {
        queue.append(.settle(reservationID))
    }

    /// Operations waiting for the store.
    var backlog: Int { queue.count }

    /// Writes one chunk of the queue. Returns false if the store refused it (it is back in the queue).
    ///
    /// A reservation made and settled within the chunk is written neither way: the usage record carries
    /// the spend, and the reservation would be inserted only to be deleted in the same transaction.
    @discardableResult
    func flushChunk() async -> Bool {
        do {
            return try await flushLock.withLock { await flushChunkLocked() }
        } catch {
            return false  // cancelled while waiting for the lock
        }
    }

    private func flushChunkLocked() async -> Bool {
        let chunk = queue.take(upTo: chunkSize)
        guard !chunk.isEmpty else { return true }
        var settledHere = Set<String>()
        for case .settle(let id) in chunk { settledHere.insert(id) }
        var reservations: [ReservationRecord] = []
        var usage: [UsageRecord] = []
        var settled: [String] = []
        var reservedHere = Set<String>()
        for operation in chunk {
            switch operation {
            case .reserve(let r):
                reservedHere.insert(r.id)
                if !settledHere.contains(r.id) { reservations.append(r) }
            case .usage(let u): usage.append(u)
            case .settle(let id): if !reservedHere.contains(id) { settled.append(id) }
            }
        }
        do {
            try await store.writeBatch(reservations: reservations, usage: usage, settled: settled)
            return true
        } catch {
            if !(error is CancellationError) {
                logger.error("cannot write usage to the store; will retry", metadata: ["error": "\(error)", "warden.records": "\(usage.count)"])
            }
            queue.restore(chunk)
            return false
        }
    }

    /// Writes everything queued so far (chunk by chunk), stopping at the first chunk the store refuses.
    public func flush() async {
        while queue.count > 0 {
            guard await flushChunk() else { return }
        }
    }
}

/// Runs a background writer: a chunk as soon as one is full, else whatever is queued every `interval`;
/// after a failure it waits `interval` before retrying. At shutdown it writes what is left.
struct BackgroundWriterService: Service {
    let name: String
    let interval: Duration
    let chunkSize: Int
    let backlog: @Sendable () -> Int
    let writeChunk: @Sendable () async -> Bool
    let drain: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                // A full chunk is written at once; a trickle is gathered for an interval first.
                if backlog() < chunkSize {
                    try? await Task.sleep(for: interval)
                    if Task.isCancelled { break }
                }
                if !(await writeChunk()) {
                    try? await Task.sleep(for: interval)
                }
            }
        }
        await drain()
    }
}

extension StoreWriter {
    var service: BackgroundWriterService {
        BackgroundWriterService(
            name: "usage", interval: .milliseconds(100), chunkSize: chunkSize, backlog: { self.backlog },
            writeChunk: { await self.flushChunk() }, drain: { await self.flush() })
    }
}
