import Foundation

/// Python 3's character predicates and `str.lower()` on Unicode scalars, as the reference uses them.
enum PythonText {
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
