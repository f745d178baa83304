"""The Anthropic API surface (/v1/messages, count_tokens, models), driven with the official `anthropic` SDK,
against both an Anthropic-type deployment (`claude-fast`, native) and an OpenAI-type one (`fast`,
translated to the OpenAI wire and back)."""

from __future__ import annotations

import json
import uuid

import pytest

from conftest import CI_KEY, LIMITED_KEY, UPSTREAM_KEY, WEATHER_ARGS, WEATHER_TOOL_ANTHROPIC, sse_events, tokens

BOTH = pytest.mark.parametrize("model", ["claude-fast", "fast"])

LOOKUP_TOOL = {
    "name": "lookup",
    "description": "Look something up",
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
}


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@BOTH
def test_messages_text_stop_reason_and_usage(warden, model):
    m = warden.anthropic().messages.create(
        model=model, max_tokens=256, system="You are terse.", messages=user("hello there")
    )
    assert m.type == "message"
    assert m.role == "assistant"
    assert [b.type for b in m.content] == ["text"]
    assert m.content[0].text == "Echo: hello there"
    assert m.stop_reason == "end_turn"
    assert m.usage.input_tokens == tokens("You are terse.", "hello there")
    assert m.usage.output_tokens == tokens("Echo: hello there")


@BOTH
def test_messages_multi_turn_with_content_blocks(warden, model):
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "text", "text": " part"}]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "last words"}]},
    ]
    m = warden.anthropic().messages.create(model=model, max_tokens=100, messages=messages)
    assert m.content[0].text == "Echo: last words"
    assert m.usage.input_tokens == tokens("first", " part", "ok", "last words")


@BOTH
def test_messages_headers(warden, model):
    rid = "e2e-" + uuid.uuid4().hex
    raw = warden.anthropic().messages.with_raw_response.create(
        model=model, max_tokens=50, messages=user("hdr"), extra_headers={"x-request-id": rid}
    )
    assert raw.headers["x-request-id"] == rid
    assert raw.headers["x-warden-model"] == model
    assert raw.headers["x-warden-attempts"] == "1"
    assert float(raw.headers["x-warden-overhead-ms"]) >= 0
    line = warden.wait_access(rid)
    assert line["api"] == "anthropic"
    assert line["path"] == "/v1/messages"
    assert line["key"] == "ci"
    assert line["status"] == 200
    assert line["deployment"] == ("claude/claude-haiku" if model == "claude-fast" else "local/gpt-4o-mini")


@BOTH
def test_messages_max_tokens_stop_reason(warden, model):
    m = warden.anthropic().messages.create(
        model=model, max_tokens=2, messages=user("this is far too long for two tokens")
    )
    assert m.stop_reason == "max_tokens"
    assert m.usage.output_tokens <= 2


@BOTH
def test_messages_tool_use_any(warden, model):
    m = warden.anthropic().messages.create(
        model=model,
        max_tokens=200,
        messages=user("weather?"),
        tools=[WEATHER_TOOL_ANTHROPIC, LOOKUP_TOOL],
        tool_choice={"type": "any"},
    )
    assert m.stop_reason == "tool_use"
    uses = [b for b in m.content if b.type == "tool_use"]
    assert len(uses) == 1
    assert uses[0].name == "get_weather"
    assert uses[0].input == WEATHER_ARGS
    assert uses[0].id


@BOTH
def test_messages_tool_use_named(warden, model):
    m = warden.anthropic().messages.create(
        model=model,
        max_tokens=200,
        messages=user("look it up"),
        tools=[WEATHER_TOOL_ANTHROPIC, LOOKUP_TOOL],
        tool_choice={"type": "tool", "name": "lookup"},
    )
    uses = [b for b in m.content if b.type == "tool_use"]
    assert [u.name for u in uses] == ["lookup"]
    assert uses[0].input == {"q": "example"}


@BOTH
def test_messages_tool_result_round_trip(warden, model):
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "sunny, 21C"},
                {"type": "text", "text": "and now?"},
            ],
        },
    ]
    m = warden.anthropic().messages.create(model=model, max_tokens=100, messages=messages, tools=[WEATHER_TOOL_ANTHROPIC])
    assert m.stop_reason == "end_turn"
    assert m.content[0].text.startswith("Echo: ")
    assert "and now?" in m.content[0].text
    assert m.usage.input_tokens == tokens("weather in Paris?", "sunny, 21C", "and now?")


# ---------------------------------------------------------------------------------------------------
# Streaming


