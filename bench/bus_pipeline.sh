#!/usr/bin/env bash
# The whole pipeline on the shipped GDELT export and the demo's registry,
# three ways, in the same run: the baseline (`ingest` + `incidents trigger`,
# direct calls), every stage in one process over the in-process bus
# (`worker --input`), and every stage in one process over NATS JetStream
# (`worker --bus nats://… --input`, a fresh stream each run, deleted after).
# Each variant starts from a fresh SQLite file with the registry imported;
# the time is ingest through the last incident (and, for the workers, the
# alerts queued). Prints the median of RUNS, the ratio to the baseline, the
# load average, and checks that every variant opened the same incidents.
#
#   bench/bus_pipeline.sh            # RUNS=5, NATS=nats://127.0.0.1:4222
#   NATS= bench/bus_pipeline.sh      # skip the JetStream variant
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-5}"
NATS="${NATS-nats://127.0.0.1:4222}"
EXPORT=data/gdelt/20191024143000.export.CSV
cargo build --release -q -p farguard
FG="$PWD/target/release/farguard"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT

"$FG" --json demo --out "$DIR/seed.db" >/dev/null
for k in orgs sites people itineraries dependencies; do
  "$FG" --db "$DIR/seed.db" export "$k" --out "$DIR/$k.csv"
done
fresh() {
  rm -f "$1" "$1-wal" "$1-shm"
  for k in orgs sites people itineraries dependencies; do
    "$FG" --db "$1" import "$k" "$DIR/$k.csv" >/dev/null
  done
}
seconds() { local s; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }
incidents() { "$FG" --db "$1" --json incidents list --all | python3 -c 'import json,sys; print(sorted((i["id"], i["level"]) for i in json.load(sys.stdin)))' | md5sum; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A times
declare -A digest
for run in $(seq "$RUNS"); do
  db="$DIR/base.db"; fresh "$db"
  times[base]+="$(seconds sh -c "'$FG' --db '$db' ingest '$EXPORT' && '$FG' --db '$db' incidents trigger") "
  digest[base]="$(incidents "$db")"

  db="$DIR/mem.db"; fresh "$db"
  times[memory]+="$(seconds "$FG" --db "$db" worker --input "$EXPORT") "
  digest[memory]="$(incidents "$db")"

  if [ -n "$NATS" ]; then
    db="$DIR/nats.db"; fresh "$db"
    prefix="fg-bench-$$-$run"
    times[nats]+="$(seconds "$FG" --db "$db" worker --bus "$NATS" --prefix "$prefix" --input "$EXPORT" --until-idle 0) "
    digest[nats]="$(incidents "$db")"
    python3 - "$NATS" "$prefix" <<'EOF'
import socket, sys, json
host, port = sys.argv[1].split("://")[1].split(":")
s = socket.create_connection((host, int(port))); s.recv(4096)
name = sys.argv[2].upper().replace("-", "_").replace(".", "_")
s.sendall(b'CONNECT {"verbose":false}\r\nSUB _INBOX.d 1\r\nPUB $JS.API.STREAM.DELETE.%s _INBOX.d 0\r\n\r\nPING\r\n' % name.encode())
s.recv(4096)
EOF
  fi
done

base=$(tr ' ' '\n' <<<"${times[base]}" | grep . | median)
echo "pipeline on $EXPORT (demo registry), median of $RUNS, load $(cut -d' ' -f1-3 /proc/loadavg):"
for v in base memory nats; do
  [ -n "${times[$v]:-}" ] || continue
  m=$(tr ' ' '\n' <<<"${times[$v]}" | grep . | median)
  same=$([ "${digest[$v]}" = "${digest[base]}" ] && echo "same incidents" || echo "DIFFERENT incidents")
  printf '  %-7s %6.2f s  %5.2fx the baseline  %s\n' "$v" "$m" "$(echo "$m / $base" | bc -l)" "$same"
done
echo "  (base: ingest + incidents trigger; memory: worker --input; nats: worker --bus … --input, one process)"
