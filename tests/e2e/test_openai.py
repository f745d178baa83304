"""The OpenAI API surface, driven with the official `openai` SDK."""

from __future__ import annotations

import json
import math
import re
import uuid

import openai
import pytest

from conftest import (
    CI_KEY,
    LIMITED_KEY,
    UPSTREAM_KEY,
    WEATHER_ARGS,
    WEATHER_TOOL_OPENAI,
    tokens,
)

DECIMAL = re.compile(r"^\d+(\.\d+)?$")

LOOKUP_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    },
}


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


# ---------------------------------------------------------------------------------------------------
# Plain completions


def test_chat_completion_text_usage_and_headers(warden):
    client = warden.openai()
    raw = client.chat.completions.with_raw_response.create(model="fast", messages=user("hello world"))
    r = raw.parse()
    assert r.choices[0].message.content == "Echo: hello world"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens == tokens("hello world")
    assert r.usage.completion_tokens == tokens("Echo: hello world")
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens

    h = raw.headers
    assert re.fullmatch(r"[\x21-\x7e]{1,128}", h["x-request-id"])
    assert h["x-warden-model"] == "fast"
    assert h["x-warden-attempts"] == "1"
    assert DECIMAL.match(h["x-warden-overhead-ms"]), h["x-warden-overhead-ms"]
    assert float(h["x-warden-overhead-ms"]) >= 0


def test_usage_counts_system_and_every_message(warden):
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question, longer"},
    ]
    r = warden.openai().chat.completions.create(model="fast", messages=messages)
    assert r.choices[0].message.content == "Echo: second question, longer"
    assert r.usage.prompt_tokens == tokens(*[m["content"] for m in messages])
    assert r.usage.completion_tokens == tokens("Echo: second question, longer")


def test_content_parts_and_unicode(warden):
    text = "naïve café — 日本語 🎉"
    messages = [{"role": "user", "content": [{"type": "text", "text": "part one "}, {"type": "text", "text": text}]}]
    r = warden.openai().chat.completions.create(model="fast", messages=messages)
    assert r.choices[0].message.content.endswith(text)
    assert r.usage.prompt_tokens == tokens("part one ", text)


def test_access_log_line_describes_the_request(warden):
    rid = "e2e-" + uuid.uuid4().hex
    raw = warden.openai().chat.completions.with_raw_response.create(
        model="fast", messages=user("log me"), extra_headers={"x-request-id": rid}
    )
    assert raw.headers["x-request-id"] == rid
    line = warden.wait_access(rid)
    assert line["method"] == "POST"
    assert line["path"] == "/v1/chat/completions"
    assert line["api"] == "openai"
    assert line["key"] == "ci"
    assert line["team"] == "research"
    assert line["model"] == "fast"
    assert "served_model" not in line
    assert line["deployment"] == "local/gpt-4o-mini"
    assert line["attempts"] == 1
    assert line["status"] == 200
    assert "error" not in line
    assert line["prompt_tokens"] == tokens("log me")
    assert line["completion_tokens"] == tokens("Echo: log me")
    assert not line.get("usage_estimated", False)
    assert not line.get("stream", False)
    assert line["latency_ms"] >= line["overhead_ms"] >= 0
    # Never prompt text, never keys.
    text = json.dumps(line)
    assert "log me" not in text
    assert CI_KEY not in text and UPSTREAM_KEY not in text


@pytest.mark.parametrize("bad_id", ["has space", "x" * 200, 'quote"d'])
def test_unusable_client_request_id_is_replaced(warden, bad_id):
    raw = warden.openai().chat.completions.with_raw_response.create(
        model="fast", messages=user("hi"), extra_headers={"x-request-id": bad_id}
    )
    rid = raw.headers["x-request-id"]
    assert rid != bad_id
    assert re.fullmatch(r"[\x21-\x7e]{1,128}", rid)


def test_request_ids_are_unique(warden):
    client = warden.openai()
    ids = {
        client.chat.completions.with_raw_response.create(model="fast", messages=user("x")).headers["x-request-id"]
        for _ in range(5)
    }
    assert len(ids) == 5


# ---------------------------------------------------------------------------------------------------
# What reaches the upstream


