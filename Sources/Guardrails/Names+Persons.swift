import Foundation

extension NameAddressDetector {
    // MARK: Scanner

    enum Strength { case weak, strong, zip }

    struct Scanner {
        let s: [Unicode.Scalar]
        let toks: [Token]
        let n: Int
        let g: Gazetteers
        let lowerMode: Bool
        let upperMode: Bool

        // MARK: Persons

        func wordClass(_ t: Token, masked: Bool) -> WordClass {
            if t.k != .word || masked { return X }
            let low = t.base
            let cap = t.firstUpper
            if !cap && !lowerMode { return t.baseHas(Flag.particle) ? A : X }
            if t.len == 1 { return cap || lowerMode ? I : X }
            if t.baseHas(Flag.prefix) { return P }
            if t.baseHas(Flag.suffix) && (t.isUpper || t.baseHas(Flag.jrSr)) { return S }
            if t.isUpper && !lowerMode && !upperMode { return X }
            if t.baseHas(Flag.org) { return O }
            if t.baseHas(Flag.geo | Flag.nonPerson) { return C }
            if low.utf8.contains(UInt8(ascii: "-")) { return U }
            if t.baseHas(Flag.first | Flag.last) { return t.baseHas(Flag.common) ? W : K }
            if t.baseHas(Flag.common | Flag.streetSuffix) { return C }
            if lowerMode && t.baseHas(Flag.particle) { return A }
            if t.baseLen >= 5 && g.surnameEndings.match(low, scalars: t.baseLen) { return M }
            if englishEndings.match(low, scalars: t.baseLen) || low.unicodeScalars.contains(where: PythonText.isDigit) { return C }
            return U
        }

        /// Tokens inside a whitespace-delimited chunk that looks like an e-mail address, URL or domain.
        func urlMask() -> [Bool] {
            var mask = [Bool](repeating: false, count: n)
            let count = s.count
            var ti = 0
            var i = 0
            while i < count {
                if PythonText.isSpace(s[i]) {
                    i += 1
                    continue
                }
                var j = i
                var at = false
                while j < count, !PythonText.isSpace(s[j]) {
                    if s[j] == "@" { at = true }
                    j += 1
                }
                if at || looksLikeURL(i, j) {
                    while ti < n, toks[ti].a < i { ti += 1 }
                    var q = ti
                    while q < n, toks[q].b <= j {
                        mask[q] = true
                        q += 1
                    }
                }
                i = j
            }
            return mask
        }

        func looksLikeURL(_ a: Int, _ b: Int) -> Bool {
            if b - a >= 3 {
                for p in a..<(b - 2) where s[p] == ":" && s[p + 1] == "/" && s[p + 2] == "/" { return true }
            }
            if b - a >= 4, s[a] == "w" || s[a] == "W", s[a + 1] == "w" || s[a + 1] == "W", s[a + 2] == "w" || s[a + 2] == "W", s[a + 3] == "." {
                return true
            }
            if b - a >= 4 {
                for p in a..<(b - 3) where s[p + 1] == "." && PythonText.isWordChar(s[p]) && PythonText.isWordChar(s[p + 2]) && PythonText.isWordChar(s[p + 3]) {
                    return true
                }
            }
            return false
        }

        func persons() -> [Finding] {
            let mask = urlMask()
            var cls = [WordClass](repeating: X, count: n)
            for i in 0..<n { cls[i] = wordClass(toks[i], masked: mask[i]) }
            var out: [Finding] = []
            var chain: [Int] = []
            var i = 0
            while i < n {
                let ci = cls[i]
                if !isIn(ci, mKWMUIP) || (lowerMode && !isIn(ci, mKWMP)) {
                    i += 1
                    continue
                }
                chain.removeAll(keepingCapacity: true)
                chain.append(i)
                var j = i
                while true {
                    var k = j + 1
                    if k < n && toks[k].eq(".") && toks[k].gap == 0 && isIn(cls[j], mIP) { k += 1 }
                    if k >= n || toks[k].nl > 0 || toks[k].gap == 0 || toks[k].gap > 2 { break }
                    let c = cls[k]
                    let ok: Bool
                    if lowerMode {
                        let tk = toks[k]
                        ok =
                            isIn(c, mKWM)
                            || (c == I && !tk.has(Flag.vowel) && k + 1 < n && isIn(cls[k + 1], mKM))
                            || (c == U && isIn(cls[j], mKIP) && chain.count == 1 + (cls[i] == P ? 1 : 0) && !tk.has(Flag.common)
                                && tk.len >= 4 && !chainStopEndings.match(tk.low, scalars: tk.lowLen))
                            || (c == A && k + 1 < n && isIn(cls[k + 1], mKWMUA))
                    } else {
                        ok = isIn(c, mKWMUIPS) || (c == A && k + 1 < n && isIn(cls[k + 1], mKWMUA))
                    }
                    if !ok || chain.count >= 6 { break }
                    chain.append(k)
                    j = k
                }
                i = j + 1
                if let f = judge(chain, cls) { out.append(f) }
            }
            return out
        }

