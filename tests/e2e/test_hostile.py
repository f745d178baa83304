"""Hostile inputs, from a client and from an upstream: each gets a clear error or is survived, Warden keeps
serving other requests meanwhile, and its peak memory stays bounded.

The hostile upstream is a small HTTP server in this file that misbehaves on purpose, chosen by the
upstream model name Warden sends (each Warden model below points at one behaviour)."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import secrets

from conftest import CI_KEY, free_port, http_request, launch_mock, read_http_response, standard_config

CHAT = "/v1/chat/completions"
ADMIN_KEY = "wadm-hostile-" + secrets.token_hex(16)

# Peak resident memory (VmHWM) Warden may reach over this whole module: bodies of several MiB, a gzip bomb,
# a 20 MiB event and 60 concurrent connections among them. Idle, Warden uses about 40 MiB.
PEAK_RSS_MIB = 160


def completion(model: str, usage: dict | None = None) -> dict:
    return {
        "id": "chatcmpl-hostile", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hostile says hi"}, "finish_reason": "stop"}],
        "usage": usage or {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
    }


class HostileUpstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # readiness probes
        self._send(200, {"object": "list", "data": []})

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        model = body.get("model", "")
        stream = bool(body.get("stream"))
        if model == "retry-1e30":
            self._send(429, {"error": {"message": "slow down", "type": "rate_limit_error"}}, {"Retry-After": "1e30"})
        elif model == "retry-ms-inf":
            self._send(429, {"error": {"message": "slow down", "type": "rate_limit_error"}}, {"retry-after-ms": "inf", "Retry-After": "nan"})
        elif model == "retry-date":
            later = formatdate(time.time() + 3600, usegmt=True)
            self._send(429, {"error": {"message": "slow down", "type": "rate_limit_error"}}, {"Retry-After": later})
        elif model == "huge-usage":
            usage = {"prompt_tokens": 9223372036854775807, "completion_tokens": -9223372036854775808,
                     "total_tokens": 99999999999999999999999, "prompt_tokens_details": {"cached_tokens": 9223372036854775807}}
            self._send(200, completion(model, usage))
        elif model == "duplicate-usage":
            raw = json.dumps(completion(model))[:-1] + ', "usage": {"prompt_tokens": 1, "completion_tokens": 1}}'
            self._send_raw(200, raw.encode(), {"Content-Type": "application/json"})
        elif model == "gzip-bomb":
            bomb = gzip.compress(b"{" + b" " * (200 * 1024 * 1024) + b"}", compresslevel=9)
            self._send_raw(200, bomb, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
        elif model == "huge-body":
            self._send_raw(200, b"[" + b"0," * (40 * 1024 * 1024) + b"0]", {"Content-Type": "application/json"})
        elif model == "huge-event":
            self._stream_raw([b"data: " + b"x" * (20 * 1024 * 1024) + b"\n\n"])
        elif model == "many-lines-event":
            self._stream_raw([b"data: x\n" * (5 * 1024 * 1024) + b"\n"])
        elif model == "fast-stream":
            self._fast_stream(model, total_bytes=int(body.get("metadata", {}).get("bytes", 50 * 1024 * 1024)))
        else:
            self._send(200, completion(model))

    def _send(self, status: int, obj: dict, headers: dict | None = None):
        self._send_raw(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _send_raw(self, status: int, data: bytes, headers: dict):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _stream_raw(self, parts: list[bytes]):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for p in parts:
                self.wfile.write(p)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _fast_stream(self, model: str, total_bytes: int):
        """As fast as the socket takes it: chunk events of 4 KiB of text until `total_bytes` were sent."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        text = "y" * 4096
        event = ("data: " + json.dumps({
            "id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
        }) + "\n\n").encode()
        sent = 0
        try:
            while sent < total_bytes:
                self.wfile.write(event * 16)
                sent += len(event) * 16
            end = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
                   "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(("data: " + json.dumps(end) + "\n\ndata: [DONE]\n\n").encode())
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


@pytest.fixture(scope="module")
def hostile_upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileUpstream)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


