#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md and prints a RATIO line for each (ours, peer) pair
# measured in this same invocation. Performance is measured here, never asserted in tests.
#
#   scripts/bench.sh                 # Release build in ./build-bench, then all benchmarks
#   BUILD_DIR=/work/build-bench scripts/bench.sh
#
# Environment:
#   BUILD_DIR     build directory (default: <repo>/build-bench); configured Release here
#   SKIP_BUILD=1  use the binaries already in BUILD_DIR
#   NODE_MODULES  tuf-js node_modules to use (default: `npm ci` into BUILD_DIR, as ctest does)
#   REFRESH_RUNS  runs of our refresh per repository size (default 5)
#   HASH_RUNS     runs of each hashing command (default 3)
#   SKIP_TUFJS=1  skip the tuf-js refresh (about a minute on 10,000 targets)
# Repeated runs report the minimum wall time and the minimum CPU time separately (the least
# disturbed estimate of each on a shared machine) and the maximum peak RSS.
#
# Steps: json_bench (ours vs nlohmann/json), crypto_bench, refresh_bench (in-process Updater);
# refresh over loopback HTTP, client-agent vs tuf-js's Updater on the same static tree (tuf-js
# on 10,000 targets only: its quadratic path takes far too long on 100,000); a 1 GiB file
# hashed by `openssl dgst` vs our crypto::HashFile. Temporary files and the HTTP server are
# removed on any exit. Takes about 3 minutes on 2 busy cores, of which tuf-js takes 0.5-1.5.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRC/build-bench}
REFRESH_RUNS=${REFRESH_RUNS:-5}
HASH_RUNS=${HASH_RUNS:-3}
BENCH=$BUILD_DIR/tests/bench
MEASURE=$BENCH/measure

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mdu-bench.XXXXXX")
SERVER_PID=
cleanup() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section() { printf '\n==== %s\n' "$*"; }
# ratio PEER OURS -> "1.23" (peer / ours: above 1 means ours is faster)
ratio() { awk -v p="$1" -v o="$2" 'BEGIN { printf "%.2f", (o > 0 ? p / o : 0) }'; }
# timed OUT_FILE cmd...: runs cmd under tests/bench/measure (wait4 rusage, microseconds);
# OUT_FILE gets "wall_s cpu_s user_s sys_s maxrss_kib". The command's stdout is discarded.
timed() {
  local out=$1
  shift
  "$MEASURE" "$out" "$@" >/dev/null
}
wall_of() { awk '{ printf "%.3f", $1 }' "$1"; }
cpu_of() { awk '{ printf "%.3f", $2 }' "$1"; }
rss_of() { awk '{ print $5 }' "$1"; }

section "machine"
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "sha extensions: $(grep -m1 -o -w 'sha_ni' /proc/cpuinfo || echo none)"
echo "load: $(uptime)"
echo "openssl: $(openssl version)"
echo "node: $(node --version 2>/dev/null || echo missing)"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  section "build (Release, $BUILD_DIR)"
  cmake -S "$SRC" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    >/dev/null
  ninja -C "$BUILD_DIR" json_bench crypto_bench refresh_bench client-agent make_bench_repo \
    hash_file measure | tail -n 1
fi

# ---- Google Benchmark binaries ------------------------------------------------------------
section "json_bench (ours vs nlohmann/json, same document)"
"$BENCH/json_bench" --benchmark_min_time=0.5 \
  --benchmark_out="$TMP/json_bench.json" --benchmark_out_format=json
section "crypto_bench"
"$BENCH/crypto_bench" --benchmark_min_time=0.2 \
  --benchmark_out="$TMP/crypto_bench.json" --benchmark_out_format=json
section "refresh_bench (in-process Updater + simulator)"
"$BENCH/refresh_bench" --benchmark_min_time=1 \
  --benchmark_out="$TMP/refresh_bench.json" --benchmark_out_format=json
section "ratios (Google Benchmark, peer cpu time / our cpu time)"
python3 "$SRC/tests/bench/bench_ratios.py" "$TMP/json_bench.json" "$TMP/crypto_bench.json"

# ---- refresh over loopback HTTP: client-agent vs tuf-js -----------------------------------
section "refresh over loopback HTTP: client-agent vs tuf-js Updater"
AGENT=$BUILD_DIR/client-agent/client-agent
mkdir -p "$TMP/repos"
for n in 10000 100000; do
  "$BENCH/make_bench_repo" "$n" "$TMP/repos/$n"
