import Foundation
import WardenCore
import WardenProviders

/// What `GET /admin/stats` reports: the live figures that show Warden's bounds holding — connections,
/// bytes held for streams, records waiting for the store, log lines dropped, memory.
struct ServerStats: Sendable {
    let governance: Governance
    let limits: ConnectionLimits
    let sink: LogSink

    var json: JSONObject {
        let backlog = governance.recordBacklog
        let memory = Self.memory()
        return [
            "connections": [
                "open": .int(limits.openConnections), "limit": .int(limits.maximumConnections),
                "refused": .int(limits.refusedConnections),
            ],
            "streams": ["open": .int(StreamBufferGauge.openStreams), "buffered_bytes": .int(StreamBufferGauge.bufferedBytes)],
            "records": [
                "usage_backlog": .int(backlog.usage), "audit_backlog": .int(backlog.audit), "limit": .int(backlog.limit),
                "refused_requests": .int(governance.refusedForFullBacklog),
            ],
            "log": ["dropped_lines": .int(sink.droppedLines)],
            "memory": ["rss_bytes": memory.rss.map { .int($0) } ?? .null, "peak_rss_bytes": memory.peak.map { .int($0) } ?? .null],
        ]
    }

    /// Resident and peak resident memory (Linux `/proc/self/status`; nil elsewhere).
    static func memory() -> (rss: Int?, peak: Int?) {
        guard let data = FileManager.default.contents(atPath: "/proc/self/status") else { return (nil, nil) }
        var rss: Int?
        var peak: Int?
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            func kilobytes() -> Int? { line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) } }
            if line.hasPrefix("VmRSS:") { rss = kilobytes().map { $0 * 1024 } }
            if line.hasPrefix("VmHWM:") { peak = kilobytes().map { $0 * 1024 } }
        }
        return (rss, peak)
    }
}