        func sentenceStart(_ i: Int) -> Bool {
            if i == 0 { return true }
            let t = toks[i]
            if t.nl > 0 { return true }
            let p = toks[i - 1]
            if p.k != .punctuation { return false }
            if p.oneOf("\"“”('[") { return true }
            return p.oneOf(".!?;>*-•") && t.gap != 0
        }

        func triggerBefore(_ i: Int) -> Int {
            func match(_ trig: [String]) -> Bool {
                let m = trig.count
                if i - m < 0 { return false }
                for j in 0..<m where !same(toks[i - m + j].base, trig[j]) { return false }
                for j in 0..<m where toks[i - m + j + 1].nl > 0 { return false }
                return true
            }
            if strongTriggers.contains(where: match) { return 2 }
            if weakTriggers.contains(where: match) { return 1 }
            return 0
        }

        /// The reference's chain_features + judge: trims particles and honorifics, applies the hard rules,
        /// scores the chain and returns its span when the score reaches the threshold.
        func judge(_ fullChain: [Int], _ cls: [WordClass]) -> Finding? {
            var lo = 0
            var hi = fullChain.count
            while lo < hi && cls[fullChain[lo]] == A { lo += 1 }
            while lo < hi && isIn(cls[fullChain[hi - 1]], mAP) { hi -= 1 }
            if lo >= hi { return nil }
            let chain = fullChain[lo..<hi]
            let first = chain.first!
            let last = chain.last!
            let nxt: Token? = last + 1 < n ? toks[last + 1] : nil
            let prv: Token? = first > 0 ? toks[first - 1] : nil
            if let x = nxt, x.nl == 0, x.k == .word, x.baseHas(Flag.org) || (x.firstUpper && x.has(Flag.streetSuffix)) { return nil }
            if let x = nxt, x.eq("&") { return nil }
            var core = 0
            var allUnknown = true
            for k in chain where isIn(cls[k], mKWMU) {
                core += 1
                if cls[k] != U { allUnknown = false }
            }
            if core == 0 { return nil }
            if chain.count == 1 && toks[first].baseHas(Flag.month) && (nxt?.k == .number || prv?.k == .number) { return nil }
            // features, in the reference's order
            var f = [Double](repeating: 0, count: 24)
            f[0] = 1  // bias
            for k in chain {
                let l = cls[k]
                if l == K {
                    if toks[k].baseHas(Flag.first) { f[1] += 1 } else { f[2] += 1 }
                } else if l == M {
                    f[3] += 1
                } else if l == W {
                    f[4] += 1
                } else if l == U {
                    f[5] += 1
                } else if l == P {
                    f[7] = 1
                } else if l == I {
                    f[6] = 1
                }
            }
            f[8] = core >= 2 ? 1 : 0  // multi
            f[23] = core > 3 ? 1 : 0  // long
            f[9] = allUnknown ? 1 : 0
            let start = sentenceStart(first)
            f[10] = start ? 1 : 0
            f[11] = start && core == 1 ? 1 : 0
            let trig = triggerBefore(first)
            f[12] = trig == 2 ? 1 : 0
            f[13] = trig == 1 ? 1 : 0
            f[14] = prv?.baseHas(Flag.geoPrep) == true ? 1 : 0
            f[15] = prv?.has(Flag.the) == true ? 1 : 0
            if let x = nxt, x.nl == 0 {
                f[16] = x.baseHas(Flag.personVerb) ? 1 : 0
                f[17] = x.eq(":") && start ? 1 : 0
                f[18] = x.eq(",") && start ? 1 : 0
            }
            let lastTok = toks[last]
            if lastTok.lowEndsQuoteS || lastTok.lowEndsCurlyS
                || (nxt.map { $0.eq("'") || $0.eq("’") } == true && last + 2 < n && toks[last + 2].has(Flag.s) && toks[last + 2].gap == 0)
            {
                f[19] = 1
            }
            f[20] = lowerMode ? 1 : 0
            f[21] = lowerMode && core == 1 ? 1 : 0
            if prv?.eq(",") == true || (nxt?.eq(",") == true && !start) || prv?.has(Flag.and) == true || nxt?.has(Flag.and) == true
            {
                f[22] = 1
            }
            var score = 0.0
            for q in 0..<24 { score += weights[q] * f[q] }
            if score < threshold { return nil }
            let a = toks[first].a
            var b = toks[last].b
            if cls[last] == I && last + 1 < n && toks[last + 1].eq(".") && toks[last + 1].gap == 0 { b += 1 }
            if lastTok.lowEndsQuoteS || lastTok.endsCurlyS { b -= 2 }
            return Finding(type: "PERSON", start: a, end: b)
        }
    }
}
