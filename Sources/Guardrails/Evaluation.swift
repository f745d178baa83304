import Foundation
import WardenCore

/// `warden guard eval`: precision, recall, F1 and F2 of a detector on the shared JSONL formats, with
/// per-item latency measured in this process.
public enum GuardEvaluation {
    public struct Counts: Sendable {
        public var truePositives = 0
        public var falsePositives = 0
        public var falseNegatives = 0
        public var exact = 0
        public var support = 0

        public var precision: Double { truePositives + falsePositives == 0 ? 0 : Double(truePositives) / Double(truePositives + falsePositives) }
        public var recall: Double { support == 0 ? 0 : Double(truePositives) / Double(support) }
        public var f1: Double { fBeta(1) }
        public var f2: Double { fBeta(2) }

        func fBeta(_ beta: Double) -> Double {
            let p = precision
            let r = recall
            guard p + r > 0 else { return 0 }
            return (1 + beta * beta) * p * r / (beta * beta * p + r)
        }
    }

    static func slice(_ text: String, _ f: Finding) -> String {
        let s = Array(text.unicodeScalars)
        // Spans come from a labelled file: clamp and order them before slicing.
        let start = min(max(0, f.start), s.count)
        let end = min(max(start, f.end), s.count)
        let a = max(0, start - 12)
        let b = min(s.count, end + 12)
        return String(String.UnicodeScalarView(s[a..<start])) + "⟦" + String(String.UnicodeScalarView(s[start..<end])) + "⟧"
            + String(String.UnicodeScalarView(s[end..<b]))
    }

    public struct Report: Sendable {
        public var overall = Counts()
        public var perType: [String: Counts] = [:]
        public var latencies: [Double] = []  // milliseconds per item
        public var items = 0
        /// Rows without any gold span, and how many of them got a finding anyway.
        public var negatives = 0
        public var negativesFlagged = 0
        public var negativeFPR: Double { negatives == 0 ? 0 : Double(negativesFlagged) / Double(negatives) }

        public func percentile(_ q: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            let sorted = latencies.sorted()
            return sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]
        }
    }

    /// PII span rows (`full_text`, `spans: [{entity_type, start_position, end_position}]`). A gold span is
    /// found when a detected span of the same type overlaps at least half of it. Precision counts every
    /// detected span; misses are reported for the types the detector claims to find (`detectedTypes`), and
    /// the overall figures cover `overallTypes` (by default the same).
    ///
    /// Data sets name addresses differently (presidio_synth_v2: `STREET_ADDRESS` and `ZIP_CODE`;
    /// presidio_generated_large: `ADDRESS` for both), so detected types are first put in the data's own
    /// vocabulary: `STREET_ADDRESS` becomes `ADDRESS` when the gold spans use `ADDRESS` and never
    /// `STREET_ADDRESS`, and `ZIP_CODE` becomes `ADDRESS` when they use `ADDRESS` and never `ZIP_CODE`.
    /// `perType` is keyed by the data's names.
    public static func pii(
        rows: [JSONValue], detect: (String) -> [Finding], detectedTypes: Set<String>, overallTypes: Set<String>? = nil,
        misses: ((String, String, String) -> Void)? = nil
    ) -> Report {
        var report = Report()
        var goldTypes = Set<String>()
        for row in rows {
            for s in row["spans"]?.arrayValue ?? [] { if let t = s["entity_type"]?.stringValue { goldTypes.insert(t) } }
        }
        let alias = typeAliases(goldTypes: goldTypes)
        func named(_ t: String) -> String { alias[t] ?? t }
        let claimed = Set(detectedTypes.map(named))
        let overall = Set((overallTypes ?? detectedTypes).map(named))
        for row in rows {
            guard let text = row["full_text"]?.stringValue else { continue }
            let gold: [Finding] = (row["spans"]?.arrayValue ?? []).compactMap { s in
                guard let t = s["entity_type"]?.stringValue, let a = s["start_position"]?.intValue, let b = s["end_position"]?.intValue else { return nil }
                return Finding(type: t, start: a, end: b)
            }
            let start = ContinuousClock.now
            var found = detect(text)
            report.latencies.append((ContinuousClock.now - start).seconds * 1000)
            if !alias.isEmpty {
                for i in found.indices { found[i].type = named(found[i].type) }
            }
            report.items += 1
            if gold.isEmpty {
                report.negatives += 1
                if !found.isEmpty { report.negativesFlagged += 1 }
            }
            var matched = Set<Int>()
            for g in gold {
                var counts = report.perType[g.type, default: Counts()]
                counts.support += 1
                let overlapIndex = found.indices.first { i in
                    let f = found[i]
                    let overlap = min(f.end, g.end) - max(f.start, g.start)
                    return f.type == g.type && overlap * 2 >= (g.end - g.start)
                }
                if let i = overlapIndex {
                    matched.insert(i)
                    counts.truePositives += 1
                    if found[i].start == g.start && found[i].end == g.end { counts.exact += 1 }
                } else {
                    counts.falseNegatives += 1
                    if claimed.contains(g.type) { misses?("missed", g.type, Self.slice(text, g)) }
                }
                report.perType[g.type] = counts
            }
            for (i, f) in found.enumerated() where !matched.contains(i) {
                report.perType[f.type, default: Counts()].falsePositives += 1
                misses?("false positive", f.type, Self.slice(text, f))
            }
        }
        for (type, c) in report.perType where overall.contains(type) {
            report.overall.truePositives += c.truePositives
            report.overall.falsePositives += c.falsePositives
            report.overall.falseNegatives += c.falseNegatives
            report.overall.exact += c.exact
            report.overall.support += c.support
        }
        return report
    }

    /// Detected type → the data set's name for it, given the gold types the data set uses.
    public static func typeAliases(goldTypes: Set<String>) -> [String: String] {
        var alias: [String: String] = [:]
        if goldTypes.contains("ADDRESS") && !goldTypes.contains("STREET_ADDRESS") { alias["STREET_ADDRESS"] = "ADDRESS" }
        if goldTypes.contains("ADDRESS") && !goldTypes.contains("ZIP_CODE") { alias["ZIP_CODE"] = "ADDRESS" }
        return alias
    }
}