def test_upstream_gets_provider_key_and_upstream_model_name(warden, mock):
    marker = "marker-" + uuid.uuid4().hex
    warden.openai().chat.completions.create(model="fast", messages=user(marker))
    entry = mock.last_request("/v1/chat/completions", lambda e: marker in json.dumps(e["body"]))
    assert entry["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert entry["body"]["model"] == "gpt-4o-mini"
    assert CI_KEY not in json.dumps(entry)


def test_non_streaming_request_is_forwarded_without_a_stream_field(warden, mock):
    """Warden must not add fields the client did not send (e.g. `stream: false`)."""
    marker = "marker-" + uuid.uuid4().hex
    warden.openai().chat.completions.create(model="fast", messages=user(marker))
    body = mock.last_request("/v1/chat/completions", lambda e: marker in json.dumps(e["body"]))["body"]
    assert "stream" not in body
    assert "stream_options" not in body


def test_unknown_and_optional_fields_pass_through_to_openai_upstream(warden, mock):
    marker = "marker-" + uuid.uuid4().hex
    r = warden.openai().chat.completions.create(
        model="fast",
        messages=user(marker),
        seed=42,
        user="end-user-7",
        stop=["\n\n", "END"],
        temperature=0.25,
        response_format={"type": "json_object"},
        extra_body={"logit_bias": {"50256": -100}, "x_custom_field": {"nested": [1, 2, 3]}},
    )
    assert r.choices[0].message.content == "Echo: " + marker
    body = mock.last_request("/v1/chat/completions", lambda e: marker in json.dumps(e["body"]))["body"]
    assert body["logit_bias"] == {"50256": -100}
    assert body["x_custom_field"] == {"nested": [1, 2, 3]}
    assert body["seed"] == 42
    assert body["user"] == "end-user-7"
    assert body["stop"] == ["\n\n", "END"]
    assert body["temperature"] == 0.25
    assert body["response_format"] == {"type": "json_object"}


def test_n_choices(warden):
    r = warden.openai().chat.completions.create(model="fast", messages=user("two please"), n=2)
    assert [c.index for c in r.choices] == [0, 1]
    assert all(c.message.content == "Echo: two please" for c in r.choices)
    assert r.usage.completion_tokens == 2 * tokens("Echo: two please")


def test_max_tokens_gives_finish_reason_length(warden):
    r = warden.openai().chat.completions.create(
        model="fast", messages=user("a rather long message that will not fit"), max_tokens=2
    )
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens <= 2
    # The mock cuts its answer at max_tokens × 4 scalars.
    assert r.choices[0].message.content == "Echo: a "


# ---------------------------------------------------------------------------------------------------
# Tools


def test_tool_choice_required_returns_a_tool_call(warden):
    r = warden.openai().chat.completions.create(
        model="fast", messages=user("weather?"), tools=[WEATHER_TOOL_OPENAI, LOOKUP_TOOL], tool_choice="required"
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == WEATHER_ARGS


def test_tool_choice_naming_a_function(warden):
    r = warden.openai().chat.completions.create(
        model="fast",
        messages=user("look it up"),
        tools=[WEATHER_TOOL_OPENAI, LOOKUP_TOOL],
        tool_choice={"type": "function", "function": {"name": "lookup"}},
    )
    call = r.choices[0].message.tool_calls[0]
    assert call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"q": "example"}


def test_tool_choice_auto_answers_with_text(warden):
    r = warden.openai().chat.completions.create(
        model="fast", messages=user("just talk"), tools=[WEATHER_TOOL_OPENAI], tool_choice="auto"
    )
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == "Echo: just talk"
    assert not r.choices[0].message.tool_calls


def test_tool_result_round_trip(warden):
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
        {"role": "user", "content": "thanks, summarise"},
    ]
    r = warden.openai().chat.completions.create(model="fast", messages=messages, tools=[WEATHER_TOOL_OPENAI])
    assert r.choices[0].message.content == "Echo: thanks, summarise"
    assert r.usage.prompt_tokens == tokens("weather in Paris?", "sunny, 21C", "thanks, summarise")


# ---------------------------------------------------------------------------------------------------
# Streaming


def test_stream_text_chunks_and_no_usage_unless_asked(warden, mock):
    marker = "m" + uuid.uuid4().hex[:8]
    stream = warden.openai().chat.completions.create(model="fast", messages=user(f"a b {marker}"), stream=True)
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert pieces == ["Echo: ", "a ", "b ", marker]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    # The client did not ask for usage: no usage chunk may reach it, and no chunk without choices.
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)
    # ...but Warden asked the upstream for it, for its own accounting.
    body = mock.last_request("/v1/chat/completions", lambda e: marker in json.dumps(e["body"]))["body"]
    assert body["stream"] is True
    assert body["stream_options"]["include_usage"] is True


