#!/usr/bin/env bash
# Sustained load on Warden with governance on, side by side with a previous build and the bare
# Hummingbird + AsyncHTTPClient proxy (bench/BareProxy), in one run.
#
#   bench/sustained_load.sh [CONCURRENCY...]            (default: 16 64)
#
#   DURATION_S=300   measured seconds per run (default 300: five minutes)
#   WARMUP_S=5       warm-up seconds before each run (not measured)
#   REPEAT=1         runs per target and concurrency (targets interleaved within each repetition)
#   TARGETS="bare warden"            any of: bare, warden, base (BASE_BIN: another build of warden)
#   BASE_BIN=path/to/warden          the build to compare against (e.g. the previous commit's release binary)
#   GOVERNANCE=on                    the key has a budget and rpm/tpm limits (reservation, settlement, limiter);
#                                    off: a plain static key (usage and audit records are written either way)
#   MODE=json | stream
#
# Each run starts the target afresh (so its peak RSS, VmHWM, is that run's), warms up, runs wrk with the
# shared harness's Lua script for DURATION_S, samples RSS every second, then stops the target with
# SIGTERM and counts, in its SQLite store, the usage records and the audit records of kind `request`
# against the requests its access log says it answered: a lost record shows as a difference. A direct
# run against nginx at the same concurrency gives the "added" latencies (target minus direct).
# Results: a table on stdout and $WORK/results.csv. Quote medians over REPEAT >= 3.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
WORK=${WORK:-/tmp/warden-sustained}
UP_PORT=${UP_PORT:-18280}
STREAM_PORT=${STREAM_PORT:-18281}
PORT=${PORT:-4030}
DURATION_S=${DURATION_S:-300}
WARMUP_S=${WARMUP_S:-5}
REPEAT=${REPEAT:-1}
TARGETS=${TARGETS:-bare warden}
GOVERNANCE=${GOVERNANCE:-on}
MODE=${MODE:-json}
CONCURRENCY=${*:-16 64}
WARDEN_BIN=${WARDEN_BIN:-$ROOT/.build/release/warden}
BARE_BIN=${BARE_BIN:-$ROOT/.build/release/bare-proxy}

command -v nginx > /dev/null && command -v wrk > /dev/null && command -v sqlite3 > /dev/null \
  || { apt-get update -q > /dev/null && apt-get install -y -q nginx wrk sqlite3 > /dev/null; }
[ -x "$WARDEN_BIN" ] || (cd "$ROOT" && swift build -c release --product warden)
[ -x "$BARE_BIN" ] || (cd "$ROOT" && swift build -c release --product bare-proxy)
case " $TARGETS " in *" base "*) [ -x "${BASE_BIN:-}" ] || { echo "TARGETS has base: set BASE_BIN to a warden binary" >&2; exit 2; } ;; esac

rm -rf "$WORK" && mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
sed -e "s#@PREFIX@#$WORK/nginx#g" -e "s#@PORT@#$UP_PORT#g" -e "s#@STREAM_PORT@#$STREAM_PORT#g" -e "s#@WORKERS@#1#g" \
  "$SHARED/nginx.conf.tmpl" > "$WORK/nginx/nginx.conf"
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" &
NGINX=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$UP_PORT/v1/chat/completions" -d '{}' && break; sleep 0.1; done
PID=
trap 'kill $PID $NGINX 2>/dev/null; wait 2>/dev/null' EXIT
KEY=wk-bench-sustained
printf '%s' "$KEY" > "$WORK/key"
if [ "$GOVERNANCE" = on ]; then
  LIMITS="budget_usd: 1000000, budget_period: monthly, rpm: 100000000, tpm: 100000000"
else
  LIMITS=""
fi
upstream_port=$UP_PORT model=gpt-4o-mini
if [ "$MODE" = stream ]; then upstream_port=$STREAM_PORT; export BENCH_STREAM=1; else export BENCH_STREAM=0; fi
export BENCH_API_KEY=$KEY BENCH_MODEL=$model

start_target() {  # $1 target, $2 run directory
  local target=$1 dir=$2 bin
  mkdir -p "$dir"
  case $target in
    bare)
      "$BARE_BIN" "$PORT" "http://127.0.0.1:$upstream_port/v1" > "$dir/out.log" 2>&1 &
      PID=$! ;;
    warden|base)
      bin=$WARDEN_BIN; [ "$target" = base ] && bin=$BASE_BIN
      cat > "$dir/warden.yaml" <<CFG
