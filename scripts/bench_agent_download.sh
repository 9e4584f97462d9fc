#!/usr/bin/env bash
# The agent's download benchmark (issue 5): a 1 GiB target downloaded and verified into the
# staging area (client-agent/update/staging.h) over gRPC from repo-server and over HTTP from
# nginx, both on loopback, next to `curl URL | openssl dgst -sha256` from the same nginx, all in
# this one invocation. Prints each run (wall, CPU = user + system of the process tree, peak RSS,
# load average), then per transport the wall time, CPU seconds per GiB and peak RSS and the
# RATIO peer_time / our_time (>= 0.9 is the aim: at most ~11 % slower than curl | openssl) and
# our peak RSS (aim <= 16 MiB).
#
#   scripts/bench_agent_download.sh                     # uses BUILD_DIR (default ./build)
#   BUILD_DIR=/work/build SIZE_MIB=1024 RUNS=3 scripts/bench_agent_download.sh
#
# Environment:
#   BUILD_DIR  build directory holding repo-server and tests/bench/{measure,agent_download_bench,
#              agent_download_publish} (build them first: cmake --build BUILD_DIR --target
#              repo-server measure agent_download_bench agent_download_publish); a Release or
#              RelWithDebInfo build. The tool links the agent's transports as client-agent
#              does (plain HTTP over its own Http1Fetcher, gRPC over libcurl's HTTP/2
#              loaded on first use, no libgrpc).
#   SIZE_MIB   target size (default 1024)
#   RUNS       runs of each side (default 3); the minimum wall time and the maximum RSS are kept
#   SHA512=1   the target lists sha512 as well as sha256 (the agent then checks both)
#   STATE_DIR  the agent's state directory (staging area); default a directory under TMPDIR.
#              The agent syncs what it stages (crash safety); the peer writes nothing. On a
#              slow disk the disk dominates: STATE_DIR=/dev/shm/... measures transport + verify.
# The target lists sha256 only by default (python-tuf's default for targets), so both sides
# compute the same digest. nginx and repo-server run on ephemeral ports with temporary
# configuration and data; everything is removed on exit.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRC/build}
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
BENCH=$BUILD_DIR/tests/bench
MEASURE=$BENCH/measure
TOOL=$BENCH/agent_download_bench
PUBLISH=$BENCH/agent_download_publish
REPO_SERVER=${REPO_SERVER:-$BUILD_DIR/repo-server/repo-server}  # or another build's
NGINX=${NGINX:-/usr/sbin/nginx}
for binary in "$MEASURE" "$TOOL" "$PUBLISH" "$REPO_SERVER" "$NGINX"; do
  [[ -x $binary ]] || { echo "missing $binary (see the header of $0)" >&2; exit 2; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mdu-agent-download.XXXXXX")
STATE=${STATE_DIR:-$TMP/state}
# shellcheck source=lib/loopback_servers.sh
source "$(dirname "$0")/lib/loopback_servers.sh"
cleanup() {
  stop_loopback_servers
  rm -rf "$TMP" "$STATE"
}
trap cleanup EXIT

echo "== making a ${SIZE_MIB} MiB target"
repo=$TMP/repo
target_path=$("$TOOL" make-repo "$repo" "$SIZE_MIB" ${SHA512:+--sha512})
root=$repo/metadata/1.root.json
chmod -R a+rX "$TMP"  # nginx workers started by root run as nobody

echo "== nginx on loopback"
start_static_nginx "$repo"

echo "== repo-server on loopback"
start_repo_server "$root"
wait_for_nginx
"$PUBLISH" "127.0.0.1:$grpc_port" "$repo"
rm -rf "$TMP/server/db/"*.tmp 2>/dev/null || true

# run NAME COMMAND...: RUNS times through `measure`; leaves "<min wall> <max rss KiB> <min cpu>"
# in $TMP/NAME.best (cpu = user + system seconds of the process tree).
run() {
  local name=$1
  shift
  local best_wall= best_rss=0 best_cpu=
  for i in $(seq "$RUNS"); do
    rm -rf "$STATE"
    sync
    "$MEASURE" "$TMP/$name.$i" "$@" > "$TMP/$name.out" 2>&1 || {
      cat "$TMP/$name.out" >&2
      exit 1
    }
    read -r wall cpu _ _ rss < "$TMP/$name.$i"
    if [[ -z $best_wall ]] || awk "BEGIN{exit !($wall < $best_wall)}"; then best_wall=$wall; fi
    if [[ -z $best_cpu ]] || awk "BEGIN{exit !($cpu < $best_cpu)}"; then best_cpu=$cpu; fi
    if (( rss > best_rss )); then best_rss=$rss; fi
    printf '  %-24s run %d: wall %8.3f s  cpu %7.3f s  peak RSS %7.1f MiB  load %s\n' "$name" "$i" \
      "$wall" "$cpu" "$(awk "BEGIN{print $rss/1024}")" "$(cut -d' ' -f1-3 /proc/loadavg)"
  done
  echo "$best_wall $best_rss $best_cpu" > "$TMP/$name.best"
  printf '%-26s wall %8.3f s  cpu %7.3f s/GiB  peak RSS %7.1f MiB   (%s)\n' "$name" "$best_wall" \
    "$(awk "BEGIN{print $best_cpu*1024/$SIZE_MIB}")" "$(awk "BEGIN{print $best_rss/1024}")" \
    "$(tail -1 "$TMP/$name.out")"
}

echo "== ${RUNS} run(s) each; minimum wall time, maximum peak RSS"
url=http://127.0.0.1:$http_port
run peer_curl_openssl bash -c "curl -sf '$url/$target_path' | openssl dgst -sha256"
run agent_http "$TOOL" fetch "$url/metadata" "$url/targets" "$root" "$STATE"
run agent_grpc "$TOOL" fetch "grpc://127.0.0.1:$grpc_port/metadata" \
  "grpc://127.0.0.1:$grpc_port/targets" "$root" "$STATE"

read -r peer_wall _ _ < "$TMP/peer_curl_openssl.best"
for side in agent_http agent_grpc; do
  read -r wall rss _ < "$TMP/$side.best"
  printf 'RATIO %-10s %.2fx of curl|openssl (peer %.3f s, ours %.3f s), peak RSS %.1f MiB\n' \
    "$side" "$(awk "BEGIN{print $peer_wall/$wall}")" "$peer_wall" "$wall" \
    "$(awk "BEGIN{print $rss/1024}")"
done
