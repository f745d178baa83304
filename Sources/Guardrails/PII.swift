import Foundation

/// A detected span: its entity type (the shared data's names: `CREDIT_CARD`, `EMAIL_ADDRESS`, …), where it
/// is (Unicode scalar offsets, end exclusive: the same offsets as Python's `str` indices) and a score.
public struct Finding: Sendable, Equatable {
    public var type: String
    public var start: Int
    public var end: Int
    public var score: Double

    public init(type: String, start: Int, end: Int, score: Double = 1) {
        self.type = type
        self.start = start
        self.end = end
        self.score = score
    }
}

/// Pattern detectors with validators for personal data: email addresses, phone numbers (international
/// and national forms; weak national forms only next to a context word), credit cards (Luhn, known
/// issuer prefixes and lengths), IBANs (country length and mod-97), US social security numbers (the
/// SSA's validity rules) and IP addresses. Person names and street addresses (with `ZIP_CODE` for a bare
/// postcode after "zip code is") come from word lists and rules (`NameAddressDetector`, Names.swift):
/// no validator backs them, so they are less precise than the validated types.
public enum PIIDetector {
    /// The types with a validator (checksums, issuer rules, formats): the "overall" figures of an evaluation.
    public static let validatedTypes = ["CREDIT_CARD", "EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "US_SSN", "IP_ADDRESS"]
    /// Every type `scan` can report.
    public static let types = validatedTypes + NameAddressDetector.types

    public static func scan(_ text: String, types wanted: Set<String>? = nil) -> [Finding] {
        let s = Array(text.unicodeScalars)
        func want(_ t: String) -> Bool { wanted == nil || wanted!.contains(t) }
        var kept = validated(s, want: want)
        // Names and addresses (rules, no validator) never remove a validated finding: an address whose last
        // line is a phone number keeps both. One that cuts into a validated finding or lies inside it ("0343
        // 6467 expires" after a card number) is dropped instead, whichever types were asked for.
        if NameAddressDetector.types.contains(where: want) {
            let guards = validatedTypes.allSatisfy(want) ? kept : validated(s, want: { _ in true })
            for f in NameAddressDetector.scan(scalars: s) where want(f.type) {
                let clashes = guards.contains { v in v.start < f.end && f.start < v.end && !(f.start <= v.start && v.end <= f.end) }
                if !clashes { kept.append(f) }
            }
            kept.sort { ($0.start, -$0.end) < ($1.start, -$1.end) }
        }
        return kept
    }

    /// The validated types' findings, without those inside another.
    static func validated(_ s: [Unicode.Scalar], want: (String) -> Bool) -> [Finding] {
        var out: [Finding] = []
        if want("EMAIL_ADDRESS") { out += emails(s) }
        if want("IBAN_CODE") { out += ibans(s) }
        if want("IP_ADDRESS") { out += ipAddresses(s) }
        let numeric = numberRuns(s)
        for run in numeric {
            if want("CREDIT_CARD"), let f = creditCard(run, s) { out.append(f); continue }
            if want("US_SSN"), let f = ssn(run) { out.append(f); continue }
            if want("PHONE_NUMBER"), let f = phone(run, s) { out.append(f) }
        }
        // Drop findings inside another (an IP inside an email, a number inside an IBAN).
        out.sort { ($0.start, -$0.end) < ($1.start, -$1.end) }
        var kept: [Finding] = []
        for f in out where !kept.contains(where: { $0.start <= f.start && f.end <= $0.end }) { kept.append(f) }
        return kept
    }

    // MARK: Character classes

    @inline(__always) static func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 48 && c.value <= 57 }
    @inline(__always) static func isAlpha(_ c: Unicode.Scalar) -> Bool { (c.value | 0x20) >= 97 && (c.value | 0x20) <= 122 }
    @inline(__always) static func isAlnum(_ c: Unicode.Scalar) -> Bool { isDigit(c) || isAlpha(c) }
    @inline(__always) static func isHex(_ c: Unicode.Scalar) -> Bool { isDigit(c) || ((c.value | 0x20) >= 97 && (c.value | 0x20) <= 102) }

    // MARK: Email

