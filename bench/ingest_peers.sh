#!/usr/bin/env bash
# farguard's GDELT 2.0 ingest beside pandas and polars, on the same input in
# the same run. The input is the shipped real export repeated with fresh
# GLOBALEVENTIDs (211,100 rows, ~85 MB) — built by `farguard bench ingest
# --write-input`, so the peers read exactly what farguard reads. Peers parse
# only (pandas: every column as str; polars: every column as String, two
# threads); farguard parses, normalises and classifies on one thread, and
# also stores end to end into SQLite — on one thread, and pipelined (one
# thread parsing, one storing). Medians of RUNS runs each; the load average
# before and after is printed (figures from a busy machine are low).
#
# Usage: bench/ingest_peers.sh            (RUNS=5, REPEAT=100)
# Needs python3 with venv; installs pandas, polars and pyarrow into
# target/bench-venv the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
REPEAT="${REPEAT:-100}"
OUT=target/bench-peers
mkdir -p "$OUT"
INPUT="$OUT/gdelt2-x$REPEAT.CSV"

echo "== building farguard (release)"
cargo build --release -q -p farguard

VENV=target/bench-venv
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV with pandas, polars, pyarrow"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q pandas polars pyarrow
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== farguard bench ingest (writes the input)"
./target/release/farguard --json bench ingest --repeat "$REPEAT" --runs "$RUNS" --write-input "$INPUT" > "$OUT/farguard.json"

echo "== pandas and polars on the same file"
POLARS_MAX_THREADS=2 "$VENV/bin/python" - "$INPUT" "$RUNS" > "$OUT/peers.json" <<'PY'
import json, statistics, sys, time
path, runs = sys.argv[1], int(sys.argv[2])
import pandas as pd
import polars as pl
rows = sum(1 for _ in open(path, "rb"))
def bench(f):
    rates = []
    for _ in range(runs):
        t = time.perf_counter()
        n = f()
        dt = time.perf_counter() - t
        assert n == rows, (n, rows)
        rates.append(rows / dt)
    return statistics.median(rates)
pandas_rate = bench(lambda: len(pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False, quoting=3)))
polars_rate = bench(lambda: pl.read_csv(path, separator="\t", has_header=False, infer_schema=False, quote_char=None).height)
print(json.dumps({"rows": rows, "pandas_rows_per_s": pandas_rate, "polars_rows_per_s": polars_rate,
                  "pandas": pd.__version__, "polars": pl.__version__, "polars_threads": pl.thread_pool_size()}))
PY

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$OUT/farguard.json" "$OUT/peers.json" "$LOAD_BEFORE" "$LOAD_AFTER" <<'PY'
import json, sys
f = json.load(open(sys.argv[1])); p = json.load(open(sys.argv[2]))
assert f["rows"] == p["rows"], (f["rows"], p["rows"])
parse, e2e = f["parse_normalise_classify_rows_per_s"], f["end_to_end_sqlite_rows_per_s"]
e2e1 = f["end_to_end_sqlite_one_thread_rows_per_s"]
print(f"GDELT 2.0, {f['rows']:,} rows ({f['bytes']/1e6:.1f} MB), medians of {f['runs']} runs, same machine, same run")
print(f"  pandas {p['pandas']} read_csv, all str, 1 thread      {p['pandas_rows_per_s']:>12,.0f} rows/s")
print(f"  polars {p['polars']} read_csv, all String, {p['polars_threads']} threads  {p['polars_rows_per_s']:>12,.0f} rows/s")
print(f"  farguard split lines+tabs only (baseline)       {f['split_only_rows_per_s']:>12,.0f} rows/s")
print(f"  farguard parse+normalise+classify, 1 thread     {parse:>12,.0f} rows/s   x{parse/p['pandas_rows_per_s']:.1f} pandas, x{parse/p['polars_rows_per_s']:.2f} polars")
print(f"  farguard end to end into SQLite, 1 thread      {e2e1:>12,.0f} rows/s   x{e2e1/p['pandas_rows_per_s']:.1f} pandas, x{e2e1/p['polars_rows_per_s']:.2f} polars")
print(f"  farguard end to end into SQLite, pipelined     {e2e:>12,.0f} rows/s   x{e2e/p['pandas_rows_per_s']:.1f} pandas, x{e2e/p['polars_rows_per_s']:.2f} polars  (2 threads, {f['pipeline_chunk_rows']:,} rows per transaction)")
cmd = f["ingest_command_rows_per_s"]
print(f"  farguard ingest FILE (+ merge + risk fold)     {cmd:>12,.0f} rows/s   x{cmd/p['pandas_rows_per_s']:.1f} pandas, x{cmd/p['polars_rows_per_s']:.2f} polars  (what a user runs; store thread ms: {f['ingest_command_steps_ms']})")
print(f"  targets: parse >= 500,000 rows/s {'MET' if parse >= 500_000 else 'MISSED'}, faster than polars {'YES' if parse > p['polars_rows_per_s'] else 'NO'}; end to end >= 100,000 rows/s {'MET' if e2e >= 100_000 else 'MISSED'} (store only), {'MET' if cmd >= 100_000 else 'MISSED'} (the ingest command)")
print(f"  load average (1, 5, 15 min) before: {sys.argv[3]}, after: {sys.argv[4]} on {__import__('os').cpu_count()} cores")
PY