extension GuardEvaluation {
    /// Classification rows (`text`, `label` 1/0, `attack_type`, `source`, `hard_negative`): a row is
    /// predicted positive when the detector finds anything. Counts overall, per attack type and per
    /// source, and the false-positive rate on hard negatives.
    public struct ClassificationReport: Sendable {
        public var overall = Counts()
        public var byAttackType: [String: Counts] = [:]
        public var bySource: [String: Counts] = [:]
        public var hardNegatives = 0
        public var hardNegativesFlagged = 0
        public var latencies: [Double] = []

        public var hardNegativeFPR: Double { hardNegatives == 0 ? 0 : Double(hardNegativesFlagged) / Double(hardNegatives) }

        public func percentile(_ q: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            let sorted = latencies.sorted()
            return sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]
        }
    }

    public static func classification(rows: [JSONValue], detect: (String) -> Bool, misses: ((String, String) -> Void)? = nil)
        -> ClassificationReport
    {
        var report = ClassificationReport()
        for row in rows {
            guard let text = row["text"]?.stringValue, let label = row["label"]?.intValue else { continue }
            let start = ContinuousClock.now
            let predicted = detect(text)
            report.latencies.append((ContinuousClock.now - start).seconds * 1000)
            func count(_ c: inout Counts) {
                if label == 1 {
                    c.support += 1
                    if predicted { c.truePositives += 1 } else { c.falseNegatives += 1 }
                } else if predicted {
                    c.falsePositives += 1
                }
            }
            count(&report.overall)
            count(&report.byAttackType[row["attack_type"]?.stringValue ?? "-", default: Counts()])
            count(&report.bySource[row["source"]?.stringValue ?? "-", default: Counts()])
            if label == 0, row["hard_negative"]?.boolValue == true {
                report.hardNegatives += 1
                if predicted { report.hardNegativesFlagged += 1 }
            }
            if predicted != (label == 1) { misses?(label == 1 ? "missed" : "false positive", text) }
        }
        return report
    }
}
