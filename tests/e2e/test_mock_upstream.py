"""The mock upstream's own contract (`warden mock-upstream`), checked directly: the other tests rely on it,
so when it breaks these tests say so plainly instead of a Warden test failing for an unrelated reason."""

from __future__ import annotations

import json
import socket
import time
import uuid

from conftest import http_request, tokens, wait_until


def chat(mock, model: str, text: str, api: str = "openai", **extra):
    if api == "openai":
        body = {"model": model, "messages": [{"role": "user", "content": text}]} | extra
        return http_request(mock.port, "POST", "/v1/chat/completions", body, headers={"Authorization": "Bearer sk-direct"})
    body = {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": text}]} | extra
    return http_request(mock.port, "POST", "/v1/messages", body, headers={"x-api-key": "sk-direct"})


def test_echo_and_usage_rule(mock):
    r = chat(mock, "anything", "héllo wörld")
    assert r.status == 200
    body = r.json()
    assert body["choices"][0]["message"]["content"] == "Echo: héllo wörld"
    assert body["usage"]["prompt_tokens"] == tokens("héllo wörld")
    assert body["usage"]["completion_tokens"] == tokens("Echo: héllo wörld")
    a = chat(mock, "anything", "héllo wörld", api="anthropic").json()
    assert a["content"][0]["text"] == "Echo: héllo wörld"
    assert a["usage"]["input_tokens"] == tokens("héllo wörld")


def test_journal_records_requests(mock):
    marker = uuid.uuid4().hex
    before = mock.journal()["requests"]
    chat(mock, "m", marker)
    journal = mock.journal()
    assert journal["requests"] == before + 1
    entry = journal["recent"][-1]
    assert entry["method"] == "POST"
    assert entry["path"] == "/v1/chat/completions"
    assert entry["headers"]["authorization"] == "Bearer sk-direct"
    assert entry["body"]["messages"][0]["content"] == marker
    assert len(journal["recent"]) <= 100


def test_failure_models(mock):
    r = chat(mock, "fail-503", "x")
    assert r.status == 503
    r = chat(mock, "fail-429", "x")
    assert r.status == 429
    assert r.headers["retry-after"] == "1"
    r = chat(mock, "bad-json", "x")
    assert r.status == 200
    try:
        json.loads(r.body)
        raise AssertionError("bad-json answered valid JSON")
    except ValueError:
        pass


def test_context_window_models(mock):
    assert chat(mock, "ctx-5", "short").status == 200
    r = chat(mock, "ctx-5", "x" * 40)
    assert r.status == 400
    assert r.json()["error"]["code"] == "context_length_exceeded"
    a = chat(mock, "ctx-5", "x" * 40, api="anthropic")
    assert a.status == 400
    assert a.json()["error"]["type"] == "invalid_request_error"
    assert "prompt is too long" in a.json()["error"]["message"]


def test_slow_model_counts_a_client_that_went_away(mock):
    before = mock.journal()["client_disconnects"]
    requests_before = mock.journal()["requests"]
    body = json.dumps({"model": "slow-3000", "messages": [{"role": "user", "content": "x"}]}).encode()
    sock = socket.create_connection(("127.0.0.1", mock.port), timeout=5)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    # The mock has the whole request (it journals it before its slow wait): now leave.
    wait_until(lambda: mock.journal()["requests"] > requests_before, 2, message="the mock never received the request")
    sock.close()
    # The mock answers after 3 s; it must notice the client left before that.
    wait_until(
        lambda: mock.journal()["client_disconnects"] > before,
        2.0,
        message="the mock did not count a client that left a slow-<ms> request (GET /mock/journal client_disconnects)",
    )
