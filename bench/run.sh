#!/usr/bin/env bash
# kadro's load benchmark: seeds a database, starts kadro (release build), runs each scenario
# with wrk (64 connections, load generator on the same machine) and prints a table of
# requests/s, p50/p99/p99.9 latency and the server's memory.
#
#   bench/run.sh postgres        # PostgreSQL at $BENCH_PG_ADMIN_URL (database kadro_bench)
#   bench/run.sh sqlite          # SQLite file bench/kadro-bench.db
#
# Environment: USERS (1000000), STAFFS (100000), DURATION (10s), CONNS (64), THREADS (2),
# REUSE=1 to keep an already seeded database, BENCH_PG_ADMIN_URL
# (postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND="${1:-postgres}"
USERS="${USERS:-1000000}"
STAFFS="${STAFFS:-100000}"
DURATION="${DURATION:-10s}"
CONNS="${CONNS:-64}"
THREADS="${THREADS:-2}"
PORT="${PORT:-8099}"
ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
BASE="http://127.0.0.1:$PORT"

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --quiet
KADRO=target/release/kadro

case "$BACKEND" in
  postgres)
    DB_URL="${ADMIN_URL%/*}/kadro_bench"
    if [ "${REUSE:-0}" != 1 ]; then
      psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS kadro_bench WITH (FORCE)" -c "CREATE DATABASE kadro_bench"
    fi ;;
  sqlite)
    DB_URL="sqlite://bench/kadro-bench.db"
    [ "${REUSE:-0}" = 1 ] || rm -f bench/kadro-bench.db bench/kadro-bench.db-wal bench/kadro-bench.db-shm ;;
  *) echo "usage: $0 postgres|sqlite" >&2; exit 2 ;;
esac
export KADRO_DATABASE_URL="$DB_URL" KADRO_LOG=warn

if [ "${REUSE:-0}" != 1 ]; then
  echo "== seeding $USERS users, $STAFFS staffs ($BACKEND)"
  /usr/bin/time -f "seed: %e s wall" "$KADRO" seed-bench --users "$USERS" --staffs "$STAFFS"
fi

# Requests carry a real account token (looked up per request), not a service token.
TOKEN=$("$KADRO" token issue --email bench@kadro.local)

echo "== starting kadro"
start=$(date +%s.%N)
"$KADRO" serve --bind "127.0.0.1:$PORT" --db-max-connections 32 >/dev/null 2>bench/server.log &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
until curl -fs "$BASE/readyz" >/dev/null; do sleep 0.02; done
ready=$(echo "$(date +%s.%N) - $start" | bc)
sleep 2
idle_rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")

STAFF_MAX=$(( STAFFS > 0 ? STAFFS : 1 ))
results=()
run() { # name, then environment assignments for scenario.lua
  local name="$1"; shift
  local line
  line=$(env BENCH_TOKEN="$TOKEN" "$@" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s bench/scenario.lua "$BASE" | grep '^RESULT')
  results+=("$(printf '%-34s %s' "$name" "${line#RESULT }")")
  echo "${results[-1]}"
}

echo "== scenarios ($CONNS connections, $DURATION each)"
printf '%-34s %s\n' "scenario" "rps p50_ms p99_ms p99.9_ms non2xx socket_errors"
run "users list page 1"          BENCH_PATH="/api/v1/users/"
run "users list page 500"        BENCH_PATH="/api/v1/users/?page=500"
run "users email contains (rare)" BENCH_PATH="/api/v1/users/?email=zqx"
run "users by division"          BENCH_PATH="/api/v1/users/?division={id}" BENCH_ID_MAX=200
run "users by is_active"         BENCH_PATH="/api/v1/users/?is_active=false"
run "user detail"                BENCH_PATH="/api/v1/users/{id}/" BENCH_ID_MAX="$USERS"
run "staff-users list"           BENCH_PATH="/api/v1/staff-users/"
run "staffs list page 1 (nested)" BENCH_PATH="/api/v1/staffs/"
run "staff detail"               BENCH_PATH="/api/v1/staffs/{id}/" BENCH_ID_MAX="$STAFF_MAX"
run "login"                      BENCH_PATH="/api/v1/auth/login/" BENCH_METHOD=POST \
                                 BENCH_BODY='{"email": "bench@kadro.local", "password": "bench-password-1"}'
run "mixed read/write (80/10/10)" BENCH_MIX=1 BENCH_ID_MAX="$USERS"

echo "== user detail during a storm of $CONNS logins"
env BENCH_PATH="/api/v1/auth/login/" BENCH_METHOD=POST \
    BENCH_BODY='{"email": "bench@kadro.local", "password": "bench-password-1"}' \
    wrk -t1 -c"$CONNS" -d"$DURATION" -s bench/scenario.lua "$BASE" >/dev/null &
STORM=$!
sleep 1
CONNS=8 THREADS=1 run "user detail (during login storm)" BENCH_PATH="/api/v1/users/{id}/" BENCH_ID_MAX="$USERS"
wait $STORM || true

peak_rss=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
echo
echo "== summary ($BACKEND, $USERS users, $STAFFS staffs, $(nproc) cores)"
printf '%-34s %s\n' "scenario" "rps p50_ms p99_ms p99.9_ms non2xx socket_errors"
printf '%s\n' "${results[@]}"
echo "ready in ${ready} s; idle RSS $((idle_rss / 1024)) MB; peak RSS $((peak_rss / 1024)) MB"
