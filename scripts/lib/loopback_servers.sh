# Sourced by the agent benchmarks (bench_agent_download.sh, bench_agent_rss.sh): nginx serving a
# static tree and repo-server holding the same release, both on loopback, for one invocation.
# Callers set TMP (scratch directory), NGINX and REPO_SERVER, and call stop_loopback_servers on
# exit. Functions set the globals named in their comment.

NGINX_PID=
SERVER_PID=

# stop_loopback_servers: kills and reaps whichever of the two servers was started.
stop_loopback_servers() {
  for pid in $NGINX_PID $SERVER_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_static_nginx ROOT: serves ROOT on a free port; sets http_port and NGINX_PID.
start_static_nginx() {
  local root=$1
  http_port=$(free_port)
  mkdir -p "$TMP/nginx/logs"
  cat > "$TMP/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  server {
    listen 127.0.0.1:$http_port;
    root $root;
  }
}
CONF
  "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
  NGINX_PID=$!
}

# start_repo_server TRUSTED_ROOT: plaintext repo-server on a free port; sets grpc_port and
# SERVER_PID once it listens.
start_repo_server() {
  mkdir -p "$TMP/server"
  "$REPO_SERVER" --listen 127.0.0.1:0 --insecure --data-dir "$TMP/server/db" \
    --trusted-root "$1" --port-file "$TMP/server/port" --log-level warn &
  SERVER_PID=$!
  for _ in $(seq 200); do
    [[ -s $TMP/server/port ]] && break
    sleep 0.1
  done
  grpc_port=$(cat "$TMP/server/port")
}

# wait_for_nginx: until nginx answers for the trusted root (its error log and exit 1 if never).
wait_for_nginx() {
  local url=http://127.0.0.1:$http_port/metadata/1.root.json
  for _ in $(seq 100); do
    curl -sf -o /dev/null "$url" && return 0
    sleep 0.1
  done
  cat "$TMP/nginx/logs/error.log" >&2
  exit 1
}
