#!/usr/bin/env bash
# Checks a kadro binary against its own OpenAPI document with schemathesis, on a seeded demo
# database (SQLite) and a service token: every operation of /api/schema/ is called with
# generated requests and the answers are checked against the document.
# Usage: .ci/schemathesis.sh path/to/kadro [max-examples]
# SCHEMATHESIS_CHECKS / SCHEMATHESIS_EXCLUDE choose the checks (schemathesis's names);
# SCHEMATHESIS_SEED fixes the generated requests, so a run can be repeated (unset: random);
# KADRO_CI_VENV is the Python venv schemathesis is installed into (from PyPI).
set -euo pipefail
bin="$(readlink -f "${1:?path to a kadro binary}")"
examples="${2:-25}"
checks="${SCHEMATHESIS_CHECKS:-all}"
exclude="${SCHEMATHESIS_EXCLUDE:-}"
seed="${SCHEMATHESIS_SEED:-}"
VENV="${KADRO_CI_VENV:-${TMPDIR:-/tmp}/kadro-ci-venv}"
[ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
[ -x "$VENV/bin/schemathesis" ] ||
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4,<5'

tmp="$(mktemp -d)"
port="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
token="st-$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(16))')"
export KADRO_DATABASE_URL="sqlite://$tmp/kadro.db" KADRO_EXPORT_DIR="$tmp/exports"
"$bin" migrate >/dev/null
"$bin" seed-demo >/dev/null 2>&1
(cd "$tmp" && KADRO_BIND="127.0.0.1:$port" KADRO_SERVICE_TOKENS="$token" KADRO_LOG=warn \
    exec "$bin" serve) >"$tmp/log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
done
curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || { echo "kadro did not start:"; tail -20 "$tmp/log"; exit 1; }

args=(--checks "$checks" --max-examples "$examples" --request-timeout 10)
[ -z "$exclude" ] || args+=(--exclude-checks "$exclude")
[ -z "$seed" ] || args+=(--seed "$seed")
"$VENV/bin/schemathesis" --config-file "$(dirname "$0")/schemathesis.toml" run "http://127.0.0.1:$port/api/schema/" \
    --header "Authorization: Token $token" "${args[@]}"
