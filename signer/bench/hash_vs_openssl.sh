#!/usr/bin/env bash
# Hashing throughput of the signer (crypto::HashFile, as `signer add-target` uses it) against
# `openssl dgst` on the same file, in the same run, warm page cache for both.
#
# usage: signer/bench/hash_vs_openssl.sh SIGNER_BENCH [FILE]
#   SIGNER_BENCH  path to the built signer_bench (e.g. build/signer/bench/signer_bench)
#   FILE          file to hash (default: a 1 GiB random file made in $TMPDIR and removed after)
# Prints the best of 3 runs of each and the ratios (> 1.0 means the signer is faster).
set -euo pipefail

bench=${1:?usage: $0 SIGNER_BENCH [FILE]}
file=${2:-}
cleanup=""
if [[ -z "$file" ]]; then
  file=$(mktemp "${TMPDIR:-/tmp}/hashbench.XXXXXX")
  cleanup=$file
  head -c $((1024 * 1024 * 1024)) /dev/urandom > "$file"
fi
trap '[[ -n "$cleanup" ]] && rm -f "$cleanup"' EXIT

cat "$file" > /dev/null  # warm the page cache for everyone

best() {  # best wall time (seconds) of 3 runs of the command
  local best_time=""
  for _ in 1 2 3; do
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null
    end=$(date +%s.%N)
    local t
    t=$(echo "$end - $start" | bc -l)
    if [[ -z "$best_time" ]] || (( $(echo "$t < $best_time" | bc -l) )); then best_time=$t; fi
  done
  echo "$best_time"
}

size_mib=$(( $(stat -c %s "$file") / 1024 / 1024 ))
openssl_256=$(best openssl dgst -sha256 "$file")
openssl_512=$(best openssl dgst -sha512 "$file")
signer_256=$(best "$bench" hash "$file")
signer_both=$(best "$bench" hash "$file" both)
signer_ingest=$(best "$bench" ingest "$file")
openssl_both=$(echo "$openssl_256 + $openssl_512" | bc -l)

printf 'file: %s (%d MiB), %s\n' "$file" "$size_mib" "$(openssl version)"
printf '%-44s %8.3f s %8.0f MiB/s\n' "openssl dgst -sha256" "$openssl_256" \
  "$(echo "$size_mib / $openssl_256" | bc -l)"
printf '%-44s %8.3f s %8.0f MiB/s\n' "openssl dgst -sha512" "$openssl_512" \
  "$(echo "$size_mib / $openssl_512" | bc -l)"
printf '%-44s %8.3f s %8.0f MiB/s\n' "signer sha256 (HashFile)" "$signer_256" \
  "$(echo "$size_mib / $signer_256" | bc -l)"
printf '%-44s %8.3f s %8.0f MiB/s\n' "signer sha256+sha512, one read (HashFile)" "$signer_both" \
  "$(echo "$size_mib / $signer_both" | bc -l)"
printf '%-44s %8.3f s %8.0f MiB/s\n' "signer add-target hashing (sha256 || sha512)" \
  "$signer_ingest" "$(echo "$size_mib / $signer_ingest" | bc -l)"
printf 'ratio sha256: openssl time / signer time = %.2f (aim >= 0.9)\n' \
  "$(echo "$openssl_256 / $signer_256" | bc -l)"
printf 'ratio both:   (openssl sha256 + sha512) / signer one-pass = %.2f (aim > 1.0)\n' \
  "$(echo "$openssl_both / $signer_both" | bc -l)"
printf 'ratio both:   (openssl sha256 + sha512) / signer add-target hashing = %.2f (aim > 1.0)\n' \
  "$(echo "$openssl_both / $signer_ingest" | bc -l)"
