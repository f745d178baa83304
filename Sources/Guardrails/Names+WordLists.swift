import Foundation

extension NameAddressDetector {
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
                if words.contains(where: { !PythonText.isAlpha($0.unicodeScalars.first!) }) { nonLetter = true }
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

    typealias WordClass = UInt8
    static let K = WordClass(ascii: "K"), W = WordClass(ascii: "W"), M = WordClass(ascii: "M"), C = WordClass(ascii: "C"), U = WordClass(ascii: "U"),
        I = WordClass(ascii: "I"), A = WordClass(ascii: "A"), P = WordClass(ascii: "P"), S = WordClass(ascii: "S"), O = WordClass(ascii: "O"), X = WordClass(ascii: "X")

    static func mask(_ letters: String) -> UInt32 { letters.utf8.reduce(0) { $0 | (1 << UInt32($1 - 65)) } }
    @inline(__always) static func isIn(_ c: WordClass, _ m: UInt32) -> Bool { (m >> UInt32(c &- 65)) & 1 != 0 }

    static let mKWMUIP = mask("KWMUIP"), mKWMP = mask("KWMP"), mIP = mask("IP"), mKWM = mask("KWM"), mKM = mask("KM"),
        mKIP = mask("KIP"), mKWMUA = mask("KWMUA"), mKWMUIPS = mask("KWMUIPS"), mAP = mask("AP"), mKWMU = mask("KWMU")
}
