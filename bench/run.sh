#!/usr/bin/env bash
# kadro's load benchmark: seeds a database, starts kadro (release build), runs each scenario
# with wrk (64 connections, load generator on the same machine) once with a service token and
# once with an account token (a B2B superuser's), and prints a table of requests/s,
# p50/p99/p99.9 latency and the server's memory; the same figures go to a JSON summary.
#
#   bench/run.sh postgres        # PostgreSQL at $BENCH_PG_ADMIN_URL (database kadro_bench)
#   bench/run.sh sqlite          # SQLite file bench/kadro-bench.db
#   KADRO_BENCH_URL=http://node-a:8000 KADRO_BENCH_ACCOUNT_TOKEN=… KADRO_BENCH_SERVICE_TOKEN=… \
#     bench/run.sh remote        # a kadro that is already running (seeded with seed-bench)
#
# Environment: USERS (1000000), STAFFS (100000), DURATION (10s), CONNS (64), THREADS (2),
# REUSE=1 to keep an already seeded database, BENCH_PG_ADMIN_URL
# (postgres://postgres@127.0.0.1:5432/postgres), TOKENS ("service account": which callers to
# run each scenario with), ONLY (a regular expression: run only the scenarios it matches),
# SUMMARY (bench/summary-BACKEND.json), KADRO (a kadro binary to use instead of building).
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND="${1:-postgres}"
USERS="${USERS:-1000000}"
STAFFS="${STAFFS:-100000}"
DURATION="${DURATION:-10s}"
CONNS="${CONNS:-64}"
THREADS="${THREADS:-2}"
PORT="${PORT:-8099}"
TOKENS="${TOKENS:-service account}"
ONLY="${ONLY:-.}"
SUMMARY="${SUMMARY:-bench/summary-$BACKEND.json}"
ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }

PID=""
if [ "$BACKEND" = remote ]; then
  BASE="${KADRO_BENCH_URL:?KADRO_BENCH_URL names the running kadro (http://host:port)}"
  BASE="${BASE%/}"
  SERVICE_TOKEN="${KADRO_BENCH_SERVICE_TOKEN:-}"
  ACCOUNT_TOKEN="${KADRO_BENCH_ACCOUNT_TOKEN:-}"
  [ -n "$SERVICE_TOKEN$ACCOUNT_TOKEN" ] || {
    echo "set KADRO_BENCH_SERVICE_TOKEN and/or KADRO_BENCH_ACCOUNT_TOKEN" >&2; exit 2; }
  ready="-"
else
  BASE="http://127.0.0.1:$PORT"
  if [ -z "${KADRO:-}" ]; then
    cargo build --release --quiet
    KADRO=target/release/kadro
  fi
  case "$BACKEND" in
    postgres)
      DB_URL="${ADMIN_URL%/*}/kadro_bench"
      if [ "${REUSE:-0}" != 1 ]; then
        psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS kadro_bench WITH (FORCE)" -c "CREATE DATABASE kadro_bench"
      fi ;;
    sqlite)
      DB_URL="sqlite://bench/kadro-bench.db"
      [ "${REUSE:-0}" = 1 ] || rm -f bench/kadro-bench.db bench/kadro-bench.db-wal bench/kadro-bench.db-shm ;;
    *) echo "usage: $0 postgres|sqlite|remote" >&2; exit 2 ;;
  esac
  # The login scenario sends 64 concurrent logins of one account from 127.0.0.1. The per-address
  # rate would answer most of them with 429, and the account's lockout slots (each attempt in
  # flight holds one until its password is checked) would lock it; the benchmark measures
  # hashing, so both are out of its way here.
  export KADRO_DATABASE_URL="$DB_URL" KADRO_LOG=warn KADRO_LOGIN_RATE_PER_MINUTE=0 \
    KADRO_LOGIN_MAX_FAILURES=1000000

  if [ "${REUSE:-0}" != 1 ]; then
    echo "== seeding $USERS users, $STAFFS staffs ($BACKEND)"
    /usr/bin/time -f "seed: %e s wall" "$KADRO" seed-bench --users "$USERS" --staffs "$STAFFS"
  fi

  # An account token: the seeded B2B superuser's, looked up (then cached) by the server.
  ACCOUNT_TOKEN=$("$KADRO" token issue --email bench@kadro.local)
  # A service token: compared in memory, no lookup.
  SERVICE_TOKEN="bench-service-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  export KADRO_SERVICE_TOKENS="$SERVICE_TOKEN"

  echo "== starting kadro"
  start=$(date +%s.%N)
  "$KADRO" serve --bind "127.0.0.1:$PORT" >/dev/null 2>bench/server.log &
  PID=$!
  trap 'kill $PID 2>/dev/null || true' EXIT
  until curl -fs "$BASE/readyz" >/dev/null; do sleep 0.02; done
  ready=$(printf "%.3f" "$(echo "$(date +%s.%N) - $start" | bc)")
  sleep 2
  idle_rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
fi

