"""Governance end to end: keys, budgets and limits across processes, the CLI against a running server,
the audit log's CLI, crash safety of usage records, and secrets from a (fake) HashiCorp Vault.

The PostgreSQL tests use the throwaway server `scripts/test` starts (WARDEN_TEST_POSTGRES_URL); each
creates its own database on it."""

from __future__ import annotations

import base64
import glob
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import openai
import pytest

from conftest import CI_KEY, UPSTREAM_KEY, WARDEN_BIN, free_port, http_request, standard_config, wait_until

ADMIN_KEY = "wadm-e2e-" + secrets.token_hex(20)
AUDIT_SEED = base64.b64encode(secrets.token_bytes(32)).decode()

# 40 scalars: 10 prompt tokens by the mock's count and by Warden's estimate; with max_tokens 5 the echo is
# cut at exactly 5 tokens, so a request's reservation equals its settlement. gpt-4o-mini's list price
# ($0.15 / $0.60 per million tokens) makes each cost 10 × 150 + 5 × 600 = 4,500 nano-dollars.
EXACT_PROMPT = "abcd" * 10
EXACT_COST = Decimal("0.0000045")
EXACT_BODY = {"model": "fast", "max_tokens": 5, "messages": [{"role": "user", "content": EXACT_PROMPT}]}


def governed_config(mock_port: int, port: int, *, storage: str | None = None, extra: str = "") -> str:
    sections = "admin_key: file:./admin-key\naudit: {signing_key: file:./audit-key, checkpoint_every: 10}\n"
    if storage:
        sections += f"storage: {storage}\n"
    return standard_config(mock_port, port, extra_sections=sections + extra)


def write_governance_files(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "admin-key").write_text(ADMIN_KEY + "\n")
    (workdir / "audit-key").write_text(AUDIT_SEED + "\n")


def start_governed(start_warden, tmp_path: Path, name: str, mock_port: int, **kw):
    workdir = tmp_path / name
    write_governance_files(workdir)
    return start_warden(governed_config(mock_port, free_port(), **kw), workdir=workdir)


def admin(w, method: str, path: str, body=None):
    return w.request(method, path, body, key=ADMIN_KEY)


