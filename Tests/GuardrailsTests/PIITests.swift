import Testing

@testable import Guardrails

@Suite("PII detector")
struct PIITests {
    /// The validated detectors only, unless `all`: person names and street addresses (rules without a
    /// validator, which see "0343 6467 expires" as a street) have their own tests in NamesTests.
    func types(_ text: String, all: Bool = false) -> [String] {
        PIIDetector.scan(text, types: all ? nil : Set(PIIDetector.validatedTypes)).map(\.type)
    }

    func spans(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        return PIIDetector.scan(text, types: Set(PIIDetector.validatedTypes)).map { String(String.UnicodeScalarView(s[$0.start..<$0.end])) }
    }

    @Test(
        "validated types are found with their exact spans",
        arguments: [
            ("Mail me at jane.doe+x@example.co.uk please.", "jane.doe+x@example.co.uk"),
            ("card 4539 1488 0343 6467 expires", "4539 1488 0343 6467"),
            ("Amex 378282246310005.", "378282246310005"),
            ("IBAN GB82WEST12345698765432 thanks", "GB82WEST12345698765432"),
            ("IBAN DE89 3704 0044 0532 0130 00 now", "DE89 3704 0044 0532 0130 00"),
            ("SSN 123-45-6789.", "123-45-6789"),
            ("from 192.168.10.4 today", "192.168.10.4"),
            ("host 2001:db8:85a3::8a2e:370:7334 up", "2001:db8:85a3::8a2e:370:7334"),
            ("call +1-604-696-5272x565 now", "+1-604-696-5272x565"),
            ("call (403)495-9174", "(403)495-9174"),
        ])
    func found(_ text: String, _ expected: String) {
        #expect(spans(text) == [expected], "\(text)")
    }

    @Test(
        "invalid or look-alike values are not reported",
        arguments: [
            "card 4539 1488 0343 6468",  // Luhn fails
            "IBAN GB82WEST12345698765433",  // mod-97 fails
            "SSN 000-45-6789", "SSN 666-45-6789", "SSN 923-45-6789", "SSN 123-00-6789",
            "version 1.2.3.4.5", "on 2024-01-02 10:30:00 we met", "order 12/05/1990",
            "the answer is 42", "at 256.1.1.1", "user@localhost",
        ])
    func notFound(_ text: String) {
        #expect(types(text, all: true).isEmpty, "\(text): \(spans(text))")
    }

    @Test("weak national phone forms need a context word")
    func phoneContext() {
        #expect(types("the total was 99 668472 units").isEmpty)
        #expect(types("you can reach me at 99 668472") == ["PHONE_NUMBER"])
    }

    @Test("four-two-two groups are a phone unless they start like a year; other numbers' context wins")
    func phoneShapes() {
        #expect(spans("You can call 0477 11 28 98 tonight") == ["0477 11 28 98"])
        #expect(types("filed on 2024 01 02 at noon").isEmpty)
        #expect(types("filed 1999-12-31").isEmpty)
        #expect(types("My driver's license number is 425700624").isEmpty)
        #expect(types("My passport number is 50473044").isEmpty)
        #expect(types("My number is 50473044") == ["PHONE_NUMBER"])
    }
}
