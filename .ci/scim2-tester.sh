#!/usr/bin/env bash
# Checks kadro's SCIM 2.0 service (/scim/v2/) with scim2-tester (PyPI), on a seeded demo
# database (SQLite) and a service token: discovery, then create, read, query, replace, PATCH and
# delete of Users and Groups. Fails when any check ends in an error (scim2_check.py).
# Usage: .ci/scim2-tester.sh path/to/kadro
# KADRO_CI_VENV is the Python venv scim2-tester is installed into.
set -euo pipefail
bin="$(readlink -f "${1:?path to a kadro binary}")"
here="$(cd "$(dirname "$0")" && pwd)"
VENV="${KADRO_CI_VENV:-${TMPDIR:-/tmp}/kadro-ci-venv}"
[ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import scim2_tester, httpx2' 2>/dev/null ||
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'scim2-tester[httpx2]>=0.5,<0.6'

tmp="$(mktemp -d)"
port="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
token="st-$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(16))')"
export KADRO_DATABASE_URL="sqlite://$tmp/kadro.db" KADRO_EXPORT_DIR="$tmp/exports"
"$bin" migrate >/dev/null
"$bin" seed-demo >/dev/null 2>&1
# The demo's first retail store takes the staffs a SCIM client creates without retailStores.
store="$("$VENV/bin/python" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT MIN(id) FROM retail_stores").fetchone()[0])' "$tmp/kadro.db")"
(cd "$tmp" && KADRO_BIND="127.0.0.1:$port" KADRO_SERVICE_TOKENS="$token" KADRO_LOG=warn \
    KADRO_SCIM_DEFAULT_STORE="$store" exec "$bin" serve) >"$tmp/log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
done
curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || { echo "kadro did not start:"; tail -20 "$tmp/log"; exit 1; }

"$VENV/bin/python" "$here/scim2_check.py" "http://127.0.0.1:$port/scim/v2" "$token"
