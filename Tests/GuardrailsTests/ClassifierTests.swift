import Foundation
import Testing
import WardenCore

@testable import Guardrails

@Suite("Classifiers")
struct ClassifierTests {
    /// Probabilities the training script computes for the same texts (tests/guardrails/classifier-parity.jsonl,
    /// written by the script's feature code): the Swift features must be the same, or the weights mean nothing.
    @Test("Swift and the training script agree on every probability")
    func parity() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tests/guardrails/classifier-parity.jsonl").path
        let rows = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
        let models = ["injection": try TextClassifier.bundled("injection"), "harmful": try TextClassifier.bundled("harmful")]
        #expect(rows.count == 42, "the parity file holds 21 texts for each of the two models")
        #expect(Set(rows.compactMap { $0["model"]?.stringValue }) == ["injection", "harmful"])
        for row in rows {
            let model = try #require(models[row["model"]?.stringValue ?? ""])
            let text = try #require(row["text"]?.stringValue)
            let expected = try #require(row["probability"]?.doubleValue)
            #expect(abs(model.probability(text) - expected) < 1e-4, "\(row["model"]!) \(text)")
        }
    }

    /// Texts labelled by hand (tests/guardrails/classifier-labelled.jsonl), at each model's own tuned
    /// threshold (the one a rule without `threshold:` uses): parity proves the features match the
    /// training script, this proves the answers are right.
    /// Rows marked `known_wrong` are tracked as known issues.
    @Test("hand-labelled texts: injections and harmful requests are caught at the tuned threshold, benign texts are not")
    func labelled() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tests/guardrails/classifier-labelled.jsonl").path
        let rows = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
        #expect(rows.count == 28)
        let models = ["injection": try TextClassifier.bundled("injection"), "harmful": try TextClassifier.bundled("harmful")]
        for row in rows {
            let id = try #require(row["id"]?.stringValue)
            let model = try #require(models[row["model"]?.stringValue ?? ""])
            let text = try #require(row["text"]?.stringValue)
            let label = try #require(row["label"]?.intValue)
            let p = model.probability(text)
            if row["known_wrong"] == true {
                withKnownIssue("\(id): \(row["note"]?.stringValue ?? "a known miss")") {
                    #expect((p >= model.threshold) == (label == 1), "\(id) p=\(p) \(text.debugDescription)")
                }
            } else {
                #expect((p >= model.threshold) == (label == 1), "\(id) p=\(p) \(text.debugDescription)")
            }
        }
    }

    @Test("the bundled resources load (Warden refuses to start when one does not)")
    func bundledResourcesLoad() throws {
        try GuardrailResources.load()
    }

    @Test("a weights file that is not one is a load error, never a classifier that divides by zero")
    func malformedWeights() {
        let header: [UInt8] = [0x57, 0x47, 0x43, 0x31]
        func file(buckets: UInt32, extra: Int) -> Data {
            var bytes = header
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8((buckets >> UInt32(shift)) & 0xFF)) }
            bytes += [UInt8](repeating: 0, count: 12 + extra)
            return Data(bytes)
        }
        #expect(throws: (any Error).self) { try TextClassifier(name: "zero", data: file(buckets: 0, extra: 0)) }
        #expect(throws: (any Error).self) { try TextClassifier(name: "short", data: file(buckets: 8, extra: 4)) }
        #expect(throws: (any Error).self) { try TextClassifier(name: "junk", data: Data([1, 2, 3])) }
        #expect((try? TextClassifier(name: "ok", data: file(buckets: 8, extra: 8))) != nil)
    }

    @Test("normalisation defeats cheap evasion: zero-width characters, full-width letters, leetspeak, spacing")
    func normalisation() {
        #expect(TextClassifier.normalise("ig\u{200B}nore  ALL\tprevious") == "ignore all previous")
        #expect(TextClassifier.normalise("Ｉｇｎｏｒｅ") == "ignore")
        #expect(TextClassifier.deleet("1gn0r3 4ll") == "ignore all")
    }

    @Test(
        "NFKC is skipped only for text it would not change",
        arguments: ["plain ascii", "café déjà vu", "cafe\u{301}", "ﬁle", "Ｉｇｎｏｒｅ", "ÉCOLE", "한국어", "\u{1112}\u{1161}\u{11AB}", "①", "x²", "Ω", "ｶﾀｶﾅ", "ǅ"])
    func nfkcShortcut(_ text: String) {
        if !TextClassifier.needsNFKC(text) {
            #expect(text.precomposedStringWithCompatibilityMapping == text, "\(text)")
        }
        #expect(TextClassifier.normalise(text) == String(text.precomposedStringWithCompatibilityMapping.lowercased().prefix(4000)))
    }
}