@BOTH
def test_messages_stream_text_and_final_message(warden, model):
    with warden.anthropic().messages.stream(
        model=model, max_tokens=100, system="sys", messages=user("x y z")
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert pieces == ["Echo: ", "x ", "y ", "z"]
    assert final.content[0].text == "Echo: x y z"
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == tokens("sys", "x y z")
    assert final.usage.output_tokens == tokens("Echo: x y z")


@BOTH
def test_messages_stream_max_tokens(warden, model):
    with warden.anthropic().messages.stream(
        model=model, max_tokens=2, messages=user("a b c d e f g h i j")
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens"


@BOTH
def test_messages_stream_tool_use(warden, model):
    with warden.anthropic().messages.stream(
        model=model,
        max_tokens=200,
        messages=user("weather?"),
        tools=[WEATHER_TOOL_ANTHROPIC],
        tool_choice={"type": "any"},
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    uses = [b for b in final.content if b.type == "tool_use"]
    assert len(uses) == 1
    assert uses[0].name == "get_weather"
    assert uses[0].input == WEATHER_ARGS


@BOTH
def test_messages_raw_stream_events_and_warden_report(warden, model):
    rid = "e2e-" + uuid.uuid4().hex
    r = warden.request(
        "POST",
        "/v1/messages",
        {"model": model, "max_tokens": 100, "messages": user("raw events"), "stream": True},
        key=None,
        headers={"x-api-key": CI_KEY, "anthropic-version": "2023-06-01", "x-request-id": rid},
    )
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.body)
    names = [name for name, _ in events]
    assert names[0] == "message_start"
    assert names[-1] == "message_stop"
    assert "content_block_delta" in names
    for name, data in events:
        assert json.loads(data)["type"] == name
    deltas = [json.loads(d) for n, d in events if n == "message_delta"]
    assert len(deltas) == 1
    assert deltas[0]["delta"]["stop_reason"] == "end_turn"
    assert deltas[0]["usage"]["output_tokens"] == tokens("Echo: raw events")
    assert deltas[0]["warden"]["request_id"] == rid
    assert float(deltas[0]["warden"]["overhead_ms"]) >= 0
    text = "".join(
        json.loads(d)["delta"].get("text", "") for n, d in events if n == "content_block_delta"
    )
    assert text == "Echo: raw events"
    line = warden.wait_access(rid)
    assert line["stream"] is True and line["status"] == 200 and line["api"] == "anthropic"


# ---------------------------------------------------------------------------------------------------
# What reaches the upstream


def test_native_upstream_gets_provider_key_and_passthrough_fields(warden, mock):
    marker = "m" + uuid.uuid4().hex[:10]
    warden.anthropic().messages.create(
        model="claude-fast",
        max_tokens=2048,
        system=[{"type": "text", "text": "cached system", "cache_control": {"type": "ephemeral"}}],
        messages=user(marker),
        thinking={"type": "enabled", "budget_tokens": 1024},
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"},
    )
    entry = mock.last_request("/v1/messages", lambda e: marker in json.dumps(e["body"]))
    headers = entry["headers"]
    assert headers["x-api-key"] == UPSTREAM_KEY
    assert "prompt-caching-2024-07-31" in headers.get("anthropic-beta", "")
    assert headers.get("anthropic-version")
    assert CI_KEY not in json.dumps(entry)
    body = entry["body"]
    assert body["model"] == "claude-haiku"
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}


def test_translated_upstream_gets_openai_wire(warden, mock):
    marker = "m" + uuid.uuid4().hex[:10]
    warden.anthropic().messages.create(model="fast", max_tokens=77, system="sys prompt", messages=user(marker))
    entry = mock.last_request("/v1/chat/completions", lambda e: marker in json.dumps(e["body"]))
    assert entry["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert "x-api-key" not in entry["headers"]
    body = entry["body"]
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"][0]["role"] == "system"
    assert "sys prompt" in json.dumps(body["messages"][0])
    assert body["messages"][-1]["role"] == "user"
    assert marker in json.dumps(body["messages"][-1])
    assert (body.get("max_tokens") or body.get("max_completion_tokens")) == 77


# ---------------------------------------------------------------------------------------------------
# count_tokens, models, auth


def test_count_tokens_exact_from_anthropic_upstream(warden):
    messages = [{"role": "user", "content": "count me please"}]
    r = warden.anthropic().messages.count_tokens(model="claude-fast", system="sys", messages=messages)
    assert r.input_tokens == tokens("sys", "count me please")
    assert not (r.model_extra or {}).get("warden_estimated", False)


def test_count_tokens_estimated_for_openai_deployment(warden):
    r = warden.request(
        "POST",
        "/v1/messages/count_tokens",
        {"model": "fast", "system": "sys", "messages": [{"role": "user", "content": "count me please"}]},
        key=None,
        headers={"x-api-key": CI_KEY, "anthropic-version": "2023-06-01"},
    )
    assert r.status == 200, r.body
    body = r.json()
    assert body["warden_estimated"] is True
    assert body["input_tokens"] == tokens("sys", "count me please")

    sdk = warden.anthropic().messages.count_tokens(model="fast", messages=[{"role": "user", "content": "abcdefgh"}])
    assert sdk.input_tokens == 2
    assert sdk.model_extra["warden_estimated"] is True


def test_count_tokens_estimate_includes_tools(warden):
    plain = warden.anthropic().messages.count_tokens(model="fast", messages=user("q"))
    with_tools = warden.anthropic().messages.count_tokens(model="fast", messages=user("q"), tools=[WEATHER_TOOL_ANTHROPIC])
    assert with_tools.input_tokens > plain.input_tokens


def test_models_list_anthropic_shape(warden):
    ids = [m.id for m in warden.anthropic().models.list()]
    assert "claude-fast" in ids and "fast" in ids
    limited = [m.id for m in warden.anthropic(key=LIMITED_KEY).models.list()]
    assert limited == ["fast"]


def test_x_api_key_and_bearer_both_authenticate(warden):
    body = {"model": "claude-fast", "max_tokens": 20, "messages": user("auth")}
    via_x_api_key = warden.request("POST", "/v1/messages", body, key=None, headers={"x-api-key": CI_KEY})
    assert via_x_api_key.status == 200, via_x_api_key.body
    via_bearer = warden.request("POST", "/v1/messages", body)
    assert via_bearer.status == 200, via_bearer.body
    wrong = warden.request("POST", "/v1/messages", body, key=None, headers={"x-api-key": "wk-wrong"})
    assert wrong.status == 401
    assert wrong.json()["error"]["type"] == "authentication_error"
