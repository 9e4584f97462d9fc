#!/usr/bin/env bash
# repo-server against nginx on the same machine, in the same invocation (issue 4 benchmarks).
# Prints a RATIO line per comparison (ours / nginx for throughput: above 1 means ours is faster).
#
#   scripts/bench_server.sh                     # Release build in ./build-bench, then run
#   BUILD_DIR=/work/build-bench SKIP_BUILD=1 scripts/bench_server.sh
#
# Environment:
#   BUILD_DIR    build directory (default <repo>/build-bench, configured Release here)
#   SKIP_BUILD=1 use the binaries already in BUILD_DIR
#   DURATION     seconds per request-rate run (default 10)
#   TARGET_SIZE  bytes of the streamed target (default 1073741824 = 1 GiB)
#   PARTS        which measurements to run (default "metadata target reports"), e.g.
#                PARTS=target for the stream alone
#   TARGET_RUNS  how often the target is streamed (ours, then nginx, alternating; default 1)
#   SERVER_CPU / CLIENT_CPU   CPUs for the servers and for the load generators (default 0 / 1;
#                set both empty to not pin, e.g. when other jobs load the machine: a process
#                pinned to a busy CPU waits for it while the other CPU idles)
#
# Fairness on a 2-core machine: both servers (repo-server, then nginx with one worker) run
# pinned to SERVER_CPU, every client (server_load, wrk, curl) pinned to CLIENT_CPU, so each side
# gets one core and neither server can borrow the client's core. Both serve the same bytes:
# nginx serves repo-server's own static mirror (--static-mirror-dir). nginx is tuned the way
# a production static server is (sendfile, access log off, unlimited keep-alive requests).
#
# Measured: (1) GetMetadata(timestamp) with 64 calls in flight on one HTTP/2 connection vs
# `wrk -t1 -c64` GET /metadata/timestamp.json over HTTP/1.1 keep-alive, and the same calls from
# h2load (when installed: a C client of wrk's class, so neither side is limited by a heavier
# client); (2) the same with 1 in flight (`wrk -t1 -c1`), latency percentiles; (3) the target streamed once (server_load
# target vs curl -o /dev/null), with repo-server's RSS sampled every 0.1 s during the stream
# (peak = VmHWM after resetting it through /proc/PID/clear_refs); (4) ReportInstallation rate
# into RocksDB with 64 and 1 in flight, group commit vs --report-batch-max 1 (no group commit).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRC/build-bench}
DURATION=${DURATION:-10}
TARGET_SIZE=${TARGET_SIZE:-1073741824}
PARTS=${PARTS:-metadata target reports}
TARGET_RUNS=${TARGET_RUNS:-1}
SERVER_CPU=${SERVER_CPU-0}
CLIENT_CPU=${CLIENT_CPU-1}
LOAD=$BUILD_DIR/repo-server/bench/server_load
REPO_SERVER=$BUILD_DIR/repo-server/repo-server
NGINX=${NGINX:-/usr/sbin/nginx}

