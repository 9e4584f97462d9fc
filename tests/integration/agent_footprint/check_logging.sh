#!/usr/bin/env bash
# client-agent's -v log (client-agent/agent_log.h) through the real binary: with -v an `init`
# logs one info line on stderr in the documented format; without -v stderr stays empty.
# Usage: check_logging.sh CLIENT_AGENT ROOT_FILE
set -euo pipefail
agent=${1:?usage: check_logging.sh CLIENT_AGENT ROOT_FILE}
root=${2:?usage: check_logging.sh CLIENT_AGENT ROOT_FILE}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$agent" -v --metadata-dir "$tmp/verbose" init "$root" > "$tmp/out" 2> "$tmp/err"
line='^\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\] \[info\] trusting root version 1 from '
if ! grep -Eq "$line" "$tmp/err"; then
  echo "FAIL: no info line on stderr with -v; stderr was:" >&2
  cat "$tmp/err" >&2
  exit 1
fi
grep -q "trusted root version 1" "$tmp/out" || { echo "FAIL: stdout lost" >&2; exit 1; }

"$agent" --metadata-dir "$tmp/quiet" init "$root" > "$tmp/out" 2> "$tmp/err"
if [ -s "$tmp/err" ]; then
  echo "FAIL: stderr not empty without -v:" >&2
  cat "$tmp/err" >&2
  exit 1
fi
grep -q "trusted root version 1" "$tmp/out" || { echo "FAIL: stdout lost" >&2; exit 1; }
echo "OK: -v logs, quiet by default"
