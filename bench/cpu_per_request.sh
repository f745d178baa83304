#!/usr/bin/env bash
# Warden's CPU time per request and peak RSS under a fixed load.
#
#   bench/cpu_per_request.sh [CONCURRENCY...]      (default: 1 16 64)
#
# Starts the shared harness's nginx fake upstream (../shared/bench/nginx.conf.tmpl), Warden (release
# build, access log on, to a file) and, as the baseline, bench/BareProxy (a bare Hummingbird +
# AsyncHTTPClient pass-through, the floor for any gateway on this stack). For each target, mode
# (JSON, SSE) and concurrency it runs wrk with the harness's Lua script: 5 s warm-up, 15 s measured
# (DURATION_S), interleaving targets so both see the same machine. Reports requests/s, latency, the
# target's utime+stime from /proc/PID/stat over the measured run divided by the requests served, and
# its peak RSS (VmHWM). REPEAT=3 repeats every row; quote medians: the machine is shared and noisy.
# TARGETS="warden" skips the baseline; MODES="json" skips streaming. GOVERNANCE=on (default): the key
# has a budget and rpm/tpm limits and the model a price (reservation, settlement, limiter, usage and
# audit records on every request); off: a plain static key.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
WORK=${WORK:-/tmp/warden-cpu}
UP_PORT=${UP_PORT:-18180}
STREAM_PORT=${STREAM_PORT:-18181}
WARDEN_PORT=${WARDEN_PORT:-4020}
DURATION_S=${DURATION_S:-15}
WARMUP_S=${WARMUP_S:-5}
REPEAT=${REPEAT:-1}
CONCURRENCY=${*:-1 16 64}
HZ=$(getconf CLK_TCK)
GOVERNANCE=${GOVERNANCE:-on}
LIMITS="" PRICING=""
if [ "$GOVERNANCE" = on ]; then
  LIMITS=", budget_usd: 1000000, budget_period: monthly, rpm: 100000000, tpm: 100000000"
  PRICING=", pricing: {input_per_mtok: 0.15, output_per_mtok: 0.60}"
fi

command -v nginx > /dev/null && command -v wrk > /dev/null || { apt-get update -q > /dev/null && apt-get install -y -q nginx wrk > /dev/null; }
TARGETS=${TARGETS:-bare warden}
MODES=${MODES:-json stream}
BARE_PORT=${BARE_PORT:-4021}
[ -x "$ROOT/.build/release/warden" ] || (cd "$ROOT" && swift build -c release --product warden)
[ -x "$ROOT/.build/release/bare-proxy" ] || (cd "$ROOT" && swift build -c release --product bare-proxy)

rm -rf "$WORK" && mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
sed -e "s#@PREFIX@#$WORK/nginx#g" -e "s#@PORT@#$UP_PORT#g" -e "s#@STREAM_PORT@#$STREAM_PORT#g" -e "s#@WORKERS@#1#g" \
  "$SHARED/nginx.conf.tmpl" > "$WORK/nginx/nginx.conf"
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" &
NGINX=$!
KEY=wk-bench-cpu
printf '%s' "$KEY" > "$WORK/key"
cat > "$WORK/warden.yaml" <<CFG
listen: 127.0.0.1:$WARDEN_PORT
data_dir: $WORK/data
keys: [{name: bench, team: bench, key: file:$WORK/key$LIMITS}]
providers:
  upstream: {type: openai, base_url: "http://127.0.0.1:$UP_PORT/v1", api_key: sk-fake-upstream-key}
  upstream-stream: {type: openai, base_url: "http://127.0.0.1:$STREAM_PORT/v1", api_key: sk-fake-upstream-key}
models:
  gpt-4o-mini: {deployments: [{provider: upstream, model: gpt-4o-mini}]$PRICING}
  gpt-4o-mini-stream: {deployments: [{provider: upstream-stream, model: gpt-4o-mini}]$PRICING}
CFG
"$ROOT/.build/release/warden" serve --config "$WORK/warden.yaml" > "$WORK/warden.log" 2>&1 &
WARDEN=$!
"$ROOT/.build/release/bare-proxy" "$BARE_PORT" "http://127.0.0.1:$UP_PORT/v1" > "$WORK/bare.log" 2>&1 &
BARE=$!
"$ROOT/.build/release/bare-proxy" "$((BARE_PORT + 1))" "http://127.0.0.1:$STREAM_PORT/v1" > "$WORK/bare-stream.log" 2>&1 &
BARE_STREAM=$!
trap 'kill $WARDEN $BARE $BARE_STREAM $NGINX 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$WARDEN_PORT/health/live" > /dev/null && break; sleep 0.1; done
sleep 1

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
export BENCH_API_KEY=$KEY
printf '%-7s %-6s %-5s %4s %10s %9s %9s %12s %9s\n' target mode conc run "req/s" "p50 ms" "p99 ms" "CPU µs/req" "RSS MiB"
for mode in $MODES; do
  if [ "$mode" = stream ]; then export BENCH_STREAM=1 BENCH_MODEL=gpt-4o-mini-stream; else export BENCH_STREAM=0 BENCH_MODEL=gpt-4o-mini; fi
  for c in $CONCURRENCY; do
    for run in $(seq "$REPEAT"); do
     for target in $TARGETS; do
      case $target in
        warden) pid=$WARDEN; url="http://127.0.0.1:$WARDEN_PORT/v1/chat/completions" ;;
        bare) if [ "$mode" = stream ]; then pid=$BARE_STREAM; url="http://127.0.0.1:$((BARE_PORT + 1))/v1/chat/completions";
              else pid=$BARE; url="http://127.0.0.1:$BARE_PORT/v1/chat/completions"; fi ;;
      esac
      wrk -t1 -c"$c" -d"${WARMUP_S}s" -s "$SHARED/chat_completion.lua" "$url" > /dev/null
      t0=$(ticks "$pid")
      out=$(wrk -t1 -c"$c" -d"${DURATION_S}s" --latency -s "$SHARED/chat_completion.lua" "$url")
      t1=$(ticks "$pid")
      line=$(grep '^RESULT' <<< "$out")
      req=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<< "$line")
      rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<< "$line")
      p50=$(sed -E 's/.* p50_ms=([0-9.]+).*/\1/' <<< "$line")
      p99=$(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<< "$line")
      errs=$(sed -E 's/.*err_status=([0-9]+).*/\1/' <<< "$line")
      cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$req" 'BEGIN { printf "%.1f", d / hz / n * 1e6 }')
      rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
      printf '%-7s %-6s %-5s %4s %10s %9s %9s %12s %9s%s\n' "$target" "$mode" "$c" "$run" "$rps" "$p50" "$p99" "$cpu" "$rss" \
        "$([ "$errs" != 0 ] && echo "  ($errs error statuses)")"
     done
    done
  done
done