def cli(*args: str, cwd: Path, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(WARDEN_BIN), *args], cwd=str(cwd), capture_output=True, text=True, timeout=timeout, env=dict(os.environ)
    )
    if check and result.returncode != 0:
        raise AssertionError(f"warden {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def spend_total(config: Path, *extra: str) -> dict:
    out = cli("spend", "--config", str(config), "--json", *extra, cwd=config.parent).stdout
    return json.loads(out, parse_float=Decimal)["total"]


# ---------------------------------------------------------------------------------------------------
# PostgreSQL


def _psql() -> str | None:
    found = shutil.which("psql")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    return candidates[-1] if candidates else None


def fresh_postgres_database() -> str:
    url = os.environ.get("WARDEN_TEST_POSTGRES_URL")
    if not url:
        reason = "WARDEN_TEST_POSTGRES_URL is not set (scripts/test starts a PostgreSQL server and sets it)"
        if os.environ.get("WARDEN_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + ", but WARDEN_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(reason)
    psql = _psql()
    assert psql, "psql not found"
    parsed = urlparse(url)
    name = "e2e_" + secrets.token_hex(6)
    subprocess.run(
        [psql, "-h", parsed.hostname, "-p", str(parsed.port), "-U", parsed.username, "-d", "postgres", "-q", "-c",
         f"CREATE DATABASE {name}"],
        check=True, capture_output=True, timeout=30,
    )
    return f"postgres://{parsed.username}@{parsed.hostname}:{parsed.port}/{name}"


def test_two_replicas_on_one_postgres_never_overspend_a_budget(tmp_path, mock, start_warden):
    """Two `warden serve` processes on one PostgreSQL database: 100 concurrent requests, split between
    them, against a key whose budget pays for exactly 10. Exactly 10 succeed; recorded spend is the budget."""
    url = fresh_postgres_database()
    a = start_governed(start_warden, tmp_path, "a", mock.port, storage=url)
    b = start_governed(start_warden, tmp_path, "b", mock.port, storage=url)
    created = admin(a, "POST", "/admin/keys", {
        "name": "shared", "team": "replicas", "budget_usd": str(EXACT_COST * 10), "budget_period": "total"})
    assert created.status == 201, created
    key, key_id = created.json()["key"], created.json()["id"]
    # Replica b learns of the key from the store within a second.
    deadline = time.monotonic() + 5
    while b.request("GET", "/v1/models", key=key).status != 200:
        assert time.monotonic() < deadline, "replica b never saw the key made on replica a"
        time.sleep(0.1)

    def one(i: int):
        w = a if i % 2 == 0 else b
        r = w.request("POST", "/v1/chat/completions", EXACT_BODY, key=key)
        return w.port, r.status, (r.json().get("error", {}).get("code") if r.status != 200 else None)

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(one, range(100)))
    ok = [r for r in results if r[1] == 200]
    refused = [r for r in results if r[1] != 200]
    assert len(ok) == 10, results
    assert all(status == 429 and code == "budget_exceeded" for _, status, code in refused), refused
    # Two ledgers of their own would have admitted up to 20: exactly 10 means one shared budget.

    # And spend made on one replica is seen by the other, deterministically: a second key with room for
    # 5 calls, spent on a, is refused on b.
    second = admin(a, "POST", "/admin/keys", {
        "name": "shared-2", "team": "replicas-2", "budget_usd": str(EXACT_COST * 5), "budget_period": "total"})
    assert second.status == 201, second
    key2 = second.json()["key"]
    wait_until(lambda: b.request("GET", "/v1/models", key=key2).status == 200, 5, message="replica b never saw the second key")
    assert [a.request("POST", "/v1/chat/completions", EXACT_BODY, key=key2).status for _ in range(5)] == [200] * 5
    on_b = b.request("POST", "/v1/chat/completions", EXACT_BODY, key=key2)
    assert on_b.status == 429 and on_b.json()["error"]["code"] == "budget_exceeded", on_b
    # Usage records are flushed within 100 ms; the spend the store records is exactly the budget.
    deadline = time.monotonic() + 5
    while True:
        total = json.loads(admin(b, "GET", f"/admin/spend?key={key_id}").body, parse_float=Decimal)["total"]
        if total["requests"] == 10 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert total["requests"] == 10
    assert Decimal(total["spend_usd"]) == EXACT_COST * 10
    # The next request on either replica is refused, saying which budget and how much is left.
    refusal = b.request("POST", "/v1/chat/completions", EXACT_BODY, key=key)
    assert refusal.status == 429 and refusal.headers.get("x-should-retry") == "false"
    assert "budget" in refusal.json()["error"]["message"]


# ---------------------------------------------------------------------------------------------------
# The CLI against a running server


def test_cli_keys_and_teams_are_seen_by_a_running_server(tmp_path, mock, start_warden):
    w = start_governed(start_warden, tmp_path, "w", mock.port)
    config = w.config_path
    cli("teams", "create", "growth", "--budget-usd", "5", "--budget-period", "weekly", "--config", str(config), cwd=w.workdir)
    created = json.loads(cli("keys", "create", "--name", "bot", "--team", "growth", "--model", "fast",
                             "--config", str(config), "--json", cwd=w.workdir).stdout)
    key, key_id = created["key"], created["id"]
    assert key.startswith("wk-")
    listed = cli("keys", "list", "--config", str(config), "--json", cwd=w.workdir).stdout
    assert key not in listed and key_id in listed, "keys list must never show a secret"

    client = w.openai(key=key)
    deadline = time.monotonic() + 3
    while True:
        try:
            reply = client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}])
            break
        except openai.AuthenticationError:
            assert time.monotonic() < deadline, "a key created by the CLI was not accepted within a second or so"
            time.sleep(0.1)
    assert reply.choices[0].message.content
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="claude-fast", messages=[{"role": "user", "content": "hi"}])

    # The SDK's raw response carries the cost and OpenAI's rate-limit headers.
    raw = client.chat.completions.with_raw_response.create(model="fast", messages=[{"role": "user", "content": "hi"}])
    assert Decimal(raw.headers["x-warden-cost-usd"]) > 0

    cli("keys", "revoke", key_id, "--config", str(config), cwd=w.workdir)
    deadline = time.monotonic() + 3
    while True:
        try:
            client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}])
        except openai.AuthenticationError:
            break
        assert time.monotonic() < deadline, "a key revoked by the CLI still worked after a second or so"
        time.sleep(0.05)

    # The usage writer flushes every 100 ms: wait for the records, do not guess how long.
    total = wait_until(
        lambda: (t := spend_total(config, "--team", "growth"))["requests"] >= 2 and t, 5, interval=0.2,
        message="the usage records were not written")
    assert total["requests"] >= 2
    table = cli("spend", "--config", str(config), "--group-by", "model", cwd=w.workdir).stdout
    assert table.splitlines()[0].split()[0] == "model" and "fast" in table and "total:" in table


