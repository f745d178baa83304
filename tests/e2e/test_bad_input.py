"""Malformed, oversized and stalled requests over raw HTTP: Warden answers each with a JSON error and
keeps serving."""

from __future__ import annotations

import json
import socket
import time

import pytest

from conftest import CI_KEY, http_request, read_http_response

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"


def assert_still_serving(warden) -> None:
    r = warden.chat("fast", "still alive?")
    assert r.status == 200, r
    assert r.json()["choices"][0]["message"]["content"] == "Echo: still alive?"


def assert_openai_error(r, status: int, code: str, param: str | None = None) -> dict:
    assert r.status == status, r
    assert r.headers["content-type"].startswith("application/json")
    assert r.body, "error bodies are never empty"
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code, error
    assert error["message"]
    if param is not None:
        assert error["param"] == param, error
    assert r.headers.get("x-should-retry") == "false"
    return error


# (id, raw body, expected code, expected param or None)
OPENAI_CASES = [
    ("malformed-json", b'{"model": "fast", "messages": [', "invalid_json", None),
    ("not-json-at-all", b"hello there", "invalid_json", None),
    ("trailing-garbage", b'{"model": "fast", "messages": []} xyz', "invalid_json", None),
    ("invalid-utf8", b'{"model": "fast", "messages": [{"role": "user", "content": "bad \xff\xfe bytes"}]}', "invalid_json", None),
    ("body-is-array", b'[{"model": "fast"}]', None, None),
    ("body-is-string", b'"fast"', None, None),
    ("empty-body", b"", None, None),
    ("missing-messages", json.dumps({"model": "fast"}).encode(), "missing_field", "messages"),
    ("missing-model", json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(), "missing_field", "model"),
    ("missing-role", json.dumps({"model": "fast", "messages": [{"content": "x"}]}).encode(), "missing_field", "messages[0].role"),
    ("messages-not-array", json.dumps({"model": "fast", "messages": "hi"}).encode(), "invalid_value", "messages"),
    ("model-not-string", json.dumps({"model": 7, "messages": [{"role": "user", "content": "x"}]}).encode(), "invalid_value", "model"),
    ("temperature-string", json.dumps({"model": "fast", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}).encode(), "invalid_value", "temperature"),
    ("stream-not-bool", json.dumps({"model": "fast", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}).encode(), "invalid_value", "stream"),
    ("unknown-role", json.dumps({"model": "fast", "messages": [{"role": "robot", "content": "x"}]}).encode(), "invalid_value", "messages[0].role"),
]


@pytest.mark.parametrize("case_id,body,code,param", OPENAI_CASES, ids=[c[0] for c in OPENAI_CASES])
def test_openai_bad_bodies(warden, case_id, body, code, param):
    r = http_request(
        warden.port, "POST", CHAT, body=body, headers={"Authorization": f"Bearer {CI_KEY}", "Content-Type": "application/json"}
    )
    assert r.status == 400, r
    assert r.body
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert r.headers.get("x-should-retry") == "false"
    if code:
        assert error["code"] == code, error
    else:
        assert error["code"] in ("invalid_json", "invalid_value", "missing_field"), error
    if param:
        assert error["param"] == param, error
    assert_still_serving(warden)


ANTHROPIC_CASES = [
    ("malformed-json", b'{"model": "fast", "max_tokens": 10, "messages": [', "invalid_json: "),
    ("body-is-array", b"[1, 2, 3]", None),
    ("missing-max-tokens", json.dumps({"model": "fast", "messages": [{"role": "user", "content": "x"}]}).encode(), "missing_field: "),
    ("max-tokens-string", json.dumps({"model": "fast", "max_tokens": "ten", "messages": [{"role": "user", "content": "x"}]}).encode(), "invalid_value: "),
    ("system-role-in-messages", json.dumps({"model": "fast", "max_tokens": 10, "messages": [{"role": "system", "content": "x"}]}).encode(), None),
]


@pytest.mark.parametrize("case_id,body,prefix", ANTHROPIC_CASES, ids=[c[0] for c in ANTHROPIC_CASES])
def test_anthropic_bad_bodies(warden, case_id, body, prefix):
    r = http_request(
        warden.port, "POST", MESSAGES, body=body,
        headers={"x-api-key": CI_KEY, "anthropic-version": "2023-06-01", "Content-Type": "application/json"},
    )
    assert r.status == 400, r
    body = r.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    if prefix:
        assert body["error"]["message"].startswith(prefix), body
    assert r.headers.get("x-should-retry") == "false"
    assert_still_serving(warden)