def test_stream_with_include_usage_ends_with_usage_and_warden_report(warden):
    rid = "e2e-" + uuid.uuid4().hex
    raw = warden.openai().chat.completions.with_raw_response.create(
        model="fast",
        messages=user("count these words"),
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-request-id": rid},
    )
    assert raw.headers["x-request-id"] == rid
    assert raw.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw.parse())
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.prompt_tokens == tokens("count these words")
    assert last.usage.completion_tokens == tokens("Echo: count these words")
    report = last.model_extra["warden"]
    assert report["request_id"] == rid
    assert float(report["overhead_ms"]) >= 0
    assert sum(1 for c in chunks if c.usage is not None) == 1
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: count these words"

    line = warden.wait_access(rid)
    assert line["stream"] is True
    assert line["status"] == 200
    assert line["prompt_tokens"] == tokens("count these words")
    assert line["completion_tokens"] == tokens("Echo: count these words")


def test_stream_raw_sse_ends_with_done(warden):
    r = warden.request(
        "POST",
        "/v1/chat/completions",
        {"model": "fast", "messages": user("raw stream"), "stream": True},
    )
    assert r.status == 200
    text = r.body.decode()
    frames = [f for f in text.split("\n\n") if f.strip()]
    assert frames[-1].strip() == "data: [DONE]"
    assert text.count("[DONE]") == 1
    for f in frames[:-1]:
        assert f.startswith("data: ")
        json.loads(f[len("data: ") :])


def test_stream_tool_call_deltas(warden):
    stream = warden.openai().chat.completions.create(
        model="fast",
        messages=user("weather?"),
        tools=[WEATHER_TOOL_OPENAI],
        tool_choice="required",
        stream=True,
        stream_options={"include_usage": True},
    )
    name, call_id, args, finish = None, None, "", None
    deltas = 0
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        for tc in choice.delta.tool_calls or []:
            assert tc.index == 0
            deltas += 1
            if tc.id:
                call_id = tc.id
            if tc.function and tc.function.name:
                name = tc.function.name
            if tc.function and tc.function.arguments:
                args += tc.function.arguments
        if choice.finish_reason:
            finish = choice.finish_reason
    assert deltas >= 2, "arguments should arrive in more than one delta"
    assert call_id and name == "get_weather"
    assert json.loads(args) == WEATHER_ARGS
    assert finish == "tool_calls"


# ---------------------------------------------------------------------------------------------------
# OpenAI client → Anthropic upstream (claude-fast)


def test_openai_client_on_anthropic_deployment(warden, mock):
    marker = "m" + uuid.uuid4().hex[:8]
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"hi {marker}"}]
    r = warden.openai().chat.completions.create(model="claude-fast", messages=messages)
    assert r.choices[0].message.content == f"Echo: hi {marker}"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens == tokens("Be brief.", f"hi {marker}")
    assert r.usage.completion_tokens == tokens(f"Echo: hi {marker}")

    entry = mock.last_request("/v1/messages", lambda e: marker in json.dumps(e["body"]))
    assert entry["headers"]["x-api-key"] == UPSTREAM_KEY
    assert "authorization" not in entry["headers"]
    assert entry["headers"].get("anthropic-version")
    body = entry["body"]
    assert body["model"] == "claude-haiku"
    assert body["max_tokens"] == 4096  # server.default_max_tokens: Anthropic requires one
    assert "Be brief." in json.dumps(body.get("system"))
    assert all(m["role"] != "system" for m in body["messages"])


def test_openai_client_on_anthropic_deployment_tool_calls(warden, mock):
    r = warden.openai().chat.completions.create(
        model="claude-fast", messages=user("weather?"), tools=[WEATHER_TOOL_OPENAI], tool_choice="required"
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == WEATHER_ARGS

    body = mock.last_request("/v1/messages", lambda e: "tools" in e["body"])["body"]
    assert body["tools"][0]["name"] == "get_weather"
    assert body["tools"][0]["input_schema"] == WEATHER_TOOL_OPENAI["function"]["parameters"]
    assert body["tool_choice"]["type"] == "any"


def test_openai_client_on_anthropic_deployment_length(warden):
    r = warden.openai().chat.completions.create(
        model="claude-fast", messages=user("this reply will be cut short"), max_tokens=2
    )
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens <= 2


def test_openai_client_on_anthropic_deployment_tool_result_round_trip(warden):
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
        {"role": "user", "content": "so?"},
    ]
    r = warden.openai().chat.completions.create(model="claude-fast", messages=messages, tools=[WEATHER_TOOL_OPENAI])
    assert r.choices[0].message.content == "Echo: so?"
    assert r.usage.prompt_tokens == tokens("weather in Paris?", "sunny", "so?")


