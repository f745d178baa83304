import Foundation

/// A linear text classifier trained by `scripts/train-classifiers.py` (injection/jailbreak, harmful
/// requests): hashed word, word-pair and character 4-gram features of the normalised text and of a
/// de-leeted copy, plus structural tokens of the text's shape, sublinear term frequency, L2 norm,
/// logistic regression. The feature extraction here must stay identical to the script's.
public struct TextClassifier: Sendable {
    public let name: String
    let weights: [Int8]
    let scale: Float
    let bias: Float
    /// The probability at or above which a text is flagged.
    public var threshold: Double

    /// A normalised text over `head + tail` scalars keeps its first `head` and last `tail`, joined by a space.
    static let head = 1000
    static let tail = 400
    /// A raw text over `rawCap` scalars keeps its first and last `rawCap / 2` before normalisation.
    static let rawCap = 20000
    /// 1 + ln n for small counts (most features occur once or twice).
    static let sublinear: [Double] = (0..<256).map { $0 == 0 ? 0 : 1 + log(Double($0)) }

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Loads `Resources/NAME.bin`.
    public static func bundled(_ name: String) throws -> TextClassifier {
        guard let url = Bundle.module.url(forResource: name, withExtension: "bin"), let data = try? Data(contentsOf: url) else {
            throw LoadError(description: "the \(name) classifier's weights are missing from the bundle")
        }
        return try TextClassifier(name: name, data: data)
    }

    public init(name: String, data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.count >= 20, bytes[0..<4] == [0x57, 0x47, 0x43, 0x31] else { throw LoadError(description: "\(name): not a WGC1 weights file") }
        func u32(_ at: Int) -> UInt32 { UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24 }
        let buckets = Int(u32(4))
        guard buckets > 0 else { throw LoadError(description: "\(name): a weights file needs at least one bucket") }
        guard bytes.count == 20 + buckets else { throw LoadError(description: "\(name): truncated weights") }
        self.name = name
        scale = Float(bitPattern: u32(8))
        bias = Float(bitPattern: u32(12))
        threshold = Double(Float(bitPattern: u32(16)))
        weights = bytes[20...].map { Int8(bitPattern: $0) }
    }

