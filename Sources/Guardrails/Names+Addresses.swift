import Foundation

extension NameAddressDetector.Scanner {
    typealias Flag = NameAddressDetector.Flag
    typealias Strength = NameAddressDetector.Strength

    // MARK: Addresses: small predicates

    @inline(__always) func sameLine(_ i: Int) -> Bool { i >= 0 && i < n && toks[i].nl == 0 && toks[i].gap <= 2 }
    @inline(__always) func attached(_ i: Int) -> Bool { i >= 0 && i < n && toks[i].gap == 0 }
    @inline(__always) func isWord(_ i: Int) -> Bool { i >= 0 && i < n && toks[i].k == .word }

    /// The last token of the word at i, taking an attached `.` or `/` of an abbreviation ("u.", "C/").
    func wordEnd(_ i: Int) -> Int {
        if attached(i + 1) && toks[i + 1].oneOf("./") && toks[i].k == .word
            && (toks[i].len <= 5 || toks[i].has(Flag.streetType) || NameAddressDetector.ends(toks[i].low, "str"))
        {
            return i + 1
        }
        return i
    }

    /// What may follow a house number that ends a street (not "10 bottles of").
    func numEndOk(_ e: Int) -> Bool {
        guard e + 1 >= 0, e + 1 < n else { return true }
        let q = toks[e + 1]
        if q.nl > 0 || q.k == .punctuation || q.k == .number { return true }
        if q.k == .word && (q.anyUpper || q.has(Flag.streetStrong | Flag.secondary)) { return true }
        return q.has(Flag.afterAddress) || (lowerMode && q.has(Flag.function))
    }

    func isType(_ i: Int) -> Bool { isWord(i) && toks[i].has(Flag.streetType) }

    func hasEnding(_ i: Int) -> Bool {
        guard isWord(i) else { return false }
        return g.streetEndings.match(toks[i].low, scalars: toks[i].lowLen, margin: 3)
    }

    func isSuffix(_ i: Int) -> Bool { isWord(i) && toks[i].has(Flag.streetSuffix) && (toks[i].firstUpper || lowerMode) }
    func isSecondaryWord(_ i: Int) -> Bool { isWord(i) && toks[i].has(Flag.secondary) }

    func isNum(_ i: Int, _ lo: Int = 1, _ hi: Int = 6) -> Bool {
        i >= 0 && i < n && toks[i].k == .number && lo <= toks[i].len && toks[i].len <= hi && spaced(i)
    }

    /// Token i is not glued to letters or digits on either side (not part of an id, hash, decimal, time, phone).
    func spaced(_ i: Int) -> Bool {
        let t = toks[i]
        if i > 0 {
            let p = toks[i - 1]
            if t.gap == 0 && (p.k != .punctuation || p.oneOf(".,:$€£+-/x#@_=")) && !(t.k == .word && p.oneOf("-/")) {
                if !(t.k == .number && p.oneOf(">(")) && !(t.k == .word && p.k == .punctuation && p.oneOf(">('\"")) { return false }
            }
        }
        if i + 1 < n {
            let q = toks[i + 1]
            if q.gap == 0 {
                if q.k != .punctuation && !(t.k == .number && q.k == .word && q.len == 1) { return false }
                if q.oneOf(":-,.") && t.k == .number && i + 2 < n && toks[i + 2].k == .number && toks[i + 2].gap == 0 { return false }
            }
        }
        return true
    }

    func streetWord(_ i: Int, first: Bool) -> Bool {
        guard isWord(i) else { return false }
        let t = toks[i]
        if isSecondaryWord(i) && isNum(wordEnd(i) + 1) { return false }
        if t.has(Flag.particleStreet) && !first { return true }
        if t.has(Flag.function | Flag.month) { return false }
        if !spaced(i) { return false }
        if lowerMode || t.anyUpper { return true }
        if t.has(Flag.streetType) && (t.len > 1 || (attached(i + 1) && toks[i + 1].oneOf("./"))) {
            return !first || !t.has(Flag.ambiguousType)
        }
        // a lowercase word inside a street phrase ("Trg revolucije 12"), not an English word
        return !first && !t.has(Flag.common) && t.len >= 3
    }

