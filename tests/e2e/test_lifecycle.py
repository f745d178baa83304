"""Process lifecycle: first start and its key, configuration errors, reloads, readiness, graceful shutdown,
`warden doctor` and `warden demo`. Each test starts its own server(s)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import time

import openai
import pytest

from conftest import (
    CI_KEY,
    UPSTREAM_KEY,
    WARDEN_BIN,
    free_port,
    http_request,
    standard_config,
    wait_until,
    write_secret_files,
)

KEY_RE = re.compile(r"wk-[0-9a-f]{48}")


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def run_warden(args: list, cwd, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [str(WARDEN_BIN), *map(str, args)], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


# ---------------------------------------------------------------------------------------------------
# Embedded default and the first key


def test_first_start_prints_a_key_once_and_later_starts_do_not(start_warden, tmp_path):
    workdir = tmp_path / "embedded"
    port = free_port()
    args = ["--listen", f"127.0.0.1:{port}", "--data-dir", "./data"]

    first = start_warden(None, workdir=workdir, args=args)
    keys = set(KEY_RE.findall(first.proc.stdout))
    assert len(keys) == 1, f"expected exactly one generated key, got {keys}"
    key = keys.pop()
    assert sum(1 for line in first.proc.stdout_lines if line.strip() == key) == 1, "the banner is printed once"
    assert all(key not in json.dumps(line) for line in first.proc.json_lines()), "the key must not be logged"

    client = first.openai(key=key)
    r = client.chat.completions.create(model="mock-small", messages=user("embedded"))
    assert r.choices[0].message.content == "Echo: embedded"
    assert {m.id for m in client.models.list()} == {"mock-small", "mock-large", "mock-flaky"}
    raw = client.chat.completions.with_raw_response.create(model="mock-flaky", messages=user("flaky"))
    assert raw.headers["x-warden-model"] == "mock-small"
    assert raw.parse().choices[0].message.content == "Echo: flaky"
    msg = first.anthropic(key=key).messages.create(model="mock-large", max_tokens=20, messages=user("hi"))
    assert msg.content[0].text == "Echo: hi"

    assert first.stop() == 0
    store = workdir / "data" / "warden.sqlite"
    assert store.exists()
    assert key.encode() not in store.read_bytes(), "only the key's hash may be stored"

    second = start_warden(None, workdir=workdir, args=args)
    assert not KEY_RE.search(second.proc.stdout), "a second start must not generate or print a key"
    r = second.openai(key=key).chat.completions.create(model="mock-small", messages=user("again"))
    assert r.choices[0].message.content == "Echo: again"
    with pytest.raises(openai.AuthenticationError):
        second.openai(key="wk-" + "0" * 48).chat.completions.create(model="mock-small", messages=user("x"))
    assert second.stop() == 0


# ---------------------------------------------------------------------------------------------------
# Configuration errors


BAD_CONFIGS = [
    ("top-level-unknown", "modelz: {}\n", "modelz"),
    (
        "nested-unknown",
        'providers:\n  a: {type: openai, base_url: "http://127.0.0.1:9/v1", bogus_option: 1}\n',
        "providers.a.bogus_option",
    ),
    (
        "model-typo",
        'providers:\n  a: {type: openai, base_url: "http://127.0.0.1:9/v1"}\nmodels:\n  m: {deployments: [{provider: a, model: x}], retires: 2}\n',
        "models.m.retires",
    ),
    (
        "unknown-provider",
        'providers:\n  a: {type: openai, base_url: "http://127.0.0.1:9/v1"}\nmodels:\n  m: {deployments: [{provider: b, model: x}]}\n',
        "models.m.deployments[0].provider",
    ),
    ("bad-duration", "server: {body_timeout: soon}\n", "server.body_timeout"),
    (
        "missing-secret-file",
        'providers:\n  a: {type: openai, base_url: "http://127.0.0.1:9/v1", api_key: file:./no-such-file}\n'
        "models:\n  m: {deployments: [{provider: a, model: x}]}\n",
        "providers.a.api_key",
    ),
]


@pytest.mark.parametrize("case_id,yaml_text,key", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_configuration_errors_exit_78_naming_the_key(tmp_path, case_id, yaml_text, key):
    config = tmp_path / "warden.yaml"
    config.write_text(f"listen: 127.0.0.1:{free_port()}\ndata_dir: ./data\n" + yaml_text)
    result = run_warden(["serve", "--config", config], cwd=tmp_path)
    assert result.returncode == 78, (result.returncode, result.stdout, result.stderr)
    assert "warden: configuration error:" in result.stderr
    assert re.search(r"configuration error: " + re.escape(key) + r"\b", result.stderr), result.stderr


# ---------------------------------------------------------------------------------------------------
# Reloads


def test_config_file_change_reloads_and_invalid_change_is_rejected(mock, start_warden):
    port = free_port()
    w = start_warden(standard_config(mock.port, port))
    assert w.chat("fast2").status == 404

    added = standard_config(mock.port, port, extra_models="  fast2: {deployments: [{provider: local, model: gpt-4o}]}\n")
    w.config_path.write_text(added)
    wait_until(lambda: w.chat("fast2", "new model").status == 200, 8, message="the added model was not served after a config change")
    assert w.chat("fast2", "new model").json()["choices"][0]["message"]["content"] == "Echo: new model"
    w.wait_log("configuration reloaded")

    w.config_path.write_text(added + "surprise_section: {a: 1}\n")
    rejected = w.wait_log("configuration reload rejected", timeout=8)
    assert "surprise_section" in json.dumps(rejected)
    # The previous configuration stays in force.
    assert w.chat("fast", "old").status == 200
    assert w.chat("fast2", "still here").status == 200
    assert w.proc.poll() is None

    # A valid file again is picked up again.
    w.config_path.write_text(standard_config(mock.port, port, extra_models="  fast3: {deployments: [{provider: local, model: gpt-4o}]}\n"))
    wait_until(lambda: w.chat("fast3").status == 200, 8, message="a valid config after a rejected one was not loaded")
    assert w.chat("fast2").status == 404


def test_sighup_reloads_secrets(mock, start_warden):
    w = start_warden(standard_config(mock.port, free_port()))
    assert w.chat("fast", key=CI_KEY).status == 200
    new_key = "wk-e2e-rotated-" + "ab" * 16
    (w.workdir / "ci-key").write_text(new_key + "\n")  # the config file itself is unchanged
    w.proc.signal(signal.SIGHUP)
    wait_until(lambda: w.chat("fast", key=new_key).status == 200, 8, message="SIGHUP did not reload the key file")
    assert w.chat("fast", key=CI_KEY).status == 401
    assert w.proc.poll() is None


# ---------------------------------------------------------------------------------------------------
# Readiness


def test_readiness_fails_when_a_required_model_has_no_healthy_deployment(mock, start_warden):
    w = start_warden(standard_config(mock.port, free_port(), include_failing_required=True))
    live = w.request("GET", "/health/live", key=None)
    assert live.status == 200
    ready = w.request("GET", "/health/ready", key=None)
    assert ready.status == 503, ready
    body = ready.json()
    assert body["status"] != "ready"
    assert body["store"]["ok"] is True
    assert body["providers"]["dead"]["ok"] is False
    assert body["providers"]["local"]["ok"] is True
    assert body["models"]["must-have"]["ok"] is False
    assert body["models"]["must-have"]["required"] is True
    assert body["models"]["fast"]["ok"] is True
    # Unready is not down: requests to healthy models still work.
    assert w.chat("fast").status == 200


def test_readiness_notices_an_upstream_going_away(start_mock, start_warden):
    m = start_mock()
    w = start_warden(
        standard_config(m.port, free_port(), extra_sections="health: {cache_ttl: 200ms, probe_timeout: 1s}\n")
    )
    assert w.request("GET", "/health/ready", key=None).status == 200
    m.proc.kill()
    ready = wait_until(
        lambda: (r := w.request("GET", "/health/ready", key=None)).status == 503 and r,
        10,
        message="/health/ready stayed 200 after the upstream died",
    )
    body = ready.json()
    assert body["providers"]["local"]["ok"] is False
    assert body["models"]["fast"]["ok"] is False
    assert w.request("GET", "/health/live", key=None).status == 200


# ---------------------------------------------------------------------------------------------------
# Shutdown


def test_sigterm_finishes_an_inflight_stream_and_exits_0(start_mock, start_warden):
    slow_mock = start_mock(latency_ms=100)
    w = start_warden(standard_config(slow_mock.port, free_port()))
    words = " ".join(f"w{i}" for i in range(20))  # ~2 s of stream
    conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=30)
    conn.request(
        "POST",
        "/v1/chat/completions",
        body=json.dumps({"model": "fast", "messages": user(words), "stream": True, "stream_options": {"include_usage": True}}),
        headers={"Authorization": f"Bearer {CI_KEY}", "Content-Type": "application/json", "x-request-id": "e2e-drain-stream"},
    )
    r = conn.getresponse()
    assert r.status == 200
    head = b""
    while head.count(b"data: ") < 3:
        line = r.readline()
        assert line, "stream ended early"
        head += line
    w.proc.signal(signal.SIGTERM)
    rest = r.read()
    conn.close()
    body = (head + rest).decode()
    frames = [f for f in body.split("\n\n") if f.strip()]
    assert frames[-1].strip() == "data: [DONE]", body[-300:]
    text = ""
    for f in frames[:-1]:
        chunk = json.loads(f[len("data: ") :])
        for c in chunk.get("choices", []):
            text += c["delta"].get("content") or ""
    assert text == "Echo: " + words

    assert w.proc.wait(timeout=20) == 0
    line = w.wait_access("e2e-drain-stream", timeout=5)
    assert line["status"] == 200
    w.wait_log("warden stopped", timeout=5)


def test_drain_delay_reports_draining_but_keeps_serving(mock, start_warden):
    w = start_warden(standard_config(mock.port, free_port(), drain_delay="3s"))
    assert w.request("GET", "/health/ready", key=None).status == 200
    sent = time.monotonic()
    w.proc.signal(signal.SIGTERM)
    ready = wait_until(
        lambda: (r := w.request("GET", "/health/ready", key=None, timeout=5)).status == 503 and r,
        1.5,
        interval=0.05,
        message="/health/ready did not turn 503 right after SIGTERM",
    )
    assert ready.json()["status"] == "draining"
    r = w.chat("fast", "during drain", timeout=5)
    assert r.status == 200
    assert r.json()["choices"][0]["message"]["content"] == "Echo: during drain"
    assert w.proc.poll() is None, "Warden must keep serving for drain_delay"
    assert w.proc.wait(timeout=20) == 0
    assert time.monotonic() - sent >= 2.0, "Warden exited before drain_delay (3s) was over"


def test_sigterm_on_idle_server_exits_0_quickly(mock, start_warden):
    w = start_warden(standard_config(mock.port, free_port()))
    start = time.monotonic()
    w.proc.signal(signal.SIGTERM)
    assert w.proc.wait(timeout=15) == 0
    assert time.monotonic() - start < 10
    # The port is free again.
    with pytest.raises(OSError):
        http_request(w.port, "GET", "/health/live", timeout=2)


# ---------------------------------------------------------------------------------------------------
# doctor and demo


def doctor_config(mock_port: int, api_key_ref: str = "file:./upstream-key", with_dead: bool = False) -> str:
    dead = '  dead: {type: openai, base_url: "http://127.0.0.1:1/v1"}\n' if with_dead else ""
    return f"""\
