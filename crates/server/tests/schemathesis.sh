#!/usr/bin/env bash
# A short, bounded schemathesis run against farguard's own /openapi.json:
# serves the demo data (`farguard serve --demo`) with a coordinator token,
# generates requests for every documented operation and fails on any 5xx
# or any answer that does not match the documented schema. Run by .ci/run;
# locally: bash crates/server/tests/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$(pwd)
VENV="${FARGUARD_ST_VENV:-$ROOT/target/schemathesis-venv}"
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q schemathesis
fi
cargo build -q -p farguard
PORT="${FARGUARD_ST_PORT:-18181}"
WORK=$(mktemp -d)
LOG="$WORK/serve.log"
(cd "$WORK" && exec "$ROOT/target/debug/farguard" serve --demo --listen "127.0.0.1:$PORT" --rate-limit 0 >"$WORK/demo.txt" 2>"$LOG") &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
# Building the demo database takes minutes in a debug build on a busy machine.
for _ in $(seq 1 "${FARGUARD_ST_START_TIMEOUT:-900}"); do
  if grep -q "demo API token" "$LOG" 2>/dev/null && curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null; then break; fi
  kill -0 "$PID" 2>/dev/null || break
  sleep 1
done
TOKEN=$(grep -o 'fg_[0-9a-f]\{64\}' "$LOG" | head -n1 || true)
[ -n "$TOKEN" ] || { echo "serve --demo did not start:"; cat "$LOG" "$WORK/demo.txt"; exit 1; }
# Logging out would revoke the token the run uses; everything else is fuzzed.
timeout "${FARGUARD_ST_TIMEOUT:-900}" "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --exclude-path /api/v1/logout \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "${FARGUARD_ST_EXAMPLES:-25}" \
  --suppress-health-check all \
  --workers 2
