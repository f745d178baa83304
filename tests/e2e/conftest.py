"""Shared machinery for Warden's end-to-end tests.

Every test drives the real `warden` binary (path from the env var WARDEN_BIN, default
`.build/release/warden`) and, where it needs an upstream, the binary's own deterministic mock
(`warden mock-upstream`). Processes run in temporary directories on free loopback ports and are always
killed in fixture teardown.

Fixtures
--------
- ``mock``            module scope: one `warden mock-upstream` process.
- ``warden``          module scope: one `warden serve` on the standard config (see ``standard_config``)
                      pointing at ``mock``.
- ``start_mock``      function scope factory: extra mock processes (e.g. with ``latency_ms``).
- ``start_warden``    function scope factory: extra Warden processes (own config, own data dir) for
                      tests that kill, reload or otherwise disturb the server.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import anthropic
import openai
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Keys used by the standard config. Static keys may be any text; these look like real ones.
CI_KEY = "wk-e2e-ci-" + secrets.token_hex(16)
LIMITED_KEY = "wk-e2e-limited-" + secrets.token_hex(16)
UPSTREAM_KEY = "sk-upstream-e2e-" + secrets.token_hex(8)

STARTUP_TIMEOUT = 30.0  # a debug build on a busy 2-core machine can be slow to start
REQUEST_TIMEOUT = 30.0
LOG_TIMEOUT = 10.0


# ---------------------------------------------------------------------------------------------------
# The binary


def _resolve_binary() -> Path:
    raw = os.environ.get("WARDEN_BIN", ".build/release/warden")
    path = Path(raw)
    if not path.is_absolute():
        cwd_path = Path.cwd() / path
        path = cwd_path if cwd_path.exists() else REPO_ROOT / path
    return path.resolve()


WARDEN_BIN = _resolve_binary()


def pytest_configure(config: pytest.Config) -> None:
    if not (WARDEN_BIN.is_file() and os.access(WARDEN_BIN, os.X_OK)):
        raise pytest.UsageError(
            f"warden binary not found or not executable: {WARDEN_BIN} (set WARDEN_BIN, e.g. .build/release/warden)"
        )


def pytest_report_header(config: pytest.Config) -> str:
    return f"warden binary: {WARDEN_BIN}"


# ---------------------------------------------------------------------------------------------------
# Processes


_ALL_PROCS: list["Proc"] = []


def _die_with_parent() -> None:
    """In the child before exec: have Linux kill it if the test runner dies (no orphans after a crash)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Proc:
    """A child process whose stdout/stderr lines are collected by background threads."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None, name: str = "proc"):
        self.args = [str(a) for a in args]
        self.name = name
        self.cwd = Path(cwd)
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._cond = threading.Condition()
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.popen = subprocess.Popen(
            self.args,
            cwd=str(cwd),
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a signal to the test runner's group never reaches it, and vice versa
            preexec_fn=_die_with_parent,
        )
        _ALL_PROCS.append(self)
        self._threads = [
            threading.Thread(target=self._pump, args=(self.popen.stdout, self.stdout_lines), daemon=True),
            threading.Thread(target=self._pump, args=(self.popen.stderr, self.stderr_lines), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _pump(self, stream, sink: list[str]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with self._cond:
                sink.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    # -- output

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def stdout(self) -> str:
        with self._cond:
            return "\n".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        with self._cond:
            return "\n".join(self.stderr_lines)

    def json_lines(self) -> list[dict]:
        """Every stdout line that is a JSON object."""
        with self._cond:
            lines = list(self.stdout_lines)
        out = []
        for line in lines:
            if line.startswith("{"):
                try:
                    value = json.loads(line)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    out.append(value)
        return out

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float, stream: str = "stdout") -> str:
        """The first line (old or new) that satisfies `predicate`; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        sink = self.stdout_lines if stream == "stdout" else self.stderr_lines
        with self._cond:
            while True:
                for line in sink:
                    if predicate(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if self.popen.poll() is not None and not any(t.is_alive() for t in self._threads):
                    break
                self._cond.wait(min(remaining, 0.2))
        raise AssertionError(
            f"{self.name}: no matching {stream} line within {timeout}s "
            f"(exit code {self.popen.poll()}).\n--- stdout ---\n{self.tail()}\n--- stderr ---\n{self.tail('stderr')}"
        )

    def wait_for_json(self, predicate: Callable[[dict], bool], timeout: float = LOG_TIMEOUT) -> dict:
        """The first JSON log line that satisfies `predicate`."""

        def matches(line: str) -> bool:
            if not line.startswith("{"):
                return False
            try:
                value = json.loads(line)
            except ValueError:
                return False
            return isinstance(value, dict) and predicate(value)

        return json.loads(self.wait_for_line(matches, timeout))

    def tail(self, stream: str = "stdout", n: int = 40) -> str:
        with self._cond:
            lines = self.stdout_lines if stream == "stdout" else self.stderr_lines
            return "\n".join(lines[-n:])

    # -- lifetime

    def poll(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float) -> int:
        rc = self.popen.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=5)
        return rc

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.poll()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


