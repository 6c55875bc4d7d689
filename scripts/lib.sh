# Shared by scripts/test and scripts/bench/*: install what is missing from Debian's
# archive and start throwaway PostgreSQL and Redis instances on free ports.
# Source it; call ensure_packages, then start_postgres / start_redis. Cleanup is trapped.

set -euo pipefail

phase_start=$(date +%s)
phase() { # phase NAME: prints the time the previous phase took and starts a new one
  local now; now=$(date +%s)
  [ -n "${phase_name:-}" ] && printf '== %-28s %4ss\n' "$phase_name" "$((now - phase_start))"
  phase_name=$1; phase_start=$now
}

ensure_packages() { # ensure_packages PKG... : apt-get installs the ones not installed
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing from Debian's archive: ${missing[*]}"
    if [ "$(id -u)" != 0 ]; then echo "error: run as root to install ${missing[*]}" >&2; exit 2; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pg_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

SCRATCH=$(mktemp -d /tmp/provision-test.XXXXXX)
chmod 755 "$SCRATCH"
cleanup_hooks=()
cleanup() {
  for ((i=${#cleanup_hooks[@]}-1; i>=0; i--)); do eval "${cleanup_hooks[$i]}" || true; done
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_postgres: a throwaway cluster; scram-sha-256 over TCP, trust on its socket (like
# Debian's pg_hba for local admin). Tests trade durability for speed (fsync off); set
# PG_DURABLE=1 for PostgreSQL's default durability (benchmarks do). Exports PROVISION_TEST_PG (superuser URL) and
# PROVISION_TEST_PG_BIN.
start_postgres() {
  local bin port dir pw durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "${PG_DURABLE:-0}" = 1 ] && durability=""
  bin=$(pg_bindir)
  [ -n "$bin" ] || { echo "error: no PostgreSQL server binaries under /usr/lib/postgresql" >&2; exit 1; }
  port=$(free_port)
  dir=$SCRATCH/pg
  mkdir -p "$dir"
  pw=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  printf '%s\n' "$pw" > "$dir.pw"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir" "$dir.pw"
  as_postgres "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir.pw" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$SCRATCH/initdb.log" 2>&1 \
    || { cat "$SCRATCH/initdb.log" >&2; exit 1; }
  rm -f "$dir.pw"
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB $durability" \
    start >/dev/null
  cleanup_hooks+=("as_postgres '$bin/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1")
  export PROVISION_TEST_PG="postgres://postgres:$pw@127.0.0.1:$port/postgres"
  export PROVISION_TEST_PG_BIN=$bin
  export PROVISION_TEST_PG_SOCKET=$dir
  export PROVISION_TEST_PG_PORT=$port
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

# start_redis: a throwaway Redis without persistence. Exports PROVISION_TEST_REDIS.
start_redis() {
  local port; port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --logfile "$SCRATCH/redis.log" &
  local pid=$!
  cleanup_hooks+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$port" ping >/dev/null || { echo "error: redis-server did not start on $port" >&2; exit 1; }
  export PROVISION_TEST_REDIS="redis://127.0.0.1:$port"
  echo "Redis $(redis-server --version | awk '{print $3}') on 127.0.0.1:$port"
}