BEHAVIOURS = ["retry-1e30", "retry-ms-inf", "retry-date", "huge-usage", "duplicate-usage", "gzip-bomb", "huge-body",
              "huge-event", "many-lines-event", "fast-stream"]


@pytest.fixture(scope="module")
def hostile_warden(hostile_upstream, tmp_path_factory):
    from conftest import launch_warden

    mock = launch_mock(tmp_path_factory.mktemp("hostile-mock"))
    models = "".join(
        f"  h-{b}: {{deployments: [{{provider: hostile, model: {b}}}], retries: 1, required: false,"
        f" pricing: {{input_per_mtok: 1, output_per_mtok: 2}}}}\n"
        for b in BEHAVIOURS
    )
    config = standard_config(
        mock.port, free_port(), extra_models=models,
        extra_providers=f'  hostile: {{type: openai, base_url: "http://127.0.0.1:{hostile_upstream}/v1"}}\n',
        extra_sections="admin_key: file:./admin-key\n",
    )
    # Bodies up to 8 MiB (the default), headers and connections limited so the tests can reach the limits.
    config = config.replace(
        "server: {max_body_size: 64KiB, body_timeout: 2s}",
        "server: {max_body_size: 8MiB, body_timeout: 5s, header_timeout: 2s, max_connections: 40, max_header_count: 50,"
        " max_header_bytes: 16KiB}",
    )
    config = config.replace("reliability: {backoff_initial: 50ms", "reliability: {max_retry_after: 5s, backoff_initial: 50ms")
    workdir = tmp_path_factory.mktemp("hostile-warden")
    (workdir / "admin-key").write_text(ADMIN_KEY + "\n")
    w = launch_warden(workdir, config)
    yield w
    status = open(f"/proc/{w.proc.pid}/status").read()
    peak = int(next(l for l in status.splitlines() if l.startswith("VmHWM")).split()[1]) / 1024
    w.proc.stop(timeout=10)
    w.proc.kill()
    mock.proc.kill()
    assert peak < PEAK_RSS_MIB, f"Warden's peak RSS was {peak:.0f} MiB over the hostile tests (limit {PEAK_RSS_MIB} MiB)"


def assert_alive(w) -> None:
    r = w.chat("fast", "still alive?")
    assert r.status == 200, r
    assert w.proc.poll() is None, "Warden exited"


# ---------------------------------------------------------------------------------------------------
# A hostile upstream


@pytest.mark.parametrize("model", ["h-retry-1e30", "h-retry-ms-inf"])
def test_retry_after_nonsense_is_survived(hostile_warden, model):
    r = hostile_warden.chat(model, "hello")
    assert r.status == 429, r
    assert r.json()["error"]["code"] == "upstream_rate_limited"
    assert_alive(hostile_warden)


def test_retry_after_http_date_beyond_the_maximum_is_not_waited_for(hostile_warden):
    started = time.monotonic()
    r = hostile_warden.chat("h-retry-date", "hello")
    assert r.status == 429, r
    # An hour is beyond reliability.max_retry_after (5s): Warden gives up instead of waiting.
    assert time.monotonic() - started < 5, "Warden waited for a Retry-After beyond max_retry_after"
    assert int(r.headers["retry-after"]) >= 3000, r.headers


def test_absurd_usage_is_clamped_and_priced_without_overflow(hostile_warden):
    r = hostile_warden.chat("h-huge-usage", "hello")
    assert r.status == 200, r
    cost = float(r.headers["x-warden-cost-usd"])
    # At most 10⁹ tokens each way at $1 and $2 per million tokens.
    assert 0 <= cost <= 3000, cost
    line = hostile_warden.wait_access(r.headers["x-request-id"])
    assert line["prompt_tokens"] == 1_000_000_000 and line["completion_tokens"] == 0, line
    assert_alive(hostile_warden)


def test_duplicate_keys_from_the_upstream_are_refused(hostile_warden):
    r = hostile_warden.chat("h-duplicate-usage", "hello")
    assert r.status == 502, r
    assert r.json()["error"]["code"] == "upstream_error"
    assert_alive(hostile_warden)


