import Foundation

/// Secrets and credentials in text: provider key formats (AWS, GCP, GitHub, Slack, Stripe, OpenAI,
/// Anthropic), private-key blocks, JWTs, and high-entropy values assigned to key-like names.
public enum SecretsDetector {
    public static let types = [
        "AWS_ACCESS_KEY", "GCP_API_KEY", "GITHUB_TOKEN", "SLACK_TOKEN", "STRIPE_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
        "PRIVATE_KEY", "JWT", "GENERIC_SECRET",
    ]

    static func isTokenChar(_ c: Unicode.Scalar) -> Bool { PIIDetector.isAlnum(c) || c == "_" || c == "-" }

    /// (type, prefix, minimum length of the whole token, allowed characters after the prefix)
    static let prefixed: [(String, String, Int)] = [
        ("ANTHROPIC_API_KEY", "sk-ant-", 40), ("OPENAI_API_KEY", "sk-proj-", 40), ("OPENAI_API_KEY", "sk-", 40),
        ("GITHUB_TOKEN", "ghp_", 40), ("GITHUB_TOKEN", "gho_", 40), ("GITHUB_TOKEN", "ghs_", 40), ("GITHUB_TOKEN", "ghu_", 40),
        ("GITHUB_TOKEN", "github_pat_", 60), ("SLACK_TOKEN", "xoxb-", 30), ("SLACK_TOKEN", "xoxp-", 30), ("SLACK_TOKEN", "xoxa-", 30),
        ("STRIPE_KEY", "sk_live_", 24), ("STRIPE_KEY", "rk_live_", 24), ("STRIPE_KEY", "sk_test_", 24), ("GCP_API_KEY", "AIza", 39),
        ("AWS_ACCESS_KEY", "AKIA", 20), ("AWS_ACCESS_KEY", "ASIA", 20),
    ]

    public static func scan(_ text: String) -> [Finding] {
        let s = Array(text.unicodeScalars)
        var out: [Finding] = []
        // Private key blocks.
        let begin = Array("-----BEGIN ".unicodeScalars)
        var i = 0
        while i + begin.count < s.count {
            if s[i] == "-", Array(s[i..<(i + begin.count)]) == begin {
                let line = String(String.UnicodeScalarView(s[i..<min(s.count, i + 60)]))
                if line.contains("PRIVATE KEY-----") {
                    let endMarker = Array("PRIVATE KEY-----".unicodeScalars)
                    var j = i + begin.count
                    var found = 0
                    while j + endMarker.count <= s.count {
                        if Array(s[j..<(j + endMarker.count)]) == endMarker {
                            found += 1
                            if found == 2 {
                                j += endMarker.count
                                break
                            }
                        }
                        j += 1
                    }
                    out.append(Finding(type: "PRIVATE_KEY", start: i, end: min(j, s.count)))
                    i = j
                    continue
                }
            }
            i += 1
        }
        // Tokens.
        i = 0
        while i < s.count {
            guard isTokenChar(s[i]), i == 0 || !isTokenChar(s[i - 1]) else {
                i += 1
                continue
            }
            var j = i
            while j < s.count, isTokenChar(s[j]) || s[j] == "." { j += 1 }
            while j > i, s[j - 1] == "." { j -= 1 }
            // Every format below is at least 20 characters long: ordinary words never become Strings.
            guard j - i >= 20 else {
                i = max(j, i + 1)
                continue
            }
            let token = String(String.UnicodeScalarView(s[i..<j]))
            let length = j - i
            if let (type, _, _) = prefixed.first(where: { token.hasPrefix($0.1) && length >= $0.2 && !token.contains(".") }) {
                if type != "AWS_ACCESS_KEY" || (length == 20 && token.unicodeScalars.allSatisfy { PIIDetector.isDigit($0) || ("A"..."Z").contains($0) }) {
                    out.append(Finding(type: type, start: i, end: j))
                }
            } else if token.hasPrefix("eyJ"), token.split(separator: ".").count == 3, length >= 30 {
                out.append(Finding(type: "JWT", start: i, end: j))
            } else if length >= 20, !token.contains("."), entropy(token) >= 3.5, assignedToSecretName(s, before: i) {
                out.append(Finding(type: "GENERIC_SECRET", start: i, end: j, score: 0.7))
            }
            i = max(j, i + 1)
        }
        return out.filter { f in !out.contains { $0 != f && $0.start <= f.start && f.end <= $0.end && ($0.end - $0.start) > (f.end - f.start) } }
    }

    static let secretNames = ["key", "token", "secret", "password", "passwd", "pwd", "credential", "auth", "bearer"]

    /// `api_key = "…"`, `"token": "…"`, `password: …`, `Authorization: Bearer …`: the name right before
    /// the value (quotes, spaces, `=` and `:` skipped) ends with a secret-like word.
    static func assignedToSecretName(_ s: [Unicode.Scalar], before i: Int) -> Bool {
        var j = i
        var skipped = 0
        while j > 0, " \"'=:".unicodeScalars.contains(s[j - 1]), skipped < 6 {
            j -= 1
            skipped += 1
        }
        guard skipped > 0 else { return false }
        let from = max(0, j - 24)
        let name = String(String.UnicodeScalarView(s[from..<j])).lowercased()
        return secretNames.contains { name.hasSuffix($0) }
    }

    /// Shannon entropy in bits per character.
    static func entropy(_ s: String) -> Double {
        var counts: [Unicode.Scalar: Int] = [:]
        for c in s.unicodeScalars { counts[c, default: 0] += 1 }
        let n = Double(s.unicodeScalars.count)
        return counts.values.reduce(0) { acc, c in
            let p = Double(c) / n
            return acc - p * log2(p)
        }
    }
}
