#!/usr/bin/env bash
# Short fuzz smoke run: every reader's target for FUZZ_SECONDS (default 20) each,
# seeded with the real files. Needs a nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz --locked`); without them it prints SKIP and
# exits 0 — the stable proptest "never panics" tests in
# crates/sources/tests/sources/robustness.rs check the same property in CI.
# Inputs that crash or hang are saved by libFuzzer under fuzz/artifacts/;
# turn each into a regression test in crates/sources/tests/sources/.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${FUZZ_SECONDS:-20}"
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "SKIP fuzz smoke: no nightly toolchain installed (rustup toolchain list shows none); the proptest never-panics tests cover the readers on stable"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "SKIP fuzz smoke: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)"
  exit 0
fi
seed() { # target, files...
  local t=$1; shift
  mkdir -p "corpus/$t"
  for f in "$@"; do [ -f "$f" ] && cp "$f" "corpus/$t/" || true; done
}
D=../data
seed gdelt2 "$D/gdelt/20191024143000.export.CSV"
seed gdelt1 ../crates/sources/tests/data/gdelt1_events_sample_reed9999.tsv
seed cap "$D"/feeds/cap/*
seed gdacs "$D/feeds/gdacs/gdacs-1.xml"
seed usgs "$D/feeds/usgs/all_day_2014-04-14.geojson"
seed news ../crates/sources/tests/data/news/*
seed report ../crates/sources/examples/field-reports.json
seed acled ../crates/sources/tests/data/acled-header-only.csv
seed detect "$D"/feeds/cap/weather.xml "$D"/feeds/gdacs/gdacs-1.xml
status=0
for t in gdelt2 gdelt1 acled cap gdacs usgs news report detect; do
  echo "== fuzz $t (${SECONDS_EACH}s)"
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 || status=1
done
exit $status