    static func emails(_ s: [Unicode.Scalar]) -> [Finding] {
        var out: [Finding] = []
        func local(_ c: Unicode.Scalar) -> Bool { isAlnum(c) || "._%+-'".unicodeScalars.contains(c) }
        func domain(_ c: Unicode.Scalar) -> Bool { isAlnum(c) || c == "." || c == "-" }
        for (i, c) in s.enumerated() where c == "@" {
            var a = i
            while a > 0, local(s[a - 1]) { a -= 1 }
            while a < i, !isAlnum(s[a]) { a += 1 }
            var b = i + 1
            while b < s.count, domain(s[b]) { b += 1 }
            while b > i + 1, s[b - 1] == "." || s[b - 1] == "-" { b -= 1 }
            guard a < i, b > i + 1 else { continue }
            let host = s[(i + 1)..<b]
            guard let dot = host.lastIndex(of: "."), b - dot - 1 >= 2, host.first.map(isAlnum) == true,
                s[(dot + 1)..<b].allSatisfy(isAlpha)
            else { continue }
            out.append(Finding(type: "EMAIL_ADDRESS", start: a, end: b))
        }
        return out
    }

    // MARK: Numbers

    /// A maximal run of digits joined by single separators (space, `-`, `.`, `/`, parentheses), with an
    /// optional leading `+` and a trailing extension (`x123`, `ext. 123`).
    struct NumberRun {
        var start: Int
        var end: Int
        var digits: [UInt8]
        var groups: [Int]
        var separators: Set<Unicode.Scalar>
        var plus: Bool
        var parens: Bool
        var extensionDigits: Int
    }

    static func numberRuns(_ s: [Unicode.Scalar]) -> [NumberRun] {
        var out: [NumberRun] = []
        var i = 0
        while i < s.count {
            let startsNumber = isDigit(s[i]) || ((s[i] == "+" || s[i] == "(") && i + 1 < s.count && isDigit(s[i + 1]))
            guard startsNumber, i == 0 || !isAlnum(s[i - 1]) else {
                i += 1
                continue
            }
            var run = NumberRun(start: i, end: i, digits: [], groups: [], separators: [], plus: false, parens: false, extensionDigits: 0)
            var j = i
            if s[j] == "+" {
                run.plus = true
                j += 1
            }
            var group = 0
            while j < s.count {
                let c = s[j]
                if isDigit(c) {
                    run.digits.append(UInt8(c.value - 48))
                    group += 1
                    j += 1
                    continue
                }
                let isSeparator = c == " " || c == "-" || c == "." || c == "(" || c == ")" || c == "/"
                if isSeparator, j + 1 < s.count, isDigit(s[j + 1]) || (c == ")" && s[j + 1] == " ") || (c == " " && s[j + 1] == "(") {
                    if group > 0 { run.groups.append(group) }
                    group = 0
                    run.separators.insert(c)
                    if c == "(" || c == ")" { run.parens = true }
                    j += 1
                    continue
                }
                break
            }
            if group > 0 { run.groups.append(group) }
            run.end = j
            // Extension: x123, ext 123, ext. 123
            var k = j
            if k < s.count, s[k] == "x" || s[k] == "X" {
                k += 1
            } else if k + 2 < s.count, String(String.UnicodeScalarView(s[k..<(k + 3)])).lowercased() == "ext" {
                k += 3
                while k < s.count, s[k] == "." || s[k] == " " { k += 1 }
            }
            if k > j {
                var e = k
                while e < s.count, isDigit(s[e]) { e += 1 }
                if e > k, e - k <= 6 {
                    run.extensionDigits = e - k
                    run.end = e
                }
            }
            // Trailing separators do not belong to the number.
            while run.end > run.start, !isDigit(s[run.end - 1]) { run.end -= 1 }
            if run.end < s.count, isAlpha(s[run.end]), run.extensionDigits == 0 {
                i = j + 1
                continue
            }
            if !run.digits.isEmpty { out.append(run) }
            i = max(j, i + 1)
        }
        return out
    }

    static func luhn(_ d: [UInt8]) -> Bool {
        var sum = 0
        for (i, digit) in d.reversed().enumerated() {
            var v = Int(digit)
            if i % 2 == 1 {
                v *= 2
                if v > 9 { v -= 9 }
            }
            sum += v
        }
        return sum % 10 == 0
    }

    static let cardContext = ["card", "visa", "mastercard", "amex", "maestro", "cc#", "credit", "debit"]