for tool in wrk curl taskset "$NGINX"; do
  command -v "$tool" >/dev/null || { echo "missing $tool (scripts/install-deps.sh)" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mdu-bench-server.XXXXXX")
SERVER_PID=
NGINX_PID=
SAMPLER_PID=
NOGROUP_PID=
stop() {  # stop PID: SIGTERM, then wait
  if [[ -n ${1:-} ]]; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  stop "$SAMPLER_PID"
  stop "$NGINX_PID"
  stop "$SERVER_PID"
  stop "$NOGROUP_PID"
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# CPU time (user + system) a process has used so far, in microseconds: on a shared machine the
# CPU cost per request is a steadier comparison than the request rate.
CLK_TCK=$(getconf CLK_TCK)
cpu_us() { awk -v hz="$CLK_TCK" '{ printf "%d", ($14 + $15) * 1000000 / hz }' "/proc/$1/stat"; }
per() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
section() { printf '\n==== %s\n' "$*"; }
value() { sed -n "s/^$1=//p" "$2" | tail -n 1; }  # value KEY FILE  (key=value lines)
ratio() { awk -v o="$1" -v p="$2" 'BEGIN { printf "%.2f", (p > 0 ? o / p : 0) }'; }
oncpu() { local cpu=$1; shift; if [[ -n $cpu ]]; then taskset -c "$cpu" "$@"; else "$@"; fi; }
server_pin=()
[[ -n $SERVER_CPU ]] && server_pin=(taskset -c "$SERVER_CPU")
# wrk's "Requests/sec:" and a latency percentile ("50%", "99%") in microseconds.
wrk_rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
wrk_pct() {
  awk -v p="$2" '$1 == p {
    v = $2; u = v; gsub(/[0-9.]/, "", u); sub(/[a-z]+$/, "", v);
    f = (u == "us") ? 1 : (u == "ms") ? 1000 : (u == "s") ? 1000000 : 0;
    printf "%d", v * f }' "$1"
}

section "machine"
echo "nproc: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "load: $(uptime)"
echo "nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //'); wrk: $(wrk -v 2>&1 | head -n1 | cut -d' ' -f2)"
echo "pinning: servers on CPU ${SERVER_CPU:-any}, clients on CPU ${CLIENT_CPU:-any}"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  section "build (Release, $BUILD_DIR)"
  cmake -S "$SRC" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$BUILD_DIR" repo-server server_load | tail -n 1
fi

section "release: one target of $TARGET_SIZE bytes"
"$LOAD" make-release --dir "$TMP/release" --target-size "$TARGET_SIZE" | tee "$TMP/release.txt"
SHA=$(value target_sha256 "$TMP/release.txt")
TARGET_URL_PATH=$(value target_url_path "$TMP/release.txt")

"${server_pin[@]}" "$REPO_SERVER" --listen 127.0.0.1:0 --insecure --data-dir "$TMP/db" \
  --trusted-root "$TMP/release/root.json" --port-file "$TMP/port" \
  --static-mirror-dir "$TMP/mirror" --log-level warn >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do [[ -s $TMP/port ]] && break; sleep 0.1; done
[[ -s $TMP/port ]] || { cat "$TMP/server.log"; echo "repo-server did not start" >&2; exit 1; }
GRPC=127.0.0.1:$(cat "$TMP/port")
start=$(date +%s.%N)
oncpu "$CLIENT_CPU" "$LOAD" publish --server "$GRPC" --dir "$TMP/release"
echo "publish (incl. mirror materialization): $(awk -v s="$start" -v e="$(date +%s.%N)" \
  'BEGIN { printf "%.1f", e - s }') s"

# nginx on a free loopback port, serving the mirror that repo-server just wrote.
HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  types { application/json json; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$HTTP_PORT;
    root $TMP/mirror/current;
  }
}
EOF
"${server_pin[@]}" "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" &
NGINX_PID=$!
HTTP=http://127.0.0.1:$HTTP_PORT
for _ in $(seq 100); do curl -sf -o /dev/null "$HTTP/metadata/timestamp.json" && break; sleep 0.1; done
cmp <(curl -sf "$HTTP/metadata/timestamp.json") "$TMP/release/upload/timestamp.json" ||
  { echo "nginx does not serve the published timestamp.json" >&2; exit 1; }

