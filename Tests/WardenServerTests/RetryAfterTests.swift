import NIOHTTP1
import Testing
import WardenCore

@testable import WardenProviders

/// An upstream's `Retry-After` and `retry-after-ms` are read defensively: clamped, HTTP dates accepted,
/// nonsense ignored (a header like `1e30` or `inf` used to stop the process).
@Suite("Retry-After from upstreams")
struct RetryAfterTests {
    static func headers(_ pairs: (String, String)...) -> HTTPHeaders {
        HTTPHeaders(pairs.map { ($0.0, $0.1) })
    }

    @Test(
        "hostile or nonsense values never trap, and are clamped or ignored",
        arguments: [
            ("retry-after", "1e30", nil as Duration?),
            ("retry-after", "inf", nil),
            ("retry-after", "-1", nil),
            ("retry-after", "nan", nil),
            ("retry-after", "0x1p80", nil),
            ("retry-after", "99999999999999999999999999999", .seconds(86_400)),
            ("retry-after-ms", "inf", nil),
            ("retry-after-ms", "1e19", nil),
            ("retry-after-ms", "18446744073709551616", .seconds(86_400)),
            ("retry-after", "2", .seconds(2)),
            ("retry-after", "0.5", .milliseconds(500)),
            ("retry-after-ms", "250", .milliseconds(250)),
            ("retry-after-ms", "0.4", .milliseconds(1)),
        ])
    func values(_ name: String, _ value: String, expected: Duration?) {
        #expect(HTTPTransport.retryAfter(Self.headers((name, value))) == expected)
    }

    @Test("an HTTP date gives the wait until then; a past date gives zero")
    func dates() {
        let now: Int64 = 784_111_777_000  // 1994-11-06 08:49:37 UTC
        #expect(HTTPTransport.retryAfter(Self.headers(("retry-after", "Sun, 06 Nov 1994 08:49:47 GMT")), now: now) == .seconds(10))
        #expect(HTTPTransport.retryAfter(Self.headers(("retry-after", "Sun, 06 Nov 1994 08:49:30 GMT")), now: now) == .zero)
        #expect(HTTPTransport.retryAfter(Self.headers(("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")), now: now) == .seconds(86_400))
    }

    @Test("retry-after-ms wins over Retry-After when both are valid")
    func precedence() {
        #expect(HTTPTransport.retryAfter(Self.headers(("retry-after-ms", "300"), ("retry-after", "9"))) == .milliseconds(300))
        #expect(HTTPTransport.retryAfter(Self.headers(("retry-after-ms", "junk"), ("retry-after", "9"))) == .seconds(9))
    }
}