@pytest.fixture(scope="session", autouse=True)
def _kill_leftover_processes():
    yield
    for p in _ALL_PROCS:
        p.kill()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------------
# Raw HTTP


class RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers  # lowercase names
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"RawResponse({self.status}, {self.headers}, {self.body[:500]!r})"


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | str | dict | list | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> RawResponse:
    """One request on a fresh connection, with the stdlib only (no SDK in the way)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return RawResponse(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def read_http_response(sock: socket.socket, timeout: float) -> RawResponse:
    """Reads one HTTP/1.1 response (Content-Length or until close) from a raw socket."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    data = b""
    while b"\r\n\r\n" not in data:
        if time.monotonic() > deadline:
            raise AssertionError(f"no complete response head within {timeout}s; got {data!r}")
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines and lines[0].startswith("HTTP/1."), f"not an HTTP response: {data!r}"
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    body = rest
    while length < 0 or len(body) < length:
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        body += chunk
    return RawResponse(status, headers, body[:length] if length >= 0 else body)


# ---------------------------------------------------------------------------------------------------
# The mock upstream


class Mock:
    def __init__(self, proc: Proc, port: int):
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def journal(self) -> dict:
        r = http_request(self.port, "GET", "/mock/journal", timeout=10)
        assert r.status == 200, f"GET /mock/journal answered {r.status} (mock binary too old?): {r.body[:300]!r}"
        return r.json()

    def recent(self, path: str | None = None) -> list[dict]:
        entries = self.journal()["recent"]
        return [e for e in entries if path is None or e["path"] == path]

    def last_request(self, path: str, predicate: Callable[[dict], bool] = lambda e: True) -> dict:
        matching = [e for e in self.recent(path) if predicate(e)]
        assert matching, f"the mock saw no matching request to {path}"
        return matching[-1]


def launch_mock(workdir: Path, latency_ms: int = 0, extra: Iterable[str] = ()) -> Mock:
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    args = [WARDEN_BIN, "mock-upstream", "--port", "0"]
    if latency_ms:
        args += ["--latency-ms", str(latency_ms)]
    args += list(extra)
    proc = Proc(args, cwd=workdir, name="mock-upstream")
    line = proc.wait_for_line(lambda l: "mock upstream listening on" in l, STARTUP_TIMEOUT)
    port = int(re.search(r"http://[^:]+:(\d+)", line).group(1))
    return Mock(proc, port)


# ---------------------------------------------------------------------------------------------------
# Configs


