#!/usr/bin/env bash
# Fails if PROGRAM's shared-library dependencies (ldd) include one of the libraries the device
# agent must not load at start-up: the full libprotobuf (the agent's messages are protobuf-lite,
# client-agent/report/wire_messages.h; the full runtime costs ~1.5 MiB of resident memory more)
# gRPC (the agent speaks its API over libcurl), spdlog (its -v log is client-agent/agent_log.h;
# the library and its start-up cost ~0.45 MiB, scripts/bench_agent_rss.sh), and libcurl itself:
# it and its 39 dependencies are loaded with dlopen by the transfers that need them
# (client-agent/transport/curl_api.h), not mapped by every start (~10 ms, ~300 page faults).
# Usage: check_ldd.sh PROGRAM
set -euo pipefail
program=${1:?usage: check_ldd.sh PROGRAM}
libs=$(ldd "$program")
echo "$libs"
needed=$(readelf -d "$program" | grep '(NEEDED)' || true)
status=0
# libprotobuf.so.N but not libprotobuf-lite.so.N.
if grep -Eq '(^|[[:space:]/])libprotobuf\.so' <<<"$libs"; then
  echo "FAIL: $program links the full libprotobuf (expected protobuf-lite only)" >&2
  status=1
fi
# gRPC and its support libraries (gpr, abseil, upb, address_sorting).
if grep -Eq '(^|[[:space:]/])lib(grpc|gpr|absl|upb|address_sorting)' <<<"$libs"; then
  echo "FAIL: $program links gRPC" >&2
  status=1
fi
if grep -Eq '(^|[[:space:]/])libspdlog\.so' <<<"$libs"; then
  echo "FAIL: $program links spdlog" >&2
  status=1
fi
# Neither as a NEEDED entry of its own nor through another library.
if grep -q 'libcurl\.so' <<<"$needed" || grep -Eq '(^|[[:space:]/])libcurl\.so' <<<"$libs"; then
  echo "FAIL: $program links libcurl (it must be loaded on demand, transport/curl_api.h)" >&2
  status=1
fi
[ "$status" = 0 ] && echo "OK: $program links neither libcurl, the full libprotobuf, gRPC nor spdlog"
exit "$status"