    /// The probability that `text` is positive (an injection, a harmful request).
    public func probability(_ text: String) -> Double {
        let buckets = UInt32(weights.count)
        // Feature counts in a small open-addressing table (bucket + 1 as the key, 0 = empty): much cheaper
        // than a Dictionary for the thousands of grams of a long prompt.
        var capacity = 64
        while capacity < 4 * min(text.utf8.count + 32, 2 * (Self.head + Self.tail) + 32) { capacity <<= 1 }
        let keys = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: capacity)
        let values = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: capacity)
        keys.initialize(repeating: 0)
        values.initialize(repeating: 0)
        defer {
            keys.deallocate()
            values.deallocate()
        }
        let mask = capacity - 1
        @inline(__always) func add(_ bucket: UInt32) {
            let key = bucket &+ 1
            var slot = Int((key &* 0x9E37_79B1) >> 7) & mask
            while true {
                if keys[slot] == key {
                    values[slot] &+= 1
                    return
                }
                if keys[slot] == 0 {
                    keys[slot] = key
                    values[slot] = 1
                    return
                }
                slot = (slot + 1) & mask
            }
        }
        let normalised = Self.normalisedUTF8(text)
        for (prefix, utf8) in [("", normalised), ("l", Self.deleet(normalised))] {
            // Everything is hashed straight from the text's UTF-8 bytes, without building strings: FNV-1a
            // over prefix + "w:" + word, prefix + "b:" + word + " " + next word, prefix + "c:" + 4 scalars.
            var offsets: [Int] = []  // where each scalar starts, and the end
            offsets.reserveCapacity(utf8.count + 1)
            var words: [Range<Int>] = []  // byte ranges of maximal runs of letters and numbers
            var wordStart: Int?
            var position = 0
            while position < utf8.count {
                let (scalar, width) = Self.decode(utf8, at: position)
                offsets.append(position)
                if Self.isAlnum(scalar) {
                    if wordStart == nil { wordStart = position }
                } else if let start = wordStart {
                    words.append(start..<position)
                    wordStart = nil
                }
                position += width
            }
            if let start = wordStart { words.append(start..<position) }
            offsets.append(utf8.count)
            let wordSeed = Self.fnv1a(bytes: Array((prefix + "w:").utf8))
            let pairSeed = Self.fnv1a(bytes: Array((prefix + "b:").utf8))
            let gramSeed = Self.fnv1a(bytes: Array((prefix + "c:").utf8))
            utf8.withUnsafeBufferPointer { bytes in
                @inline(__always) func hash(_ seed: UInt32, _ range: Range<Int>) -> UInt32 {
                    var h = seed
                    for j in range {
                        h ^= UInt32(bytes[j])
                        h = h &* 0x0100_0193
                    }
                    return h
                }
                for (i, w) in words.enumerated() {
                    add(hash(wordSeed, w) % buckets)
                    if i + 1 < words.count {
                        var h = hash(pairSeed, w)
                        h ^= 0x20
                        h = h &* 0x0100_0193
                        add(hash(h, words[i + 1]) % buckets)
                    }
                }
                let scalarCount = offsets.count - 1
                if scalarCount >= 4 {
                    for i in 0...(scalarCount - 4) { add(hash(gramSeed, offsets[i]..<offsets[i + 4]) % buckets) }
                }
            }
        }
        for token in Self.structural(normalised) { add(Self.fnv1a(bytes: Array(token.utf8)) % buckets) }
        var norm: Double = 0
        var dot: Double = 0
        for slot in 0..<capacity where keys[slot] != 0 {
            let n = Int(values[slot])
            let v = n < Self.sublinear.count ? Self.sublinear[n] : 1 + log(Double(n))
            norm += v * v
            dot += v * Double(weights[Int(keys[slot] - 1)]) * Double(scale)
        }
        let z = Double(bias) + (norm > 0 ? dot / norm.squareRoot() : 0)
        return 1 / (1 + exp(-z))
    }

    public func isPositive(_ text: String) -> Bool { probability(text) >= threshold }

    // MARK: Features (as in scripts/train-classifiers.py)

    static let zeroWidth: Set<UInt32> = [0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF, 0x00AD]

    /// Python's `str.isspace()`: White_Space plus the information separators U+001C…U+001F.
    @inline(__always) static func isSpace(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return c.value == 0x20 || (0x09...0x0D).contains(c.value) || (0x1C...0x1F).contains(c.value) }
        return c.properties.isWhitespace
    }

    /// The normalised text (see the script), as UTF-8 bytes: a raw text over `rawCap` scalars cut to its
    /// ends; NFKC (only when it could change the text), lowercase, no zero-width characters, whitespace
    /// runs collapsed to one space; over `head + tail` scalars, the first `head` and the last `tail`
    /// joined by a space.
    static func normalisedUTF8(_ text: String) -> [UInt8] {
        var text = text
        if text.utf8.count > rawCap {
            let scalars = text.unicodeScalars
            let count = scalars.count
            if count > rawCap {
                var cut = String.UnicodeScalarView()
                cut.append(contentsOf: scalars.prefix(rawCap / 2))
                cut.append(" ")
                cut.append(contentsOf: scalars.suffix(rawCap / 2))
                text = String(cut)
            }
        }
        let lowered = needsNFKC(text) ? text.precomposedStringWithCompatibilityMapping.lowercased() : text.lowercased()
        var out: [UInt8] = []
        out.reserveCapacity(lowered.utf8.count)
        var starts: [Int] = []  // where each scalar of `out` starts
        starts.reserveCapacity(lowered.utf8.count)
        var pendingSpace = false
        for c in lowered.unicodeScalars where !zeroWidth.contains(c.value) {
            if isSpace(c) {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace {
                starts.append(out.count)
                out.append(0x20)
                pendingSpace = false
            }
            starts.append(out.count)
            if c.value < 0x80 { out.append(UInt8(c.value)) } else { out.append(contentsOf: c.utf8) }
        }
        guard starts.count > head + tail else { return out }
        var cut = Array(out[..<starts[head]])
        cut.append(0x20)
        cut.append(contentsOf: out[starts[starts.count - tail]...])
        return cut
    }

    static let brackets: Set<UInt32> = Set("[]{}()<>\\|`^~".unicodeScalars.map(\.value))

    /// Pseudo-tokens describing the normalised text's shape (as the script's `structural`, with the
    /// same arithmetic in doubles): length, punctuation and bracket ratios of the whole and of its tail,
    /// words mixing letters and symbols, non-ASCII letters, the longest word, a base64-like run.
    static func structural(_ utf8: [UInt8]) -> [String] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(utf8.count)
        var i = 0
        while i < utf8.count {
            let (c, width) = decode(utf8, at: i)
            scalars.append(c)
            i += width
        }
        let L = scalars.count
        var out = ["s:len:\(Int.bitWidth - (L + 1).leadingZeroBitCount - 1)"]
        var nonspace = 0
        var punct = 0
        var nonASCIILetters = 0
        for c in scalars where c != " " {
            nonspace += 1
            if !isAlnum(c) { punct += 1 }
            if c.value > 127, isAlpha(c) { nonASCIILetters += 1 }
        }
        let n = max(1, nonspace)
        out.append("s:pr:\(min(10, Int(Double(20 * punct) / Double(n))))")
        if L > 200 {
            let tailScalars = scalars[(L - 160)...]
            var tn = 0
            var tp = 0
            var tb = 0
            for c in tailScalars {
                if brackets.contains(c.value) { tb += 1 }
                guard c != " " else { continue }
                tn += 1
                if !isAlnum(c) { tp += 1 }
            }
            out.append("s:tpr:\(min(10, Int(20 * (Double(tp) / Double(max(1, tn))))))")
            out.append("s:tbr:\(min(8, tb))")
        }
        let allBrackets = scalars.reduce(0) { $0 + (brackets.contains($1.value) ? 1 : 0) }
        out.append("s:br:\(min(10, Int(Double(allBrackets * 100) / Double(max(1, L)))))")
        // Words as Python's `t.split(" ")`: empty pieces count.
        var wordCount = 0
        var mixed = 0
        var longest = 0
        var length = 0
        var alnum = 0
        var other = 0
        func endWord() {
            wordCount += 1
            if alnum > 0 && other >= 2 { mixed += 1 }
            longest = max(longest, length)
            length = 0
            alnum = 0
            other = 0
        }
        for c in scalars {
            if c == " " {
                endWord()
                continue
            }
            length += 1
            if isAlnum(c) { alnum += 1 } else { other += 1 }
        }
        endWord()
        out.append("s:mix:\(min(10, Int(Double(20 * mixed) / Double(max(1, wordCount)))))")
        out.append("s:na:\(min(10, Int(Double(10 * nonASCIILetters) / Double(n))))")
        out.append("s:lw:\(min(10, longest / 4))")
        var run = 0
        for c in scalars {
            let v = c.value
            run = (v >= 0x61 && v <= 0x7A) || (v >= 0x30 && v <= 0x39) || v == 0x2B || v == 0x2F ? run + 1 : 0
            if run >= 24 {
                out.append("s:b64")
                break
            }
        }
        return out
    }

    /// Python's `str.isalpha()` per code point: letters.
    @inline(__always) static func isAlpha(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return (c.value | 0x20) >= 0x61 && (c.value | 0x20) <= 0x7A }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// Whether NFKC could change `text` (Foundation's NFKC is slow; most text does not need it): ASCII
    /// never changes; a scalar with a compatibility mapping changes when NFKC-case-folded (as do
    /// uppercase letters, which costs only time); combining marks and conjoining jamo may compose.
    static func needsNFKC(_ text: String) -> Bool {
        for b in text.utf8 where b >= 0x80 {
            for c in text.unicodeScalars where c.value >= 0x80 {
                let p = c.properties
                if p.changesWhenNFKCCaseFolded || (0x1100...0x11FF).contains(c.value) { return true }
                switch p.generalCategory {
                case .nonspacingMark, .spacingMark, .enclosingMark: return true
                default: continue
                }
            }
            return false
        }
        return false
    }

    static func normalise(_ text: String) -> String { String(decoding: normalisedUTF8(text), as: UTF8.self) }

    /// The de-leeted copy: 0→o 1→i 3→e 4→a 5→s 7→t @→a $→s (ASCII bytes never occur inside a multi-byte sequence).
    static func deleet(_ utf8: [UInt8]) -> [UInt8] {
        utf8.map { b in
            switch b {
            case 0x30: 0x6F  // 0 → o
            case 0x31: 0x69  // 1 → i
            case 0x33: 0x65  // 3 → e
            case 0x34, 0x40: 0x61  // 4, @ → a
            case 0x35, 0x24: 0x73  // 5, $ → s
            case 0x37: 0x74  // 7 → t
            default: b
            }
        }
    }

    static func deleet(_ text: String) -> String { String(decoding: deleet(Array(text.utf8)), as: UTF8.self) }

    /// The scalar starting at `i` of valid UTF-8, and its width in bytes.
    @inline(__always) static func decode(_ b: [UInt8], at i: Int) -> (Unicode.Scalar, Int) {
        let lead = UInt32(b[i])
        if lead < 0x80 { return (Unicode.Scalar(UInt8(lead)), 1) }
        var value: UInt32
        let width: Int
        if lead < 0xE0 {
            value = lead & 0x1F
            width = 2
        } else if lead < 0xF0 {
            value = lead & 0x0F
            width = 3
        } else {
            value = lead & 0x07
            width = 4
        }
        for k in 1..<width { value = value << 6 | (UInt32(b[i + k]) & 0x3F) }
        return (Unicode.Scalar(value) ?? " ", width)
    }

    /// Python's `str.isalnum()` per code point: letters and numbers.
    @inline(__always) static func isAlnum(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 {
            let v = c.value | 0x20
            return (c.value >= 0x30 && c.value <= 0x39) || (v >= 0x61 && v <= 0x7A)
        }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber, .letterNumber, .otherNumber:
            return true
        default: return false
        }
    }

    @inline(__always) static func fnv1a(bytes: [UInt8], seed: UInt32 = 0x811C_9DC5) -> UInt32 {
        var h = seed
        for b in bytes {
            h ^= UInt32(b)
            h = h &* 0x0100_0193
        }
        return h
    }
}
