#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOCore
import ServiceLifecycle
import Synchronization
import WardenCore

/// A buffered, thread-safe writer of log lines to a file descriptor (stdout by default).
///
/// Request logging must cost no system call on the event loops: lines are appended to an in-memory
/// buffer (a short lock, no I/O), and full buffers are handed to a writer thread of the sink's own,
/// which does the `write(2)` calls. So a slow log destination (a full pipe, a stalled disk) delays only
/// that thread, never a request. What waits for it is bounded (`maxQueuedBytes`); beyond that, lines
/// are dropped and counted, and a warning says how many once the destination keeps up again.
public final class LogSink: Sendable {
    private let buffer = Mutex<ByteBuffer>(ByteBuffer())
    private let flushThreshold: Int
    private let writer: LogWriterThread

    /// - Parameters:
    ///   - fd: the descriptor lines go to.
    ///   - flushThreshold: bytes buffered before they are handed to the writer thread.
    ///   - maxQueuedBytes: bytes the writer thread may be behind before lines are dropped.
    public init(fd: Int32 = 1, flushThreshold: Int = 64 * 1024, maxQueuedBytes: Int = 16 << 20) {
        self.flushThreshold = flushThreshold
        self.writer = LogWriterThread(fd: fd, maxQueuedBytes: maxQueuedBytes)
    }

    deinit { writer.stop() }

    /// Appends one line (a newline is added).
    public func write(line: (inout ByteBuffer) -> Void) {
        // Format outside the lock: two event-loop threads log concurrently.
        var formatted = ByteBuffer()
        formatted.reserveCapacity(512)
        line(&formatted)
        formatted.writeInteger(UInt8(ascii: "\n"))
        let full: ByteBuffer? = buffer.withLock { b in
            b.writeBuffer(&formatted)
            guard b.readableBytes >= flushThreshold else { return nil }
            let out = b
            b = ByteBuffer()
            b.reserveCapacity(flushThreshold + 4096)
            return out
        }
        if let full { writer.enqueue(full) }
    }

    /// Hands what is buffered to the writer thread without waiting for it to be written.
    public func handOff() {
        let pending: ByteBuffer = buffer.withLock { b in
            let out = b
            b = ByteBuffer()
            return out
        }
        if pending.readableBytes > 0 { writer.enqueue(pending) }
    }

    /// Writes everything buffered so far and waits until it is written (start-up, shutdown, tests).
    /// Blocks the calling thread: not for the request path.
    public func flush() {
        handOff()
        writer.waitUntilWritten()
    }

    /// Lines dropped so far because the destination fell too far behind.
    public var droppedLines: Int { writer.droppedTotal }
}

/// The thread that writes a `LogSink`'s buffers, in order.
final class LogWriterThread: @unchecked Sendable {
    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [ByteBuffer] = []
    private var queuedBytes = 0
    private var isWriting = false
    private var isStopping = false
    private var droppedSinceLastWrite = 0
    private var dropped = 0
    private let fd: Int32
    private let maxQueuedBytes: Int

    init(fd: Int32, maxQueuedBytes: Int) {
        self.fd = fd
        self.maxQueuedBytes = maxQueuedBytes
        let thread = Thread { [self] in run() }
        thread.name = "warden-log-writer"
        thread.start()
    }

    var droppedTotal: Int {
        condition.lock()
        defer { condition.unlock() }
        return dropped
    }

    func enqueue(_ bytes: ByteBuffer) {
        condition.lock()
        defer { condition.unlock() }
        guard queuedBytes + bytes.readableBytes <= maxQueuedBytes else {
            let lines = bytes.readableBytesView.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            droppedSinceLastWrite += lines
            dropped += lines
            return
        }
        queue.append(bytes)
        queuedBytes += bytes.readableBytes
        condition.signal()
    }

    func waitUntilWritten() {
        condition.lock()
        while !queue.isEmpty || isWriting { condition.wait() }
        condition.unlock()
    }

    func stop() {
        condition.lock()
        isStopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        condition.lock()
        while true {
            while queue.isEmpty, !isStopping { condition.wait() }
            if queue.isEmpty, isStopping { break }
            let batch = queue
            let droppedLines = droppedSinceLastWrite
            queue = []
            queuedBytes = 0
            droppedSinceLastWrite = 0
            isWriting = true
            condition.unlock()
            if droppedLines > 0 {
                var warning = ByteBuffer()
                warning.writeString(#"{"ts":""#)
                WallClock.writeRFC3339(unixMilliseconds: WallClock.unixMilliseconds(), to: &warning)
                warning.writeString(
                    #"","level":"warning","msg":"log lines dropped: the log destination fell behind","logger":"warden","warden.dropped_lines":\#(droppedLines)}"#
                        + "\n")
                writeAll(warning)
            }
            for bytes in batch { writeAll(bytes) }
            condition.lock()
            isWriting = false
            condition.broadcast()
        }
        condition.unlock()
    }

    private func writeAll(_ bytes: ByteBuffer) {
        bytes.withUnsafeReadableBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let n = systemWrite(fd, base + offset, raw.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0, errno == EINTR {
                    continue
                } else {
                    return  // the reader is gone; logs cannot be delivered
                }
            }
        }
    }
}

/// Hands a `LogSink`'s buffer to its writer thread periodically, and writes everything at shutdown.
public struct LogFlushService: Service {
    let sink: LogSink
    let interval: Duration

    public init(sink: LogSink, interval: Duration = .milliseconds(100)) {
        self.sink = sink
        self.interval = interval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                sink.handOff()
            }
        }
        sink.flush()
    }
}

@inline(__always)
private func systemWrite(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, pointer, count)
    #else
    return Darwin.write(fd, pointer, count)
    #endif
}