listen: 127.0.0.1:{free_port()}
data_dir: ./data
keys:
  - {{name: ci, team: research, key: file:./ci-key}}
providers:
  local:  {{type: openai, base_url: "http://127.0.0.1:{mock_port}/v1", api_key: {api_key_ref}}}
  claude: {{type: anthropic, base_url: "http://127.0.0.1:{mock_port}", api_key: {api_key_ref}}}
{dead}models:
  fast: {{deployments: [{{provider: local, model: gpt-4o-mini}}]}}
"""


def test_doctor_passes_a_good_config_with_probes(mock, tmp_path):
    write_secret_files(tmp_path)
    (tmp_path / "warden.yaml").write_text(doctor_config(mock.port))
    result = run_warden(["doctor", "--config", "warden.yaml"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[FAIL]" not in result.stdout
    assert "providers.local" in result.stdout
    assert UPSTREAM_KEY not in result.stdout + result.stderr
    assert CI_KEY not in result.stdout + result.stderr


def test_doctor_fails_on_a_missing_secret_file(mock, tmp_path):
    write_secret_files(tmp_path)
    (tmp_path / "warden.yaml").write_text(doctor_config(mock.port, api_key_ref="file:./nope-key"))
    result = run_warden(["doctor", "--config", "warden.yaml", "--no-probe"], cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    fail_lines = [l for l in result.stdout.splitlines() if "[FAIL]" in l]
    assert any("providers.local.api_key" in l and "nope-key" in l for l in fail_lines), result.stdout


def test_doctor_fails_on_an_unreachable_provider(mock, tmp_path):
    write_secret_files(tmp_path)
    (tmp_path / "warden.yaml").write_text(doctor_config(mock.port, with_dead=True))
    result = run_warden(["doctor", "--config", "warden.yaml"], cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert any("[FAIL]" in l and "providers.dead" in l for l in result.stdout.splitlines()), result.stdout
    assert not any("[FAIL]" in l and "providers.local" in l for l in result.stdout.splitlines()), result.stdout


def test_doctor_warns_on_env_secrets_without_failing(mock, tmp_path):
    write_secret_files(tmp_path)
    (tmp_path / "warden.yaml").write_text(doctor_config(mock.port, api_key_ref="env:E2E_UPSTREAM_KEY"))
    result = run_warden(
        ["doctor", "--config", "warden.yaml", "--no-probe"], cwd=tmp_path, env={"E2E_UPSTREAM_KEY": UPSTREAM_KEY}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    warn_lines = [l for l in result.stdout.splitlines() if "[warn]" in l.lower()]
    assert any("providers.local.api_key" in l and "E2E_UPSTREAM_KEY" in l for l in warn_lines), result.stdout
    assert UPSTREAM_KEY not in result.stdout + result.stderr


def test_doctor_fails_on_an_invalid_config(tmp_path):
    (tmp_path / "warden.yaml").write_text("listen: 127.0.0.1:1\nmodelz: {}\n")
    result = run_warden(["doctor", "--config", "warden.yaml", "--no-probe"], cwd=tmp_path)
    assert result.returncode == 1
    assert "modelz" in result.stdout + result.stderr


def test_demo_runs_and_passes(tmp_path):
    result = run_warden(["demo"], cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scenario" in result.stdout
    assert "total" in result.stdout
    # Governance: spend per team, a budget refusal with its reason, and a verified audit log.
    spend = result.stdout.split("GET /admin/spend?group_by=team", 1)[1]
    teams = {line.split()[0] for line in spend.splitlines()[1:] if line.strip() and line.split()[0] in ("billing", "default", "support")}
    assert teams == {"billing", "default", "support"}, spend
    assert "refused: 429 budget_exceeded" in result.stdout and "of $0.001 left" in result.stdout
    assert "`warden audit verify` recomputed every hash and signature: ok." in result.stdout
    # Guardrails: redaction with restore, an injection refused, a held tool call handed back once approved.
    assert "x-warden-guardrails: pii=redact" in result.stdout and "restored in the answer: yes" in result.stdout
    assert "prompt injection: 400 guardrail_blocked" in result.stdout
    assert "the same request sent again got the call: refund" in result.stdout
    assert not any(p.name.startswith("warden-data") for p in tmp_path.iterdir()), "demo must not touch ./warden-data"
