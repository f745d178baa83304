import Foundation

/// Person names (`PERSON`) and street addresses (`STREET_ADDRESS`, plus `ZIP_CODE` for a bare postcode after
/// "zip code is", "postcode:" …) found with word lists and rules, no model.
///
/// A port of scripts/names_reference.py, which it matches exactly: same tokens, same word classes, same
/// chain score, same address grammar, same offsets (Unicode scalars, end exclusive). The parity fixture
/// tests/guardrails/names-parity.jsonl (written by scripts/make-names-parity.py) holds the reference's output
/// for about 150 sentences; GuardrailsTests checks this port against it row by row. Where Python's string
/// semantics matter (`str.lower()` with full case mappings and the Greek final sigma, `isupper`/`isalpha`/`isspace`,
/// the `re` word class `[^\W\d_]`), `PythonText` below reproduces them on Unicode scalars rather than using Swift's
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
            let up = PythonText.isUpper(c)
            if up { anyUpper = true }
            if PythonText.isAlpha(c) {
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
}
