#!/usr/bin/env bash
# Load benchmark of `farguard serve` on loopback with wrk (apt-get install wrk).
#
#   bash crates/server/bench/load.sh            # 20 s per scenario
#   DURATION=60s bash crates/server/bench/load.sh
#
# Serves the demo data (release build, rate limit off) and measures, each
# with wrk's latency distribution:
#   baseline  GET /healthz            (no store, no auth: the HTTP stack alone)
#   reads     a mix of authenticated API reads: map, levels, events, sites,
#             one assessment with its explanation, incidents, me
#   checkin   POST /api/v1/checkin/{token}, alternating safe / need_help over
#             200 recipients, so every request is a decided, stored and
#             audited write
# Targets (issue 8): mixed reads at 2,000 req/s with p99 <= 20 ms; check-in
# writes p99 <= 50 ms. wrk is closed-loop: it reports the throughput it
# reached with the latency at that load, so a run above 2,000 req/s with
# p99 <= 20 ms meets the target with margin.
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$(pwd)
DURATION="${DURATION:-20s}"
CONNS="${CONNS:-16}"
PORT="${PORT:-18282}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk"; exit 1; }
WORK=$(mktemp -d)
# The database: the demo data (with a coordinator token), or a copy of
# FARGUARD_BENCH_DB with FARGUARD_BENCH_TOKEN when given.
if [ -n "${FARGUARD_BENCH_DB:-}" ]; then
  cp "$FARGUARD_BENCH_DB" "$WORK/farguard-demo.db"
  TOKEN="$FARGUARD_BENCH_TOKEN"
else
  cargo build -q --release -p farguard
  "$ROOT/target/release/farguard" demo --out "$WORK/farguard-demo.db" >/dev/null
  TOKEN=$("$ROOT/target/release/farguard" --db "$WORK/farguard-demo.db" user add --name bench --role coordinator | grep -o 'fg_[0-9a-f]\{64\}')
fi
# The server: the same `farguard_server::run` as `farguard serve`, rate limit off.
cargo build -q --release -p farguard-server --example serve
"$ROOT/target/release/examples/serve" "$WORK/farguard-demo.db" "127.0.0.1:$PORT" 2>"$WORK/serve.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  sleep 0.3
done
URL="http://127.0.0.1:$PORT"

# Check-in fixtures: 200 link tokens for synthetic recipients of one scope
# (the clear tokens go to wrk; the store keeps their SHA-256, as notify does).
python3 - "$WORK/farguard-demo.db" "$WORK/tokens.txt" <<'PY'
import hashlib, os, sqlite3, sys, time
db, out = sys.argv[1], sys.argv[2]
c = sqlite3.connect(db, timeout=30)
now = int(time.time() * 1e6)
toks = []
for i in range(200):
    t = os.urandom(32).hex()
    toks.append(t)
    r = f"BENCH-P{i:04d}"
    c.execute("INSERT INTO checkin_tokens VALUES (?,?,?,?,?,?)",
              (hashlib.sha256(t.encode()).digest(), "incident:bench-load", r, "link", now, now + 86400 * 10**6))
    c.execute("INSERT INTO checkins (scope, recipient, name, status) VALUES (?,?,?,?)",
              ("incident:bench-load", r, f"Bench person {i}", "no_answer"))
c.commit()
open(out, "w").write("\n".join(toks))
PY

cat > "$WORK/reads.lua" <<LUA
local paths = {
  "/api/v1/map?category=security",
  "/api/v1/assessments?limit=50&brief=true",
  "/api/v1/events?limit=50",
  "/api/v1/sites?limit=50&q=port",
  "/api/v1/assessments/US/security",
  "/api/v1/incidents",
  "/api/v1/me",
  "/api/v1/people?limit=20",
}
local i = 0
wrk.headers["Authorization"] = "Bearer $TOKEN"
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
LUA

{
  echo "local tokens = {"
  sed 's/.*/  "&",/' "$WORK/tokens.txt"
  echo "}"
  cat <<'LUA'
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  local tok = tokens[(i % #tokens) + 1]
  local status = (math.floor(i / #tokens) % 2 == 0) and "safe" or "need_help"
  return wrk.format("POST", "/api/v1/checkin/" .. tok, nil, '{"status":"' .. status .. '"}')
end
LUA
} > "$WORK/checkin.lua"

run() {
  local name=$1; shift
  echo "== $name"
  wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$@" | tee "$WORK/$name.txt" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors" || true
}
curl -fs -H "Authorization: Bearer $TOKEN" "$URL/api/v1/map" >/dev/null
run baseline "$URL/healthz"
run reads -s "$WORK/reads.lua" "$URL"
run checkin -s "$WORK/checkin.lua" "$URL"
echo "== summary (wrk -t2 -c$CONNS -d$DURATION, same run)"
for n in baseline reads checkin; do
  rps=$(grep "Requests/sec" "$WORK/$n.txt" | awk '{print $2}')
  p50=$(grep -E "^ +50%" "$WORK/$n.txt" | awk '{print $2}')
  p99=$(grep -E "^ +99%" "$WORK/$n.txt" | awk '{print $2}')
  non2xx=$(grep -c "Non-2xx" "$WORK/$n.txt" || true)
  printf "%-9s %10s req/s   p50 %-9s p99 %-9s %s\n" "$n" "$rps" "$p50" "$p99" "$([ "$non2xx" = 0 ] && echo 'all 2xx' || grep Non-2xx "$WORK/$n.txt")"
done
