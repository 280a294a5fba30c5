#!/usr/bin/env bash
# Spatial matching, side by side in one run: farguard's PointGrid (and the
# plain rstar loop it prints as its baseline) against PostGIS, DuckDB spatial
# and shapely on the SAME 1,000,000 points and 100,000 events (uniform on the
# sphere, 50 km, sphere R = 6,371,008.7714 m), with match counts compared.
#
#   bench/spatial_peers.sh            # needs root for apt-get (PostGIS) and pip
#   PG=postgres://postgres@127.0.0.1:5432/test bench/spatial_peers.sh
#   CLUSTERED=1 bench/spatial_peers.sh   # also 10M clustered points: farguard
#                                        # on 100k events, PostGIS on a 1k sample
#
# Steps: (1) the Rust benchmark writes the workload as CSV and its own
# figures (release, one thread); (2) PostGIS 3 is installed into the local
# PostgreSQL 15 if missing, the points are loaded into geography with a GiST
# index, and ST_DWithin(geography, geography, 50000, false) — the sphere —
# counts the pairs on one backend (parallel workers off); (3) DuckDB spatial
# and shapely run in a venv if they install. Each engine's count must equal
# farguard's; the ratios are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
PG=${PG:-postgres://postgres@127.0.0.1:5432/test}
DIR=${DIR:-$(mktemp -d /tmp/farguard-spatial.XXXXXX)}
VENV=${VENV:-/tmp/farguard-peers-venv}
echo "workload directory: $DIR"

echo "== 1. farguard (cargo bench -p farguard-expose --bench spatial) =="
if [ -n "${CLUSTERED:-}" ]; then QUICK=; else QUICK=1; fi
env ${QUICK:+FARGUARD_BENCH_QUICK=1} FARGUARD_BENCH_DUMP="$DIR" cargo bench -q -p farguard-expose --bench spatial 2>&1 | grep -v '^\s*$'
FG_EPS=$(python3 -c "import json;print(json.load(open('$DIR/farguard.json'))['events_per_s'])")
FG_N=$(python3 -c "import json;print(json.load(open('$DIR/farguard.json'))['matches'])")
EVENTS=$(($(wc -l < "$DIR/events.csv") - 1))
RESULTS="$DIR/peers.tsv"
: > "$RESULTS"

echo "== 2. PostGIS =="
if ! psql "$PG" -tAc "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'" | grep -q 1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-postgis-3 >/dev/null
  else
    echo "SKIP PostGIS: not installed and not root (apt-get install -y postgresql-15-postgis-3)"
  fi
fi
if psql "$PG" -tAc "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'" | grep -q 1; then
  psql "$PG" -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION IF NOT EXISTS postgis;
DROP SCHEMA IF EXISTS fg_spatial CASCADE;
CREATE SCHEMA fg_spatial;
CREATE TABLE fg_spatial.points (id int, lat float8, lon float8);
CREATE TABLE fg_spatial.events (id int, lat float8, lon float8);
\copy fg_spatial.points FROM '$DIR/points.csv' CSV HEADER
\copy fg_spatial.events FROM '$DIR/events.csv' CSV HEADER
ALTER TABLE fg_spatial.points ADD COLUMN g geography(Point, 4326);
UPDATE fg_spatial.points SET g = ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography;
ALTER TABLE fg_spatial.events ADD COLUMN g geography(Point, 4326);
UPDATE fg_spatial.events SET g = ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography;
CREATE INDEX ON fg_spatial.points USING gist (g);
ANALYZE fg_spatial.points; ANALYZE fg_spatial.events;
SQL
  OUT=$(psql "$PG" -tA -v ON_ERROR_STOP=1 2>&1 <<'SQL'
SET max_parallel_workers_per_gather = 0;
SET enable_seqscan = off;
DO $$
DECLARE t0 timestamptz; n bigint;
BEGIN
  t0 := clock_timestamp();
  SELECT count(*) INTO n FROM fg_spatial.events e JOIN fg_spatial.points p
    ON ST_DWithin(e.g, p.g, 50000, false);
  RAISE NOTICE 'RESULT % %', n, extract(epoch FROM clock_timestamp() - t0);
END $$;
SQL
  )
  read -r PG_N PG_S < <(echo "$OUT" | sed -n 's/.*RESULT \([0-9]*\) \([0-9.]*\).*/\1 \2/p')
  echo "PostGIS 3 ST_DWithin(geography, 50000, use_spheroid=false), GiST, 1 backend: $PG_N matches in $PG_S s"
  printf 'PostGIS ST_DWithin sphere, GiST, 1 backend\t%s\t%s\n' "$PG_N" "$PG_S" >> "$RESULTS"
  psql "$PG" -q -c "DROP SCHEMA fg_spatial CASCADE"
fi

echo "== 3. DuckDB spatial and shapely (venv $VENV) =="
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
if "$VENV/bin/pip" install -q numpy shapely duckdb==1.5.5 duckdb-extension-spatial==1.5.5 2>/dev/null; then
  "$VENV/bin/python" - "$DIR" "$RESULTS" <<'PY'
import sys, time, math, os
import numpy as np
d, results = sys.argv[1], sys.argv[2]
R, r = 6371008.7714, 50000.0
pts = np.loadtxt(f"{d}/points.csv", delimiter=",", skiprows=1)
evs = np.loadtxt(f"{d}/events.csv", delimiter=",", skiprows=1)

def envelopes(lat, lon):
    # The spherical cap's lon/lat envelope(s), as in farguard's cap.rs.
    dd = math.degrees(r / R)
    lo_lat, hi_lat = lat - dd, lat + dd
    if lo_lat <= -90 or hi_lat >= 90:
        return [(-180.0, max(lo_lat, -90.0), 180.0, min(hi_lat, 90.0))]
    s = min(math.sin(math.radians(dd)) / math.cos(math.radians(lat)), 1.0)
    dl = math.degrees(math.asin(s)) * (1 + 1e-9) + 1e-9
    lo, hi = lon - dl, lon + dl
    lo_lat, hi_lat = lo_lat - 1e-9, hi_lat + 1e-9
    if lo < -180: return [(-180.0, lo_lat, hi, hi_lat), (lo + 360, lo_lat, 180.0, hi_lat)]
    if hi > 180: return [(lo, lo_lat, 180.0, hi_lat), (-180.0, lo_lat, hi - 360, hi_lat)]
    return [(lo, lo_lat, hi, hi_lat)]

boxes, owner = [], []
for i, (_, la, lo) in enumerate(evs):
    for b in envelopes(la, lo):
        boxes.append(b); owner.append(i)
boxes = np.array(boxes); owner = np.array(owner)

def hav(la1, lo1, la2, lo2):
    p1, p2 = np.radians(la1), np.radians(la2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lo2 - lo1) / 2) ** 2
    return 2 * R * np.arcsin(np.minimum(np.sqrt(a), 1.0))

