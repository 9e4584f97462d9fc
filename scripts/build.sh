#!/usr/bin/env bash
# Configures and builds one build tree. Usage: scripts/build.sh BUILD_DIR [extra cmake args...]
# Uses Ninja and ccache when present, two jobs (CI machines have 2 cores).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:?usage: scripts/build.sh BUILD_DIR [cmake args...]}
shift
# Relative paths in the ccache key, so every clone of the repository shares the cache.
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=1
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build_dir" "${generator[@]}" "$@"
else
  cmake -S "$root" -B "$build_dir" "$@" >/dev/null
fi
cmake --build "$build_dir" -j "${MDU_JOBS:-2}"
