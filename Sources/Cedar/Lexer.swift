/// Where a problem is in policy text (1-based).
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var description: String { "line \(line), column \(column)" }
}

/// A policy text that does not parse: where, and what was expected.
public struct CedarParseError: Error, Sendable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String
    /// The file the text came from, when known.
    public var file: String?

    public var description: String { (file.map { "\($0): " } ?? "") + "\(location): \(message)" }
}

enum TokenKind: Equatable, Sendable {
    case identifier(String)
    case integer(String)  // digits as written; range checked by the parser (a leading `-` may fold in)
    case string(String)  // the raw text between the quotes, escapes not yet applied
    case punct(String)
    case end
}

struct Token: Sendable {
    var kind: TokenKind
    var location: SourceLocation

    var text: String {
        switch kind {
        case .identifier(let s): "`\(s)`"
        case .integer(let s): "`\(s)`"
        case .string(let s): "\"\(s)\""
        case .punct(let p): "`\(p)`"
        case .end: "end of input"
        }
    }
}

/// Splits Cedar policy text into tokens; `//` comments and whitespace are skipped.
struct Lexer {
    static func tokens(_ text: String) throws(CedarParseError) -> [Token] {
        let scalars = Array(text.unicodeScalars)
        var out: [Token] = []
        var i = 0
        var line = 1
        var lineStart = 0
        func location(_ at: Int) -> SourceLocation { SourceLocation(line: line, column: at - lineStart + 1) }
        while i < scalars.count {
            let c = scalars[i]
            if c == "\n" {
                i += 1
                line += 1
                lineStart = i
                continue
            }
            if c == " " || c == "\t" || c == "\r" || c.properties.isWhitespace {
                i += 1
                continue
            }
            if c == "/", i + 1 < scalars.count, scalars[i + 1] == "/" {
                while i < scalars.count, scalars[i] != "\n" { i += 1 }
                continue
            }
            let start = i
            if c == "_" || (c.properties.isAlphabetic && c.isASCII) {
                while i < scalars.count, scalars[i] == "_" || (scalars[i].isASCII && (scalars[i].properties.isAlphabetic || ("0"..."9").contains(scalars[i]))) {
                    i += 1
                }
                var s = String.UnicodeScalarView()
                s.append(contentsOf: scalars[start..<i])
                out.append(Token(kind: .identifier(String(s)), location: location(start)))
                continue
            }
            if ("0"..."9").contains(c) {
                while i < scalars.count, ("0"..."9").contains(scalars[i]) { i += 1 }
                var s = String.UnicodeScalarView()
                s.append(contentsOf: scalars[start..<i])
                out.append(Token(kind: .integer(String(s)), location: location(start)))
                continue
            }
            if c == "\"" {
                i += 1
                var s = String.UnicodeScalarView()
                var closed = false
                while i < scalars.count {
                    let d = scalars[i]
                    if d == "\\" {
                        guard i + 1 < scalars.count else { break }
                        s.append(d)
                        s.append(scalars[i + 1])
                        i += 2
                        continue
                    }
                    if d == "\"" {
                        closed = true
                        i += 1
                        break
                    }
                    if d == "\n" {
                        line += 1
                        lineStart = i + 1
                    }
                    s.append(d)
                    i += 1
                }
                guard closed else { throw CedarParseError(location: location(start), message: "unterminated string literal") }
                out.append(Token(kind: .string(String(s)), location: location(start)))
                continue
            }
            let two = i + 1 < scalars.count ? String(String.UnicodeScalarView([c, scalars[i + 1]])) : ""
            if ["==", "!=", "<=", ">=", "&&", "||", "::"].contains(two) {
                out.append(Token(kind: .punct(two), location: location(start)))
                i += 2
                continue
            }
            if "(){}[],;.:@<>!+-*?=".unicodeScalars.contains(c) {
                out.append(Token(kind: .punct(String(c)), location: location(start)))
                i += 1
                continue
            }
            throw CedarParseError(location: location(start), message: "unexpected character `\(c)`")
        }
        out.append(Token(kind: .end, location: location(i)))
        return out
    }

    /// Applies Cedar's string escapes (`\n \r \t \\ \0 \' \" \x7F \u{…}`). With `pattern`, `\*` is kept
    /// as a literal star and a bare `*` is a wildcard.
    static func unescape(_ raw: String, pattern: Bool = false) -> [PatternElement]? {
        let s = Array(raw.unicodeScalars)
        var out: [PatternElement] = []
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "*", pattern {
                out.append(.wildcard)
                i += 1
                continue
            }
            guard c == "\\" else {
                out.append(.scalar(c))
                i += 1
                continue
            }
            guard i + 1 < s.count else { return nil }
            let e = s[i + 1]
            i += 2
            switch e {
            case "n": out.append(.scalar("\n"))
            case "r": out.append(.scalar("\r"))
            case "t": out.append(.scalar("\t"))
            case "\\": out.append(.scalar("\\"))
            case "0": out.append(.scalar("\0"))
            case "'": out.append(.scalar("'"))
            case "\"": out.append(.scalar("\""))
            case "*" where pattern: out.append(.scalar("*"))
            case "x":
                guard i + 1 < s.count, let v = UInt32(String(String.UnicodeScalarView([s[i], s[i + 1]])), radix: 16), v <= 0x7F else { return nil }
                out.append(.scalar(UnicodeScalar(v)!))
                i += 2
            case "u":
                guard i < s.count, s[i] == "{" else { return nil }
                var j = i + 1
                var hex = String.UnicodeScalarView()
                while j < s.count, s[j] != "}" {
                    hex.append(s[j])
                    j += 1
                }
                guard j < s.count, !hex.isEmpty, hex.count <= 6, let v = UInt32(String(hex), radix: 16), let scalar = UnicodeScalar(v) else { return nil }
                out.append(.scalar(scalar))
                i = j + 1
            default:
                return nil
            }
        }
        return out
    }

    static func unescapeString(_ raw: String) -> String? {
        guard let elements = unescape(raw) else { return nil }
        var s = String.UnicodeScalarView()
        for case .scalar(let c) in elements { s.append(c) }
        return String(s)
    }
}

/// A `like` pattern's element: a literal character or `*`.
public enum PatternElement: Hashable, Sendable {
    case scalar(UnicodeScalar)
    case wildcard
}
