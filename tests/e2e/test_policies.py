"""Cedar policies end to end: the example policies and config, `warden policy check|test`, and the
gateway enforcing them for the official SDKs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import anthropic
import openai
import pytest

from conftest import REPO_ROOT, WARDEN_BIN, free_port, launch_warden

EXAMPLES = REPO_ROOT / "examples"
KEYS = {
    "research": "wk-example-research-0000000000000000000000000000",
    "support": "wk-example-support-00000000000000000000000000000",
    "finance": "wk-example-finance-00000000000000000000000000000",
}


def warden(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(WARDEN_BIN), *args], cwd=str(cwd or REPO_ROOT), capture_output=True, text=True, timeout=60)


def test_policy_check_and_test_on_the_examples():
    check = warden("policy", "check", "examples/policies")
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("ok: 4 policies")
    table = warden("policy", "test", "examples/policies/tests.yaml")
    assert table.returncode == 0, table.stdout + table.stderr
    assert table.stdout.strip().endswith("8 passed, 0 failed")


def test_policy_test_fails_on_a_wrong_expectation_and_check_names_the_error(tmp_path):
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    (tmp_path / "examples/policies/wrong.yaml").write_text(
        "policies: .\nconfig: ../warden.yaml\ntests:\n"
        "  - {name: support gets frontier, key: {team: support}, model: frontier, expect: allow}\n")
    wrong = warden("policy", "test", str(tmp_path / "examples/policies/wrong.yaml"))
    assert wrong.returncode == 1
    assert "FAIL support gets frontier: expected allow, got deny" in wrong.stdout
    (tmp_path / "examples/policies/broken.cedar").write_text("permit (principal, action, resource)\nwhen { 1 < };\n")
    broken = warden("policy", "check", str(tmp_path / "examples/policies"))
    assert broken.returncode == 1
    assert "broken.cedar: line 2, column 12: expected an expression" in broken.stderr


def test_the_gateway_enforces_the_example_policies(tmp_path):
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    w = launch_warden(tmp_path / "examples", None, args=["--config", str(tmp_path / "examples/warden.yaml"), "--listen", f"127.0.0.1:{free_port()}"])
    try:
        support = w.openai(key=KEYS["support"])
        with pytest.raises(openai.PermissionDeniedError) as denied:
            support.chat.completions.create(model="frontier", messages=[{"role": "user", "content": "hi"}])
        assert denied.value.code == "policy_denied"
        assert "frontier-research-only" in denied.value.message
        assert denied.value.response.headers["x-should-retry"] == "false"
        assert support.chat.completions.create(model="standard-us", messages=[{"role": "user", "content": "hi"}]).choices
        assert "frontier" not in [m.id for m in support.models.list()]

        research = w.openai(key=KEYS["research"])
        assert research.chat.completions.create(model="frontier", messages=[{"role": "user", "content": "hi"}]).choices
        assert "frontier" in [m.id for m in research.models.list()]

        finance = w.anthropic(key=KEYS["finance"])
        with pytest.raises(anthropic.PermissionDeniedError) as refused:
            finance.messages.create(model="eu-small", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
        assert refused.value.body["error"]["type"] == "permission_error"
        assert "finance-self-hosted-only" in refused.value.message
        assert finance.messages.create(model="llama-onprem", max_tokens=16, messages=[{"role": "user", "content": "hi"}]).content
    finally:
        w.stop()
