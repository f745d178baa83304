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
    private static let lastSecond = Mutex<(second: Int64, text: String)>((.min, ""))

    /// An RFC 3339 UTC timestamp with milliseconds, e.g. `2026-11-29T21:34:19.123Z`.
    public static func rfc3339(unixMilliseconds ms: Int64) -> String {
        let (second, millisecond) = split(ms)
        let prefix = lastSecond.withLock { cached -> String in
            if cached.second == second { return cached.text }
            let text = String(formatSecond(second))
            cached = (second, text)
            return text
        }
        let millis = String(millisecond)
        return prefix + "." + String(repeating: "0", count: 3 - millis.count) + millis + "Z"
    }

    /// The second and the millisecond within it (0...999, also before 1970).
    static func split(_ ms: Int64) -> (second: Int64, millisecond: Int64) {
        var (second, millisecond) = ms.quotientAndRemainder(dividingBy: 1000)
        if millisecond < 0 {
            millisecond += 1000
            second -= 1
        }
        return (second, millisecond)
    }

    /// Writes `rfc3339(unixMilliseconds:)` into `buffer` without allocating a string per call.
    public static func writeRFC3339(unixMilliseconds ms: Int64, to buffer: inout ByteBuffer) {
        let (second, millisecond) = split(ms)
        let prefix = lastSecond.withLock { cached -> String in
            if cached.second == second { return cached.text }
            let text = formatSecond(second)
            cached = (second, text)
            return text
        }
        buffer.writeString(prefix)
        let millis = Int(millisecond)
        buffer.writeInteger(UInt8(ascii: "."))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(millis / 100))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(millis / 10 % 10))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(millis % 10))
        buffer.writeInteger(UInt8(ascii: "Z"))
    }

    /// Parses RFC 3339 (`2026-11-29T21:34:19Z`, `…19.5+01:00`) or a bare date (`2026-11-29`, midnight UTC)
    /// into Unix milliseconds.
    public static func parseRFC3339(_ text: String) -> Int64? {
        let chars = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int32? {
            guard from + count <= chars.count else { return nil }
            var v: Int32 = 0
            for c in chars[from..<(from + count)] {
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int32(c - 0x30)
            }
            return v
        }
        guard chars.count >= 10, chars[4] == UInt8(ascii: "-"), chars[7] == UInt8(ascii: "-"),
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), (1...12).contains(month),
            (1...31).contains(day)
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        var millis: Int64 = 0
        var offsetSeconds: Int64 = 0
        if chars.count > 10 {
            guard chars[10] == UInt8(ascii: "T") || chars[10] == UInt8(ascii: "t") || chars[10] == UInt8(ascii: " "),
                let hour = number(11, 2), chars.count > 13, chars[13] == UInt8(ascii: ":"), let minute = number(14, 2),
                chars.count > 16, chars[16] == UInt8(ascii: ":"), let second = number(17, 2), hour < 24, minute < 60, second < 61
            else { return nil }
            parts.tm_hour = hour
            parts.tm_min = minute
            parts.tm_sec = second
            var i = 19
            if i < chars.count, chars[i] == UInt8(ascii: ".") {
                i += 1
                var digits = 0
                while i < chars.count, chars[i] >= 0x30, chars[i] <= 0x39 {
                    if digits < 3 { millis = millis * 10 + Int64(chars[i] - 0x30) }
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return nil }
                for _ in digits..<3 where digits < 3 { millis *= 10 }
            }
            guard i < chars.count else { return nil }
            if chars[i] == UInt8(ascii: "Z") || chars[i] == UInt8(ascii: "z") {
                guard i + 1 == chars.count else { return nil }
            } else if chars[i] == UInt8(ascii: "+") || chars[i] == UInt8(ascii: "-") {
                guard i + 6 == chars.count, let oh = number(i + 1, 2), chars[i + 3] == UInt8(ascii: ":"), let om = number(i + 4, 2)
                else { return nil }
                offsetSeconds = Int64(oh) * 3600 + Int64(om) * 60
                if chars[i] == UInt8(ascii: "-") { offsetSeconds = -offsetSeconds }
            } else {
                return nil
            }
        }
        let seconds = Int64(timegm(&parts)) - offsetSeconds
        return seconds * 1000 + millis
    }

    /// `2026-11-29T21:34:19` for a Unix second.
    static func formatSecond(_ second: Int64) -> String {
        var t = time_t(second)
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

/// HTTP dates (RFC 9110 §5.6.7), as `Retry-After` may carry them: the preferred IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) and the two obsolete forms recipients must still accept
/// (`Sunday, 06-Nov-94 08:49:37 GMT`, asctime's `Sun Nov  6 08:49:37 1994`).
public enum HTTPDate {
    /// The date as Unix milliseconds, or nil when the text is not an HTTP date.
    public static func parse(_ text: String) -> Int64? {
        guard text.utf8.count <= 64 else { return nil }
        let words = text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        var day: Int?
        var month: Int?
        var year: Int?
        var clock: String?
        switch words.count {
        case 6 where words[5] == "GMT":  // IMF-fixdate: day, DD Mon YYYY HH:MM:SS GMT
            day = Int(words[1])
            month = months.firstIndex(of: words[2]).map { $0 + 1 }
            year = words[3].utf8.count == 4 ? Int(words[3]) : nil
            clock = words[4]
        case 4 where words[3] == "GMT":  // RFC 850: Weekday, DD-Mon-YY HH:MM:SS GMT
            let parts = words[1].split(separator: "-").map(String.init)
            guard parts.count == 3, parts[2].utf8.count == 2, let yy = Int(parts[2]) else { return nil }
            day = Int(parts[0])
            month = months.firstIndex(of: parts[1]).map { $0 + 1 }
            year = yy < 70 ? 2000 + yy : 1900 + yy
            clock = words[2]
        case 5:  // asctime: Day Mon D HH:MM:SS YYYY
            month = months.firstIndex(of: words[1]).map { $0 + 1 }
            day = Int(words[2])
            clock = words[3]
            year = words[4].utf8.count == 4 ? Int(words[4]) : nil
        default:
            return nil
        }
        guard let day, let month, let year, let clock, (1...31).contains(day), (1900...9999).contains(year) else { return nil }
        let hms = clock.split(separator: ":").map { Int($0) }
        guard hms.count == 3, let h = hms[0], let m = hms[1], let s = hms[2], (0..<24).contains(h), (0..<60).contains(m),
            (0...60).contains(s)
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return (Int64(days) * 86_400 + Int64(h * 3600 + m * 60 + s)) * 1000
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
