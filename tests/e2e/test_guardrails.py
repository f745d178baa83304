"""Input guardrails through the real binary and the official SDKs: a card number never reaches the
upstream (the mock echoes what it received) and is restored for the caller; a secret is blocked."""

from __future__ import annotations

import openai
import pytest

from conftest import free_port, standard_config, stream_text

CARD = "4539 1488 0343 6467"
GUARDRAILS = """guardrails:
  input:
    - {detector: pii, action: redact, types: [CREDIT_CARD, EMAIL_ADDRESS], restore: true}
    - {detector: secrets, action: block}
"""


@pytest.fixture
def guarded(mock, start_warden):
    return start_warden(standard_config(mock.port, free_port(), extra_sections=GUARDRAILS))


def test_a_card_number_is_redacted_upstream_and_restored_for_the_caller(guarded, mock):
    client = guarded.openai()
    raw = client.chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": f"Refund card {CARD} for ana@example.com"}])
    reply = raw.parse()
    sent = mock.last_request("/v1/chat/completions", lambda e: "Refund card" in str(e["body"]))
    assert CARD not in str(sent["body"]) and "ana@example.com" not in str(sent["body"])
    assert "[CREDIT_CARD_1]" in str(sent["body"]) and "[EMAIL_ADDRESS_1]" in str(sent["body"])
    assert CARD in reply.choices[0].message.content and "ana@example.com" in reply.choices[0].message.content
    assert raw.headers["x-warden-guardrails"] == "pii=redact"
    assert float(raw.headers["x-warden-overhead-ms"]) > 0


def test_a_secret_is_blocked_with_the_providers_error_shape(guarded):
    secret = "ghp_" + "Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78"
    with pytest.raises(openai.BadRequestError) as blocked:
        guarded.openai().chat.completions.create(model="fast", messages=[{"role": "user", "content": f"token {secret}"}])
    assert blocked.value.code == "guardrail_blocked"
    assert "GITHUB_TOKEN" in blocked.value.message and secret not in str(blocked.value.body)
    import anthropic
    with pytest.raises(anthropic.BadRequestError):
        guarded.anthropic().messages.create(
            model="claude-fast", max_tokens=16, messages=[{"role": "user", "content": f"token {secret}"}])


def test_a_secret_in_a_streamed_answer_is_caught_across_chunks(mock, start_warden):
    w = start_warden(standard_config(mock.port, free_port(), extra_sections="guardrails:\n  output:\n    - {detector: secrets, action: block}\n"))
    key = "-----BEGIN RSA PRIVATE KEY----- MIIEow IBAAKCAQEA3 q8Yt 9wXz -----END RSA PRIVATE KEY-----"
    stream = w.openai().chat.completions.create(
        model="fast", stream=True, messages=[{"role": "user", "content": "padding " * 30 + key}])
    text, reasons = stream_text(stream)
    assert "BEGIN RSA" not in text and "MIIEow" not in text
    assert reasons == ["content_filter"]
    assert "withheld" in text and "padding" in text