    static func creditCard(_ run: NumberRun, _ s: [Unicode.Scalar]) -> Finding? {
        let d = run.digits
        guard (12...19).contains(d.count), !run.plus, !run.parens, run.extensionDigits == 0,
            run.separators.isSubset(of: [" ", "-"]), luhn(d)
        else { return nil }
        // Any Luhn-valid 12–19 digit number right after a card word (Maestro, JCB and others have many prefixes).
        let before = String(String.UnicodeScalarView(s[max(0, run.start - 24)..<run.start])).lowercased()
        if cardContext.contains(where: { before.contains($0) }) { return Finding(type: "CREDIT_CARD", start: run.start, end: run.end) }
        guard d.count >= 13 else { return nil }
        let prefix2 = Int(d[0]) * 10 + Int(d[1])
        let prefix4 = prefix2 * 100 + Int(d[2]) * 10 + Int(d[3])
        let known: Bool =
            switch d[0] {
            case 4: [13, 16, 19].contains(d.count)  // Visa
            case 5: (51...55).contains(prefix2) && d.count == 16  // Mastercard
            case 2: (2221...2720).contains(prefix4) && d.count == 16  // Mastercard 2-series
            case 2 where prefix4 == 2131 && d.count == 15: true  // JCB 15-digit
            case 3:
                ([34, 37].contains(prefix2) && d.count == 15)  // Amex
                    || (prefix2 == 35 && (16...19).contains(d.count))  // JCB
                    || ([30, 36, 38, 39].contains(prefix2) && (14...19).contains(d.count))  // Diners
            case 6: (prefix4 == 6011 || prefix2 == 65 || (644...649).contains(prefix4 / 10)) && (16...19).contains(d.count)
            case 1: prefix4 == 1800 && d.count == 15  // JCB 15-digit
            default: false
            }
        guard known else { return nil }
        return Finding(type: "CREDIT_CARD", start: run.start, end: run.end)
    }

