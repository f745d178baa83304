import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock time without Foundation's `Date` overhead on the hot path.
public enum WallClock {
    /// Seconds since the Unix epoch.
    public static func unixSeconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int(ts.tv_sec)
    }

    /// Milliseconds since the Unix epoch.
    public static func unixMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// The formatted second of the last call, reused while the second lasts (log lines come in bursts).
    private static let lastSecond = Mutex<(second: Int64, text: String)>((-1, ""))

    /// An RFC 3339 UTC timestamp with milliseconds, e.g. `2026-11-29T21:34:19.123Z`.
    public static func rfc3339(unixMilliseconds ms: Int64) -> String {
        let second = ms / 1000
        let prefix = lastSecond.withLock { cached -> String in
            if cached.second == second { return cached.text }
            let text = String(formatSecond(second))
            cached = (second, text)
            return text
        }
        let millis = String(ms % 1000)
        return prefix + "." + String(repeating: "0", count: 3 - millis.count) + millis + "Z"
    }

    /// Writes `rfc3339(unixMilliseconds:)` into `buffer` without allocating a string per call.
    public static func writeRFC3339(unixMilliseconds ms: Int64, to buffer: inout ByteBuffer) {
        let second = ms / 1000
        let prefix = lastSecond.withLock { cached -> String in
            if cached.second == second { return cached.text }
            let text = formatSecond(second)
            cached = (second, text)
            return text
        }
        buffer.writeString(prefix)
        let millis = Int(ms % 1000)
        buffer.writeInteger(UInt8(ascii: "."))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(millis / 100))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(millis / 10 % 10))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(millis % 10))
        buffer.writeInteger(UInt8(ascii: "Z"))
    }

    /// `2026-11-29T21:34:19` for a Unix second.
    static func formatSecond(_ second: Int64) -> String {
        let ms = second * 1000
        var t = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
    }
}
