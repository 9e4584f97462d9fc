#!/usr/bin/env bash
# Peak memory of the WHOLE client-agent program on the real update path (issue 5's aim: a 1 GiB
# target, download plus verify, peak RSS <= 16 MiB), next to the download tool of
# scripts/bench_agent_download.sh (the same pipeline without the command line, the security
# event log, the installer, ...) and `curl URL | openssl dgst -sha256`, all in this one
# invocation on the same repository:
#
#   1. the release is signed like a real one: `signer` with the throw-away keys-example/ set
#      (root 2 of 3), one target "big.bin" of SIZE_MIB MiB with version 1.0.0 and hardware id
#      bench-x1, published to a static tree; nginx serves the tree, repo-server (RocksDB,
#      plaintext on loopback) gets it through its operator Publish call;
#   2. each side runs RUNS times from a fresh device (trusted root from the tree, empty state):
#        update_grpc    client-agent update from repo-server (grpc://): refresh, select, download
#                       into the staging area verified, install into slot a of the ab-dir
#                       installer (a full 1 GiB copy, fsync'ed), switch, commit
#        update_http    the same from nginx (http://)
#        download_http  the TUF client mode: client-agent ... download from nginx
#        download_grpc  the same from repo-server
#        tool_http, tool_grpc  tests/bench/agent_download_bench fetch (download into staging
#                       only), the bench tool of BENCHMARKS.md
#        peer_curl_openssl      curl | openssl dgst -sha256 from nginx
#   3. prints per side the minimum wall, minimum CPU (user + system) and maximum peak RSS, and a
#      table against the 16 MiB aim.
#
#   BUILD_DIR=/work/build scripts/bench_agent_rss.sh
#   SIZE_MIB=256 RUNS=1 SIDES="update_grpc download_http" scripts/bench_agent_rss.sh
#
# Environment:
#   BUILD_DIR  build with client-agent, signer, repo-server and tests/bench/{measure,
#              agent_download_bench,agent_download_publish} (RelWithDebInfo or Release):
#              cmake --build BUILD_DIR --target client-agent signer repo-server measure \
#                agent_download_bench agent_download_publish
#   SIZE_MIB   target size (default 1024)
#   RUNS       runs of each side (default 2)
#   SIDES      which sides, in order (default: all of the above)
#   DATA_DIR   where the repository, the server's store and the devices live (default /dev/shm
#              when it has room for ~7 copies of the target, else TMPDIR): a tmpfs takes the
#              disk out of the measurement (the agent fsyncs what it stages and installs).
#   SMAPS=1    also sample /proc/PID/smaps of each client-agent run and print the mappings
#              resident at its peak (tests/bench/peak_smaps.py), where the memory goes
#   AGENT_B    another client-agent binary (say, a copy built before a change): each side NAME
#              given as NAME:b in SIDES runs it instead, in the same invocation, e.g.
#              AGENT_B=/tmp/client-agent.before SIDES="update_grpc update_grpc:b" ...
# Everything is removed on exit.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRC/build}
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-2}
SIDES=${SIDES:-update_grpc update_http download_http download_grpc tool_http tool_grpc peer_curl_openssl}
AGENT=$BUILD_DIR/client-agent/client-agent
AGENT_B=${AGENT_B:-}
SIGNER=$BUILD_DIR/signer/signer
REPO_SERVER=$BUILD_DIR/repo-server/repo-server
MEASURE=$BUILD_DIR/tests/bench/measure
TOOL=$BUILD_DIR/tests/bench/agent_download_bench
PUBLISH=$BUILD_DIR/tests/bench/agent_download_publish
NGINX=${NGINX:-/usr/sbin/nginx}
KEYS=$SRC/keys-example
for binary in "$AGENT" ${AGENT_B:+"$AGENT_B"} "$SIGNER" "$REPO_SERVER" "$MEASURE" "$TOOL" "$PUBLISH" "$NGINX"; do
  [[ -x $binary ]] || { echo "missing $binary (see the header of $0)" >&2; exit 2; }
done