def test_body_over_max_body_size_is_413(warden):
    big = json.dumps({"model": "fast", "messages": [{"role": "user", "content": "x" * (100 * 1024)}]}).encode()
    try:
        r = http_request(
            warden.port, "POST", CHAT, body=big, headers={"Authorization": f"Bearer {CI_KEY}"}
        )
    except (ConnectionResetError, BrokenPipeError) as e:  # pragma: no cover - reported as a failure
        pytest.fail(f"Warden reset the connection instead of answering 413: {e!r}")
    error = assert_openai_error(r, 413, "request_too_large")
    assert str(64 * 1024) in error["message"]
    assert_still_serving(warden)


def test_body_over_max_body_size_anthropic_shape(warden):
    big = json.dumps({"model": "fast", "max_tokens": 5, "messages": [{"role": "user", "content": "y" * (100 * 1024)}]})
    r = http_request(warden.port, "POST", MESSAGES, body=big, headers={"x-api-key": CI_KEY})
    assert r.status == 413, r
    assert r.json()["error"]["type"] == "request_too_large"
    assert r.json()["error"]["message"].startswith("request_too_large: ")
    assert_still_serving(warden)


def test_chunked_body_over_max_body_size_is_413(warden):
    """No Content-Length to check up front: the limit must still hold while reading."""
    sock = socket.create_connection(("127.0.0.1", warden.port), timeout=10)
    try:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {CI_KEY}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        payload = b'{"model":"fast","messages":[{"role":"user","content":"' + b"z" * (100 * 1024) + b'"}]}'
        try:
            for i in range(0, len(payload), 8192):
                piece = payload[i : i + 8192]
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # Warden may answer and stop reading early; the answer is what matters
        r = read_http_response(sock, timeout=10)
    finally:
        sock.close()
    assert r.status == 413, r
    assert json.loads(r.body)["error"]["code"] == "request_too_large"
    assert_still_serving(warden)


def test_body_just_under_the_limit_is_accepted(warden):
    text = "w" * (60 * 1024)
    r = warden.chat("fast", text)
    assert r.status == 200, r
    assert r.json()["choices"][0]["message"]["content"] == "Echo: " + text


def test_stalled_body_gets_408_after_body_timeout(warden):
    sock = socket.create_connection(("127.0.0.1", warden.port), timeout=15)
    try:
        start = time.monotonic()
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {CI_KEY}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'{"model": "fast", "mess'
        )
        r = read_http_response(sock, timeout=15)
        elapsed = time.monotonic() - start
    finally:
        sock.close()
    assert r.status == 408, r
    assert elapsed >= 1.5, f"body_timeout is 2s; answered after {elapsed:.2f}s"
    error = json.loads(r.body)["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "request_timeout"
    assert r.headers.get("x-should-retry") == "false"
    assert_still_serving(warden)


def test_unknown_route_and_wrong_method_are_json(warden):
    r = warden.request("GET", "/v1/nope")
    assert r.status == 404, r
    assert r.json()["error"]["code"] == "not_found"
    r = warden.request("GET", CHAT)
    assert r.status in (404, 405), r
    assert r.body and r.json()["error"]["message"]
    r = warden.request("DELETE", "/v1/models")
    assert r.status in (404, 405), r
    assert r.body and r.json()["error"]


def test_many_bad_requests_on_one_keep_alive_connection(warden):
    """Errors must not poison a keep-alive connection."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", warden.port, timeout=20)
    headers = {"Authorization": f"Bearer {CI_KEY}", "Content-Type": "application/json"}
    try:
        for body in [b"{", b"[]", json.dumps({"model": "nope", "messages": [{"role": "user", "content": "x"}]}).encode()]:
            conn.request("POST", CHAT, body=body, headers=headers)
            r = conn.getresponse()
            assert r.status in (400, 404)
            assert json.loads(r.read())["error"]
        conn.request("POST", CHAT, body=json.dumps({"model": "fast", "messages": [{"role": "user", "content": "ok"}]}), headers=headers)
        r = conn.getresponse()
        assert r.status == 200
        assert json.loads(r.read())["choices"][0]["message"]["content"] == "Echo: ok"
    finally:
        conn.close()