done
# nginx (sendfile) serves both clients when installed, so the figures measure the clients, not
# the server; node's static server otherwise (it adds 20-30 ms per 3 MB on this VM).
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
if [[ -x $NGINX ]]; then
  chmod -R a+rX "$TMP"  # nginx workers started by root run as nobody
  source "$SRC/scripts/lib/loopback_servers.sh"
  start_static_nginx "$TMP/repos" >/dev/null 2>&1
  SERVER_PID=$NGINX_PID
  PORT=$http_port
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/10000/metadata/1.root.json" && break
    sleep 0.1
  done
  echo "static server: nginx ($NGINX)"
else
  node "$SRC/tests/bench/serve_static.js" "$TMP/repos" >"$TMP/server.out" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    grep -q '^PORT ' "$TMP/server.out" 2>/dev/null && break
    sleep 0.1
  done
  PORT=$(awk '/^PORT /{ print $2 }' "$TMP/server.out")
  echo "static server: node tests/bench/serve_static.js (nginx not found)"
fi
[[ -n $PORT ]] || { echo "static server did not start" >&2; exit 1; }

TUFJS_OK=0
if [[ ${SKIP_TUFJS:-0} != 1 ]]; then
  if [[ -z ${NODE_MODULES:-} ]]; then
    NODE_MODULES=$BUILD_DIR/tests/interop/npm/node_modules
    node "$SRC/tests/interop/npm_ci.js" npm "$BUILD_DIR/tests/interop/npm" >/dev/null ||
      echo "npm ci failed: tuf-js refresh skipped" >&2
  fi
  [[ -d $NODE_MODULES/tuf-js ]] && TUFJS_OK=1
fi

