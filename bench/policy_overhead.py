#!/usr/bin/env python3
"""Warden's own overhead with and without Cedar policies, side by side in one run.

Starts two `warden serve` on the example config (examples/warden.yaml, built-in mock upstream): one with
examples/policies, one with no policies. Sends the same requests to each, alternating, one at a time,
and reports the median and p99 of the `x-warden-overhead-ms` header (Warden's own time, upstream
excluded) for each, and their difference.

    python3 bench/policy_overhead.py [--requests 3000] [--bin .build/release/warden]
"""
import argparse, http.client, json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "wk-example-support-00000000000000000000000000000"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, workdir, policies):
    shutil.copytree(ROOT / "examples", workdir)
    config = (workdir / "warden.yaml").read_text()
    if not policies:
        config = config.replace("policies: ./policies", "")
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
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--bin", default=str(ROOT / ".build/release/warden"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    servers = {name: start(args.bin, tmp / name, policies) for name, policies in (("policies", True), ("none", False))}
    conns = {name: http.client.HTTPConnection("127.0.0.1", port) for name, (_, port) in servers.items()}
    body = json.dumps({"model": "standard-us", "messages": [{"role": "user", "content": "How do I rotate a key?"}]})
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
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
    def p(values, q):
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))]
    for name in ("none", "policies"):
        v = overhead[name]
        print(f"{name:9s} overhead ms: median {statistics.median(v):.3f}  p99 {p(v, 0.99):.3f}  ({len(v)} requests)")
    print(f"added by policies (median): {1000 * (statistics.median(overhead['policies']) - statistics.median(overhead['none'])):.1f} µs")


if __name__ == "__main__":
    main()