def test_budget_refusal_and_rate_limit_through_the_openai_sdk(tmp_path, mock, start_warden):
    w = start_governed(start_warden, tmp_path, "w", mock.port)
    tight = admin(w, "POST", "/admin/keys", {"name": "tight", "team": "t", "budget_usd": float(EXACT_COST * 2), "budget_period": "daily"})
    assert tight.status == 201, tight  # a JSON float such as 9e-06 is read exactly
    client = w.openai(key=tight.json()["key"])
    for _ in range(2):
        client.chat.completions.create(**EXACT_BODY)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(**EXACT_BODY)
    error = refused.value.body
    assert refused.value.code == "budget_exceeded" and error["type"] == "insufficient_quota"
    assert "resets" in error["message"] and "left" in error["message"]
    assert refused.value.response.headers["x-should-retry"] == "false"

    limited = admin(w, "POST", "/admin/keys", {"name": "rpm", "team": "t", "rpm": 3})
    client = w.openai(key=limited.json()["key"])
    statuses = []
    for _ in range(3):
        raw = client.chat.completions.with_raw_response.create(model="fast", messages=[{"role": "user", "content": "x"}])
        statuses.append(raw.headers["x-ratelimit-remaining-requests"])
    assert statuses == ["2", "1", "0"]
    with pytest.raises(openai.RateLimitError) as limited_error:
        client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "x"}])
    assert limited_error.value.code == "rate_limit_exceeded"
    assert int(limited_error.value.response.headers["retry-after"]) >= 1


# ---------------------------------------------------------------------------------------------------
# Audit log CLI


def test_audit_verify_export_and_tamper_through_the_cli(tmp_path, mock, start_warden):
    w = start_governed(start_warden, tmp_path, "w", mock.port)
    created = admin(w, "POST", "/admin/keys", {"name": "audited", "team": "research"})
    key = created.json()["key"]
    client = w.openai(key=key)
    for i in range(12):
        client.chat.completions.create(model="fast", messages=[{"role": "user", "content": f"audited {i}"}])
    assert w.stop() == 0
    config, cwd = str(w.config_path), w.workdir

    verified = cli("audit", "verify", "--config", config, cwd=cwd)
    assert verified.stdout.startswith("ok:"), verified.stdout
    public_key = cli("audit", "public-key", "--config", config, cwd=cwd).stdout.strip()
    (cwd / "verifier.key").write_text(public_key + "\n")
    export = cwd / "export.jsonl"
    cli("audit", "export", "--from", "2000-01-01", "--to", "2100-01-01", "--output", str(export), "--config", config, cwd=cwd)
    lines = export.read_text().splitlines()
    assert json.loads(lines[0])["type"] == "header"
    records = [json.loads(l) for l in lines if '"type":"record"' in l]
    assert len(records) >= 13 and all(r["inclusion_proof"] is not None for r in records)
    assert "audited 3" not in export.read_text(), "prompts are hashed, not stored, without capture_content"
    ok = cli("audit", "verify", "--export", str(export), "--public-key", f"file:{cwd / 'verifier.key'}", cwd=cwd)
    assert ok.stdout.startswith("ok:")

    # An edited export line fails offline verification.
    edited = [l.replace('"status":200', '"status":500', 1) if '"seq":5,' in l else l for l in lines]
    assert edited != lines
    (cwd / "edited.jsonl").write_text("\n".join(edited) + "\n")
    bad = cli("audit", "verify", "--export", str(cwd / "edited.jsonl"), "--public-key", public_key, cwd=cwd, check=False)
    assert bad.returncode == 1 and "does not verify" in bad.stderr

    # An edited stored record is named by `warden audit verify`.
    db = sqlite3.connect(cwd / "data" / "warden.sqlite")
    body = db.execute("SELECT body FROM audit_records WHERE seq = 7").fetchone()[0]
    db.execute("UPDATE audit_records SET body = ? WHERE seq = 7", (bytes(body).replace(b'"status":200', b'"status":201'),))
    db.commit()
    db.close()
    tampered = cli("audit", "verify", "--config", config, cwd=cwd, check=False)
    assert tampered.returncode == 1
    assert "record 7 was changed" in tampered.stderr, tampered.stderr


# ---------------------------------------------------------------------------------------------------
# Crash safety of usage records