for n in 10000 100000; do
  repo=$TMP/repos/$n
  url=http://127.0.0.1:$PORT/$n/metadata
  targets_bytes=$(stat -c %s "$repo/metadata/2.targets.json")
  meta_bytes=$(cat "$repo"/metadata/1.root.json "$repo"/metadata/timestamp.json \
    "$repo"/metadata/*.snapshot.json "$repo"/metadata/2.targets.json | wc -c)
  # The machine is shared: the minimum wall time and the minimum CPU time over the runs are
  # reported separately (each is the least disturbed estimate of itself), RSS as the maximum.
  : >"$TMP/runs.$n"
  for run in $(seq "$REFRESH_RUNS"); do
    md=$TMP/md-$n
    rm -rf "$md"
    timed "$TMP/t.init" "$AGENT" --metadata-dir "$md" init "$repo/metadata/1.root.json"
    timed "$TMP/t.ours" "$AGENT" --metadata-url "$url" --metadata-dir "$md" refresh
    cat "$TMP/t.ours" >>"$TMP/runs.$n"
  done
  awk 'NR == 1 || $1 < w { w = $1 } NR == 1 || $2 < c { c = $2 } $5 > r { r = $5 }
       END { printf "%.6f %.6f 0 0 %d\n", w, c, r }' "$TMP/runs.$n" >"$TMP/best.ours.$n"
  best=$TMP/best.ours.$n
  wall=$(wall_of "$best")
  echo "ours refresh $n targets (targets.json $targets_bytes B, metadata $meta_bytes B):" \
    "wall $wall s, cpu $(cpu_of "$best") s, peak RSS $(rss_of "$best") KiB" \
    "(min wall, min cpu, max RSS of $REFRESH_RUNS runs; all runs wall/cpu:" \
    "$(awk '{ printf "%s%.3f/%.3f", (NR > 1 ? " " : ""), $1, $2 }' "$TMP/runs.$n"))," \
    "$(awk -v b="$targets_bytes" -v w="$wall" 'BEGIN { printf "%.0f", b / w / 1e6 }') MB/s" \
    "of targets.json by wall, RSS = $(ratio "$(($(rss_of "$best") * 1024))" "$meta_bytes") x" \
    "metadata size; process baseline (client-agent init): cpu $(cpu_of "$TMP/t.init") s," \
    "RSS $(rss_of "$TMP/t.init") KiB"

  if [[ $n == 10000 && $TUFJS_OK == 1 ]]; then
    NODE_PATH=$NODE_MODULES "$MEASURE" "$TMP/t.tufjs" timeout 900 node \
      "$SRC/tests/bench/tufjs_refresh.js" "$url" "$repo/metadata/1.root.json" "$TMP/tufjs-$n"
    echo "tuf-js refresh $n targets: wall $(wall_of "$TMP/t.tufjs") s," \
      "cpu $(cpu_of "$TMP/t.tufjs") s, peak RSS $(rss_of "$TMP/t.tufjs") KiB (one run)"
    echo "RATIO refresh $n targets, tuf-js / ours:" \
      "wall $(ratio "$(wall_of "$TMP/t.tufjs")" "$wall")x," \
      "cpu $(ratio "$(cpu_of "$TMP/t.tufjs")" "$(cpu_of "$best")")x," \
      "peak RSS $(ratio "$(rss_of "$TMP/t.tufjs")" "$(rss_of "$best")")x"
  elif [[ $n == 100000 ]]; then
    echo "tuf-js refresh $n targets: not run (quadratic path in @tufjs/models: far too long)"
  fi
done
kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=

# ---- file hashing: openssl dgst vs crypto::HashFile ---------------------------------------
section "1 GiB file: openssl dgst vs our crypto::HashFile (page cache warm)"
big=$TMP/1GiB.bin
head -c $((1 << 30)) /dev/zero >"$big"
cat "$big" >/dev/null
HASH=$BENCH/hash_file
# best_of FILE_PREFIX cmd...: HASH_RUNS runs; FILE_PREFIX gets the minimum wall and the
# minimum CPU time (each the least disturbed estimate on a shared machine) and the max RSS.
best_of() {
  local out=$1
  shift
  : >"$out.runs"
  for _ in $(seq "$HASH_RUNS"); do
    "$MEASURE" "$out.run" "$@" >"$out.digest"
    cat "$out.run" >>"$out.runs"
  done
  awk 'NR == 1 || $1 < w { w = $1 } NR == 1 || $2 < c { c = $2 } $5 > r { r = $5 }
       END { printf "%.6f %.6f 0 0 %d\n", w, c, r }' "$out.runs" >"$out"
}
best_of "$TMP/h.ossl256" openssl dgst -sha256 "$big"
best_of "$TMP/h.ossl512" openssl dgst -sha512 "$big"
best_of "$TMP/h.ours256" "$HASH" --sha256 "$big"
best_of "$TMP/h.oursboth" "$HASH" --sha256 --sha512 "$big"
cmp -s "$TMP/h.ossl256.digest" "$TMP/h.ours256.digest" ||
  { echo "sha256 digests differ" >&2; exit 1; }
cat "$TMP/h.ossl256.digest" "$TMP/h.ossl512.digest" | cmp -s - "$TMP/h.oursboth.digest" ||
  { echo "sha256+sha512 digests differ" >&2; exit 1; }
for f in ossl256 ossl512 ours256 oursboth; do
  echo "$f: wall $(wall_of "$TMP/h.$f") s, cpu $(cpu_of "$TMP/h.$f") s," \
    "peak RSS $(rss_of "$TMP/h.$f") KiB (min wall, min cpu, max RSS of $HASH_RUNS runs)"
done
echo "RATIO sha256 1 GiB, openssl dgst -sha256 / ours:" \
  "cpu $(ratio "$(cpu_of "$TMP/h.ossl256")" "$(cpu_of "$TMP/h.ours256")")x," \
  "wall $(ratio "$(wall_of "$TMP/h.ossl256")" "$(wall_of "$TMP/h.ours256")")x (aim >= 0.9x)"
both_cpu=$(awk -v a="$(cpu_of "$TMP/h.ossl256")" -v b="$(cpu_of "$TMP/h.ossl512")" \
  'BEGIN { print a + b }')
both_wall=$(awk -v a="$(wall_of "$TMP/h.ossl256")" -v b="$(wall_of "$TMP/h.ossl512")" \
  'BEGIN { print a + b }')
echo "RATIO sha256+sha512 1 GiB, (openssl -sha256 then -sha512) / ours in one pass:" \
  "cpu $(ratio "$both_cpu" "$(cpu_of "$TMP/h.oursboth")")x," \
  "wall $(ratio "$both_wall" "$(wall_of "$TMP/h.oursboth")")x"

section "done"
echo "load at end: $(uptime)"