def standard_config(
    mock_port: int,
    port: int,
    *,
    extra_models: str = "",
    extra_providers: str = "",
    breaker_failures: int = 100,
    drain_delay: str = "0s",
    include_failing_required: bool = False,
    extra_sections: str = "",
) -> str:
    """The configuration most tests run against.

    Models whose upstream is broken on purpose are `required: false` so `/health/ready` stays 200.
    `breaker_failures` is high so that repeated failure tests never open a circuit by accident; the
    breaker test starts its own server with 3.
    """
    failing_required = ""
    if include_failing_required:
        failing_required = '  must-have: {deployments: [{provider: dead, model: x}], retries: 0}\n'
    return f"""\
listen: 127.0.0.1:{port}
data_dir: ./data
keys:
  - {{name: ci, team: research, key: file:./ci-key}}
  - {{name: limited, team: t2, key: file:./limited-key, models: [fast]}}
providers:
  local:   {{type: openai, base_url: "http://127.0.0.1:{mock_port}/v1", api_key: file:./upstream-key}}
  claude:  {{type: anthropic, base_url: "http://127.0.0.1:{mock_port}", api_key: file:./upstream-key}}
  dead:    {{type: openai, base_url: "http://127.0.0.1:1/v1"}}
{extra_providers}models:
  fast:    {{deployments: [{{provider: local, model: gpt-4o-mini}}]}}
  claude-fast: {{deployments: [{{provider: claude, model: claude-haiku}}]}}
  flaky:   {{deployments: [{{provider: local, model: fail-503}}], fallbacks: [fast], retries: 1, required: false}}
  limited429: {{deployments: [{{provider: local, model: fail-429}}], retries: 1, required: false}}
  slow:    {{deployments: [{{provider: local, model: slow-3000}}], timeout: {{first_byte: 1s, total: 5s}}, retries: 0, required: false}}
  slow2:   {{deployments: [{{provider: local, model: slow-4000}}], timeout: {{first_byte: 10s, total: 20s}}, retries: 0, required: false}}
  dropper: {{deployments: [{{provider: local, model: drop-midstream}}], retries: 0, required: false}}
  broken:  {{deployments: [{{provider: local, model: bad-json}}], retries: 0, required: false}}
  small-ctx: {{deployments: [{{provider: local, model: ctx-5}}], context_fallbacks: [fast], retries: 0, required: false}}
  tiny-ctx:  {{deployments: [{{provider: local, model: ctx-5}}], retries: 0, required: false}}
  claude-tiny-ctx: {{deployments: [{{provider: claude, model: ctx-5}}], retries: 0, required: false}}
  gone:    {{deployments: [{{provider: dead, model: x}}], retries: 1, required: false}}
{failing_required}{extra_models}server: {{max_body_size: 64KiB, body_timeout: 2s}}
reliability: {{backoff_initial: 50ms, backoff_max: 200ms, breaker_failures: {breaker_failures}, breaker_cooldown: 30s}}
shutdown: {{drain_delay: {drain_delay}, timeout: 10s}}
log: {{level: info}}
{extra_sections}"""


def stream_text(stream) -> tuple[str, list[str]]:
    """The text and the finish reasons of an OpenAI SDK stream."""
    text, reasons = "", []
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            if choice.finish_reason:
                reasons.append(choice.finish_reason)
    return text, reasons


def write_secret_files(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "ci-key").write_text(CI_KEY + "\n")
    (workdir / "limited-key").write_text(LIMITED_KEY + "\n")
    (workdir / "upstream-key").write_text(UPSTREAM_KEY + "\n")


# ---------------------------------------------------------------------------------------------------
# Warden


class Warden:
    def __init__(self, proc: Proc, port: int, workdir: Path, config_path: Path | None):
        self.proc = proc
        self.port = port
        self.workdir = workdir
        self.config_path = config_path
        self.url = f"http://127.0.0.1:{port}"

    # -- clients

    def openai(self, key: str | None = CI_KEY, **kwargs) -> openai.OpenAI:
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key, **kwargs)

    def anthropic(self, key: str | None = CI_KEY, **kwargs) -> anthropic.Anthropic:
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return anthropic.Anthropic(base_url=self.url, api_key=key, **kwargs)

    def request(self, method: str, path: str, body=None, headers=None, key: str | None = CI_KEY, **kw) -> RawResponse:
        hdrs = {"Authorization": f"Bearer {key}"} if key else {}
        hdrs.update(headers or {})
        return http_request(self.port, method, path, body=body, headers=hdrs, **kw)

    def chat(self, model: str = "fast", text: str = "ping", **kw) -> RawResponse:
        """A minimal raw OpenAI chat completion."""
        return self.request(
            "POST", "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": text}]}, **kw
        )

    # -- logs

    def access_log(self) -> list[dict]:
        return [l for l in self.proc.json_lines() if l.get("msg") == "request"]

    def wait_access(self, request_id: str, timeout: float = LOG_TIMEOUT) -> dict:
        """The access-log line of one request (logs are flushed every ~100 ms)."""
        return self.proc.wait_for_json(lambda l: l.get("msg") == "request" and l.get("request_id") == request_id, timeout)

    def wait_log(self, msg_contains: str, timeout: float = LOG_TIMEOUT) -> dict:
        return self.proc.wait_for_json(lambda l: msg_contains in str(l.get("msg", "")), timeout)

    def stop(self, timeout: float = 15.0) -> int | None:
        return self.proc.stop(timeout)