try:
    import shapely
    t = time.perf_counter()
    tree = shapely.STRtree(shapely.points(pts[:, 2], pts[:, 1]))
    build = time.perf_counter() - t
    t = time.perf_counter()
    q = tree.query(shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]))
    e, p = owner[q[0]], q[1]
    dist = hav(evs[e, 1], evs[e, 2], pts[p, 1], pts[p, 2])
    pairs = np.unique(e[dist <= r].astype(np.int64) * 10_000_000 + p[dist <= r])
    s = time.perf_counter() - t
    print(f"shapely {shapely.__version__} STRtree (build {build:.2f} s), all events in one vectorised query + numpy haversine: {len(pairs)} matches in {s:.2f} s")
    open(results, "a").write(f"shapely STRtree vectorised\t{len(pairs)}\t{s}\n")
except Exception as ex:
    print("SKIP shapely:", ex)

try:
    import duckdb
    import duckdb_extension_spatial as des
    con = duckdb.connect(config={"threads": 1, "autoinstall_known_extensions": False, "autoload_known_extensions": False})
    ext = [os.path.join(root, f) for root, _, fs in os.walk(os.path.dirname(des.__file__)) for f in fs if f.endswith(".duckdb_extension")]
    con.execute(f"LOAD '{ext[0]}'")
    con.execute(f"CREATE TABLE p AS SELECT id, lat, lon, ST_Point(lon, lat) AS g FROM read_csv('{d}/points.csv')")
    bx = [(int(owner[k]), *boxes[k]) for k in range(len(boxes))]
    con.execute("CREATE TABLE b (e INT, x0 DOUBLE, y0 DOUBLE, x1 DOUBLE, y1 DOUBLE)")
    con.executemany("INSERT INTO b VALUES (?, ?, ?, ?, ?)", bx)
    con.execute(f"CREATE TABLE ev AS SELECT id, lat, lon FROM read_csv('{d}/events.csv')")
    con.execute("CREATE TABLE be AS SELECT b.e, ev.lat, ev.lon, ST_MakeEnvelope(x0, y0, x1, y1) AS env FROM b JOIN ev ON ev.id = b.e")
    t = time.perf_counter()
    n = con.execute(f"""
      SELECT count(*) FROM (SELECT DISTINCT be.e, p.id FROM be JOIN p ON ST_Intersects(be.env, p.g)
      WHERE 2 * {R} * asin(least(1, sqrt(pow(sin(radians(p.lat - be.lat) / 2), 2)
            + cos(radians(be.lat)) * cos(radians(p.lat)) * pow(sin(radians(p.lon - be.lon) / 2), 2)))) <= {r})
    """).fetchone()[0]
    s = time.perf_counter() - t
    print(f"DuckDB {duckdb.__version__} spatial, ST_Intersects spatial join on cap envelopes + haversine, 1 thread: {n} matches in {s:.2f} s")
    open(results, "a").write(f"DuckDB spatial 1 thread\t{n}\t{s}\n")
