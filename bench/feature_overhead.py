#!/usr/bin/env python3
"""Warden's own overhead with and without a feature, side by side in one run.

Starts two `warden serve` on the example config (examples/warden.yaml, built-in mock upstream): one with
the feature, one without. Sends the same requests to each, alternating, one at a time, and reports the
median and p99 of the `x-warden-overhead-ms` header (Warden's own time, upstream excluded) for each,
and their difference.

- `--feature policies`: examples/policies (4 Cedar policies) against none.
- `--feature guardrails`: the guardrails of the issue's example (input: PII redact of cards and
  emails, injection block, harmful flag; output: secrets block, PII redact) against none, on a
  support prompt of about 400 characters with an email address in it; also reports the median of
  `x-warden-guardrails-ms` (the detectors' own time).

    python3 bench/feature_overhead.py --feature policies|guardrails [--requests 3000] [--bin .build/release/warden]
"""
import argparse, http.client, json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "wk-example-support-00000000000000000000000000000"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


GUARDRAILS = """
guardrails:
  input:
    - {detector: pii, action: redact, types: [CREDIT_CARD, EMAIL_ADDRESS]}
    - {detector: injection, action: block}
    - {detector: harmful, action: flag}
  output:
    - {detector: secrets, action: block}
    - {detector: pii, action: redact}
"""
PROMPTS = {
    "policies": "How do I rotate a key?",
    "guardrails": ("Hi, I'm writing about my order from last week. The package arrived damaged and the charger does not work. "
                   "Could you send a replacement to the same address, or refund me? You can reach me at ana.perez@example.org "
                   "during the day. I have attached photos of the box. Also, how long does a refund usually take to reach "
                   "my bank account? Thanks a lot for your help."),
}


def start(binary, workdir, feature, on):
    shutil.copytree(ROOT / "examples", workdir)
    config = (workdir / "warden.yaml").read_text()
    if feature != "policies" or not on:
        config = config.replace("policies: ./policies", "")
    if feature == "guardrails" and on:
        config += GUARDRAILS
    (workdir / "warden.yaml").write_text(config + "\nlog: {level: warning}\n")
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--config", str(workdir / "warden.yaml"), "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit("warden did not start")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--feature", choices=["policies", "guardrails"], required=True)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--bin", default=str(ROOT / ".build/release/warden"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    feature = args.feature
    servers = {name: start(args.bin, tmp / name, feature, on) for name, on in ((feature, True), ("none", False))}
    conns = {name: http.client.HTTPConnection("127.0.0.1", port) for name, (_, port) in servers.items()}
    body = json.dumps({"model": "standard-us", "messages": [{"role": "user", "content": PROMPTS[feature]}]})
    stage = []
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    overhead = {name: [] for name in servers}
    try:
        for i in range(args.requests + 200):
            # Alternate which server goes first, so neither always follows the client's idle moment.
            for name, conn in (list(conns.items()) if i % 2 == 0 else list(conns.items())[::-1]):
                conn.request("POST", "/v1/chat/completions", body, headers)
                r = conn.getresponse()
                r.read()
                assert r.status == 200, r.status
                if i >= 200:  # warm-up
                    overhead[name].append(float(r.getheader("x-warden-overhead-ms")))
                    if r.getheader("x-warden-guardrails-ms"):
                        stage.append(float(r.getheader("x-warden-guardrails-ms")))
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
    def p(values, q):
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))]
    for name in ("none", feature):
        v = overhead[name]
        print(f"{name:10s} overhead ms: median {statistics.median(v):.3f}  p99 {p(v, 0.99):.3f}  ({len(v)} requests)")
    print(f"added by {feature} (median): {1000 * (statistics.median(overhead[feature]) - statistics.median(overhead['none'])):.1f} µs")
    if stage:
        print(f"x-warden-guardrails-ms: median {statistics.median(stage):.3f}  p99 {p(stage, 0.99):.3f}")


if __name__ == "__main__":
    main()
