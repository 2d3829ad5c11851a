#!/usr/bin/env bash
# What adopting TLB adds to a project's build: the `tlb` target built from scratch as a subproject
# (add_subdirectory), without ccache, in CPU seconds (user + system, compilers included) and wall time.
#
#   bench/adoption_cost.sh [TLB_SOURCE_DIR] [BUILD_TYPE] [JOBS] [-- CMAKE_ARGS...]
#
# Defaults: this checkout, RelWithDebInfo, 2 jobs. Extra arguments after `--` go to the consumer's configure
# (e.g. -DTLB_BUILD_SERVER=ON for the full program, -DTLB_UNITY_BUILD=OFF for one translation unit per file).
set -euo pipefail
positional=()
while (($#)) && [ "$1" != "--" ]; do positional+=("$1"); shift; done
[ "${1:-}" != "--" ] || shift
tlb_source=$(cd "${positional[0]:-$(dirname "$0")/..}" && pwd)
build_type=${positional[1]:-RelWithDebInfo}
jobs=${positional[2]:-2}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/consumer"
cat >"$work/consumer/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.20)
project(consumer CXX)
add_subdirectory("$tlb_source" tlb)
CMAKE
# No compiler cache, whatever the environment says: CMake reads launchers from these variables too.
export CCACHE_DISABLE=1
unset CMAKE_CXX_COMPILER_LAUNCHER CMAKE_C_COMPILER_LAUNCHER
cmake -S "$work/consumer" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" "$@" >/dev/null
translation_units=$(cmake --build "$work/build" --target tlb -- -n | grep -c 'Building CXX object' || true)
/usr/bin/time -f '%e %U %S' -o "$work/time" cmake --build "$work/build" --target tlb -j "$jobs" >/dev/null
read -r wall user system <"$work/time"
cpu=$(echo "$user + $system" | bc)
echo "tlb as a subproject ($build_type, -j $jobs, $translation_units translation units): $cpu s CPU, $wall s wall"