def launch_warden(
    workdir: Path,
    config_text: str | None = None,
    *,
    args: Iterable[str] = (),
    env: dict[str, str] | None = None,
    wait: bool = True,
) -> Warden:
    """Starts `warden serve` in `workdir`. With `config_text` it is written to workdir/warden.yaml (plus the
    secret files the standard config names); without it the embedded default runs (pass --listen/--data-dir
    in `args`)."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = None
    cmd: list[Any] = [WARDEN_BIN, "serve"]
    if config_text is not None:
        write_secret_files(workdir)
        config_path = workdir / "warden.yaml"
        config_path.write_text(config_text)
        cmd += ["--config", config_path]
    cmd += list(args)
    proc = Proc(cmd, cwd=workdir, env=env, name="warden")
    if not wait:
        return Warden(proc, 0, workdir, config_path)
    line = proc.wait_for_json(lambda l: l.get("msg") == "warden listening", STARTUP_TIMEOUT)
    port = int(line["warden.listen"].rsplit(":", 1)[1])
    return Warden(proc, port, workdir, config_path)


# ---------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def mock(tmp_path_factory) -> Iterable[Mock]:
    m = launch_mock(tmp_path_factory.mktemp("mock"))
    yield m
    m.proc.kill()


@pytest.fixture(scope="module")
def warden(mock, tmp_path_factory) -> Iterable[Warden]:
    workdir = tmp_path_factory.mktemp("warden")
    w = launch_warden(workdir, standard_config(mock.port, free_port()))
    yield w
    w.proc.stop(timeout=10)
    w.proc.kill()


@pytest.fixture
def start_mock(tmp_path) -> Iterable[Callable[..., Mock]]:
    started: list[Mock] = []

    def start(latency_ms: int = 0) -> Mock:
        m = launch_mock(tmp_path / f"mock{len(started)}", latency_ms=latency_ms)
        started.append(m)
        return m

    yield start
    for m in started:
        m.proc.kill()


@pytest.fixture
def start_warden(tmp_path) -> Iterable[Callable[..., Warden]]:
    started: list[Warden] = []

    def start(config_text: str | None = None, *, workdir: Path | None = None, **kw) -> Warden:
        w = launch_warden(workdir or tmp_path / f"warden{len(started)}", config_text, **kw)
        started.append(w)
        return w

    yield start
    for w in started:
        w.proc.kill()


# ---------------------------------------------------------------------------------------------------
# Small helpers


def tokens(*texts: str) -> int:
    """The mock's usage rule: ceil(Unicode scalars / 4) of all the texts together."""
    return math.ceil(sum(len(t) for t in texts) / 4)


def sse_events(body: bytes) -> list[tuple[str | None, str]]:
    """Parses an SSE body into (event name, data) pairs."""
    events = []
    for block in body.decode().split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data:
            events.append((name, "\n".join(data)))
    return events


_TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
    "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}


def tcp_connections_to(port: int) -> list[str]:
    """States of this machine's TCP sockets whose remote port is `port` (Linux /proc/net/tcp*).

    Used to see whether Warden still holds a connection to an upstream: a cancelled upstream call closes
    its connection (an HTTP/1.1 connection cannot be reused halfway through a request)."""
    states = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port:
                states.append(_TCP_STATES.get(fields[3], fields[3]))
    return states


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.1, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(message or f"condition not met within {timeout}s (last value {last!r})")


WEATHER_TOOL_OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "detailed": {"type": "boolean"},
                "where": {
                    "type": "object",
                    "properties": {"lat": {"type": "number"}, "country": {"type": "string"}, "note": {"type": "string"}},
                    "required": ["lat", "country"],
                },
                "optional_note": {"type": "string"},
            },
            "required": ["city", "days", "unit", "detailed", "where"],
        },
    },
}

WEATHER_ARGS = {"city": "example", "days": 1, "unit": "celsius", "detailed": True, "where": {"lat": 1, "country": "example"}}

WEATHER_TOOL_ANTHROPIC = {
    "name": WEATHER_TOOL_OPENAI["function"]["name"],
    "description": WEATHER_TOOL_OPENAI["function"]["description"],
    "input_schema": WEATHER_TOOL_OPENAI["function"]["parameters"],
}