def test_sigterm_loses_no_usage_and_kill_9_at_most_one_interval(tmp_path, mock, start_warden):
    w = start_governed(start_warden, tmp_path, "w", mock.port)
    config = w.config_path
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: w.chat("fast", "usage").status, range(40)))
    assert statuses == [200] * 40
    # SIGTERM at once: the queue is flushed on the way out.
    assert w.stop() == 0
    total = spend_total(config)
    assert total["requests"] == 40, w.proc.tail(n=60) + w.proc.tail("stderr")

    w2 = start_warden(w.config_path.read_text(), workdir=w.workdir)
    for _ in range(15):
        assert w2.chat("fast", "more").status == 200
    # Written within a couple of flush intervals while the server runs (read from the store, not guessed)...
    wait_until(lambda: spend_total(config)["requests"] == 55, 3, interval=0.1, message="usage not written within 3 s")
    # ...and durable: kill -9 loses nothing already committed.
    w2.proc.signal(signal.SIGKILL)
    w2.proc.wait(timeout=10)
    assert spend_total(config)["requests"] == 55
    assert cli("audit", "verify", "--config", str(config), cwd=w.workdir).returncode == 0


# ---------------------------------------------------------------------------------------------------
# Secrets from HashiCorp Vault (a small fake of its HTTP API)


