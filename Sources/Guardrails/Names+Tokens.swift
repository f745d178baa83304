import Foundation

extension NameAddressDetector {
    // MARK: Tokens

    /// What a token is: a word, a run of ASCII digits, or one other character.
    enum Kind: UInt8 { case word, number, punctuation }

    /// A word (letters with inner `'`, `’`, `-`), a run of ASCII digits, or one other non-space character.
    struct Token {
        var a: Int
        var b: Int
        var k: Kind
        /// Whitespace before the token: its length in scalars and how many `\n` it holds.
        var gap: Int
        var nl: Int
        var c0: Unicode.Scalar
        var len: Int
        /// Python's `s.lower()`, and that without a possessive `'s` / `’s`.
        var low: String
        var base: String
        var lowLen: Int
        var baseLen: Int
        var firstUpper: Bool
        var anyUpper: Bool
        /// Python's `str.isupper()` / `str.islower()`.
        var isUpper: Bool
        var isLower: Bool
        /// `s.lower().endswith("'s")`, `s.lower().endswith("’s")`, `s.endswith("’s")`.
        var lowEndsQuoteS: Bool
        var lowEndsCurlyS: Bool
        var endsCurlyS: Bool
        /// Which word lists hold `low` and `base` (`Flag` bits).
        var lf: UInt64
        var bf: UInt64

        @inline(__always) func has(_ f: UInt64) -> Bool { lf & f != 0 }
        @inline(__always) func baseHas(_ f: UInt64) -> Bool { bf & f != 0 }
        @inline(__always) func eq(_ c: Unicode.Scalar) -> Bool { len == 1 && c0 == c }
        /// Python's `s in "…"` for a one-character token.
        @inline(__always) func oneOf(_ chars: String) -> Bool { len == 1 && chars.unicodeScalars.contains(c0) }
    }

    static func tokenize(_ s: [Unicode.Scalar], _ g: Gazetteers) -> [Token] {
        var toks: [Token] = []
        toks.reserveCapacity(s.count / 4 + 4)
        let n = s.count
        var i = 0
        var prev = 0
        while i < n {
            let c = s[i]
            var j = i + 1
            if PythonText.isWordChar(c) {
                while true {
                    while j < n, PythonText.isWordChar(s[j]) { j += 1 }
                    if j + 1 < n, s[j] == "'" || s[j] == "’" || s[j] == "-", PythonText.isWordChar(s[j + 1]) {
                        j += 2
                        continue
                    }
                    break
                }
            } else if c.value >= 48 && c.value <= 57 {
                while j < n, s[j].value >= 48 && s[j].value <= 57 { j += 1 }
            } else if PythonText.isSpace(c) {
                i += 1
                continue
            }
            var nl = 0
            for q in prev..<i where s[q] == "\n" { nl += 1 }
            toks.append(makeToken(s, i, j, gap: i - prev, nl: nl, g))
            prev = j
            i = j
        }
        return toks
    }

    static func makeToken(_ s: [Unicode.Scalar], _ a: Int, _ b: Int, gap: Int, nl: Int, _ g: Gazetteers) -> Token {
        let c0 = s[a]
        let kind: Kind = PythonText.isAlpha(c0) ? .word : (c0.value >= 48 && c0.value <= 57 ? .number : .punctuation)
        let (low, lowLen) = PythonText.lower(s[a..<b])
        // Lowercasing maps each scalar to one scalar (but İ, to two, neither an apostrophe nor "s"), so the
        // lowercased token ends with "'s" exactly when the token ends with "'s" or "'S".
        let lastIsS = b - a >= 2 && (s[b - 1] == "s" || s[b - 1] == "S")
        let lowEndsQuoteS = lastIsS && s[b - 2] == "'"
        let lowEndsCurlyS = lastIsS && s[b - 2] == "’"
        var base = low
        var baseLen = lowLen
        if lowEndsQuoteS || lowEndsCurlyS {
            base = String(String.UnicodeScalarView(low.unicodeScalars.dropLast(2)))
            baseLen -= 2
        }
        // Every list entry starts with a letter, and only word tokens lowercase to something that does.
        let lf = kind == .word || g.nonLetterEntries ? g.flags[low] ?? 0 : 0
        let bf = baseLen == lowLen ? lf : (kind == .word || g.nonLetterEntries ? g.flags[base] ?? 0 : 0)
        var anyUpper = false
        var upperCased = false
        var upperFails = false
        var lowerCased = false
        var lowerFails = false
        for c in s[a..<b] {
            let up = PythonText.isUpper(c)
            let lo = PythonText.isLower(c)
            let title = PythonText.isTitle(c)
            if up { anyUpper = true }
            if lo || title { upperFails = true } else if up { upperCased = true }
            if up || title { lowerFails = true } else if lo { lowerCased = true }
        }
        return Token(
            a: a, b: b, k: kind, gap: gap, nl: nl, c0: c0, len: b - a, low: low, base: base, lowLen: lowLen, baseLen: baseLen,
            firstUpper: PythonText.isUpper(c0), anyUpper: anyUpper, isUpper: !upperFails && upperCased, isLower: !lowerFails && lowerCased,
            lowEndsQuoteS: lowEndsQuoteS, lowEndsCurlyS: lowEndsCurlyS, endsCurlyS: lowEndsCurlyS && s[b - 1] == "s", lf: lf, bf: bf)
    }

    /// `a.endswith(suffix)` by code points (a UTF-8 suffix match is a code point suffix match).
    @inline(__always) static func ends(_ a: String, _ suffix: String) -> Bool {
        var a = a
        var suffix = suffix
        return a.withUTF8 { x in
            suffix.withUTF8 { y in
                guard x.count >= y.count else { return false }
                guard y.count > 0 else { return true }
                return memcmp(x.baseAddress! + (x.count - y.count), y.baseAddress!, y.count) == 0
            }
        }
    }

    /// Code point equality (Swift's `==` is canonical equivalence).
    @inline(__always) static func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }
}
