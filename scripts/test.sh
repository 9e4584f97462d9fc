#!/usr/bin/env bash
# The README's test command: installs dependencies, builds warning-free (-Werror), runs every
# test (unit, attack, integration, interop with tuf-js), then rebuilds the tests with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs them again.
#   MDU_SKIP_ASAN=1   skip the sanitizer pass (local quick runs only; CI runs it)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$(date +%s)

bash scripts/install-deps.sh

echo "== build (RelWithDebInfo, -Werror)"
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMDU_WERROR=ON
echo "== tests"
ctest --test-dir build --output-on-failure -j 2 --timeout 600

if [ "${MDU_SKIP_ASAN:-0}" != "1" ]; then
  echo "== build (ASan + UBSan)"
  bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DMDU_SANITIZE=ON \
    -DMDU_BUILD_BENCHMARKS=OFF
  echo "== tests under ASan + UBSan"
  # The tuf-js interop peer is node code; its C++ side already ran above.
  MDU_SKIP_INTEROP=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j 2 --timeout 900
fi
echo "== all tests passed in $(( $(date +%s) - start )) s"
