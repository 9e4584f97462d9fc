#!/usr/bin/env bash
# Installs every Debian 12 package the project needs. Idempotent: packages already
# present are skipped, so a second run only checks.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libssl-dev libsodium-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libsnappy-dev liblz4-dev libzstd-dev zlib1g-dev libbz2-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libspdlog-dev libfmt-dev libcurl4-openssl-dev
  faketime libfaketime openssl curl
  softhsm2 libp11-kit-dev opensc nginx-light wrk nghttp2-client
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js runs the tuf-js interop peers; the machine image may ship its own build.
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi
# python3 runs the end-to-end test driver (the machine image may ship its own build).
if ! command -v python3 >/dev/null 2>&1; then missing+=(python3); fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi

# tuf-js 5 (the interop peer) needs node >= 20.17; Debian 12's own nodejs is 18.
node_major=$(node -p 'process.versions.node.split(".").map(Number).slice(0,2).join(".")' 2>/dev/null || echo 0)
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=17)?0:1)' 2>/dev/null; then
  echo "install-deps: warning: node $node_major is older than 20.17; the tuf-js interop tests need it" >&2
fi