# ---- (1) and (2): metadata request rate and latency ----------------------------------------
metadata_run() {  # metadata_run INFLIGHT
  local n=$1 c0 c1 ours_cpu peer_cpu
  section "GetMetadata(timestamp), $n in flight, ${DURATION}s"
  c0=$(cpu_us "$SERVER_PID")
  oncpu "$CLIENT_CPU" "$LOAD" metadata --server "$GRPC" --concurrency "$n" \
    --duration "$DURATION" | tee "$TMP/ours-$n.txt"
  c1=$(cpu_us "$SERVER_PID")
  ours_cpu=$(per $((c1 - c0)) "$(value requests_ok "$TMP/ours-$n.txt")")
  echo "-- nginx: wrk -t1 -c$n --latency -d${DURATION}s $HTTP/metadata/timestamp.json"
  c0=$(cpu_us "$NGINX_PID")
  oncpu "$CLIENT_CPU" wrk -t1 -c"$n" --latency -d"${DURATION}s" "$HTTP/metadata/timestamp.json" \
    | tee "$TMP/wrk-$n.txt"
  c1=$(cpu_us "$NGINX_PID")
  peer_cpu=$(per $((c1 - c0)) "$(awk '/requests in/ { print $1 }' "$TMP/wrk-$n.txt")")
  local ours peer
  ours=$(value requests_per_s "$TMP/ours-$n.txt")
  peer=$(wrk_rps "$TMP/wrk-$n.txt")
  echo "RATIO metadata_rps_c$n ours=$ours nginx=$peer ours/nginx=$(ratio "$ours" "$peer")"
  echo "CPU metadata_c$n server_cpu_us_per_request ours=$ours_cpu nginx=$peer_cpu" \
    "nginx/ours=$(ratio "$peer_cpu" "$ours_cpu") (above 1: ours cheaper)"
  echo "LATENCY metadata_c$n p50_us ours=$(value latency_us_p50 "$TMP/ours-$n.txt")" \
    "nginx=$(wrk_pct "$TMP/wrk-$n.txt" 50%) p99_us ours=$(value latency_us_p99 "$TMP/ours-$n.txt")" \
    "nginx=$(wrk_pct "$TMP/wrk-$n.txt" 99%)"
  # The same calls from h2load, a C load generator of wrk's class (nghttp2, one thread, epoll):
  # server_load is a gRPC C++ client and costs its pinned CPU more per call than wrk does, so at
  # 64 in flight it, not the server, can be the limit. The request is the 5-byte gRPC prefix and
  # the serialized GetMetadataRequest{role: "timestamp"}; h2load counts HTTP 200s, so the
  # warm-up call of server_load above has already checked the call succeeds.
  if command -v h2load >/dev/null; then
    printf '\x00\x00\x00\x00\x0b\x0a\x09timestamp' >"$TMP/get-timestamp.grpc"
    echo "-- ours via h2load -c1 -m$n -t1 -D $DURATION (gRPC over one HTTP/2 connection)"
    c0=$(cpu_us "$SERVER_PID")
    oncpu "$CLIENT_CPU" h2load -c1 -m"$n" -t1 -D "$DURATION" -d "$TMP/get-timestamp.grpc" \
      -H 'content-type: application/grpc' -H 'te: trailers' \
      "http://$GRPC/mdu.v1.DeviceService/GetMetadata" >"$TMP/h2load-$n.txt" 2>&1
    c1=$(cpu_us "$SERVER_PID")
    grep -E '^(finished in|requests:|status codes:)' "$TMP/h2load-$n.txt"
    local h2 h2_ok
    h2=$(awk '/^finished in/ { print $4 }' "$TMP/h2load-$n.txt")
    h2_ok=$(awk '/^requests:/ { print $8 }' "$TMP/h2load-$n.txt")
    echo "RATIO metadata_rps_c${n}_h2load ours=$h2 nginx=$peer ours/nginx=$(ratio "$h2" "$peer")"
    echo "CPU metadata_c${n}_h2load server_cpu_us_per_request ours=$(per $((c1 - c0)) "$h2_ok")"
  fi
}
part() { [[ " $PARTS " == *" $1 "* ]]; }
if part metadata; then
  metadata_run 64
  metadata_run 1
fi

