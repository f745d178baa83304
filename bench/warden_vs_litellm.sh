#!/usr/bin/env bash
# Warden side by side with LiteLLM and with no gateway, using the shared harness
# (../shared/bench/gateway_vs_litellm.sh: nginx fake upstream, wrk load, LiteLLM from a venv).
#
#   bench/warden_vs_litellm.sh [harness options...]
#   e.g. CONCURRENCY="1 16 64 256" bench/warden_vs_litellm.sh --repeat 3 --stream
#
# Builds the release binary if needed, writes a Warden config that sends gpt-4o-mini (and
# gpt-4o-mini-stream) to the harness's upstreams, and lets the harness start and stop Warden.
# Warden runs as in production: access log on (to a file), default limits, and governance on: the key
# has a budget and rpm/tpm limits and the model a price, so every request reserves, settles, counts
# against the limiter and writes its usage and audit records. GOVERNANCE=off: a plain static key.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
HARNESS=${HARNESS:-$ROOT/../shared/bench/gateway_vs_litellm.sh}
WARDEN_PORT=${WARDEN_PORT:-4010}
WORK=${WORK:-/tmp/warden-bench}
GOVERNANCE=${GOVERNANCE:-on}
LIMITS=""
[ "$GOVERNANCE" = on ] && LIMITS=", budget_usd: 1000000, budget_period: monthly, rpm: 100000000, tpm: 100000000"
PRICING=""
[ "$GOVERNANCE" = on ] && PRICING=", pricing: {input_per_mtok: 0.15, output_per_mtok: 0.60}"

[ -x "$ROOT/.build/release/warden" ] || (cd "$ROOT" && swift build -c release --product warden)
mkdir -p "$WORK"
KEY=wk-bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s' "$KEY" > "$WORK/key"
printf '%s' "sk-fake-upstream-key" > "$WORK/upstream-key"

START="cat > $WORK/warden.yaml <<CFG
listen: 127.0.0.1:$WARDEN_PORT
data_dir: $WORK/data
keys:
  - {name: bench, team: bench, key: file:$WORK/key$LIMITS}
providers:
  upstream: {type: openai, base_url: \"\$UPSTREAM_BASE_URL\", api_key: file:$WORK/upstream-key}
  upstream-stream: {type: openai, base_url: \"\$STREAM_UPSTREAM_BASE_URL\", api_key: file:$WORK/upstream-key}
models:
  gpt-4o-mini: {deployments: [{provider: upstream, model: gpt-4o-mini}]$PRICING}
  gpt-4o-mini-stream: {deployments: [{provider: upstream-stream, model: gpt-4o-mini}]$PRICING}
CFG
exec $ROOT/.build/release/warden serve --config $WORK/warden.yaml > $WORK/warden.log"

exec "$HARNESS" --gateway-url "http://127.0.0.1:$WARDEN_PORT/v1" --gateway-key "$KEY" --gateway-name warden \
  --gateway-start "$START" "$@"
