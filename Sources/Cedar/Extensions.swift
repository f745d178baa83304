/// Cedar's `decimal`: a fixed-point number with four fractional digits, held as an `Int64` of ten-thousandths.
public struct CedarDecimal: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var scaled: Int64

    /// Parses `-?DIGITS.DIGITS` with one to four fractional digits; nil when malformed or out of range.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        var i = 0
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { i = 1 }
        let intStart = i
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
        guard i > intStart, i < bytes.count, bytes[i] == UInt8(ascii: ".") else { return nil }
        let intDigits = bytes[intStart..<i]
        i += 1
        let fracStart = i
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
        let fracCount = i - fracStart
        guard i == bytes.count, fracCount >= 1, fracCount <= 4 else { return nil }
        var value: Int64 = 0
        for d in intDigits {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = negative ? m.subtractingReportingOverflow(Int64(d - 0x30)) : m.addingReportingOverflow(Int64(d - 0x30))
            guard !o1, !o2 else { return nil }
            value = a
        }
        var fraction: Int64 = 0
        for d in bytes[fracStart..<i] { fraction = fraction * 10 + Int64(d - 0x30) }
        for _ in fracCount..<4 { fraction *= 10 }
        let (scaled, o1) = value.multipliedReportingOverflow(by: 10_000)
        let (total, o2) = negative ? scaled.subtractingReportingOverflow(fraction) : scaled.addingReportingOverflow(fraction)
        guard !o1, !o2 else { return nil }
        self.scaled = total
    }

    public static func < (a: CedarDecimal, b: CedarDecimal) -> Bool { a.scaled < b.scaled }

    public var description: String {
        let negative = scaled < 0
        let magnitude = scaled.magnitude
        var fraction = String(magnitude % 10_000)
        fraction = String(repeating: "0", count: 4 - fraction.count) + fraction
        return (negative ? "-" : "") + "\(magnitude / 10_000).\(fraction)"
    }
}

/// Cedar's `ipaddr`: an IPv4 or IPv6 address with a prefix length (a single address has the full length).
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public var isV6: Bool
    /// The address bits, left-aligned in 128 bits for both families (IPv4 uses the high 32 of `high`).
    public var high: UInt64
    public var low: UInt64
    public var prefix: Int

    var width: Int { isV6 ? 128 : 32 }

    public init?(parsing text: String) {
        var addressText = Substring(text)
        var prefixText: Substring?
        if let slash = text.firstIndex(of: "/") {
            addressText = text[..<slash]
            prefixText = text[text.index(after: slash)...]
        }
        if let v4 = Self.parseV4(addressText) {
            isV6 = false
            high = UInt64(v4) << 32
            low = 0
        } else if let (h, l) = Self.parseV6(addressText) {
            isV6 = true
            high = h
            low = l
        } else {
            return nil
        }
        let max = isV6 ? 128 : 32
        if let p = prefixText {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), !(p.count > 1 && p.first == "0"),
                let n = Int(p), n <= max
            else { return nil }
            prefix = n
        } else {
            prefix = max
        }
    }

    /// Four decimal octets (0–255, no leading zeros), over UTF-8 bytes.
    static func parseV4(_ s: Substring) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        var current: UInt32 = 0
        var digits = 0
        var leadingZero = false
        for b in s.utf8 {
            if b == UInt8(ascii: ".") {
                guard digits > 0, octets < 3 else { return nil }
                value = value << 8 | current
                octets += 1
                current = 0
                digits = 0
                leadingZero = false
                continue
            }
            guard b >= 0x30, b <= 0x39, digits < 3, !leadingZero else { return nil }
            if digits == 0, b == 0x30 { leadingZero = true }
            current = current * 10 + UInt32(b - 0x30)
            digits += 1
            guard current <= 255 else { return nil }
        }
        guard digits > 0, octets == 3 else { return nil }
        return value << 8 | current
    }

    static func parseV6(_ s: Substring) -> (UInt64, UInt64)? {
        guard s.contains(":") else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        let halves = s.split(onString: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ text: String, allowV4Tail: Bool) -> [UInt16]? {
            if text.isEmpty { return [] }
            let pieces = text.split(separator: ":", omittingEmptySubsequences: false)
            var out: [UInt16] = []
            for (i, piece) in pieces.enumerated() {
                // Cedar does not accept IPv4 embedded in IPv6 (`::ffff:127.0.0.1`).
                if allowV4Tail, piece.contains(".") { return nil }
                guard !piece.isEmpty, piece.count <= 4, let n = UInt16(piece, radix: 16), piece.allSatisfy(\.isHexDigit) else { return nil }
                out.append(n)
            }
            return out
        }
        if halves.count == 2 {
            sawGap = true
            guard let h = groups(halves[0], allowV4Tail: false), let t = groups(halves[1], allowV4Tail: true) else { return nil }
            head = h
            tail = t
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard let h = groups(halves[0], allowV4Tail: true), h.count == 8 else { return nil }
            head = h
        }
        var all = head
        if sawGap { all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail }
        guard all.count == 8 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for g in all[0..<4] { high = high << 16 | UInt64(g) }
        for g in all[4..<8] { low = low << 16 | UInt64(g) }
        return (high, low)
    }

    /// The first and last addresses of the range, as left-aligned 128-bit pairs (both families compare
    /// consistently: the unused tail of an IPv4 address is zero in `first` and all ones in `last`).
    var range: (first: (UInt64, UInt64), last: (UInt64, UInt64)) {
        let mask: (UInt64, UInt64)
        if prefix == 0 {
            mask = (0, 0)
        } else if prefix <= 64 {
            mask = (prefix == 64 ? .max : ~(UInt64.max >> prefix), 0)
        } else {
            mask = (.max, prefix == 128 ? .max : ~(UInt64.max >> (prefix - 64)))
        }
        return ((high & mask.0, low & mask.1), (high | ~mask.0, low | ~mask.1))
    }

    public func isInRange(_ other: IPAddress) -> Bool {
        guard isV6 == other.isV6 else { return false }
        let mine = range
        let theirs = other.range
        return !less(mine.first, theirs.first) && !less(theirs.last, mine.last)
    }

    private func less(_ a: (UInt64, UInt64), _ b: (UInt64, UInt64)) -> Bool { a.0 < b.0 || (a.0 == b.0 && a.1 < b.1) }

    public var isLoopback: Bool {
        if isV6 { return high == 0 && low == 1 && prefix >= 128 }
        return (high >> 56) == 127 && prefix >= 8
    }

    public var isMulticast: Bool {
        if isV6 { return (high >> 56) == 0xFF && prefix >= 8 }
        return (high >> 60) == 0xE && prefix >= 4
    }

    public var description: String {
        if !isV6 {
            let v = UInt32(high >> 32)
            return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)/\(prefix)"
        }
        let groups = (0..<4).map { String(high >> (48 - 16 * $0) & 0xFFFF, radix: 16) } + (0..<4).map { String(low >> (48 - 16 * $0) & 0xFFFF, radix: 16) }
        return groups.joined(separator: ":") + "/\(prefix)"
    }
}

