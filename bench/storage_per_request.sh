#!/usr/bin/env bash
# Bytes per request in the store: usage records and audit records (with their indexes), on SQLite and
# on PostgreSQL, after proxying a steady load through Warden.
#
#   bench/storage_per_request.sh            (DURATION_S=20 of wrk at concurrency 8 per store)
#
# Starts the shared harness's nginx fake upstream and a throwaway PostgreSQL (scripts/lib/postgres.sh),
# runs Warden on each store in turn, stops it (so every record is written), then divides each table's
# and index's size (SQLite: the dbstat table; PostgreSQL: pg_relation_size) by its row count.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
WORK=${WORK:-/tmp/warden-storage}
UP_PORT=${UP_PORT:-18480}
PORT=${PORT:-4050}
DURATION_S=${DURATION_S:-20}
WARDEN_BIN=${WARDEN_BIN:-$ROOT/.build/release/warden}

command -v nginx > /dev/null && command -v wrk > /dev/null && command -v sqlite3 > /dev/null \
  || { apt-get update -q > /dev/null && apt-get install -y -q nginx wrk sqlite3 > /dev/null; }
[ -x "$WARDEN_BIN" ] || (cd "$ROOT" && swift build -c release --product warden)
# shellcheck source=scripts/lib/postgres.sh
. "$ROOT/scripts/lib/postgres.sh"
start_postgres

rm -rf "$WORK" && mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
sed -e "s#@PREFIX@#$WORK/nginx#g" -e "s#@PORT@#$UP_PORT#g" -e "s#@STREAM_PORT@#$((UP_PORT + 1))#g" -e "s#@WORKERS@#1#g" \
  "$SHARED/nginx.conf.tmpl" > "$WORK/nginx/nginx.conf"
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" &
NGINX=$!
PID=
trap 'kill $PID $NGINX 2>/dev/null; wait 2>/dev/null; stop_postgres' EXIT
KEY=wk-bench-storage
printf '%s' "$KEY" > "$WORK/key"
head -c 32 /dev/urandom | base64 > "$WORK/audit-key"
export BENCH_API_KEY=$KEY BENCH_MODEL=gpt-4o-mini BENCH_STREAM=0
PG_URL=${WARDEN_TEST_POSTGRES_URL}

run() {  # $1 store (sqlite|postgres)
  local dir="$WORK/$1" storage=""
  mkdir -p "$dir"
  if [ "$1" = postgres ]; then storage="storage: $PG_URL"; fi
  cat > "$dir/warden.yaml" <<CFG
listen: 127.0.0.1:$PORT
data_dir: $dir/data
$storage
audit: {signing_key: file:$WORK/audit-key}
keys: [{name: bench, team: bench, key: file:$WORK/key}]
providers:
  upstream: {type: openai, base_url: "http://127.0.0.1:$UP_PORT/v1", api_key: sk-fake-upstream-key}
models:
  gpt-4o-mini: {deployments: [{provider: upstream, model: gpt-4o-mini}]}
CFG
  "$WARDEN_BIN" serve --config "$dir/warden.yaml" > "$dir/out.log" 2>&1 &
  PID=$!
  for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health/live" && break; sleep 0.05; done
  wrk -t1 -c8 -d"${DURATION_S}s" -s "$SHARED/chat_completion.lua" "http://127.0.0.1:$PORT/v1/chat/completions" > /dev/null
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=
}

report_sqlite() {
  local db="$WORK/sqlite/data/warden.sqlite"
  sqlite3 "$db" "
    WITH sizes AS (SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name),
         n AS (SELECT (SELECT COUNT(*) FROM usage_records) AS usage, (SELECT COUNT(*) FROM audit_records) AS audit)
    SELECT 'sqlite', 'usage_records', n.usage,
      (SELECT bytes FROM sizes WHERE name = 'usage_records') * 1.0 / n.usage,
      (SELECT SUM(bytes) FROM sizes WHERE name IN ('sqlite_autoindex_usage_records_1', 'usage_key_at', 'usage_team_at', 'usage_at')) * 1.0 / n.usage
    FROM n
    UNION ALL
    SELECT 'sqlite', 'audit_records', n.audit,
      (SELECT bytes FROM sizes WHERE name = 'audit_records') * 1.0 / n.audit,
      (SELECT bytes FROM sizes WHERE name = 'audit_records_at') * 1.0 / n.audit
    FROM n;" | tr '|' ' '
}

report_postgres() {
  psql "$PG_URL" -At -F ' ' -c "
    SELECT 'postgres', t, n, table_bytes * 1.0 / n, index_bytes * 1.0 / n FROM (
      SELECT 'usage_records' AS t, (SELECT COUNT(*) FROM usage_records) AS n,
        pg_table_size('usage_records') AS table_bytes, pg_indexes_size('usage_records') AS index_bytes
      UNION ALL
      SELECT 'audit_records', (SELECT COUNT(*) FROM audit_records), pg_table_size('audit_records'), pg_indexes_size('audit_records')
    ) s;"
}

run sqlite
run postgres
printf '%-9s %-14s %9s %14s %14s %14s\n' store table rows "bytes/row" "index B/row" "total B/row"
{ report_sqlite; report_postgres; } | while read -r store table rows table_b index_b; do
  printf '%-9s %-14s %9s %14.0f %14.0f %14.0f\n' "$store" "$table" "$rows" "$table_b" "$index_b" "$(echo "$table_b + $index_b" | bc -l)"
done
