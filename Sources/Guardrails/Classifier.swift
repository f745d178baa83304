import Foundation

/// A linear text classifier trained by `scripts/train-classifiers.py` (injection/jailbreak, harmful
/// requests): hashed word, word-pair and character 4-gram features of the normalised text and of a
/// de-leeted copy, sublinear term frequency, L2 norm, logistic regression. The feature extraction here
/// must stay identical to the script's.
public struct TextClassifier: Sendable {
    public let name: String
    let weights: [Int8]
    let scale: Float
    let bias: Float
    /// The probability at or above which a text is flagged.
    public var threshold: Double

    static let maxScalars = 4000

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
        while capacity < 4 * min(text.unicodeScalars.count + 16, 2 * Self.maxScalars + 16) { capacity <<= 1 }
        var keys = [UInt32](repeating: 0, count: capacity)
        var values = [UInt16](repeating: 0, count: capacity)
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
        let normalised = Self.normalise(text)
        for (prefix, variant) in [("", normalised), ("l", Self.deleet(normalised))] {
            let words = Self.words(variant)
            for (i, w) in words.enumerated() {
                add(Self.fnv1a(prefix + "w:" + w) % buckets)
                if i + 1 < words.count {
                    let pair: String = prefix + "b:" + w + " " + words[i + 1]
                    add(Self.fnv1a(pair) % buckets)
                }
            }
            // Character 4-grams: FNV-1a over the UTF-8 bytes of prefix + "c:" + gram, without allocating:
            // the prefix's state is computed once, and each gram's bytes are a slice of the text's UTF-8.
            let utf8 = Array(variant.utf8)
            var offsets: [Int] = []
            offsets.reserveCapacity(utf8.count + 1)
            for (i, b) in utf8.enumerated() where b & 0xC0 != 0x80 { offsets.append(i) }
            offsets.append(utf8.count)
            let scalarCount = offsets.count - 1
            if scalarCount >= 4 {
                let seed = Self.fnv1a(bytes: Array((prefix + "c:").utf8))
                utf8.withUnsafeBufferPointer { bytes in
                    for i in 0...(scalarCount - 4) {
                        var h = seed
                        for j in offsets[i]..<offsets[i + 4] {
                            h ^= UInt32(bytes[j])
                            h = h &* 0x0100_0193
                        }
                        add(h % buckets)
                    }
                }
            }
        }
        var norm: Double = 0
        var dot: Double = 0
        for slot in 0..<capacity where keys[slot] != 0 {
            let v = 1 + log(Double(values[slot]))
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

    static func normalise(_ text: String) -> String {
        // NFKC leaves ASCII unchanged: skip it for ASCII text.
        let lowered = text.utf8.allSatisfy { $0 < 0x80 } ? text.lowercased() : text.precomposedStringWithCompatibilityMapping.lowercased()
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        var count = 0
        for c in lowered.unicodeScalars where !zeroWidth.contains(c.value) {
            if isSpace(c) {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace {
                guard count < maxScalars else { break }
                out.append(" ")
                count += 1
                pendingSpace = false
            }
            guard count < maxScalars else { break }
            out.append(c)
            count += 1
        }
        return String(out)
    }

    static let leet: [Unicode.Scalar: Unicode.Scalar] = ["0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"]

    static func deleet(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for c in text.unicodeScalars { out.append(leet[c] ?? c) }
        return String(out)
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

    static func words(_ text: String) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        for c in text.unicodeScalars {
            if isAlnum(c) {
                current.append(c)
            } else if !current.isEmpty {
                out.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { out.append(String(current)) }
        return out
    }

    static func fnv1a(_ s: String) -> UInt32 { fnv1a(bytes: Array(s.utf8)) }

    @inline(__always) static func fnv1a(bytes: [UInt8], seed: UInt32 = 0x811C_9DC5) -> UInt32 {
        var h = seed
        for b in bytes {
            h ^= UInt32(b)
            h = h &* 0x0100_0193
        }
        return h
    }
}