except Exception as ex:
    print("SKIP DuckDB spatial:", ex)
PY
else
  echo "SKIP DuckDB/shapely: pip install failed"
fi

if [ -n "${CLUSTERED:-}" ] && psql "$PG" -tAc "SELECT 1 FROM pg_extension WHERE extname = 'postgis'" | grep -q 1; then
  echo "== 4. PostGIS on 10M clustered points, 1,000-event sample =="
  psql "$PG" -q -v ON_ERROR_STOP=1 <<SQL
DROP SCHEMA IF EXISTS fg_clustered CASCADE;
CREATE SCHEMA fg_clustered;
CREATE TABLE fg_clustered.points (id int, lat float8, lon float8);
CREATE TABLE fg_clustered.events (id int, lat float8, lon float8);
\copy fg_clustered.points FROM '$DIR/clustered_points.csv' CSV HEADER
\copy fg_clustered.events FROM '$DIR/clustered_events.csv' CSV HEADER
CREATE TABLE fg_clustered.p AS SELECT id, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography AS g FROM fg_clustered.points;
CREATE TABLE fg_clustered.e AS SELECT id, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography AS g FROM fg_clustered.events;
CREATE INDEX ON fg_clustered.p USING gist (g);
ANALYZE fg_clustered.p; ANALYZE fg_clustered.e;
SQL
  OUT=$(psql "$PG" -tA -v ON_ERROR_STOP=1 2>&1 <<'SQL'
SET max_parallel_workers_per_gather = 0;
SET enable_seqscan = off;
DO $$
DECLARE t0 timestamptz; n bigint;
BEGIN
  t0 := clock_timestamp();
  SELECT count(*) INTO n FROM fg_clustered.e e JOIN fg_clustered.p p ON ST_DWithin(e.g, p.g, 50000, false);
  RAISE NOTICE 'RESULT % %', n, extract(epoch FROM clock_timestamp() - t0);
END $$;
SQL
  )
  read -r C_N C_S < <(echo "$OUT" | sed -n 's/.*RESULT \([0-9]*\) \([0-9.]*\).*/\1 \2/p')
  read -r C_EPS C_SE C_SN < <(python3 -c "import json;d=json.load(open('$DIR/farguard_clustered.json'));print(d['events_per_s'],d['sample_events'],d['sample_matches'])")
  PG_CEPS=$(python3 -c "print(round($C_SE / $C_S))")
  echo "PostGIS clustered: $C_N matches for $C_SE events in $C_S s = $PG_CEPS events/s; farguard on the same sample: $C_SN matches"
  echo "clustered: farguard $C_EPS events/s (100k events) vs PostGIS $PG_CEPS events/s (1k sample): $(python3 -c "print(round($C_EPS / $PG_CEPS, 1))")x; counts $([ "$C_N" = "$C_SN" ] && echo identical || echo DIFFER)"
  psql "$PG" -q -c "DROP SCHEMA fg_clustered CASCADE"
fi

echo "== side by side: $EVENTS events, farguard $FG_N matches at $FG_EPS events/s =="
while IFS=$'\t' read -r name n s; do
  eps=$(python3 -c "print(round($EVENTS / $s))")
  ratio=$(python3 -c "print(round($FG_EPS / ($EVENTS / $s), 1))")
  same=$([ "$n" = "$FG_N" ] && echo "identical count" || echo "COUNT DIFFERS ($n vs $FG_N)")
  printf '%-48s %9s events/s   farguard is %7sx faster   %s\n' "$name" "$eps" "$ratio" "$same"
done < "$RESULTS"