@pytest.mark.parametrize("model", ["h-gzip-bomb", "h-huge-body"])
def test_oversized_upstream_bodies_fail_the_call_not_the_process(hostile_warden, model):
    r = hostile_warden.chat(model, "hello")
    assert r.status == 502, r
    assert r.json()["error"]["code"] == "upstream_error"
    assert_alive(hostile_warden)


@pytest.mark.parametrize("model", ["h-huge-event", "h-many-lines-event"])
def test_an_oversized_stream_event_ends_the_stream_with_an_error(hostile_warden, model):
    r = hostile_warden.request("POST", CHAT, {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    # Before the first event Warden can still answer with an error status.
    assert r.status == 502, r
    assert "longer than" in r.json()["error"]["message"], r.json()
    assert_alive(hostile_warden)


def test_a_slow_reader_of_a_fast_stream_is_backpressured(hostile_warden):
    """A client that reads nothing for a while: Warden stops reading the upstream instead of buffering."""
    body = json.dumps({"model": "h-fast-stream", "stream": True, "metadata": {"bytes": 50 * 1024 * 1024},
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    sock = socket.create_connection(("127.0.0.1", hostile_warden.port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.sendall(
        f"POST {CHAT} HTTP/1.1\r\nHost: warden\r\nAuthorization: Bearer {CI_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    )
    first = sock.recv(4096)
    assert first.startswith(b"HTTP/1.1 200"), first[:200]
    rss_before = _rss_mib(hostile_warden.proc.pid)
    # Paused: whatever the upstream sends, Warden holds at most its stream buffer for this client.
    deadline = time.monotonic() + 5
    samples = []
    while time.monotonic() < deadline:
        stats = _stats(hostile_warden)
        samples.append(stats["streams"]["buffered_bytes"])
        time.sleep(0.25)
    assert max(samples) < 1024 * 1024, f"Warden buffered {max(samples)} bytes for a paused client"
    # Reading slowly (4 KiB every 10 ms) for a while keeps it bounded too, and memory flat.
    for _ in range(200):
        sock.recv(4096)
        time.sleep(0.01)
    stats = _stats(hostile_warden)
    assert stats["streams"]["buffered_bytes"] < 1024 * 1024, stats
    assert _rss_mib(hostile_warden.proc.pid) < rss_before + 32, "RSS grew while a client read a stream slowly"
    sock.close()
    assert_alive(hostile_warden)


def _stats(w) -> dict:
    r = w.request("GET", "/admin/stats", key=ADMIN_KEY)
    assert r.status == 200, r
    return r.json()


def _rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------------------------------------------
# A hostile client


def test_two_model_keys_are_refused(hostile_warden):
    raw = b'{"model":"fast","model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'
    r = http_request(hostile_warden.port, "POST", CHAT, body=raw, headers={"Authorization": f"Bearer {CI_KEY}"})
    assert r.status == 400, r
    error = r.json()["error"]
    assert error["code"] == "duplicate_key" and error["param"] == "model", error
    assert r.headers.get("x-should-retry") == "false"


def test_a_body_of_distinct_keys_is_answered_at_once_while_others_are_served(hostile_warden):
    members = ",".join(f'"k{i:07d}":1' for i in range(600_000))  # just under 8 MiB
    raw = ('{"model":"fast","messages":[{"role":"user","content":"hi"}],"metadata":{' + members + "}}").encode()
    assert 7 * 1024 * 1024 < len(raw) < 8 * 1024 * 1024
    result = {}

    def send():
        started = time.monotonic()
        result["response"] = http_request(hostile_warden.port, "POST", CHAT, body=raw, headers={"Authorization": f"Bearer {CI_KEY}"})
        result["seconds"] = time.monotonic() - started

    t = threading.Thread(target=send)
    t.start()
    served = 0
    while t.is_alive() and served < 50:
        assert_alive(hostile_warden)
        served += 1
    t.join(timeout=30)
    assert not t.is_alive()
    r = result["response"]
    assert r.status == 400, r
    assert "members" in r.json()["error"]["message"]
    # The minute-long stall this guards against shows up as tens of seconds; a generous bound.
    assert result["seconds"] < 5, f"the body took {result['seconds']:.1f}s to refuse"


@pytest.mark.parametrize(
    "raw,fragment",
    [
        (b'{"model":"fast","messages":[{"role":"user","content":"hi"}],"x":[' + b"0," * 2_500_000 + b"0]}", "values"),
        (b'{"model":"fast","messages":' + b"[" * 5000 + b"]" * 5000 + b"}", "nesting"),
        (b'{"model":"fast","max_tokens":9223372036854775807,"messages":[{"role":"user","content":"hi"}]}', "maximum"),
    ],
    ids=["too-many-values", "too-deep", "max-tokens-int-max"],
)
def test_bodies_past_the_json_bounds_are_refused(hostile_warden, raw, fragment):
    r = http_request(hostile_warden.port, "POST", CHAT, body=raw, headers={"Authorization": f"Bearer {CI_KEY}"})
    assert r.status == 400, r
    assert fragment in r.json()["error"]["message"], r.json()
    assert_alive(hostile_warden)


def test_int64_min_in_a_fingerprinted_body_is_survived(hostile_warden):
    body = {"model": "fast", "seed": -9223372036854775808, "messages": [{"role": "user", "content": "hi"}]}
    r = hostile_warden.request("POST", CHAT, body, headers={"x-warden-approval": "apr_nothing"})
    assert r.status == 404, r
    assert r.json()["error"]["code"] == "approval_not_found"
    assert_alive(hostile_warden)


def test_too_many_or_too_large_headers_get_431(hostile_warden):
    many = {f"x-h{i}": "v" for i in range(60)}
    r = hostile_warden.request("POST", CHAT, {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}, headers=many)
    assert r.status == 431, r
    large = {"x-large": "v" * (20 * 1024)}
    r = hostile_warden.request("POST", CHAT, {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}, headers=large)
    assert r.status == 431, r
    assert r.json()["error"]["code"] == "request_header_fields_too_large"
    assert_alive(hostile_warden)


def test_a_trickled_request_head_is_cut_off(hostile_warden):
    sock = socket.create_connection(("127.0.0.1", hostile_warden.port), timeout=10)
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: warden\r\n")
    started = time.monotonic()
    closed = False
    try:
        while time.monotonic() - started < 8:
            sock.sendall(b"X-Slow: a\r\n")
            time.sleep(0.5)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    if not closed:
        r = read_http_response(sock, timeout=5)
        assert r.status == 408, r
    # header_timeout is 2s: the connection is gone well before the 8 s the client tried.
    assert time.monotonic() - started < 7
    sock.close()
    assert_alive(hostile_warden)


def test_connections_beyond_the_cap_are_refused_and_the_rest_served(hostile_warden):
    from conftest import wait_until

    idle = []
    try:
        for _ in range(45):
            idle.append(socket.create_connection(("127.0.0.1", hostile_warden.port), timeout=10))
        # Connections are admitted in the order the event loops take them, not the order they were opened:
        # whichever ones are past max_connections (40) get a 503 too_many_connections once they speak.
        statuses = []
        for s in idle:
            s.sendall(f"GET /v1/models HTTP/1.1\r\nHost: warden\r\nAuthorization: Bearer {CI_KEY}\r\n\r\n".encode())
        for s in idle:
            r = read_http_response(s, timeout=10)
            statuses.append(r.status)
            if r.status == 503:
                assert r.json()["error"]["code"] == "too_many_connections"
                assert r.headers.get("x-should-retry") == "true"
        # Exactly the connections past the cap are refused (more only if an earlier test's connection was
        # still closing on the server's side).
        assert statuses.count(503) >= 5, statuses
        assert statuses.count(503) + statuses.count(200) == 45, statuses
    finally:
        for s in idle:
            s.close()
    # Once they close, Warden serves again.
    wait_until(lambda: hostile_warden.chat("fast", "after the flood").status == 200, timeout=10)
