#!/usr/bin/env bash
# The bulk-import benchmark: generates a CSV of ROWS B2B users with a `password_hash` (Django's
# pbkdf2_sha256, as a migration brings them), imports it with `kadro import users` (the same
# job as the API's) on each backend, and prints the time and the peak RSS of the process.
#
#   bench/import.sh              # PostgreSQL, then SQLite: one summary line each
#   bench/import.sh postgres     # PostgreSQL at $BENCH_PG_ADMIN_URL (database kadro_import_bench)
#   bench/import.sh sqlite       # SQLite file bench/kadro-import-bench.db
#
# Environment: ROWS (1000000), BENCH_PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres),
# KADRO (a kadro binary to use instead of building one in release mode), KEEP=1 to keep the
# generated file (bench/import-ROWS.csv) for the next run, KADRO_IMPORT_BATCH_ROWS (1000).
# Targets for 1,000,000 rows: 60 s on PostgreSQL, 120 s on SQLite, peak RSS 150 MB.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS="${1:-postgres sqlite}"
ROWS="${ROWS:-1000000}"
ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
FILE="bench/import-$ROWS.csv"
HASH='pbkdf2_sha256$600000$django-salt-1$RJGxn4RRg/PJGqJ3wTYpzxiKnbJIZ3yqzf4zImGmZ+I='

for backend in $BACKENDS; do
  case "$backend" in
    postgres | sqlite) ;;
    *) echo "usage: bench/import.sh [postgres|sqlite]" >&2; exit 2 ;;
  esac
done

if [ -z "${KADRO:-}" ]; then
  cargo build --release --quiet
  KADRO=target/release/kadro
fi
export KADRO_LOG=warn
export KADRO_EXPORT_DIR="${KADRO_EXPORT_DIR:-$(mktemp -d)}"

# Prepares the backend's empty database (migrated, demo divisions) and prints its URL.
prepare() {
  case "$1" in
    postgres)
      psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS kadro_import_bench WITH (FORCE)" \
        -c "CREATE DATABASE kadro_import_bench" >&2
      echo "${ADMIN_URL%/*}/kadro_import_bench"
      ;;
    sqlite)
      rm -f bench/kadro-import-bench.db*
      echo "sqlite://bench/kadro-import-bench.db"
      ;;
  esac
}

division() {
  case "$1" in
    postgres) psql "$2" -Atc "SELECT MIN(id) FROM divisions" ;;
    sqlite) sqlite3 bench/kadro-import-bench.db "SELECT MIN(id) FROM divisions" ;;
  esac
}

generate() {
  # Every row has the same Django hash (of "imported-pass-9"): hashing is not what is measured.
  awk -v n="$ROWS" -v d="$1" -v h="$HASH" 'BEGIN {
    print "email,first_name,last_name,phone_number,division,remote_id,password_hash"
    for (i = 1; i <= n; i++) printf "bench%d@import.example.com,Bench,User %d,+9055500%05d,%s,%d,%s\n", i, i, i % 100000, d, 1000000 + i, h
  }' > "$FILE"
}

summary=()
for backend in $BACKENDS; do
  URL="$(prepare "$backend")"
  KADRO_DATABASE_URL="$URL" "$KADRO" seed-demo >/dev/null
  DIVISION="$(division "$backend" "$URL")"
  # The file names the division by id: the demo seed gives both backends the same first id.
  if [ ! -s "$FILE" ] || ! sed -n 2p "$FILE" | grep -q ",$DIVISION,[0-9]*,pbkdf2"; then
    generate "$DIVISION"
  fi
  echo "importing $ROWS users ($(du -h "$FILE" | cut -f1)) on $backend" >&2
  measured="$(mktemp)"
  KADRO_DATABASE_URL="$URL" /usr/bin/time -o "$measured" -f "%e %M" \
    "$KADRO" import users "$FILE" || { cat "$measured" >&2; exit 1; }
  read -r seconds kib < <(tail -1 "$measured")
  rm -f "$measured"
  imported="$(case "$backend" in
    postgres) psql "$URL" -Atc "SELECT COUNT(*) FROM users WHERE email LIKE 'bench%'" ;;
    sqlite) sqlite3 bench/kadro-import-bench.db "SELECT COUNT(*) FROM users WHERE email LIKE 'bench%'" ;;
  esac)"
  summary+=("$(printf '%-8s %8s rows imported in %7.1f s, peak RSS %4d MiB' \
    "$backend" "$imported" "$seconds" $((kib / 1024)))")
done

printf '%s\n' "${summary[@]}"
[ "${KEEP:-0}" = 1 ] || rm -f "$FILE"