# ---- (3): target stream throughput and server memory ---------------------------------------
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }
# Run TARGET_RUNS times, alternating ours and nginx so both see the same background load; each
# run prints its own RATIO line, the last line compares the best run of each.
target_run() {  # target_run INDEX
  local i=$1 c0 c1 ours_cpu peer_cpu ours peer hwm samples q1 last rss_before
  section "target of $TARGET_SIZE bytes streamed to one client (run $i of $TARGET_RUNS)"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
  rss_before=$(rss_kib)
  echo 5 >"/proc/$SERVER_PID/clear_refs"  # resets VmHWM (peak RSS) to the current RSS
  (while true; do rss_kib; sleep 0.1; done) >"$TMP/rss.txt" 2>/dev/null &
  SAMPLER_PID=$!
  c0=$(cpu_us "$SERVER_PID")
  oncpu "$CLIENT_CPU" "$LOAD" target --server "$GRPC" --sha256 "$SHA" | tee "$TMP/target-$i.txt"
  c1=$(cpu_us "$SERVER_PID")
  ours_cpu=$(per $((c1 - c0)) "$((TARGET_SIZE / 1048576))")
  stop "$SAMPLER_PID"
  SAMPLER_PID=
  hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")
  samples=$(wc -l <"$TMP/rss.txt")
  q1=$(sed -n "$((samples / 4 + 1))p" "$TMP/rss.txt")
  last=$(tail -n 1 "$TMP/rss.txt")
  echo "repo-server RSS KiB: before=$rss_before at_25%=$q1 at_end=$last peak(VmHWM)=$hwm" \
    "samples=$samples"
  echo "-- nginx: curl -o /dev/null $HTTP/$TARGET_URL_PATH"
  c0=$(cpu_us "$NGINX_PID")
  oncpu "$CLIENT_CPU" curl -sf -o /dev/null -w 'bytes=%{size_download}\nseconds=%{time_total}\n' \
    "$HTTP/$TARGET_URL_PATH" | tee "$TMP/curl-$i.txt"
  c1=$(cpu_us "$NGINX_PID")
  peer_cpu=$(per $((c1 - c0)) "$((TARGET_SIZE / 1048576))")
  ours=$(value mib_per_s "$TMP/target-$i.txt")
  peer=$(awk -F= '/^bytes=/ { b = $2 } /^seconds=/ { s = $2 } END { printf "%.1f", b / 1048576 / s }' \
    "$TMP/curl-$i.txt")
  echo "$ours $peer" >>"$TMP/target-rates.txt"
  echo "RATIO target_stream_mib_s run=$i ours=$ours nginx=$peer ours/nginx=$(ratio "$ours" "$peer")"
  echo "CPU target_stream run=$i server_cpu_us_per_mib ours=$ours_cpu nginx=$peer_cpu" \
    "nginx/ours=$(ratio "$peer_cpu" "$ours_cpu") (nginx: sendfile, no user-space copy)"
  echo "MEMORY target_stream run=$i peak_rss_growth_kib=$((hwm - rss_before))" \
    "target_kib=$((TARGET_SIZE / 1024))"
}
if part target; then
  rm -f "$TMP/target-rates.txt"
  for i in $(seq "$TARGET_RUNS"); do target_run "$i"; done
  read -r best_ours best_peer < <(awk '$1 > o { o = $1 } $2 > p { p = $2 } END { print o, p }' \
    "$TMP/target-rates.txt")
  echo "RATIO target_stream_mib_s best_of=$TARGET_RUNS ours=$best_ours nginx=$best_peer" \
    "ours/nginx=$(ratio "$best_ours" "$best_peer")"
  # Each run's pair shares its moment's background load: the median of the per-run ratios.
  echo "RATIO target_stream_mib_s median_of_run_ratios=$(awk '$2 > 0 { print $1 / $2 }' \
    "$TMP/target-rates.txt" | sort -g | awk '{ r[NR] = $1 } END {
      printf "%.2f", (NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2) }')"
fi

# ---- (4): report ingestion ------------------------------------------------------------------
part reports || exit 0
# The server above groups concurrent reports into one synced write (group commit, the default);
# a second server with --report-batch-max 1 writes each report with its own sync (the behaviour
# before group commit), same machine, same invocation.
"${server_pin[@]}" "$REPO_SERVER" --listen 127.0.0.1:0 --insecure --data-dir "$TMP/db-nogroup" \
  --trusted-root "$TMP/release/root.json" --port-file "$TMP/port-nogroup" \
  --report-batch-max 1 --log-level warn >"$TMP/server-nogroup.log" 2>&1 &
NOGROUP_PID=$!
for _ in $(seq 100); do [[ -s $TMP/port-nogroup ]] && break; sleep 0.1; done
[[ -s $TMP/port-nogroup ]] || { cat "$TMP/server-nogroup.log"; echo "no second server" >&2; exit 1; }
for n in 64 1; do
  for mode in grouped ungrouped; do
    pid=$SERVER_PID; addr=$GRPC
    [[ $mode == ungrouped ]] && { pid=$NOGROUP_PID; addr=127.0.0.1:$(cat "$TMP/port-nogroup"); }
    section "ReportInstallation into RocksDB, $n in flight, $mode, ${DURATION}s"
    c0=$(cpu_us "$pid")
    oncpu "$CLIENT_CPU" "$LOAD" reports --server "$addr" --concurrency "$n" --duration "$DURATION" \
      | tee "$TMP/reports-$n-$mode.txt"
    c1=$(cpu_us "$pid")
    echo "RATE reports_c${n}_$mode per_s=$(value reports_per_s "$TMP/reports-$n-$mode.txt")" \
      "server_cpu_us_per_report=$(per $((c1 - c0)) "$(value reports_ok "$TMP/reports-$n-$mode.txt")")"
  done
  echo "RATIO reports_c$n grouped/ungrouped=$(ratio "$(value reports_per_s "$TMP/reports-$n-grouped.txt")" \
    "$(value reports_per_s "$TMP/reports-$n-ungrouped.txt")")"
done
stop "$NOGROUP_PID"
