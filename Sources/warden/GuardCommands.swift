import ArgumentParser
import Foundation
import Guardrails
import WardenCore

struct GuardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard", abstract: "Guardrail detectors: evaluate them on labelled data.", subcommands: [Eval.self])

    struct Eval: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Precision, recall, F1/F2 and per-item latency of a detector on a labelled JSONL file.",
            discussion: """
                PII rows are Presidio samples (full_text, spans with entity_type, start_position, end_position). A gold \
                span is found when a detected span of the same type overlaps at least half of it (exact matches are \
                reported too); STREET_ADDRESS and ZIP_CODE findings count as ADDRESS on data that names addresses \
                ADDRESS. The overall figures cover the validated types (not PERSON or addresses); per_type covers \
                all. Classification rows (text, label 1/0, attack_type, source, hard_negative) are scored \
                per row, by attack type and by source, with the false-positive rate on hard negatives. With --json the \
                last line is one JSON object with precision, recall, f1, f2, p50_ms, p99_ms, and per_type (PII) or \
                hard_negative_fpr and per_attack_type.
                """)
        @Option(help: "pii (span rows), or secrets, injection or harmful (classification rows: text, label).") var detector: String
        @Option(help: "The JSONL file.") var data: String
        @Flag(help: "End with one JSON object.") var json = false
        @Flag(name: .customLong("show-misses"), help: "Print every missed span and false positive (with context).") var showMisses = false

        func run() async throws {
            guard ["pii", "secrets", "injection", "harmful"].contains(detector) else {
                throw ValidationError("--detector: pii, secrets, injection or harmful")
            }
            guard let bytes = FileManager.default.contents(atPath: data) else { throw ValidationError("cannot read \(data)") }
            let rows = String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
            if detector == "secrets" {
                classification(rows) { !SecretsDetector.scan($0).isEmpty }
                return
            }
            if detector == "injection" || detector == "harmful" {
                let model = try TextClassifier.bundled(detector)
                classification(rows) { model.isPositive($0) }
                return
            }
            let report = GuardEvaluation.pii(
                rows: rows, detect: { PIIDetector.scan($0) }, detectedTypes: Set(PIIDetector.types),
                overallTypes: Set(PIIDetector.validatedTypes),
                misses: showMisses ? { kind, type, context in print("\(kind) \(type): \(context)") } : nil)
            func f(_ v: Double) -> String { String(format: "%.3f", v) }
            print("type                 support  found  exact  precision  recall     f1     f2")
            for (type, c) in report.perType.sorted(by: { $0.key < $1.key }) {
                print(
                    type.padding(toLength: 20, withPad: " ", startingAt: 0) + " "
                        + [String(c.support), String(c.truePositives), String(c.exact), f(c.precision), f(c.recall), f(c.f1), f(c.f2)]
                        .map { $0.leftPad(to: 7) }.joined(separator: "  "))
            }
            let o = report.overall
            print("validated types (\(PIIDetector.validatedTypes.joined(separator: ", "))): precision \(f(o.precision)) recall \(f(o.recall)) f1 \(f(o.f1)) f2 \(f(o.f2))")
            print("latency per item: p50 \(String(format: "%.4f", report.percentile(0.5))) ms, p99 \(String(format: "%.4f", report.percentile(0.99))) ms over \(report.items) items")
            if json {
                var perType = JSONObject()
                for (type, c) in report.perType.sorted(by: { $0.key < $1.key }) {
                    perType[type] = ["precision": .double(c.precision), "recall": .double(c.recall), "f1": .double(c.f1), "support": .int(c.support)]
                }
                let object: JSONObject = [
                    "detector": .string(detector), "precision": .double(o.precision), "recall": .double(o.recall), "f1": .double(o.f1),
                    "f2": .double(o.f2), "p50_ms": .double(report.percentile(0.5)), "p99_ms": .double(report.percentile(0.99)),
                    "hard_negative_fpr": .double(report.negativeFPR), "negatives": .int(report.negatives),
                    "items": .int(report.items), "per_type": .object(perType),
                ]
                print(JSONValue.object(object).jsonString)
            }
        }
    }
}

extension GuardCommand.Eval {
    func classification(_ rows: [JSONValue], detect: (String) -> Bool) {
        let report = GuardEvaluation.classification(
            rows: rows, detect: detect,
            misses: showMisses ? { kind, text in print("\(kind): \(text.prefix(120))") } : nil)
        func f(_ v: Double) -> String { String(format: "%.3f", v) }
        print("attack_type          support  found  false+  precision  recall     f1")
        for (type, c) in report.byAttackType.sorted(by: { $0.key < $1.key }) {
            print(
                type.padding(toLength: 20, withPad: " ", startingAt: 0) + " "
                    + [String(c.support), String(c.truePositives), String(c.falsePositives), f(c.precision), f(c.recall), f(c.f1)]
                    .map { $0.leftPad(to: 7) }.joined(separator: "  "))
        }
        let o = report.overall
        print("by source:")
        for (source, c) in report.bySource.sorted(by: { $0.key < $1.key }) {
            print("  \(source.padding(toLength: 28, withPad: " ", startingAt: 0)) positives \(c.support) found \(c.truePositives) false+ \(c.falsePositives)")
        }
        print("overall: precision \(f(o.precision)) recall \(f(o.recall)) f1 \(f(o.f1)) f2 \(f(o.f2)); hard negatives flagged \(report.hardNegativesFlagged) of \(report.hardNegatives) (\(f(report.hardNegativeFPR)))")
        print("latency per item: p50 \(String(format: "%.4f", report.percentile(0.5))) ms, p99 \(String(format: "%.4f", report.percentile(0.99))) ms over \(report.latencies.count) items")
        if json {
            var byType = JSONObject()
            for (type, c) in report.byAttackType.sorted(by: { $0.key < $1.key }) {
                byType[type] = ["precision": .double(c.precision), "recall": .double(c.recall), "f1": .double(c.f1), "support": .int(c.support)]
            }
            let object: JSONObject = [
                "detector": .string(detector), "precision": .double(o.precision), "recall": .double(o.recall), "f1": .double(o.f1), "f2": .double(o.f2),
                "hard_negative_fpr": .double(report.hardNegativeFPR), "p50_ms": .double(report.percentile(0.5)),
                "p99_ms": .double(report.percentile(0.99)), "items": .int(report.latencies.count), "per_attack_type": .object(byType),
            ]
            print(JSONValue.object(object).jsonString)
        }
    }
}

extension String {
    func leftPad(to width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
