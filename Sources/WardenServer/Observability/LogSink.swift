#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import ServiceLifecycle
import Synchronization

/// A buffered, thread-safe writer of log lines to a file descriptor (stdout by default).
///
/// Request logging must not cost a system call per request under load, so lines are appended to an
/// in-memory buffer and written out by a background service every `flushInterval`, or at once when
/// the buffer passes `flushThreshold`. The service flushes on shutdown, so a clean exit loses nothing.
public final class LogSink: Sendable {
    private let fd: Int32
    private let buffer = Mutex<ByteBuffer>(ByteBuffer())
    private let flushThreshold: Int
    /// Serializes writes to the descriptor so lines from two flushes never interleave.
    private let writeLock = Mutex<Void>(())

    public init(fd: Int32 = 1, flushThreshold: Int = 64 * 1024) {
        self.fd = fd
        self.flushThreshold = flushThreshold
    }

    /// Appends one line (a newline is added).
    public func write(line: (inout ByteBuffer) -> Void) {
        // Format outside the lock: two event-loop threads log concurrently.
        var formatted = ByteBuffer()
        formatted.reserveCapacity(512)
        line(&formatted)
        formatted.writeInteger(UInt8(ascii: "\n"))
        let pending: ByteBuffer? = buffer.withLock { b in
            b.writeBuffer(&formatted)
            guard b.readableBytes >= flushThreshold else { return nil }
            let out = b
            b = ByteBuffer()
            b.reserveCapacity(flushThreshold + 4096)
            return out
        }
        if let pending { writeOut(pending) }
    }

    /// Writes everything buffered so far.
    public func flush() {
        let pending: ByteBuffer = buffer.withLock { b in
            let out = b
            b = ByteBuffer()
            return out
        }
        if pending.readableBytes > 0 { writeOut(pending) }
    }

    private func writeOut(_ bytes: ByteBuffer) {
        writeLock.withLock { _ in
            bytes.withUnsafeReadableBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = systemWrite(fd, raw.baseAddress! + offset, raw.count - offset)
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
}

/// Flushes a `LogSink` periodically and once more at shutdown.
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
                sink.flush()
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
