"""Warden's error table, as the official SDKs see it: status, error type/code, exception class, headers.

Every error must have a JSON body in the caller's API shape. Warden's own refusals carry
`x-should-retry: false` (so SDKs do not retry them); upstream failures must not.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
import pytest

from conftest import LIMITED_KEY, free_port, standard_config, tokens

LONG_PROMPT = "this prompt is much longer than the five token context window of ctx-5"


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@dataclass
class Case:
    id: str
    model: str
    status: int
    openai_exc: type
    openai_type: str
    openai_code: str | None  # None: not checked here (upstream body passed through)
    anthropic_exc: type
    anthropic_type: str
    anthropic_prefix: str | None  # what the Anthropic message starts with
    refusal: bool
    key: str | None = None
    text: str = "hello"
    extra_body: dict = field(default_factory=dict)  # sent as the SDKs' extra_body (merged into the JSON)
    messages: list | None = None  # replaces the default messages
    param: str | None = None
    retry_after: bool = False


CASES = [
    Case("wrong-type", "fast", 400, openai.BadRequestError, "invalid_request_error", "invalid_value",
         anthropic.BadRequestError, "invalid_request_error", "invalid_value: ", True,
         extra_body={"temperature": "hot"}, param="temperature"),
    Case("missing-field", "fast", 400, openai.BadRequestError, "invalid_request_error", "missing_field",
         anthropic.BadRequestError, "invalid_request_error", "missing_field: ", True,
         messages=[{"content": "no role"}], param="messages[0].role"),
    Case("unknown-key", "fast", 401, openai.AuthenticationError, "authentication_error", "invalid_api_key",
         anthropic.AuthenticationError, "authentication_error", "invalid_api_key: ", True, key="wk-not-a-real-key"),
    Case("not-allowed", "claude-fast", 403, openai.PermissionDeniedError, "permission_error", "model_not_allowed",
         anthropic.PermissionDeniedError, "permission_error", "model_not_allowed: ", True, key=LIMITED_KEY),
    Case("unknown-model", "no-such-model", 404, openai.NotFoundError, "invalid_request_error", "model_not_found",
         anthropic.NotFoundError, "not_found_error", "model_not_found: ", True),
    Case("context-too-long", "tiny-ctx", 400, openai.BadRequestError, "invalid_request_error", "context_length_exceeded",
         anthropic.BadRequestError, "invalid_request_error", None, False, text=LONG_PROMPT),
    Case("rate-limited", "limited429", 429, openai.RateLimitError, "rate_limit_error", "upstream_rate_limited",
         anthropic.RateLimitError, "rate_limit_error", "upstream_rate_limited: ", False, retry_after=True),
    Case("unreachable", "gone", 502, openai.InternalServerError, "api_error", "upstream_error",
         anthropic.InternalServerError, "api_error", "upstream_error: ", False),
    Case("bad-json", "broken", 502, openai.InternalServerError, "api_error", "upstream_error",
         anthropic.InternalServerError, "api_error", "upstream_error: ", False),
    Case("timeout", "slow", 504, openai.InternalServerError, "api_error", "upstream_timeout",
         anthropic.InternalServerError, "api_error", "upstream_timeout: ", False),
]


def upstream_calls(mock, marker: str) -> int:
    """Chat requests the mock saw whose body contains `marker`."""
    return sum(1 for e in mock.recent("/v1/chat/completions") if marker in json.dumps(e["body"]))


def check_common(response: Any, case: Case) -> None:
    assert response.status_code == case.status
    assert response.headers["content-type"].startswith("application/json")
    assert response.content, "error bodies are never empty"
    assert response.headers.get("x-request-id")
    assert float(response.headers["x-warden-overhead-ms"]) >= 0
    if case.refusal:
        assert response.headers.get("x-should-retry") == "false"
    else:
        assert response.headers.get("x-should-retry") != "false", "upstream failures may be retried"
    if case.retry_after:
        assert int(response.headers["retry-after"]) >= 1


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_openai_errors(warden, case):
    client = warden.openai(**({"key": case.key} if case.key else {}))
    kwargs = {"model": case.model, "messages": case.messages or user(case.text), "extra_body": case.extra_body}
    with pytest.raises(case.openai_exc) as info:
        client.chat.completions.create(**kwargs)
    e = info.value
    assert e.status_code == case.status
    check_common(e.response, case)
    body = e.response.json()
    error = body["error"]
    assert error["type"] == case.openai_type
    if case.openai_code:
        assert error["code"] == case.openai_code
    assert error["message"]
    if case.param:
        assert error["param"] == case.param


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_anthropic_errors(warden, case):
    client = warden.anthropic(**({"key": case.key} if case.key else {}))
    kwargs = {"model": case.model, "max_tokens": 100, "messages": case.messages or user(case.text), "extra_body": case.extra_body}
    with pytest.raises(case.anthropic_exc) as info:
        client.messages.create(**kwargs)
    e = info.value
    assert e.status_code == case.status
    check_common(e.response, case)
    body = e.response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == case.anthropic_type
    assert body["error"]["message"]
    if case.anthropic_prefix:
        assert body["error"]["message"].startswith(case.anthropic_prefix), body


def test_openai_context_error_is_the_upstreams_own_body(warden):
    with pytest.raises(openai.BadRequestError) as info:
        warden.openai().chat.completions.create(model="tiny-ctx", messages=user(LONG_PROMPT))
    error = info.value.response.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert f"{tokens(LONG_PROMPT)} tokens" in error["message"]


def test_anthropic_client_context_error_from_anthropic_upstream(warden):
    with pytest.raises(anthropic.BadRequestError) as info:
        warden.anthropic().messages.create(model="claude-tiny-ctx", max_tokens=10, messages=user(LONG_PROMPT))
    body = info.value.response.json()
    assert body["error"]["type"] == "invalid_request_error"
    assert "prompt is too long" in body["error"]["message"]


def test_openai_client_context_error_from_anthropic_upstream(warden):
    with pytest.raises(openai.BadRequestError) as info:
        warden.openai().chat.completions.create(model="claude-tiny-ctx", messages=user(LONG_PROMPT))
    error = info.value.response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "prompt is too long" in error["message"]


def test_missing_key(warden):
    r = warden.request("POST", "/v1/chat/completions", {"model": "fast", "messages": user("x")}, key=None)
    assert r.status == 401
    assert r.headers.get("x-should-retry") == "false"
    assert r.json()["error"]["code"] == "invalid_api_key"
    r = warden.request("POST", "/v1/messages", {"model": "fast", "max_tokens": 5, "messages": user("x")}, key=None)
    assert r.status == 401
    assert r.json()["error"]["type"] == "authentication_error"
    assert r.json()["error"]["message"].startswith("invalid_api_key: ")


def test_malformed_bearer_header(warden):
    r = warden.request(
        "POST", "/v1/chat/completions", {"model": "fast", "messages": user("x")}, key=None,
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
    )
    assert r.status == 401
    assert r.json()["error"]["type"] == "authentication_error"


def test_rate_limit_waits_for_retry_after_before_retrying(warden, mock):
    marker = "rate " + uuid.uuid4().hex
    start = time.monotonic()
    with pytest.raises(openai.RateLimitError) as info:
        warden.openai().chat.completions.with_raw_response.create(
            model="limited429", messages=user(marker), extra_headers={"x-request-id": "e2e-429-wait"}
        )
    elapsed = time.monotonic() - start
    assert elapsed >= 0.9, f"retries 1 with Retry-After: 1 must wait about a second, took {elapsed:.2f}s"
    assert info.value.response.headers["retry-after"] == "1"
    assert upstream_calls(mock, marker) == 2, "one attempt plus one retry"
    line = warden.wait_access("e2e-429-wait")
    assert line["status"] == 429
    assert line["error"] == "upstream_rate_limited"
    assert line["attempts"] == 2
    assert line["backoff_ms"] >= 900


def test_upstream_errors_do_not_leak_into_the_access_log_as_success(warden):
    with pytest.raises(openai.InternalServerError):
        warden.openai().chat.completions.create(
            model="gone", messages=user("x"), extra_headers={"x-request-id": "e2e-gone-log"}
        )
    line = warden.wait_access("e2e-gone-log")
    assert line["status"] == 502
    assert line["error"] == "upstream_error"
    assert line["attempts"] == 2  # retries: 1
    assert line["deployment"] == "dead/x"


def test_embeddings_errors(warden):
    with pytest.raises(openai.NotFoundError) as info:
        warden.openai().embeddings.create(model="no-such-model", input="x")
    assert info.value.response.json()["error"]["code"] == "model_not_found"
    with pytest.raises(openai.PermissionDeniedError):
        warden.openai(key=LIMITED_KEY).embeddings.create(model="claude-fast", input="x")
    r = warden.request("POST", "/v1/embeddings", {"model": "fast"})
    assert r.status == 400, r
    assert r.json()["error"]["code"] == "missing_field"
    assert r.json()["error"]["param"] == "input"
    assert r.headers.get("x-should-retry") == "false"


# ---------------------------------------------------------------------------------------------------
# Circuit breaker: its own server, with breaker_failures: 3.


@pytest.fixture
def breaker_warden(mock, start_warden):
    config = standard_config(
        mock.port,
        free_port(),
        breaker_failures=3,
        extra_providers=f'  breaker: {{type: openai, base_url: "http://127.0.0.1:{mock.port}/v1"}}\n',
        extra_models="  flaky-nofb: {deployments: [{provider: breaker, model: fail-503}], retries: 0, required: false}\n",
    )
    return start_warden(config)


def test_circuit_opens_after_consecutive_failures(breaker_warden, mock):
    client = breaker_warden.openai()
    marker = uuid.uuid4().hex

    for i in range(3):
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model="flaky-nofb", messages=user(f"fail {i} {marker}"))
        assert info.value.status_code == 502
        assert info.value.response.json()["error"]["code"] == "upstream_error"
    assert upstream_calls(mock, marker) == 3

    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="flaky-nofb", messages=user(f"circuit open {marker}"))
    e = info.value
    assert e.status_code == 503
    assert e.response.json()["error"]["type"] == "api_error"
    assert e.response.json()["error"]["code"] == "no_healthy_deployment"
    assert e.response.headers.get("x-should-retry") != "false"
    assert upstream_calls(mock, marker) == 3, "an open circuit must not call the upstream"

    with pytest.raises(anthropic.InternalServerError) as ainfo:
        breaker_warden.anthropic().messages.create(model="flaky-nofb", max_tokens=10, messages=user("x"))
    assert ainfo.value.status_code == 503
    body = ainfo.value.response.json()
    assert body["error"]["type"] == "overloaded_error"
    assert body["error"]["message"].startswith("no_healthy_deployment: ")

    # Readiness shows the open circuit (the model is not required, so Warden stays ready).
    ready = breaker_warden.request("GET", "/health/ready", key=None)
    model = ready.json()["models"]["flaky-nofb"]
    assert model["ok"] is False
    assert model["deployments"][0]["circuit"] == "open"
    assert ready.status == 200

    # Other models are unaffected.
    assert client.chat.completions.create(model="fast", messages=user("still fine")).choices[0].message.content == "Echo: still fine"