    static func ssn(_ run: NumberRun) -> Finding? {
        let d = run.digits.map(Int.init)
        guard d.count == 9, !run.plus, !run.parens, run.extensionDigits == 0 else { return nil }
        guard run.groups == [3, 2, 4] || run.groups == [9], run.separators.isSubset(of: ["-", " "]) else { return nil }
        let area = d[0] * 100 + d[1] * 10 + d[2]
        let group = d[3] * 10 + d[4]
        let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8]
        guard area != 0, area != 666, area < 900, group != 0, serial != 0 else { return nil }
        // An undivided 9-digit number is an SSN only with separators or next to "SSN"/"social security".
        if run.groups == [9] { return nil }
        return Finding(type: "US_SSN", start: run.start, end: run.end)
    }

    static let phoneContext = [
        "phone", "tel", "call", "mobile", "cell", "fax", "number", "contact", "reach", "whatsapp", "telefon", "téléphone", "no.",
        "registered", "answering", "dial", "ring",
    ]
    /// Words that make a nearby number something else ("driver's license number is 425700624").
    static let notPhoneContext = [
        "license", "licence", "passport", "account", "routing", "invoice", "order", "serial", "policy", "tracking", "member",
        "social security", "ssn", "tax", "vat", "id number", "customer number",
    ]

    static func phone(_ run: NumberRun, _ s: [Unicode.Scalar]) -> Finding? {
        let n = run.digits.count
        guard (7...15).contains(n) else { return nil }
        // Not a date or a time (2024-01-02 10:30, 12/05/1990) nor a plain decimal.
        if run.separators.contains("/") { return nil }
        if run.end < s.count, s[run.end] == ":" { return nil }
        // A year-first date (2024 01 02, 1999-12-31); "0487 23 46 71" is a phone number.
        if run.groups.count >= 3, run.groups[0] == 4, run.groups[1] == 2, run.groups[2] == 2,
            run.digits[0] == 1 && run.digits[1] == 9 || run.digits[0] == 2 && run.digits[1] == 0
        {
            return nil
        }
        // The SSN shape (an invalid SSN is still not a phone number).
        if run.groups == [3, 2, 4], !run.plus, !run.parens { return nil }
        let strong = run.plus || run.parens || run.extensionDigits > 0
            || (run.groups == [3, 3, 4] && n == 10) || (run.groups.count >= 3 && n >= 9 && run.groups.allSatisfy { $0 >= 2 })
        if strong { return Finding(type: "PHONE_NUMBER", start: run.start, end: run.end, score: 0.9) }
        // Weaker national forms need a context word within 40 characters before the number.
        let from = max(0, run.start - 40)
        let before = String(String.UnicodeScalarView(s[from..<run.start])).lowercased()
        guard run.groups.count >= 2 || n >= 8, phoneContext.contains(where: { before.contains($0) }),
            !notPhoneContext.contains(where: { before.contains($0) })
        else { return nil }
        return Finding(type: "PHONE_NUMBER", start: run.start, end: run.end, score: 0.6)
    }

    // MARK: IBAN

    static let ibanLengths: [String: Int] = [
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28, "CH": 21,
        "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
        "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
        "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
        "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
        "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
        "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    ]

    static func ibans(_ s: [Unicode.Scalar]) -> [Finding] {
        var out: [Finding] = []
        var i = 0
        while i + 4 <= s.count {
            guard isAlpha(s[i]), isAlpha(s[i + 1]), isDigit(s[i + 2]), isDigit(s[i + 3]), i == 0 || !isAlnum(s[i - 1]) else {
                i += 1
                continue
            }
            let country = String(String.UnicodeScalarView([s[i], s[i + 1]])).uppercased()
            guard let length = ibanLengths[country] else {
                i += 1
                continue
            }
            // Collect alphanumerics, allowing single spaces between groups of four.
            var chars: [Unicode.Scalar] = []
            var j = i
            var end = i
            while j < s.count, chars.count < length {
                if isAlnum(s[j]) {
                    chars.append(s[j])
                    j += 1
                    end = j
                } else if s[j] == " ", j + 1 < s.count, isAlnum(s[j + 1]), chars.count % 4 == 0 {
                    j += 1
                } else {
                    break
                }
            }
            guard chars.count == length, end >= s.count || !isAlnum(s[end]) else {
                i += 1
                continue
            }
            // mod-97 over the rearranged string (letters as 10…35).
            let rearranged = Array(chars[4...]) + Array(chars[0..<4])
            var remainder = 0
            for c in rearranged {
                let v = isDigit(c) ? Int(c.value - 48) : Int((c.value | 0x20) - 97 + 10)
                remainder = v >= 10 ? (remainder * 100 + v) % 97 : (remainder * 10 + v) % 97
            }
            if remainder == 1 {
                out.append(Finding(type: "IBAN_CODE", start: i, end: end))
                i = end
            } else {
                i += 1
            }
        }
        return out
    }

    // MARK: IP addresses

    static func ipAddresses(_ s: [Unicode.Scalar]) -> [Finding] {
        var out: [Finding] = []
        var i = 0
        while i < s.count {
            guard isHex(s[i]) || s[i] == ":", i == 0 || !(isAlnum(s[i - 1]) || s[i - 1] == "." || s[i - 1] == ":") else {
                i += 1
                continue
            }
            var j = i
            while j < s.count, isHex(s[j]) || s[j] == "." || s[j] == ":" { j += 1 }
            var end = j
            while end > i, s[end - 1] == "." || (s[end - 1] == ":" && !(end - 2 >= i && s[end - 2] == ":")) { end -= 1 }
            let candidate = String(String.UnicodeScalarView(s[i..<end]))
            if end - i >= 7, isIPv4(candidate) || (candidate.contains(":") && isIPv6(candidate)) {
                out.append(Finding(type: "IP_ADDRESS", start: i, end: end))
            }
            i = max(j, i + 1)
        }
        return out
    }

    static func isIPv4(_ t: String) -> Bool {
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { p in
                !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isASCII) && p.allSatisfy(\.isNumber) && (Int(p) ?? 999) <= 255
                    && !(p.count > 1 && p.first == "0")
            }
    }

    static func isIPv6(_ t: String) -> Bool {
        let halves = t.components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        func groups(_ h: String) -> Int? {
            if h.isEmpty { return 0 }
            let g = h.split(separator: ":", omittingEmptySubsequences: false)
            guard g.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.allSatisfy(\.isHexDigit) }) else { return nil }
            return g.count
        }
        guard let a = groups(halves[0]) else { return false }
        if halves.count == 2 {
            guard let b = groups(halves[1]) else { return false }
            return a + b <= 7 && a + b >= 1
        }
        return a == 8
    }
}