STAFF_MAX=$(( STAFFS > 0 ? STAFFS : 1 ))
results=()
json=()
run() { # name, token kind, then environment assignments for scenario.lua
  local name="$1" kind="$2"; shift 2
  [[ "$name" =~ $ONLY ]] || return 0
  local token
  case "$kind" in
    service) token="$SERVICE_TOKEN" ;;
    account) token="$ACCOUNT_TOKEN" ;;
    none) token="" ;;
  esac
  [ -n "$token" ] || [ "$kind" = none ] || return 0
  local line
  line=$(env BENCH_TOKEN="$token" "$@" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s bench/scenario.lua "$BASE" | grep '^RESULT')
  local fields=(${line#RESULT })
  results+=("$(printf '%-36s %-8s %s' "$name" "$kind" "${line#RESULT }")")
  json+=("$(printf '{"scenario": "%s", "token": "%s", "connections": %s, "rps": %s, "p50_ms": %s, "p99_ms": %s, "p999_ms": %s, "non_2xx": %s, "socket_errors": %s}' \
    "$name" "$kind" "$CONNS" "${fields[0]}" "${fields[1]}" "${fields[2]}" "${fields[3]}" "${fields[4]}" "${fields[5]}")")
  echo "${results[-1]}"
}
each() { # name, then environment assignments: the scenario with every token kind of $TOKENS
  local name="$1"; shift
  for kind in $TOKENS; do run "$name" "$kind" "$@"; done
}

HEADER=$(printf '%-36s %-8s %s' "scenario" "token" "rps p50_ms p99_ms p99.9_ms non2xx socket_errors")
echo "== scenarios ($CONNS connections, $DURATION each, $BASE)"
echo "$HEADER"
each "users list page 1"           BENCH_PATH="/api/v1/users/"
each "users list page 500"         BENCH_PATH="/api/v1/users/?page=500"
each "users email contains (rare)" BENCH_PATH="/api/v1/users/?email=zqx"
each "users by division"           BENCH_PATH="/api/v1/users/?division={id}" BENCH_ID_MAX=200
each "users by is_active"          BENCH_PATH="/api/v1/users/?is_active=false"
each "user detail"                 BENCH_PATH="/api/v1/users/{id}/" BENCH_ID_MAX="$USERS"
each "staff-users list"            BENCH_PATH="/api/v1/staff-users/"
each "staffs list page 1 (nested)" BENCH_PATH="/api/v1/staffs/"
each "staff detail"                BENCH_PATH="/api/v1/staffs/{id}/" BENCH_ID_MAX="$STAFF_MAX"
run  "login"                       none BENCH_PATH="/api/v1/auth/login/" BENCH_METHOD=POST \
                                   BENCH_BODY='{"email": "bench@kadro.local", "password": "bench-password-1"}'
each "mixed read/write (80/10/10)" BENCH_MIX=1 BENCH_ID_MAX="$USERS"

if [[ "user detail (during login storm)" =~ $ONLY ]]; then
  echo "== user detail during a storm of $CONNS logins"
  env BENCH_PATH="/api/v1/auth/login/" BENCH_METHOD=POST \
      BENCH_BODY='{"email": "bench@kadro.local", "password": "bench-password-1"}' \
      wrk -t1 -c"$CONNS" -d"$DURATION" -s bench/scenario.lua "$BASE" >/dev/null &
  STORM=$!
  sleep 1
  CONNS=8 THREADS=1 each "user detail (during login storm)" BENCH_PATH="/api/v1/users/{id}/" BENCH_ID_MAX="$USERS"
  wait $STORM || true
fi

peak_rss="null"; idle="null"
if [ -n "$PID" ]; then
  peak_rss=$(( $(awk '/VmHWM/ {print $2}' "/proc/$PID/status") / 1024 ))
  idle=$(( idle_rss / 1024 ))
fi
echo
echo "== summary ($BACKEND, $USERS users, $STAFFS staffs, $(nproc) cores)"
echo "$HEADER"
printf '%s\n' "${results[@]}"
[ -z "$PID" ] || echo "ready in ${ready} s; idle RSS ${idle} MB; peak RSS ${peak_rss} MB"

{
  printf '{\n  "backend": "%s", "url": "%s", "users": %s, "staffs": %s, "cores": %s,\n' \
    "$BACKEND" "$BASE" "$USERS" "$STAFFS" "$(nproc)"
  printf '  "duration": "%s", "connections": %s, "threads": %s,\n' "$DURATION" "$CONNS" "$THREADS"
  printf '  "measured_at": "%s", "ready_s": %s, "idle_rss_mb": %s, "peak_rss_mb": %s,\n' \
    "$(date -u +%FT%TZ)" "$( [ "$ready" = - ] && echo null || echo "$ready")" "$idle" "$peak_rss"
  printf '  "scenarios": [\n'
  for i in "${!json[@]}"; do
    printf '    %s%s\n' "${json[$i]}" "$( [ "$i" -lt $(( ${#json[@]} - 1 )) ] && echo ,)"
  done
  printf '  ]\n}\n'
} > "$SUMMARY"
echo "summary: $SUMMARY"