if [[ -z ${DATA_DIR:-} ]]; then
  DATA_DIR=${TMPDIR:-/tmp}
  shm_free_mib=$(df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')
  if [[ -n $shm_free_mib ]] && ((shm_free_mib > 7 * SIZE_MIB + 512)); then DATA_DIR=/dev/shm; fi
fi
TMP=$(mktemp -d "$DATA_DIR/mdu-agent-rss.XXXXXX")
# shellcheck source=lib/loopback_servers.sh
source "$(dirname "$0")/lib/loopback_servers.sh"
cleanup() {
  stop_loopback_servers
  rm -rf "$TMP"
}
trap cleanup EXIT

echo "== data in $TMP; load $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
echo "== signing a release with one ${SIZE_MIB} MiB target (signer, keys-example/)"
# The throw-away passphrase of keys-example/ (NOT FOR PRODUCTION), through the environment.
export MDU_BENCH_PASSPHRASE="example-passphrase-NOT-FOR-PRODUCTION"
pass=(--passphrase-env MDU_BENCH_PASSPHRASE)
ws=$TMP/workspace
release=$TMP/release
# Pseudo-random bytes (AES-CTR of zeros): incompressible, and fast to make.
{ openssl enc -aes-128-ctr -nosalt -pass pass:mdu-bench -pbkdf2 < /dev/zero 2>/dev/null || true; } |
  head -c $((SIZE_MIB << 20)) > "$TMP/big.bin"  # openssl ends on SIGPIPE
"$SIGNER" --workspace "$ws" init \
  --root-key "$KEYS/root-1.pub.json" --root-key "$KEYS/root-2.pub.json" \
  --root-key "$KEYS/root-3.pub.json" --root-threshold 2 \
  --targets-key "$KEYS/targets.pub.json" --snapshot-key "$KEYS/snapshot.pub.json" \
  --timestamp-key "$KEYS/timestamp.pub.json" > /dev/null
"$SIGNER" --workspace "$ws" add-target "$TMP/big.bin" --name big.bin --version 1.0.0 \
  --hardware-id bench-x1 --security-version 1 > /dev/null
rm -f "$TMP/big.bin"
"$SIGNER" --workspace "$ws" sign root --key "$KEYS/root-1.key.json" "${pass[@]}" > /dev/null
"$SIGNER" --workspace "$ws" sign root --key "$KEYS/root-2.key.json" "${pass[@]}" > /dev/null
"$SIGNER" --workspace "$ws" sign targets --key "$KEYS/targets.key.json" "${pass[@]}" > /dev/null
"$SIGNER" --workspace "$ws" publish --out "$release" \
  --snapshot-key "$KEYS/snapshot.key.json" --timestamp-key "$KEYS/timestamp.key.json" \
  --snapshot-passphrase-env MDU_BENCH_PASSPHRASE --timestamp-passphrase-env MDU_BENCH_PASSPHRASE \
  > /dev/null
root=$release/metadata/1.root.json
target_path=$(cd "$release" && ls targets/*.big.bin)
chmod -R a+rX "$TMP"  # nginx workers started by root run as nobody

echo "== nginx and repo-server on loopback"
start_static_nginx "$release"
start_repo_server "$root"
http=http://127.0.0.1:$http_port
grpc=grpc://127.0.0.1:$grpc_port
wait_for_nginx
"$PUBLISH" "127.0.0.1:$grpc_port" "$release"

# The command of SIDE for a fresh device in $dev (its trusted root already in $dev/md).
command_of() {
  local side=${1%:b} dev=$2
  local agent=$AGENT
  [[ $1 == *:b ]] && agent=$AGENT_B
  local base
  case $side in
    *_grpc) base=$grpc ;;
    *) base=$http ;;
  esac
  case $side in
    update_*)
      echo "$agent" --metadata-url "$base/metadata" --target-base-url "$base/targets" \
        --metadata-dir "$dev/md" --state-dir "$dev/state" --install-root "$dev/slots" \
        --hardware-id bench-x1 --download-attempts 1 --quiet update
      ;;
    download_*)
      echo "$agent" --metadata-url "$base/metadata" --metadata-dir "$dev/md" \
        --target-name big.bin --target-dir "$dev/td" --target-base-url "$base/targets" download
      ;;
    tool_*) echo "$TOOL" fetch "$base/metadata" "$base/targets" "$root" "$dev/state" ;;
    peer_curl_openssl) echo bash -c "curl -sf '$http/$target_path' | openssl dgst -sha256" ;;
    *) echo "unknown side $side" >&2; exit 2 ;;
  esac
}

# run SIDE: RUNS times through `measure`; leaves "<min wall> <max rss KiB> <min cpu>" in
# $TMP/SIDE.best.
run() {
  local side=$1
  local best_wall= best_rss=0 best_cpu=
  for i in $(seq "$RUNS"); do
    local dev=$TMP/device
    rm -rf "$dev"
    mkdir -p "$dev"
    "$AGENT" --metadata-dir "$dev/md" init "$root" > /dev/null
    # shellcheck disable=SC2207  # paths without spaces (mktemp under DATA_DIR)
    local cmd=($(command_of "$side" "$dev"))
    [[ $side == peer_* ]] && cmd=(bash -c "curl -sf '$http/$target_path' | openssl dgst -sha256")
    sync
    local sampler=()
    if [[ ${SMAPS:-0} == 1 && $side != peer_* ]]; then
      sampler=(python3 "$SRC/tests/bench/peak_smaps.py" --out "$TMP/$side.$i.smaps" --)
    fi
    "${sampler[@]}" "$MEASURE" "$TMP/$side.$i" "${cmd[@]}" > "$TMP/$side.out" 2>&1 || {
      echo "$side failed:" >&2
      cat "$TMP/$side.out" >&2
      exit 1
    }
    read -r wall cpu _ _ rss < "$TMP/$side.$i"
    if [[ -z $best_wall ]] || awk "BEGIN{exit !($wall < $best_wall)}"; then best_wall=$wall; fi
    if [[ -z $best_cpu ]] || awk "BEGIN{exit !($cpu < $best_cpu)}"; then best_cpu=$cpu; fi
    if ((rss > best_rss)); then best_rss=$rss; fi
    printf '  %-18s run %d: wall %8.3f s  cpu %7.3f s  peak RSS %6.2f MiB  load %s\n' "$side" \
      "$i" "$wall" "$cpu" "$(awk "BEGIN{print $rss/1024}")" "$(cut -d' ' -f1-3 /proc/loadavg)"
    if [[ ${#sampler[@]} -gt 0 ]]; then sed 's/^/      /' "$TMP/$side.$i.smaps"; fi
    case $side in
      update_*)
        [[ -s $dev/slots/current/big.bin ]] || { echo "$side did not install" >&2; exit 1; }
        ;;
      download_*)
        [[ -s $dev/td/big.bin ]] || { echo "$side did not download" >&2; exit 1; }
        ;;
    esac
    rm -rf "$dev"
  done
  echo "$best_wall $best_rss $best_cpu" > "$TMP/$side.best"
}

echo "== ${RUNS} run(s) of each side; minimum wall and CPU, maximum peak RSS"
for side in $SIDES; do run "$side"; done

echo
echo "== ${SIZE_MIB} MiB target; aim: peak RSS <= 16 MiB (issue 5); load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-18s %9s %9s %9s %13s  %s\n' side "wall s" "cpu s" "MiB/s" "peak RSS MiB" "<= 16 MiB"
for side in $SIDES; do
  read -r wall rss cpu < "$TMP/$side.best"
  verdict=yes
  ((rss > 16 * 1024)) && verdict=NO
  [[ $side == peer_* ]] && verdict=-
  printf '%-18s %9.3f %9.3f %9.0f %13.2f  %s\n' "$side" "$wall" "$cpu" \
    "$(awk "BEGIN{print $SIZE_MIB/$wall}")" "$(awk "BEGIN{print $rss/1024}")" "$verdict"
done
