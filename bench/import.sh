#!/usr/bin/env bash
# The bulk-import benchmark: generates a CSV of ROWS B2B users with a `password_hash` (Django's
# pbkdf2_sha256, as a migration brings them), imports it with `kadro import users` (the same
# job as the API's), and prints the time and the peak RSS of the process.
#
#   bench/import.sh postgres     # PostgreSQL at $BENCH_PG_ADMIN_URL (database kadro_import_bench)
#   bench/import.sh sqlite       # SQLite file bench/kadro-import-bench.db
#
# Environment: ROWS (1000000), BENCH_PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres),
# KADRO (a kadro binary to use instead of building one in release mode), KEEP=1 to keep the
# generated file (bench/import-ROWS.csv) for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND="${1:-postgres}"
ROWS="${ROWS:-1000000}"
ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
FILE="bench/import-$ROWS.csv"

if [ -z "${KADRO:-}" ]; then
  cargo build --release --quiet
  KADRO=target/release/kadro
fi

case "$BACKEND" in
  postgres)
    psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS kadro_import_bench WITH (FORCE)" \
      -c "CREATE DATABASE kadro_import_bench"
    URL="${ADMIN_URL%/*}/kadro_import_bench"
    ;;
  sqlite)
    rm -f bench/kadro-import-bench.db*
    URL="sqlite://bench/kadro-import-bench.db"
    ;;
  *) echo "usage: bench/import.sh postgres|sqlite" >&2; exit 2 ;;
esac
export KADRO_DATABASE_URL="$URL" KADRO_LOG=warn
export KADRO_EXPORT_DIR="${KADRO_EXPORT_DIR:-$(mktemp -d)}"

"$KADRO" seed-demo >/dev/null
DIVISION="$(case "$BACKEND" in
  postgres) psql "$URL" -Atc "SELECT MIN(id) FROM divisions" ;;
  sqlite) sqlite3 bench/kadro-import-bench.db "SELECT MIN(id) FROM divisions" ;;
esac)"

if [ ! -s "$FILE" ]; then
  # Every row has the same Django hash (of "imported-pass-9"): hashing is not what is measured.
  HASH='pbkdf2_sha256$600000$django-salt-1$RJGxn4RRg/PJGqJ3wTYpzxiKnbJIZ3yqzf4zImGmZ+I='
  awk -v n="$ROWS" -v d="$DIVISION" -v h="$HASH" 'BEGIN {
    print "email,first_name,last_name,phone_number,division,remote_id,password_hash"
    for (i = 1; i <= n; i++) printf "bench%d@import.example.com,Bench,User %d,+9055500%05d,%s,%d,%s\n", i, i, i % 100000, d, 1000000 + i, h
  }' > "$FILE"
fi

echo "importing $ROWS users ($(du -h "$FILE" | cut -f1)) on $BACKEND" >&2
/usr/bin/time -f "elapsed %e s, peak RSS %M KiB" "$KADRO" import users "$FILE"

[ "${KEEP:-0}" = 1 ] || rm -f "$FILE"