    /// Consecutive street words from i on one line, as (first, last) token pairs.
    func streetWords(_ i: Int, max: Int = 5, first: Bool = true) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        var j = i
        while out.count < max && streetWord(j, first: first && out.isEmpty) {
            let e = wordEnd(j)
            out.append((j, e))
            if !sameLine(e + 1) { break }
            j = e + 1
        }
        return out
    }

    /// "Apt. 123", "Suite 456", "Unit 7", "apt # 12": the last token, or -1.
    func secondaryAt(_ i: Int) -> Int {
        guard isSecondaryWord(i), !toks[i].has(Flag.box) else { return -1 }
        var j = wordEnd(i)
        if j + 1 < n && toks[j + 1].eq("#") { j += 1 }
        if isNum(j + 1) && sameLine(j + 1) {
            j += 1
            if attached(j + 1) && toks[j + 1].k == .word && toks[j + 1].len == 1 { j += 1 }
            return j
        }
        return -1
    }

    // MARK: Addresses: street cores

    func streetAt(_ i: Int) -> (Int, Int)? {
        guard i >= 0, i < n else { return nil }
        let t = toks[i]
        if t.k == .number && t.len <= 6 {
            if !spaced(i) { return nil }
            var j = i
            var twoNums = false
            if sameLine(j + 1) && isNum(j + 1) {
                j += 1
                twoNums = true
            }
            if !sameLine(j + 1) { return nil }
            var ws = streetWords(j + 1)
            if ws.isEmpty && isType(j + 1) && sameLine(j + 2) && toks[j + 2].k == .word && toks[j + 2].firstUpper {
                ws = [(j + 1, wordEnd(j + 1))] + streetWords(wordEnd(j + 1) + 1, first: false)
            }
            if ws.isEmpty { return nil }
            // English order: NUM words SUFFIX ("95 Burton Avenue", "1737 Cheriton Dr")
            let yearish = t.len == 4 && s[t.a] == "1" && s[t.a + 1] == "9" || t.len == 4 && s[t.a] == "2" && s[t.a + 1] == "0"
            let yearishNotTwo = yearish && !twoNums
            for (idx0, (w0, we0)) in ws.enumerated() {
                if 1 <= idx0 && idx0 <= 4 && isSuffix(w0) && !(toks[w0].has(Flag.stDr) && idx0 + 1 < ws.count) {
                    if yearishNotTwo && !toks[w0].has(Flag.streetStrong) { continue }
                    var idx = idx0
                    var e = we0
                    while idx + 1 < ws.count && isSuffix(ws[idx + 1].0) {
                        idx += 1
                        e = ws[idx].1
                    }
                    return (i, e)
                }
            }
            // NUM words NUM ("3421 Fagradalsbraut 71", "808 Kálmán Imre u. 12.")
            let last = ws[ws.count - 1].1
            if sameLine(last + 1) && isNum(last + 1) && numEndOk(last + 1) {
                var e = last + 1
                if attached(e + 1) && toks[e + 1].eq(".") { e += 1 }
                return (i, e)
            }
            // NUM street-type words ("137 Avenue Teboulbi", "19 rue La Boétie")
            if ws.contains(where: { (isType($0.0) && toks[$0.0].len > 1) || hasEnding($0.0) }) && ws.contains(where: { !isType($0.0) }) {
                return (i, last)
            }
            // NUM NUM words ("07 262 Pavlou Drandaki")
            if twoNums { return (i, last) }
            return nil
        }
        if t.k != .word { return nil }
        if t.has(Flag.first) && i + 1 < n && toks[i + 1].has(Flag.and) && sameLine(i + 1) && sameLine(i + 2)
            && t.firstUpper == !lowerMode && !(i > 0 && toks[i - 1].eq(","))
        {
            let ws2 = streetWords(i + 2, max: 4)
            if let l2 = ws2.last, sameLine(l2.1 + 1) && isNum(l2.1 + 1, 1, 5) && numEndOk(l2.1 + 1) {
                var e = l2.1 + 1
                if attached(e + 1) && toks[e + 1].eq(".") { e += 1 }
                return (i, e)
            }
        }
        let ws = streetWords(i)
        if ws.isEmpty { return nil }
        let last = ws[ws.count - 1].1
        let numAfter = sameLine(last + 1) && isNum(last + 1)
        if numAfter {
            var cue = false
            for (idx, (a, _)) in ws.enumerated() {
                let ta = toks[a]
                if isType(a) || hasEnding(a) || PythonText.notLatin(ta.c0)
                    || (idx > 0 && !lowerMode && ta.isLower && !ta.has(Flag.particleStreet)
                        && !NameAddressDetector.cueStopEndings.match(ta.low, scalars: ta.lowLen))
                {
                    cue = true
                    break
                }
            }
            if cue && numEndOk(last + 1) {
                var e = last + 1
                if attached(e + 1) && toks[e + 1].eq(".") { e += 1 }
                return (i, e)
            }
            // words NUM street ("Bygget 91 street")
            if sameLine(last + 2) && toks[last + 2].k == .word && toks[last + 2].has(Flag.streetStrong) { return (i, last + 1) }
        }
        // words + a specific English suffix without a number ("Burton Avenue") -> weak street
        for (idx, (w0, we0)) in ws.enumerated() {
            if lowerMode || !toks[w0].firstUpper { break }
            if idx >= 1 && toks[w0].has(Flag.streetStrong) {
                if toks[w0].has(Flag.stDr) && idx + 1 < ws.count { continue }  // "St. John", "Dr. Wells"
                if toks[i].has(Flag.common) && sentenceStart(i) { return nil }
                if ws[..<idx].contains(where: { toks[$0.0].has(Flag.nonPerson | Flag.geo) }) { return nil }
                // A possessive before the suffix names a thing, not a street ("Tesla's Visionary Drive").
                if ws[..<idx].contains(where: { toks[$0.0].lowEndsQuoteS || toks[$0.0].lowEndsCurlyS }) { return nil }
                if i > 0 && sameLine(i) && toks[i - 1].k == .word && (toks[i - 1].lowEndsQuoteS || toks[i - 1].lowEndsCurlyS) { return nil }
                return (i, we0)
            }
        }
        return nil
    }

    // MARK: Addresses: special forms

    func specialAt(_ i: Int) -> (Int, Int, Strength)? {
        let t = toks[i]
        // military: PSC 1234, Box 5678 / Unit 1234 Box 5678 / USNS Name
        if t.has(Flag.militaryUnit) && isNum(i + 1) {
            var j = i + 1
            if j + 1 < n && toks[j + 1].eq(",") { j += 1 }
            if j + 1 < n && toks[j + 1].has(Flag.box) && isNum(j + 2) { return (i, j + 2, .strong) }
        }
        if t.has(Flag.militaryShip) && sameLine(i + 1) && toks[i + 1].k == .word { return (i, i + 1, .strong) }
        // P.O. Box 123 / PO Box 123
        if t.has(Flag.po) {
            var j = i
            var seq = ""
            while j < Swift.min(i + 6, n) && !toks[j].has(Flag.box) {
                seq += toks[j].low
                j += 1
            }
            if j < n && ["p.o.", "po", "p.o", "po."].contains(where: { NameAddressDetector.same(seq, $0) }) && isNum(j + 1) { return (i, j + 1, .strong) }
        }
        // the corner of X and Y
        if t.has(Flag.corner) && i + 1 < n && toks[i + 1].has(Flag.of) {
            var j = i + 2
            var end = -1
            var seenAnd = false
            while j < n && j < i + 20 && toks[j].nl == 0 {
                let u = toks[j]
                if u.eq("?") || u.eq("!") || u.eq(";")
                    || (u.eq(".") && !(toks[j - 1].k == .word && toks[j - 1].len <= 4) && toks[j - 1].k != .number)
                {
                    break
                }
                if u.has(Flag.and) {
                    seenAnd = true
                } else if u.k == .word && u.has(Flag.function) {
                    break
                }
                end = j
                j += 1
            }
            if end > i + 2 && seenAnd { return (i > 0 && toks[i - 1].has(Flag.the) ? i - 1 : i, end, .strong) }
        }
        // a secondary unit alone
        let e = secondaryAt(i)
        if e >= 0 && numEndOk(e) { return (i, e, .strong) }
        // a postcode after "zip code is", "postcode:" …
        if t.k == .number && (t.len == 4 || t.len == 5) && i >= 1 {
            var prev = ""
            let from = Swift.max(0, i - 4)
            for q in from..<i {
                if q > from { prev += " " }
                prev += toks[q].low
            }
            if NameAddressDetector.zipSuffixes.contains(where: { NameAddressDetector.ends(prev, $0) }) {
                var e = i
                if i + 2 < n && toks[i + 1].eq("-") && isNum(i + 2, 4, 4) { e = i + 2 }
                return (i, e, .zip)
            }
        }
        return nil
    }

    func addresses() -> [Finding] {
        var spans: [Finding] = []
        var i = 0
        while i < n {
            var r = specialAt(i)
            if r == nil, let st = streetAt(i) {
                let strong = toks[st.0].k == .number || isNum(st.1) || (isNum(st.1 - 1) && toks[st.1].eq("."))
                r = (st.0, st.1, strong ? .strong : .weak)
            }
            guard let (s0, e0, strength) = r else {
                i += 1
                continue
            }
            if strength == .zip {  // reported as ZIP_CODE, not extended
                spans.append(Finding(type: "ZIP_CODE", start: toks[s0].a, end: toks[e0].b))
                i = e0 + 1
                continue
            }
            let s1 = extendBack(s0)
            let e1 = extend(e0, strong: strength == .strong)
            spans.append(Finding(type: "STREET_ADDRESS", start: toks[s1].a, end: toks[e1].b))
            i = e1 + 1
        }
        return spans
    }

    func extendBack(_ s0: Int) -> Int {
        var s = s0
        let t = toks[s]
        // a building number before a street that itself ends with a number: "2519 Semperweg 150"
        if s > 0 && t.k == .word && isNum(s - 1) && sameLine(s) && t.nl == 0 { s -= 1 }
        // "Katrina and Rúa do Paseo 46", "the corner of …"
        let upperForm =
            s >= 2 && toks[s - 1].has(Flag.and) && sameLine(s) && sameLine(s - 1) && toks[s - 2].k == .word && toks[s - 2].firstUpper
        let lowerForm =
            s >= 2 && lowerMode && toks[s - 1].has(Flag.and) && toks[s - 2].k == .word && !toks[s - 2].has(Flag.function)
            && sameLine(s) && sameLine(s - 1)
        if upperForm || lowerForm {
            let p = s - 2
            if !(p > 0 && toks[p - 1].eq(",")) { s = p }  // not a list "A, B and C"
        }
        if s >= 2 && toks[s - 1].has(Flag.of) && toks[s - 2].has(Flag.corner) {
            s -= 2
            if s > 0 && toks[s - 1].has(Flag.the) { s -= 1 }
        }
        return s
    }

    /// Skips '>' / '?' / '*' / '-' / '|' / '•' marks at the start of a line.
    func skipLineMarks(_ j: Int) -> Int {
        var k = j
        while k < n && toks[k].k == .punctuation && toks[k].oneOf(">?*-|•") && (k == j || attached(k) || toks[k].gap <= 2) { k += 1 }
        return k
    }

    /// Extends to the right over secondary units, "and <street>", further streets, and (for a strong
    /// street) city / state / country / postcode segments.
    func extend(_ e0: Int, strong: Bool) -> Int {
        var e = e0
        var segs = 0
        while e + 1 < n && segs < 7 {
            var j = e + 1
            let t = toks[j]
            if t.nl > 2 { break }
            if t.nl > 0 {
                j = skipLineMarks(j)
                if j >= n || (j > e + 1 && toks[j].nl > 0) { break }
            }
            if toks[j].eq(",") && toks[j].nl == 0 {
                j += 1
                if j >= n { break }
                if toks[j].nl > 0 {
                    if toks[j].nl > 2 { break }
                    j = skipLineMarks(j)
                    if j >= n { break }
                }
            }
            let sec = secondaryAt(j)
            if sec >= 0 {
                e = sec
                segs += 1
                continue
            }
            if toks[j].has(Flag.and) && toks[j].nl == 0 && sameLine(j + 1), let st = streetAt(j + 1) {
                e = st.1
                segs += 1
                continue
            }
            if toks[j].k == .number || toks[j].nl == 0, let st = streetAt(j) {
                e = st.1
                segs += 1
                continue
            }
            if !strong { break }
            let k = placeSegment(j)
            if k < j { break }
            e = k
            segs += 1
        }
        return e
    }

    /// City / state / country / postcode words on one line from j: the last index, or j - 1.
    func placeSegment(_ j: Int) -> Int {
        var k = j - 1
        var got = false
        var depth = 0
        while k + 1 < n {
            let u = toks[k + 1]
            if k + 1 > j && u.nl > 0 { break }
            if k + 1 > j && u.gap > 3 { break }
            if u.k == .number && 2 <= u.len && u.len <= 6 {
                k += 1
                got = true
                if attached(k + 1) && toks[k + 1].eq("-") && isNum(k + 2, 3, 4) && attached(k + 2) { k += 2 }
                continue
            }
            if u.k == .word {
                let nextIsWord = k + 2 < n && toks[k + 2].k == .word && toks[k + 2].nl == 0
                if u.has(Flag.placeConnect) && got && nextIsWord {
                    k += 1
                    continue
                }
                if u.has(Flag.placeStop) { break }
                if lowerMode || u.has(Flag.nan) || u.anyUpper || u.c0.value >= 128 {
                    k += 1
                    got = true
                    continue
                }
                break
            }
            if u.eq("(") && got {
                depth += 1
                k += 1
                continue
            }
            if u.eq(")") && depth > 0 {
                depth -= 1
                k += 1
                continue
            }
            if u.oneOf(",.-'’") && got && u.nl == 0 && k + 2 < n && toks[k + 2].nl == 0 && toks[k + 2].k != .punctuation {
                k += 1
                continue
            }
            break
        }
        while k >= j && toks[k].k == .punctuation && !toks[k].eq(")") { k -= 1 }
        return got ? k : j - 1
    }
}
