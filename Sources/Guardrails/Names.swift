import Foundation

/// Person names (`PERSON`) and street addresses (`STREET_ADDRESS`, plus `ZIP_CODE` for a bare postcode after
/// "zip code is", "postcode:" …) found with word lists and rules, no model.
///
/// A port of scripts/names_reference.py, which it matches exactly: same tokens, same word classes, same
/// chain score, same address grammar, same offsets (Unicode scalars, end exclusive). The parity fixture
/// tests/guardrails/names-parity.jsonl (written by scripts/make-names-parity.py) holds the reference's output
/// for about 150 sentences; GuardrailsTests checks this port against it row by row. Where Python's string
/// semantics matter (`str.lower()` with full case mappings and the Greek final sigma, `isupper`/`isalpha`/`isspace`,
/// the `re` word class `[^\W\d_]`), `Py` below reproduces them on Unicode scalars rather than using Swift's
/// grapheme-based `String` comparisons.
///
/// How it works, briefly. Text is split into word, number and single-character punctuation tokens. Each word
/// gets a class (K known name, W name that is also a common word, M surname by ending, U unknown capitalised
/// word, I initial, P honorific, A particle, S suffix, O organisation word, C common/place word, X other);
/// runs of name-like words become chains, and a chain is a PERSON when a linear score over 24 features
/// (known first names, a trigger such as "my name is" or "Dear" before it, sentence start, a verb after it, …)
/// is at least zero. Addresses are a small grammar over the tokens: a house number and street words ending
/// in a suffix ("95 Burton Avenue"), a street type before or after the name ("19 rue La Boétie",
/// "Fagradalsbraut 71"), P.O. boxes, military addresses (PSC 1234, Box 5678), "the corner of X and Y", and
/// a strong street extended over units, further streets and city / state / country / postcode segments.
///
/// Stateless apart from the word lists, which load once from the bundle; safe to call concurrently.
public enum NameAddressDetector {
    public static let types = ["PERSON", "STREET_ADDRESS", "ZIP_CODE"]

    public static func scan(_ text: String) -> [Finding] { scan(scalars: Array(text.unicodeScalars)) }

    /// The same on the text's Unicode scalars (offsets index this array).
    static func scan(scalars s: [Unicode.Scalar]) -> [Finding] {
        guard case .success(let g) = Gazetteers.shared, !s.isEmpty else { return [] }
        let toks = tokenize(s, g)
        guard !toks.isEmpty else { return [] }
        var anyUpper = false
        var letters = 0
        var uppers = 0
        for c in s {
            let up = Py.isUpper(c)
            if up { anyUpper = true }
            if Py.isAlpha(c) {
                letters += 1
                if up { uppers += 1 }
            }
        }
        let scanner = Scanner(
            s: s, toks: toks, n: toks.count, g: g, lowerMode: !anyUpper,
            upperMode: letters > 0 && Double(uppers) > 0.8 * Double(letters))
        let addresses = scanner.addresses()
        let persons = scanner.persons().filter { p in !addresses.contains { p.start < $0.end && $0.start < p.end } }
        // Python's sorted() is stable: addresses before persons at the same start.
        return (addresses + persons).enumerated().sorted { ($0.element.start, $0.offset) < ($1.element.start, $1.offset) }.map(\.element)
    }

    // MARK: Tokens

    enum Kind: UInt8 { case w, n, p }

    /// A word (letters with inner `'`, `’`, `-`), a run of ASCII digits, or one other non-space character.
    struct Tok {
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

    static func tokenize(_ s: [Unicode.Scalar], _ g: Gazetteers) -> [Tok] {
        var toks: [Tok] = []
        toks.reserveCapacity(s.count / 4 + 4)
        let n = s.count
        var i = 0
        var prev = 0
        while i < n {
            let c = s[i]
            var j = i + 1
            if Py.isWordChar(c) {
                while true {
                    while j < n, Py.isWordChar(s[j]) { j += 1 }
                    if j + 1 < n, s[j] == "'" || s[j] == "’" || s[j] == "-", Py.isWordChar(s[j + 1]) {
                        j += 2
                        continue
                    }
                    break
                }
            } else if c.value >= 48 && c.value <= 57 {
                while j < n, s[j].value >= 48 && s[j].value <= 57 { j += 1 }
            } else if Py.isSpace(c) {
                i += 1
                continue
            }
            var nl = 0
            for q in prev..<i where s[q] == "\n" { nl += 1 }
            toks.append(makeTok(s, i, j, gap: i - prev, nl: nl, g))
            prev = j
            i = j
        }
        return toks
    }