class FakeVault:
    """KV version 2 at `secret/`, a token, and AppRole login — the parts of Vault's HTTP API Warden uses."""

    def __init__(self, secrets_by_path: dict[str, dict[str, str]]):
        self.token = "hvs." + secrets.token_hex(12)
        self.role_id = "role-" + secrets.token_hex(4)
        self.secret_id = "sid-" + secrets.token_hex(8)
        self.secrets = secrets_by_path
        self.calls: list[tuple[str, str, str | None]] = []
        vault = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def reply(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                vault.calls.append(("POST", self.path, None))
                if self.path == "/v1/auth/approle/login":
                    if body.get("role_id") == vault.role_id and body.get("secret_id") == vault.secret_id:
                        return self.reply(200, {"auth": {"client_token": vault.token, "lease_duration": 3600}})
                    return self.reply(400, {"errors": ["invalid role or secret ID"]})
                self.reply(404, {"errors": []})

            def do_GET(self):
                token = self.headers.get("X-Vault-Token")
                vault.calls.append(("GET", self.path, token))
                if token != vault.token:
                    return self.reply(403, {"errors": ["permission denied"]})
                prefix = "/v1/secret/data/"
                if self.path.startswith(prefix) and self.path[len(prefix):] in vault.secrets:
                    data = vault.secrets[self.path[len(prefix):]]
                    return self.reply(200, {"data": {"data": data, "metadata": {"version": 1}}})
                self.reply(404, {"errors": []})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vault():
    v = FakeVault({"warden/upstream": {"api_key": UPSTREAM_KEY, "other": "unused"}})
    yield v
    v.close()


def vault_config(mock_port: int, port: int, vault_section: str) -> str:
    return f"""\
listen: 127.0.0.1:{port}
data_dir: ./data
keys:
  - {{name: ci, team: research, key: file:./ci-key}}
providers:
  local: {{type: openai, base_url: "http://127.0.0.1:{mock_port}/v1", api_key: "vault:secret/warden/upstream#api_key"}}
models:
  fast: {{deployments: [{{provider: local, model: gpt-4o-mini}}]}}
{vault_section}
"""


@pytest.mark.parametrize("auth", ["token", "approle"])
def test_vault_secret_references(tmp_path, mock, start_warden, vault, auth):
    workdir = tmp_path / auth
    workdir.mkdir()
    if auth == "token":
        (workdir / "vault-token").write_text(vault.token + "\n")
        section = f"vault: {{address: \"{vault.address}\", token: file:./vault-token}}"
    else:
        (workdir / "role-id").write_text(vault.role_id)
        (workdir / "secret-id").write_text(vault.secret_id)
        section = f"vault: {{address: \"{vault.address}\", approle: {{role_id: file:./role-id, secret_id: file:./secret-id}}}}"
    w = start_warden(vault_config(mock.port, free_port(), section), workdir=workdir)
    assert w.chat("fast", "from vault").status == 200
    sent = mock.last_request("/v1/chat/completions", lambda e: "from vault" in json.dumps(e["body"]))
    assert sent["headers"].get("authorization") == f"Bearer {UPSTREAM_KEY}"
    assert any(c[0] == "GET" and c[1] == "/v1/secret/data/warden/upstream" for c in vault.calls)
    if auth == "approle":
        assert ("POST", "/v1/auth/approle/login", None) in vault.calls
    # The secret never appears in Warden's output.
    assert UPSTREAM_KEY not in w.proc.stdout and UPSTREAM_KEY not in w.proc.stderr

    doctor = cli("doctor", "--config", str(w.config_path), cwd=workdir, check=False)
    assert "vault" in doctor.stdout and UPSTREAM_KEY not in doctor.stdout
    assert "vault:secret/warden/upstream#api_key" in doctor.stdout


def test_vault_errors_are_clear_and_env_secrets_are_flagged(tmp_path, mock, vault):
    workdir = tmp_path / "bad"
    workdir.mkdir()
    (workdir / "ci-key").write_text(CI_KEY)
    (workdir / "vault-token").write_text("hvs.wrong")
    (workdir / "warden.yaml").write_text(
        vault_config(mock.port, free_port(), f"vault: {{address: \"{vault.address}\", token: file:./vault-token}}"))
    result = cli("serve", "--config", str(workdir / "warden.yaml"), cwd=workdir, check=False, timeout=30)
    assert result.returncode == 78
    assert "403" in result.stderr and "permission denied" in result.stderr
    assert "hvs.wrong" not in result.stderr

    (workdir / "env.yaml").write_text(
        (workdir / "warden.yaml").read_text()
        .replace('"vault:secret/warden/upstream#api_key"', "env:WARDEN_E2E_UPSTREAM")
        .replace(f"vault: {{address: \"{vault.address}\", token: file:./vault-token}}", ""))
    env_doctor = subprocess.run(
        [str(WARDEN_BIN), "doctor", "--config", str(workdir / "env.yaml")], cwd=str(workdir), capture_output=True, text=True,
        env={**os.environ, "WARDEN_E2E_UPSTREAM": "sk-from-env"}, timeout=30)
    assert "environment variable WARDEN_E2E_UPSTREAM" in env_doctor.stdout
    assert "sk-from-env" not in env_doctor.stdout


# ---------------------------------------------------------------------------------------------------
# Checkpoints published to a webhook


def test_audit_checkpoints_published_to_a_signed_webhook(tmp_path, mock, start_warden):
    """`audit.publish: https://…` POSTs every checkpoint, HMAC-signed; the copies verify against the log."""
    import hashlib
    import hmac

    secret = "publish-" + secrets.token_hex(8)
    workdir = tmp_path / "w"
    write_governance_files(workdir)
    (workdir / "publish-secret").write_text(secret)
    w = start_warden(governed_config(mock.port, free_port(), extra=(
        f'audit: {{signing_key: file:./audit-key, checkpoint_every: 5, '
        f'publish: "http://127.0.0.1:{mock.port}/mock/webhooks", publish_secret: file:./publish-secret}}\n'
    )).replace("audit: {signing_key: file:./audit-key, checkpoint_every: 10}\n", ""), workdir=workdir)
    for i in range(12):
        assert w.chat("fast", f"published {i}").status == 200
    assert w.stop() == 0
    public_key = cli("audit", "public-key", "--config", str(w.config_path), cwd=workdir).stdout.strip()
    origin = public_key.split("+", 1)[0]

    deadline = time.monotonic() + 10
    while True:
        deliveries = [d for d in http_request(mock.port, "GET", "/mock/webhooks").json()["data"]
                      if d["headers"].get("x-warden-event") == "audit.checkpoint"
                      and json.loads(d["body"]).get("origin") == origin]
        if any(json.loads(d["body"])["size"] >= 12 for d in deliveries) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    sizes = sorted(json.loads(d["body"])["size"] for d in deliveries)
    assert sizes and sizes[0] == 5 and sizes[-1] >= 12, sizes
    for d in deliveries:
        t, v1 = (part.split("=", 1)[1] for part in d["headers"]["x-warden-signature"].split(","))
        expected = hmac.new(secret.encode(), f"{t}.".encode() + d["body"].encode(), hashlib.sha256).hexdigest()
        assert hmac.compare_digest(expected, v1)
        assert abs(time.time() - int(t)) < 120
    # Each published note is the stored checkpoint of that size (same signature bytes).
    db = sqlite3.connect(workdir / "data" / "warden.sqlite")
    stored = dict(db.execute("SELECT size, note FROM audit_checkpoints").fetchall())
    db.close()
    for d in deliveries:
        body = json.loads(d["body"])
        assert stored[body["size"]] == body["note"]
