"""Retries, fallbacks, context fallbacks, broken upstreams and clients that go away."""

from __future__ import annotations

import json
import socket
import time
import uuid

import anthropic
import openai
import pytest

from conftest import CI_KEY, free_port, standard_config, tcp_connections_to, wait_until

LONG_PROMPT = "this prompt is much longer than the five token context window of ctx-5"


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def upstream_calls(mock, model: str, marker: str, path: str = "/v1/chat/completions") -> int:
    """Requests the mock saw for upstream `model` whose body contains `marker`."""
    return sum(
        1
        for e in mock.recent(path)
        if isinstance(e["body"], dict) and e["body"].get("model") == model and marker in json.dumps(e["body"])
    )


# ---------------------------------------------------------------------------------------------------
# Fallbacks


def test_flaky_falls_back_to_fast(warden, mock):
    rid = "e2e-" + uuid.uuid4().hex
    marker = "fall back " + uuid.uuid4().hex[:8]
    raw = warden.openai().chat.completions.with_raw_response.create(
        model="flaky", messages=user(marker), extra_headers={"x-request-id": rid}
    )
    r = raw.parse()
    assert r.choices[0].message.content == "Echo: " + marker
    assert raw.headers["x-warden-model"] == "fast"
    assert raw.headers["x-warden-attempts"] == "3"  # flaky: 1 + 1 retry, then fast
    assert upstream_calls(mock, "fail-503", marker) == 2
    assert upstream_calls(mock, "gpt-4o-mini", marker) == 1
    line = warden.wait_access(rid)
    assert line["status"] == 200
    assert line["model"] == "flaky"
    assert line["served_model"] == "fast"
    assert line["fallback"] is True
    assert line["attempts"] == 3
    assert line["deployment"] == "local/gpt-4o-mini"