    static func makeTok(_ s: [Unicode.Scalar], _ a: Int, _ b: Int, gap: Int, nl: Int, _ g: Gazetteers) -> Tok {
        let c0 = s[a]
        let kind: Kind = Py.isAlpha(c0) ? .w : (c0.value >= 48 && c0.value <= 57 ? .n : .p)
        let (low, lowLen) = Py.lower(s[a..<b])
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
        let lf = kind == .w || g.nonLetterEntries ? g.flags[low] ?? 0 : 0
        let bf = baseLen == lowLen ? lf : (kind == .w || g.nonLetterEntries ? g.flags[base] ?? 0 : 0)
        var anyUpper = false
        var upperCased = false
        var upperFails = false
        var lowerCased = false
        var lowerFails = false
        for c in s[a..<b] {
            let up = Py.isUpper(c)
            let lo = Py.isLower(c)
            let title = Py.isTitle(c)
            if up { anyUpper = true }
            if lo || title { upperFails = true } else if up { upperCased = true }
            if up || title { lowerFails = true } else if lo { lowerCased = true }
        }
        return Tok(
            a: a, b: b, k: kind, gap: gap, nl: nl, c0: c0, len: b - a, low: low, base: base, lowLen: lowLen, baseLen: baseLen,
            firstUpper: Py.isUpper(c0), anyUpper: anyUpper, isUpper: !upperFails && upperCased, isLower: !lowerFails && lowerCased,
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

    // MARK: Fixed lists (as in the reference)

    static func words(_ s: String) -> [String] { s.split(whereSeparator: \.isWhitespace).map(String.init) }

    static let months = words(
        """
        jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july august september october
        november december mon tue wed thu fri sat sun monday tuesday wednesday thursday friday saturday sunday
        """)
    static let englishEndings = Suffixes([
        "ing", "tion", "sion", "ness", "ment", "ly", "able", "ible", "ous", "ity", "ism", "ship", "ful", "less", "ance", "ence", "ive",
        "ical", "ogy", "ies", "ers", "ings", "ures", "ists",
    ])
    /// Endings that keep an unknown lowercase word out of a lowercase name chain, and out of a street cue.
    static let chainStopEndings = Suffixes(["s", "ed", "ing", "ly", "er"])
    static let cueStopEndings = Suffixes(["s", "ed", "ing", "ly"])
    static let personVerbs = words(
        """
        is was has had will would can could did does lives lived said says say shouted spent began wrote
        told asked went came explained gave given got made met called replied added noted smiled laughed looked walked works worked
        joined left moved knows knew thinks thought wants wanted loves loved likes liked became becomes must should may might
        who whose
        """)
    static let geoPreps = words("in from at near into across within outside inside towards toward via through around")
    static let strongTriggers: [[String]] = [
        ["my", "name", "is"], ["name", "is"], ["name", ":"], ["names", "are"], ["dear"], ["hi"], ["hello"], ["hey"], ["called"], ["named"],
        ["signed"], ["regards", ","], ["sincerely", ","], ["user", ":"], ["i", "'", "m"], ["i", "’", "m"], ["i", "am"], ["this", "is"],
        ["name", "to"], ["it", "to"], ["maiden", "name", "is"], ["last", "name", "?"], ["name", "?"], ["by"], ["add"], ["producer"],
        ["author"], ["director"], ["manager"], ["mr"], ["mrs"], ["ms"], ["dr"], ["miss"],
    ]
    static let weakTriggers: [[String]] = [
        ["and"], ["with"], ["to"], ["meet"], ["ask"], ["tell"], ["contact"], ["thanks"], ["thank", "you"], ["at"], ["about"], ["for"],
        ["from"], [","], ["features"],
    ]
    static let function = words(
        """
        the a an and or of to in at on for with by from is are was were be it this that my your our his her their i you we he
        she they me us him them as if not no so but then than there here when where what which who how why all any some into
        onto over under after before last next please can could would should will do does did have has had am been being up down
        out about again once also just only very
        """)
    static let afterAddress = words("in on at last and or to for is was near since until by")
    static let particleStreet = words("de do da del dei degli della delle la le les des du di van der den von dos das al el ten ter y i e")
    static let militaryShips = words("uss usns usnv uscgc")
    static let ambiguousTypes = words("via place route gate put al c r u av tee plaza court ring ut bd str")
    static let placeConnect = words("of the and de la del nad u v am an im le sur di du da do dos das des von van der y i e pod na")
    static let placeStop =
        function + [
            "last", "night", "case", "issue", "after", "concert", "card", "office", "mobile", "desk", "fax", "phone", "email", "e-mail", "tel",
            "website", "name", "address", "street",
        ]
    /// `(zip|postal|post) ?code( is| :|:| -)?$|zip( is|:| :)?$|postcode( is|:| :)?$` as the suffixes it accepts.
    static let zipSuffixes: [String] = {
        var out: [String] = []
        for head in ["zip", "postal", "post"] {
            for space in ["", " "] {
                for tail in ["", " is", " :", ":", " -"] { out.append(head + space + "code" + tail) }
            }
        }
        for tail in ["", " is", ":", " :"] { out += ["zip" + tail, "postcode" + tail] }
        return out
    }()

    /// Weights of the chain score, in the reference's feature order; a chain is a person when the sum is >= 0.
    static let weights: [Double] = [
        0.15, 2.2, 0.5, 1.0, -0.85, -0.55, 0.75, 1.8, 0.6, -1.6, 0.55, -1.3, 3.4, -0.75, -0.95, -1.2, 1.5, 0.3, 0.5, 0.35, 0.0, -0.85, 0.85, 0.0,
    ]
    static let threshold = 0.0

    // MARK: Word lists

    /// Membership bits: one dictionary lookup per token tells which lists (and which keywords) hold it.
    enum Flag {
        static let first: UInt64 = 1 << 0, last: UInt64 = 1 << 1, common: UInt64 = 1 << 2, streetSuffix: UInt64 = 1 << 3,
            streetType: UInt64 = 1 << 4, secondary: UInt64 = 1 << 5, streetStrong: UInt64 = 1 << 6, function: UInt64 = 1 << 7,
            month: UInt64 = 1 << 8, particleStreet: UInt64 = 1 << 9, militaryShip: UInt64 = 1 << 10, ambiguousType: UInt64 = 1 << 11,
            placeConnect: UInt64 = 1 << 12, placeStop: UInt64 = 1 << 13, afterAddress: UInt64 = 1 << 14, nonPerson: UInt64 = 1 << 15,
            geo: UInt64 = 1 << 16, org: UInt64 = 1 << 17, particle: UInt64 = 1 << 18, prefix: UInt64 = 1 << 19, suffix: UInt64 = 1 << 20,
            personVerb: UInt64 = 1 << 21, geoPrep: UInt64 = 1 << 22
        // keywords
        static let and: UInt64 = 1 << 32, box: UInt64 = 1 << 33, the: UInt64 = 1 << 34, of: UInt64 = 1 << 35, corner: UInt64 = 1 << 36,
            militaryUnit: UInt64 = 1 << 37, po: UInt64 = 1 << 38, nan: UInt64 = 1 << 39, jrSr: UInt64 = 1 << 40, s: UInt64 = 1 << 41,
            stDr: UInt64 = 1 << 42, vowel: UInt64 = 1 << 43
    }

    /// A list of suffixes, bucketed by their last two UTF-8 bytes.
    struct Suffixes: Sendable {
        struct Entry: Sendable {
            var bytes: [UInt8]
            var scalars: Int
        }
        var buckets: [UInt16: [Entry]] = [:]
        var short: [Entry] = []

        init(_ list: some Sequence<String>) {
            for e in list {
                let bytes = Array(e.utf8)
                let entry = Entry(bytes: bytes, scalars: e.unicodeScalars.count)
                if bytes.count < 2 {
                    short.append(entry)
                } else {
                    buckets[Self.key(bytes[bytes.count - 2], bytes[bytes.count - 1]), default: []].append(entry)
                }
            }
        }

        @inline(__always) static func key(_ a: UInt8, _ b: UInt8) -> UInt16 { UInt16(a) << 8 | UInt16(b) }

        /// Whether `s` (of `scalars` scalars) ends with an entry e with scalars >= e.scalars + margin.
        func match(_ s: String, scalars: Int, margin: Int = 0) -> Bool {
            var s = s
            return s.withUTF8 { x in
                for e in short where scalars >= e.scalars + margin && x.count >= e.bytes.count && (e.bytes.isEmpty || x[x.count - 1] == e.bytes[0]) {
                    return true
                }
                guard x.count >= 2, let list = buckets[Self.key(x[x.count - 2], x[x.count - 1])] else { return false }
                for e in list where scalars >= e.scalars + margin && x.count >= e.bytes.count {
                    let equal = e.bytes.withUnsafeBufferPointer { y in memcmp(x.baseAddress! + (x.count - y.count), y.baseAddress!, y.count) == 0 }
                    if equal { return true }
                }
                return false
            }
        }
    }

    /// The word lists of Resources/names as one dictionary. (Swift compares `String` keys by canonical
    /// equivalence, Python by code points; they agree here: the lists hold precomposed Latin words, and a
    /// token never holds a combining mark, which the tokenizer splits off as punctuation.)
    struct Gazetteers: Sendable {
        /// Word → `Flag` bits of the lists that hold it.
        let flags: [String: UInt64]
        /// Whether some entry does not start with a letter (then every token is looked up, not only words).
        let nonLetterEntries: Bool
        let surnameEndings: Suffixes
        let streetEndings: Suffixes

        /// The lists, or why they could not be read (Warden checks this at start: `GuardrailResources.load`).
        static let shared: Result<Gazetteers, GuardrailResources.LoadError> = load()

        static func load() -> Result<Gazetteers, GuardrailResources.LoadError> {
            var missing: String?
            func list(_ name: String) -> [String]? {
                guard let url = Bundle.module.url(forResource: name, withExtension: "txt", subdirectory: "names"),
                    let data = try? Data(contentsOf: url)
                else {
                    missing = missing ?? "names/\(name).txt is missing from the bundle"
                    return nil
                }
                let words = String(decoding: data, as: UTF8.self).split(separator: "\n").map {
                    $0.trimmingCharacters(in: .whitespacesAndNewlines)
                }.filter { !$0.isEmpty }
                if words.isEmpty { missing = missing ?? "names/\(name).txt is empty" }
                return words.isEmpty ? nil : words
            }
            var flags: [String: UInt64] = [:]
            func add(_ words: [String], _ f: UInt64) { for w in words { flags[w, default: 0] |= f } }
            let files: [(String, UInt64)] = [
                ("first_names", Flag.first), ("last_names", Flag.last), ("name_particles", Flag.particle), ("name_prefixes", Flag.prefix),
                ("name_suffixes", Flag.suffix), ("common_words", Flag.common), ("countries", Flag.geo), ("us_states", Flag.geo),
                ("street_suffixes", Flag.streetSuffix), ("street_types", Flag.streetType), ("secondary_units", Flag.secondary),
                ("street_suffixes_strong", Flag.streetStrong), ("non_person_words", Flag.nonPerson), ("org_words", Flag.org),
            ]
            var nonLetter = false
            for (file, f) in files {
                guard let words = list(file) else { return .failure(GuardrailResources.LoadError(description: missing ?? file)) }
                add(words, f)
                if words.contains(where: { !Py.isAlpha($0.unicodeScalars.first!) }) { nonLetter = true }
            }
            guard let surname = list("surname_endings"), let streetEndings = list("street_name_endings") else {
                return .failure(GuardrailResources.LoadError(description: missing ?? "names word lists"))
            }
            add(months, Flag.month)
            add(personVerbs, Flag.personVerb)
            add(geoPreps, Flag.geoPrep)
            add(function, Flag.function)
            add(afterAddress, Flag.afterAddress)
            add(particleStreet, Flag.particleStreet)
            add(militaryShips, Flag.militaryShip)
            add(ambiguousTypes, Flag.ambiguousType)
            add(placeConnect, Flag.placeConnect)
            add(placeStop, Flag.placeStop)
            add(["and"], Flag.and)
            add(["box"], Flag.box)
            add(["the"], Flag.the)
            add(["of"], Flag.of)
            add(["corner"], Flag.corner)
            add(["psc", "unit", "cmr"], Flag.militaryUnit)
            add(["p", "po"], Flag.po)
            add(["nan"], Flag.nan)
            add(["jr", "sr"], Flag.jrSr)
            add(["s"], Flag.s)
            add(["st", "dr"], Flag.stDr)
            add(["a", "i", "o", "y", "e"], Flag.vowel)
            return .success(
                Gazetteers(
                    flags: flags, nonLetterEntries: nonLetter, surnameEndings: Suffixes(surname), streetEndings: Suffixes(streetEndings)))
        }
    }

    // MARK: Word classes

    typealias Cls = UInt8
    static let K = Cls(ascii: "K"), W = Cls(ascii: "W"), M = Cls(ascii: "M"), C = Cls(ascii: "C"), U = Cls(ascii: "U"),
        I = Cls(ascii: "I"), A = Cls(ascii: "A"), P = Cls(ascii: "P"), S = Cls(ascii: "S"), O = Cls(ascii: "O"), X = Cls(ascii: "X")

    static func mask(_ letters: String) -> UInt32 { letters.utf8.reduce(0) { $0 | (1 << UInt32($1 - 65)) } }
    @inline(__always) static func isIn(_ c: Cls, _ m: UInt32) -> Bool { (m >> UInt32(c &- 65)) & 1 != 0 }

    static let mKWMUIP = mask("KWMUIP"), mKWMP = mask("KWMP"), mIP = mask("IP"), mKWM = mask("KWM"), mKM = mask("KM"),
        mKIP = mask("KIP"), mKWMUA = mask("KWMUA"), mKWMUIPS = mask("KWMUIPS"), mAP = mask("AP"), mKWMU = mask("KWMU")

    // MARK: Scanner

    enum Strength { case weak, strong, zip }

    struct Scanner {
        let s: [Unicode.Scalar]
        let toks: [Tok]
        let n: Int
        let g: Gazetteers
        let lowerMode: Bool
        let upperMode: Bool

        // MARK: Persons

        func wordClass(_ t: Tok, masked: Bool) -> Cls {
            if t.k != .w || masked { return X }
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
            if englishEndings.match(low, scalars: t.baseLen) || low.unicodeScalars.contains(where: Py.isDigit) { return C }
            return U
        }

        /// Tokens inside a whitespace-delimited chunk that looks like an e-mail address, URL or domain.
        func urlMask() -> [Bool] {
            var mask = [Bool](repeating: false, count: n)
            let count = s.count
            var ti = 0
            var i = 0
            while i < count {
                if Py.isSpace(s[i]) {
                    i += 1
                    continue
                }
                var j = i
                var at = false
                while j < count, !Py.isSpace(s[j]) {
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
                for p in a..<(b - 3) where s[p + 1] == "." && Py.isWordChar(s[p]) && Py.isWordChar(s[p + 2]) && Py.isWordChar(s[p + 3]) {
                    return true
                }
            }
            return false
        }

        func persons() -> [Finding] {
            let mask = urlMask()
            var cls = [Cls](repeating: X, count: n)
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
            if p.k != .p { return false }
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
        func judge(_ fullChain: [Int], _ cls: [Cls]) -> Finding? {
            var lo = 0
            var hi = fullChain.count
            while lo < hi && cls[fullChain[lo]] == A { lo += 1 }
            while lo < hi && isIn(cls[fullChain[hi - 1]], mAP) { hi -= 1 }
            if lo >= hi { return nil }
            let chain = fullChain[lo..<hi]
            let first = chain.first!
            let last = chain.last!
            let nxt: Tok? = last + 1 < n ? toks[last + 1] : nil
            let prv: Tok? = first > 0 ? toks[first - 1] : nil
            if let x = nxt, x.nl == 0, x.k == .w, x.baseHas(Flag.org) || (x.firstUpper && x.has(Flag.streetSuffix)) { return nil }
            if let x = nxt, x.eq("&") { return nil }
            var core = 0
            var allUnknown = true
            for k in chain where isIn(cls[k], mKWMU) {
                core += 1
                if cls[k] != U { allUnknown = false }
            }
            if core == 0 { return nil }
            if chain.count == 1 && toks[first].baseHas(Flag.month) && (nxt?.k == .n || prv?.k == .n) { return nil }
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

        // MARK: Addresses: small predicates

        @inline(__always) func sameLine(_ i: Int) -> Bool { i >= 0 && i < n && toks[i].nl == 0 && toks[i].gap <= 2 }
        @inline(__always) func attached(_ i: Int) -> Bool { i >= 0 && i < n && toks[i].gap == 0 }
        @inline(__always) func isWord(_ i: Int) -> Bool { i >= 0 && i < n && toks[i].k == .w }

        /// The last token of the word at i, taking an attached `.` or `/` of an abbreviation ("u.", "C/").
        func wordEnd(_ i: Int) -> Int {
            if attached(i + 1) && toks[i + 1].oneOf("./") && toks[i].k == .w
                && (toks[i].len <= 5 || toks[i].has(Flag.streetType) || ends(toks[i].low, "str"))
            {
                return i + 1
            }
            return i
        }

        /// What may follow a house number that ends a street (not "10 bottles of").
        func numEndOk(_ e: Int) -> Bool {
            guard e + 1 >= 0, e + 1 < n else { return true }
            let q = toks[e + 1]
            if q.nl > 0 || q.k == .p || q.k == .n { return true }
            if q.k == .w && (q.anyUpper || q.has(Flag.streetStrong | Flag.secondary)) { return true }
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
            i >= 0 && i < n && toks[i].k == .n && lo <= toks[i].len && toks[i].len <= hi && spaced(i)
        }

        /// Token i is not glued to letters or digits on either side (not part of an id, hash, decimal, time, phone).
        func spaced(_ i: Int) -> Bool {
            let t = toks[i]
            if i > 0 {
                let p = toks[i - 1]
                if t.gap == 0 && (p.k != .p || p.oneOf(".,:$€£+-/x#@_=")) && !(t.k == .w && p.oneOf("-/")) {
                    if !(t.k == .n && p.oneOf(">(")) && !(t.k == .w && p.k == .p && p.oneOf(">('\"")) { return false }
                }
            }
            if i + 1 < n {
                let q = toks[i + 1]
                if q.gap == 0 {
                    if q.k != .p && !(t.k == .n && q.k == .w && q.len == 1) { return false }
                    if q.oneOf(":-,.") && t.k == .n && i + 2 < n && toks[i + 2].k == .n && toks[i + 2].gap == 0 { return false }
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
                if attached(j + 1) && toks[j + 1].k == .w && toks[j + 1].len == 1 { j += 1 }
                return j
            }
            return -1
        }

        // MARK: Addresses: street cores

        func streetAt(_ i: Int) -> (Int, Int)? {
            guard i >= 0, i < n else { return nil }
            let t = toks[i]
            if t.k == .n && t.len <= 6 {
                if !spaced(i) { return nil }
                var j = i
                var twoNums = false
                if sameLine(j + 1) && isNum(j + 1) {
                    j += 1
                    twoNums = true
                }
                if !sameLine(j + 1) { return nil }
                var ws = streetWords(j + 1)
                if ws.isEmpty && isType(j + 1) && sameLine(j + 2) && toks[j + 2].k == .w && toks[j + 2].firstUpper {
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
            if t.k != .w { return nil }
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
                    if isType(a) || hasEnding(a) || Py.notLatin(ta.c0)
                        || (idx > 0 && !lowerMode && ta.isLower && !ta.has(Flag.particleStreet)
                            && !cueStopEndings.match(ta.low, scalars: ta.lowLen))
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
                if sameLine(last + 2) && toks[last + 2].k == .w && toks[last + 2].has(Flag.streetStrong) { return (i, last + 1) }
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
                    if i > 0 && sameLine(i) && toks[i - 1].k == .w && (toks[i - 1].lowEndsQuoteS || toks[i - 1].lowEndsCurlyS) { return nil }
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
            if t.has(Flag.militaryShip) && sameLine(i + 1) && toks[i + 1].k == .w { return (i, i + 1, .strong) }
            // P.O. Box 123 / PO Box 123
            if t.has(Flag.po) {
                var j = i
                var seq = ""
                while j < Swift.min(i + 6, n) && !toks[j].has(Flag.box) {
                    seq += toks[j].low
                    j += 1
                }
                if j < n && ["p.o.", "po", "p.o", "po."].contains(where: { same(seq, $0) }) && isNum(j + 1) { return (i, j + 1, .strong) }
            }
            // the corner of X and Y
            if t.has(Flag.corner) && i + 1 < n && toks[i + 1].has(Flag.of) {
                var j = i + 2
                var end = -1
                var seenAnd = false
                while j < n && j < i + 20 && toks[j].nl == 0 {
                    let u = toks[j]
                    if u.eq("?") || u.eq("!") || u.eq(";")
                        || (u.eq(".") && !(toks[j - 1].k == .w && toks[j - 1].len <= 4) && toks[j - 1].k != .n)
                    {
                        break
                    }
                    if u.has(Flag.and) {
                        seenAnd = true
                    } else if u.k == .w && u.has(Flag.function) {
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
            if t.k == .n && (t.len == 4 || t.len == 5) && i >= 1 {
                var prev = ""
                let from = Swift.max(0, i - 4)
                for q in from..<i {
                    if q > from { prev += " " }
                    prev += toks[q].low
                }
                if zipSuffixes.contains(where: { ends(prev, $0) }) {
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
                    let strong = toks[st.0].k == .n || isNum(st.1) || (isNum(st.1 - 1) && toks[st.1].eq("."))
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
            if s > 0 && t.k == .w && isNum(s - 1) && sameLine(s) && t.nl == 0 { s -= 1 }
            // "Katrina and Rúa do Paseo 46", "the corner of …"
            let upperForm =
                s >= 2 && toks[s - 1].has(Flag.and) && sameLine(s) && sameLine(s - 1) && toks[s - 2].k == .w && toks[s - 2].firstUpper
            let lowerForm =
                s >= 2 && lowerMode && toks[s - 1].has(Flag.and) && toks[s - 2].k == .w && !toks[s - 2].has(Flag.function)
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
            while k < n && toks[k].k == .p && toks[k].oneOf(">?*-|•") && (k == j || attached(k) || toks[k].gap <= 2) { k += 1 }
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
                if toks[j].k == .n || toks[j].nl == 0, let st = streetAt(j) {
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
                if u.k == .n && 2 <= u.len && u.len <= 6 {
                    k += 1
                    got = true
                    if attached(k + 1) && toks[k + 1].eq("-") && isNum(k + 2, 3, 4) && attached(k + 2) { k += 2 }
                    continue
                }
                if u.k == .w {
                    let nextIsWord = k + 2 < n && toks[k + 2].k == .w && toks[k + 2].nl == 0
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
                if u.oneOf(",.-'’") && got && u.nl == 0 && k + 2 < n && toks[k + 2].nl == 0 && toks[k + 2].k != .p {
                    k += 1
                    continue
                }
                break
            }
            while k >= j && toks[k].k == .p && !toks[k].eq(")") { k -= 1 }
            return got ? k : j - 1
        }
    }
}

/// Python 3's character predicates and `str.lower()` on Unicode scalars, as the reference uses them.
enum Py {
    /// `str.isalpha()`: general category L*.
    @inline(__always) static func isAlpha(_ c: Unicode.Scalar) -> Bool {
        if c.value < 128 { return (c.value | 0x20) >= 97 && (c.value | 0x20) <= 122 }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// `str.isupper()` / `str.islower()` on one character: the Uppercase / Lowercase properties.
    @inline(__always) static func isUpper(_ c: Unicode.Scalar) -> Bool {
        if c.value < 128 { return c.value >= 65 && c.value <= 90 }
        return c.properties.isUppercase
    }

    @inline(__always) static func isLower(_ c: Unicode.Scalar) -> Bool {
        if c.value < 128 { return c.value >= 97 && c.value <= 122 }
        return c.properties.isLowercase
    }

    @inline(__always) static func isTitle(_ c: Unicode.Scalar) -> Bool { c.value >= 128 && c.properties.generalCategory == .titlecaseLetter }

    /// `str.isdigit()`: numeric type decimal or digit.
    static func isDigit(_ c: Unicode.Scalar) -> Bool {
        if c.value < 128 { return c.value >= 48 && c.value <= 57 }
        switch c.properties.numericType {
        case .decimal?, .digit?: return true
        default: return false
        }
    }

    /// `str.isspace()` (the `re` module's `\s`).
    @inline(__always) static func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 9...13, 28...32, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// The `re` class `[^\W\d_]`: alphanumeric (letters and any numeric character) but not a decimal digit or `_`.
    @inline(__always) static func isWordChar(_ c: Unicode.Scalar) -> Bool {
        if c.value < 128 { return (c.value | 0x20) >= 97 && (c.value | 0x20) <= 122 }
        if isAlpha(c) { return true }
        switch c.properties.numericType {
        case .digit?, .numeric?: return true
        default: return false
        }
    }

    /// The reference's `not_latin`: a letter outside Latin (Greek, Cyrillic, …), not a Latin-1 accent.
    static func notLatin(_ c: Unicode.Scalar) -> Bool {
        guard isAlpha(c), c.value >= 0x370 else { return false }
        let l = Array(lower(c).unicodeScalars)
        // Python: not ('a' <= c.lower() <= 'z'), comparing strings by code points
        let inRange = l[0].value >= 97 && (l[0].value < 122 || (l[0].value == 122 && l.count == 1))
        return !inRange
    }

    static func lower(_ c: Unicode.Scalar) -> String {
        if c.value < 128 { return String(Character(c.value >= 65 && c.value <= 90 ? Unicode.Scalar(c.value + 32)! : c)) }
        return c.properties.lowercaseMapping
    }

    /// `str.lower()`: full case mappings, with Greek capital sigma as final sigma where Python makes it so.
    /// Returns the string and its length in scalars.
    static func lower(_ s: ArraySlice<Unicode.Scalar>) -> (String, Int) {
        var ascii = true
        for c in s where c.value >= 128 {
            ascii = false
            break
        }
        if ascii {
            let string = String(unsafeUninitializedCapacity: s.count) { buffer in
                for (k, c) in s.enumerated() {
                    let v = UInt8(c.value)
                    buffer[k] = v >= 65 && v <= 90 ? v + 32 : v
                }
                return s.count
            }
            return (string, s.count)
        }
        var out = String.UnicodeScalarView()
        var count = 0
        for i in s.indices {
            let c = s[i]
            if c.value < 128 {
                out.append(c.value >= 65 && c.value <= 90 ? Unicode.Scalar(c.value + 32)! : c)
                count += 1
            } else if c.value == 0x3A3 {
                out.append(finalSigma(s, i) ? "\u{3C2}" : "\u{3C3}")
                count += 1
            } else {
                for m in c.properties.lowercaseMapping.unicodeScalars {
                    out.append(m)
                    count += 1
                }
            }
        }
        return (String(out), count)
    }

    /// CPython's handle_capital_sigma: `\p{cased}\p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased})`.
    static func finalSigma(_ s: ArraySlice<Unicode.Scalar>, _ i: Int) -> Bool {
        var j = i - 1
        while j >= s.startIndex && s[j].properties.isCaseIgnorable { j -= 1 }
        var final = j >= s.startIndex && s[j].properties.isCased
        if final && i + 1 < s.endIndex {
            j = i + 1
            while j < s.endIndex && s[j].properties.isCaseIgnorable { j += 1 }
            final = j == s.endIndex || !s[j].properties.isCased
        }
        return final
    }
}