/// Cedar's `datetime`: milliseconds since the Unix epoch, UTC.
public struct CedarDatetime: Hashable, Sendable, Comparable {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// Parses `YYYY-MM-DD`, optionally followed by `Thh:mm:ss`, optional `.SSS`, and `Z` or `±hhmm`.
    public init?(parsing text: String) {
        let b = Array(text.utf8)
        func digits(_ at: Int, _ count: Int) -> Int64? {
            guard at + count <= b.count else { return nil }
            var v: Int64 = 0
            for i in at..<(at + count) {
                guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                v = v * 10 + Int64(b[i] - 0x30)
            }
            return v
        }
        guard b.count >= 10, let year = digits(0, 4), b[4] == UInt8(ascii: "-"), let month = digits(5, 2), b[7] == UInt8(ascii: "-"),
            let day = digits(8, 2)
        else { return nil }
        guard month >= 1, month <= 12, day >= 1, day <= Self.daysIn(month: month, year: year) else { return nil }
        var ms = Self.daysFromCivil(year: year, month: month, day: day) * 86_400_000
        if b.count == 10 {
            self.milliseconds = ms
            return
        }
        guard b.count >= 20, b[10] == UInt8(ascii: "T"), let hh = digits(11, 2), b[13] == UInt8(ascii: ":"), let mm = digits(14, 2),
            b[16] == UInt8(ascii: ":"), let ss = digits(17, 2), hh < 24, mm < 60, ss < 60
        else { return nil }
        ms += ((hh * 60 + mm) * 60 + ss) * 1000
        var i = 19
        if b[i] == UInt8(ascii: ".") {
            guard let frac = digits(i + 1, 3) else { return nil }
            ms += frac
            i += 4
        }
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z") {
            guard i + 1 == b.count else { return nil }
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard i + 5 == b.count, let oh = digits(i + 1, 2), let om = digits(i + 3, 2), oh < 24, om < 60 else { return nil }
            let offset = (oh * 60 + om) * 60_000
            ms += b[i] == UInt8(ascii: "+") ? -offset : offset
        } else {
            return nil
        }
        self.milliseconds = ms
    }

    static func isLeap(_ y: Int64) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func < (a: CedarDatetime, b: CedarDatetime) -> Bool { a.milliseconds < b.milliseconds }
}

/// Cedar's `duration`: a signed number of milliseconds.
public struct CedarDuration: Hashable, Sendable, Comparable {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// Parses `-?` then units in the order `d`, `h`, `m`, `s`, `ms`, each at most once, at least one.
    public init?(parsing text: String) {
        let b = Array(text.utf8)
        var i = 0
        let negative = b.first == UInt8(ascii: "-")
        if negative { i = 1 }
        guard i < b.count else { return nil }
        let units: [(String, Int64)] = [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)]
        var nextUnit = 0
        var total: Int64 = 0
        while i < b.count {
            let start = i
            var n: Int64 = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                let (m, o1) = n.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(b[i] - 0x30))
                guard !o1, !o2 else { return nil }
                n = a
                i += 1
            }
            guard i > start, i < b.count else { return nil }
            var unit: String
            if b[i] == UInt8(ascii: "m"), i + 1 < b.count, b[i + 1] == UInt8(ascii: "s") {
                unit = "ms"
                i += 2
            } else {
                unit = String(UnicodeScalar(b[i]))
                i += 1
            }
            guard let index = units.firstIndex(where: { $0.0 == unit }), index >= nextUnit else { return nil }
            nextUnit = index + 1
            let (part, o1) = n.multipliedReportingOverflow(by: units[index].1)
            let (sum, o2) = negative ? total.subtractingReportingOverflow(part) : total.addingReportingOverflow(part)
            guard !o1, !o2 else { return nil }
            total = sum
        }
        self.milliseconds = total
    }

    public static func < (a: CedarDuration, b: CedarDuration) -> Bool { a.milliseconds < b.milliseconds }
}
