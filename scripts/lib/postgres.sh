# Source this file, then call start_postgres: a throwaway PostgreSQL server on a free loopback port in a
# temporary directory, stopped when the calling shell exits. Exports WARDEN_TEST_POSTGRES_URL.
# Installs Debian's postgresql package when no server binaries are found. initdb refuses to run as
# root, so as root the server runs as the `postgres` user (created by the package) via runuser.

_pg_bin() {
  local name=$1 dir
  if command -v "$name" > /dev/null 2>&1; then command -v "$name"; return; fi
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/$name" ] && { echo "$dir/$name"; return; }
  done
  return 1
}

start_postgres() {
  if ! _pg_bin initdb > /dev/null; then
    echo "installing PostgreSQL (Debian package)…" >&2
    apt-get update -q > /dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql > /dev/null
  fi
  local initdb pgctl postgres_bin
  initdb=$(_pg_bin initdb) || { echo "no initdb found" >&2; return 1; }
  pgctl=$(_pg_bin pg_ctl)
  postgres_bin=$(_pg_bin postgres)
  PG_DIR=$(mktemp -d /tmp/warden-pg.XXXXXX)
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  local run=()
  if [ "$(id -u)" = 0 ]; then
    id postgres > /dev/null 2>&1 || useradd --system --home "$PG_DIR" postgres
    chown postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$initdb" -D "$PG_DIR/data" -U warden -A trust --no-sync > "$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  "${run[@]}" "$pgctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c max_connections=200" start > /dev/null \
    || { cat "$PG_DIR/server.log" >&2; return 1; }
  PG_RUN=("${run[@]}")
  PG_CTL=$pgctl
  trap 'stop_postgres' EXIT
  psql -h 127.0.0.1 -p "$PG_PORT" -U warden -d postgres -q -c "CREATE DATABASE warden_test" > /dev/null
  export WARDEN_TEST_POSTGRES_URL="postgres://warden@127.0.0.1:$PG_PORT/warden_test"
  echo "PostgreSQL on 127.0.0.1:$PG_PORT ($PG_DIR)" >&2
}

stop_postgres() {
  [ -n "${PG_DIR:-}" ] || return 0
  "${PG_RUN[@]}" "$PG_CTL" -D "$PG_DIR/data" -m immediate stop > /dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=
}