listen: 127.0.0.1:$PORT
data_dir: $dir/data
keys: [{name: bench, team: bench, key: file:$WORK/key${LIMITS:+, $LIMITS}}]
providers:
  upstream: {type: openai, base_url: "http://127.0.0.1:$upstream_port/v1", api_key: sk-fake-upstream-key}
models:
  gpt-4o-mini:
    deployments: [{provider: upstream, model: gpt-4o-mini}]
    pricing: {input_per_mtok: 0.15, output_per_mtok: 0.60}
CFG
      "$bin" serve --config "$dir/warden.yaml" > "$dir/out.log" 2>&1 &
      PID=$! ;;
  esac
  for _ in $(seq 200); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/v1/chat/completions" && return 0
    sleep 0.05
  done
  echo "$target did not start; see $dir/out.log" >&2
  exit 1
}

stop_target() {
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 600); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
}

field() { sed -E "s/.* $1=([0-9.]+).*/\1/" <<< "$2"; }

run_wrk() {  # $1 url, $2 concurrency, $3 seconds → RESULT line
  wrk -t1 -c"$2" -d"${3}s" --timeout 10s --latency -s "$SHARED/chat_completion.lua" "$1" | grep '^RESULT'
}

echo "target,conc,run,rps,p50_ms,p99_ms,max_ms,added_p50_ms,added_p99_ms,vmhwm_mib,rss_end_mib,answered,usage_records,audit_records,errors" > "$WORK/results.csv"
printf '%-7s %4s %3s %9s %8s %8s %9s %9s %9s %8s %8s %s\n' target conc run "req/s" "p50" "p99" "max" "+p50" "+p99" "HWM MiB" "RSS MiB" "records (answered/usage/audit)"
for c in $CONCURRENCY; do
  for run in $(seq "$REPEAT"); do
    run_wrk "http://127.0.0.1:$upstream_port/v1/chat/completions" "$c" "$WARMUP_S" > /dev/null
    direct=$(run_wrk "http://127.0.0.1:$upstream_port/v1/chat/completions" "$c" 15)
    d50=$(field p50_ms "$direct"); d99=$(field p99_ms "$direct")
    for target in $TARGETS; do
      dir="$WORK/$target-c$c-r$run"
      start_target "$target" "$dir"
      url="http://127.0.0.1:$PORT/v1/chat/completions"
      run_wrk "$url" "$c" "$WARMUP_S" > /dev/null
      ( while kill -0 "$PID" 2>/dev/null; do awk '/VmRSS/ {print $2}' "/proc/$PID/status" 2>/dev/null; sleep 1; done ) > "$dir/rss.txt" &
      sampler=$!
      line=$(run_wrk "$url" "$c" "$DURATION_S")
      hwm=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status")
      rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status")
      stop_target
      kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
      answered=- usage=- audit=-
      if [ "$target" != bare ]; then
        answered=$(grep '"path":"/v1/chat/completions"' "$dir/out.log" | grep -c '"status":200' || true)
        usage=$(sqlite3 "$dir/data/warden.sqlite" "SELECT COUNT(*) FROM usage_records WHERE status = 200")
        audit=$(sqlite3 "$dir/data/warden.sqlite" "SELECT COUNT(*) FROM audit_records WHERE kind = 'request' AND CAST(body AS TEXT) LIKE '%\"status\":200%'")
      fi
      errs=$(( $(field err_connect "$line") + $(field err_read "$line") + $(field err_write "$line") + $(field err_status "$line") + $(field err_timeout "$line") ))
      rps=$(field rps "$line"); p50=$(field p50_ms "$line"); p99=$(field p99_ms "$line"); max=$(field max_ms "$line")
      a50=$(awk -v a="$p50" -v b="$d50" 'BEGIN { printf "%.2f", a - b }')
      a99=$(awk -v a="$p99" -v b="$d99" 'BEGIN { printf "%.2f", a - b }')
      echo "$target,$c,$run,$rps,$p50,$p99,$max,$a50,$a99,$hwm,$rss,$answered,$usage,$audit,$errs" >> "$WORK/results.csv"
      printf '%-7s %4s %3s %9.0f %8.2f %8.2f %9.2f %9s %9s %8s %8s %s/%s/%s%s\n' "$target" "$c" "$run" "$rps" "$p50" "$p99" "$max" "$a50" "$a99" \
        "$hwm" "$rss" "$answered" "$usage" "$audit" "$([ "$errs" != 0 ] && echo "  ($errs errors)")"
    done
  done
done