def test_openai_stream_on_anthropic_deployment(warden):
    rid = "e2e-" + uuid.uuid4().hex
    stream = warden.openai().chat.completions.create(
        model="claude-fast",
        messages=user("one two three"),
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-request-id": rid},
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert pieces == ["Echo: ", "one ", "two ", "three"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1
    assert usage_chunks[0] is chunks[-1]
    assert usage_chunks[0].usage.prompt_tokens == tokens("one two three")
    assert usage_chunks[0].usage.completion_tokens == tokens("Echo: one two three")
    assert usage_chunks[0].model_extra["warden"]["request_id"] == rid


def test_openai_stream_on_anthropic_deployment_without_usage(warden):
    chunks = list(
        warden.openai().chat.completions.create(model="claude-fast", messages=user("quiet please"), stream=True)
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: quiet please"
    assert all(c.usage is None for c in chunks)


def test_openai_stream_tool_calls_on_anthropic_deployment(warden):
    stream = warden.openai().chat.completions.create(
        model="claude-fast",
        messages=user("weather?"),
        tools=[WEATHER_TOOL_OPENAI],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    name, args, finish = None, "", None
    for chunk in stream:
        if not chunk.choices:
            continue
        for tc in chunk.choices[0].delta.tool_calls or []:
            if tc.function and tc.function.name:
                name = tc.function.name
            if tc.function and tc.function.arguments:
                args += tc.function.arguments
        finish = chunk.choices[0].finish_reason or finish
    assert name == "get_weather"
    assert json.loads(args) == WEATHER_ARGS
    assert finish == "tool_calls"


# ---------------------------------------------------------------------------------------------------
# Embeddings and models


def test_embeddings(warden, mock):
    raw = warden.openai().embeddings.with_raw_response.create(model="fast", input=["alpha", "beta", "alpha"])
    r = raw.parse()
    assert [d.index for d in r.data] == [0, 1, 2]
    vectors = [d.embedding for d in r.data]
    assert all(len(v) == 256 for v in vectors)
    for v in vectors:
        assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-6)
    assert vectors[0] == vectors[2]
    assert vectors[0] != vectors[1]
    assert r.usage.prompt_tokens == tokens("alpha", "beta", "alpha")
    assert raw.headers["x-warden-model"] == "fast"
    assert DECIMAL.match(raw.headers["x-warden-overhead-ms"])
    entry = mock.last_request("/v1/embeddings")
    assert entry["body"]["model"] == "gpt-4o-mini"
    assert entry["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"


def test_embeddings_dimensions_and_single_input(warden):
    r = warden.openai().embeddings.create(model="fast", input="one text", dimensions=64)
    assert len(r.data) == 1
    assert len(r.data[0].embedding) == 64
    again = warden.openai().embeddings.create(model="fast", input="one text", dimensions=64)
    assert again.data[0].embedding == r.data[0].embedding


def test_models_list_and_retrieve(warden):
    client = warden.openai()
    ids = [m.id for m in client.models.list()]
    for name in ["fast", "claude-fast", "flaky", "gone", "small-ctx"]:
        assert name in ids
    assert len(ids) == len(set(ids))
    m = client.models.retrieve("claude-fast")
    assert m.id == "claude-fast"
    assert m.object == "model"


def test_models_list_only_shows_what_the_key_may_use(warden):
    client = warden.openai(key=LIMITED_KEY)
    assert [m.id for m in client.models.list()] == ["fast"]
    assert client.models.retrieve("fast").id == "fast"
    with pytest.raises(openai.PermissionDeniedError):
        client.models.retrieve("claude-fast")


def test_retrieve_unknown_model(warden):
    with pytest.raises(openai.NotFoundError) as e:
        warden.openai().models.retrieve("no-such-model")
    assert e.value.code == "model_not_found"
    assert e.value.response.headers.get("x-should-retry") == "false"


def test_limited_key_can_use_its_model(warden):
    r = warden.openai(key=LIMITED_KEY).chat.completions.create(model="fast", messages=user("allowed"))
    assert r.choices[0].message.content == "Echo: allowed"


# ---------------------------------------------------------------------------------------------------
# Health


def test_health_live_and_ready(warden):
    live = warden.request("GET", "/health/live", key=None)
    assert live.status == 200
    ready = warden.request("GET", "/health/ready", key=None)
    assert ready.status == 200, ready.body
    body = ready.json()
    assert body["status"] == "ready"
    assert body["store"]["ok"] is True
    assert body["providers"]["local"]["ok"] is True
    assert body["providers"]["claude"]["ok"] is True
    assert body["providers"]["dead"]["ok"] is False
    assert body["models"]["fast"]["ok"] is True
    assert body["models"]["fast"]["required"] is True
    assert body["models"]["gone"]["ok"] is False
    assert body["models"]["gone"]["required"] is False