def test_flaky_falls_back_for_anthropic_clients_and_streams(warden):
    raw = warden.anthropic().messages.with_raw_response.create(model="flaky", max_tokens=50, messages=user("via messages"))
    assert raw.headers["x-warden-model"] == "fast"
    assert raw.parse().content[0].text == "Echo: via messages"

    rid = "e2e-" + uuid.uuid4().hex
    chunks = list(
        warden.openai().chat.completions.create(
            model="flaky", messages=user("a streamed fallback"), stream=True, extra_headers={"x-request-id": rid}
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: a streamed fallback"
    line = warden.wait_access(rid)
    assert line["fallback"] is True and line["stream"] is True and line["status"] == 200


def test_no_fallback_needed_is_not_marked_as_fallback(warden):
    rid = "e2e-" + uuid.uuid4().hex
    warden.openai().chat.completions.create(model="fast", messages=user("x"), extra_headers={"x-request-id": rid})
    line = warden.wait_access(rid)
    assert "fallback" not in line or line["fallback"] is False


def test_context_fallback_on_long_prompt(warden):
    rid = "e2e-" + uuid.uuid4().hex
    raw = warden.openai().chat.completions.with_raw_response.create(
        model="small-ctx", messages=user(LONG_PROMPT), extra_headers={"x-request-id": rid}
    )
    assert raw.headers["x-warden-model"] == "fast"
    assert raw.parse().choices[0].message.content == "Echo: " + LONG_PROMPT
    line = warden.wait_access(rid)
    assert line["served_model"] == "fast"
    assert line["fallback"] is True


def test_context_fallback_not_used_for_short_prompt(warden):
    raw = warden.openai().chat.completions.with_raw_response.create(model="small-ctx", messages=user("tiny"))
    assert raw.headers["x-warden-model"] == "small-ctx"
    assert raw.parse().choices[0].message.content == "Echo: tiny"


def test_context_fallback_for_anthropic_clients(warden):
    raw = warden.anthropic().messages.with_raw_response.create(
        model="small-ctx", max_tokens=200, messages=user(LONG_PROMPT)
    )
    assert raw.headers["x-warden-model"] == "fast"
    assert raw.parse().content[0].text == "Echo: " + LONG_PROMPT


# ---------------------------------------------------------------------------------------------------
# Broken upstreams


def test_drop_midstream_openai_stream_raises(warden):
    rid = "e2e-" + uuid.uuid4().hex
    stream = warden.openai().chat.completions.create(
        model="dropper",
        messages=user("one two three four five six seven eight nine ten"),
        stream=True,
        extra_headers={"x-request-id": rid},
    )
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert received, "the first chunks arrive before the upstream breaks"
    assert "".join(received) != "Echo: one two three four five six seven eight nine ten"
    line = warden.wait_access(rid)
    assert line["stream"] is True
    assert line["status"] == 502
    assert line["error"] == "upstream_error"


def test_drop_midstream_raw_sse_has_error_event_and_no_done(warden):
    r = warden.request(
        "POST",
        "/v1/chat/completions",
        {"model": "dropper", "messages": user("one two three four five six seven eight"), "stream": True},
    )
    assert r.status == 200  # the stream had started
    text = r.body.decode()
    assert "[DONE]" not in text
    frames = [f for f in text.split("\n\n") if f.strip()]
    last = json.loads(frames[-1][len("data: ") :])
    assert last["error"]["type"] == "api_error"
    assert last["error"]["code"] == "upstream_error"
    assert any("Echo" in f for f in frames[:-1])


def test_drop_midstream_anthropic_stream_raises(warden):
    received = []
    with pytest.raises(anthropic.APIError):
        with warden.anthropic().messages.stream(
            model="dropper", max_tokens=100, messages=user("one two three four five six seven eight nine ten")
        ) as stream:
            for text in stream.text_stream:
                received.append(text)
    assert received


def test_drop_midstream_anthropic_raw_sse_has_error_event(warden):
    r = warden.request(
        "POST",
        "/v1/messages",
        {"model": "dropper", "max_tokens": 100, "messages": user("one two three four five six"), "stream": True},
    )
    text = r.body.decode()
    assert "event: error" in text
    assert "message_stop" not in text
    error_data = text.split("event: error", 1)[1].split("data:", 1)[1].split("\n", 1)[0]
    assert json.loads(error_data)["error"]["type"] == "api_error"


def test_drop_midstream_non_streaming_is_502(warden):
    with pytest.raises(openai.InternalServerError) as info:
        warden.openai().chat.completions.create(model="dropper", messages=user("whole body please"))
    assert info.value.status_code == 502
    assert info.value.response.json()["error"]["code"] == "upstream_error"


def test_bad_json_is_502_and_server_keeps_serving(warden):
    rid = "e2e-" + uuid.uuid4().hex
    with pytest.raises(openai.InternalServerError) as info:
        warden.openai().chat.completions.create(model="broken", messages=user("x"), extra_headers={"x-request-id": rid})
    assert info.value.status_code == 502
    line = warden.wait_access(rid)
    assert line["status"] == 502 and line["error"] == "upstream_error"
    assert warden.openai().chat.completions.create(model="fast", messages=user("ok")).choices[0].message.content == "Echo: ok"


def test_bad_json_stream_is_an_error(warden):
    with pytest.raises(openai.APIError):
        list(warden.openai().chat.completions.create(model="broken", messages=user("x"), stream=True))


@pytest.fixture
def isolated(start_mock, start_warden):
    """A mock and a Warden of their own, so the only connections to that mock are this test's."""
    m = start_mock()
    w = start_warden(standard_config(m.port, free_port()))
    return m, w


def test_upstream_timeout_is_504_and_abandons_the_upstream_call(isolated):
    m, w = isolated
    rid = "e2e-" + uuid.uuid4().hex
    start = time.monotonic()
    with pytest.raises(openai.InternalServerError) as info:
        w.openai().chat.completions.create(model="slow", messages=user("x"), extra_headers={"x-request-id": rid})
    elapsed = time.monotonic() - start
    assert info.value.status_code == 504
    assert elapsed >= 0.9, "first_byte is 1s"
    # The upstream (slow-3000) would answer 2 s from now; Warden must already have dropped the call, and
    # with it the connection (an HTTP/1.1 connection cannot be reused halfway through a request).
    wait_until(
        lambda: "ESTABLISHED" not in tcp_connections_to(m.port),
        1.5,
        message=f"Warden still holds its upstream connection after the timeout: {tcp_connections_to(m.port)}",
    )
    wait_until(lambda: m.journal()["client_disconnects"] == 1, 3, message="the mock did not see Warden leave")
    line = w.wait_access(rid)
    assert line["status"] == 504 and line["error"] == "upstream_timeout"


# ---------------------------------------------------------------------------------------------------
# Clients that go away


def test_client_disconnect_cancels_upstream_and_logs_499(isolated):
    m, w = isolated
    rid = "e2e-" + uuid.uuid4().hex
    body = json.dumps({"model": "slow2", "messages": user("x")}).encode()
    sock = socket.create_connection(("127.0.0.1", w.port), timeout=10)
    try:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {CI_KEY}\r\nx-request-id: {rid}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        # The call is under way: Warden holds a connection to the upstream (slow2 answers after 4 s).
        wait_until(lambda: "ESTABLISHED" in tcp_connections_to(m.port), 3, message="no upstream call seen")
        # ...and the mock has read the whole upstream request (it journals it before its slow wait).
        wait_until(
            lambda: any(
                e["path"] == "/v1/chat/completions" and isinstance(e.get("body"), dict) and e["body"].get("model") == "slow-4000"
                for e in m.recent()),
            3, message="the mock never received the upstream call")
    finally:
        sock.close()  # the client gives up
    # Warden must notice and cancel the upstream call, closing that connection, well before the 4 s.
    wait_until(
        lambda: "ESTABLISHED" not in tcp_connections_to(m.port),
        2.0,
        message="Warden did not cancel its upstream call after the client went away "
        f"(connections to the upstream: {tcp_connections_to(m.port)})",
    )
    line = w.wait_access(rid, timeout=10)
    assert line["status"] == 499, line
    assert line["model"] == "slow2"
    # ...and the upstream saw its client (Warden) go away before it answered.
    wait_until(lambda: m.journal()["client_disconnects"] == 1, 3, message="the mock did not see Warden leave")


def test_client_timeout_with_the_sdk_logs_499(warden):
    rid = "e2e-" + uuid.uuid4().hex
    with pytest.raises(openai.APITimeoutError):
        warden.openai(timeout=0.5).chat.completions.create(
            model="slow2", messages=user("x"), extra_headers={"x-request-id": rid}
        )
    line = warden.wait_access(rid, timeout=10)
    assert line["status"] == 499, line
    assert line["upstream_ms"] < 3500, "the upstream call should have been cancelled, not waited for"


def test_client_disconnect_mid_stream(mock, start_mock, start_warden):
    """A client that stops reading a stream: Warden stops reading the upstream and logs 499."""
    slow_mock = start_mock(latency_ms=200)
    w = start_warden(standard_config(slow_mock.port, free_port()))
    words = " ".join(f"w{i}" for i in range(40))  # about 8 s of stream at 200 ms a chunk
    rid = "e2e-" + uuid.uuid4().hex
    body = json.dumps({"model": "fast", "messages": user(words), "stream": True}).encode()
    sock = socket.create_connection(("127.0.0.1", w.port), timeout=10)
    try:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {CI_KEY}\r\nx-request-id: {rid}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        data = b""
        while b"Echo" not in data:
            chunk = sock.recv(4096)
            assert chunk, "connection closed before the first chunk"
            data += chunk
    finally:
        sock.close()
    line = w.wait_access(rid, timeout=10)
    assert line["status"] == 499
    assert line["stream"] is True
    assert line.get("usage_estimated") is True
    wait_until(lambda: slow_mock.journal()["client_disconnects"] >= 1, 5, message="upstream stream not cancelled")
