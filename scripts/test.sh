#!/usr/bin/env bash
# Builds TLB and runs its whole test suite: the release build with warnings as errors, then the same tests under
# AddressSanitizer and UndefinedBehaviorSanitizer, then the Windows build of the client and its tests under wine
# (scripts/test-windows.sh), then short seeded libFuzzer runs on the readers of user files and on the server's
# request handling. Installs what it needs first (scripts/setup.sh).
#
#   scripts/test.sh            all four
#   scripts/test.sh --quick    the release build only
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

if ((quick)); then scripts/setup.sh; else scripts/setup.sh sanitize; fi
jobs=$(nproc 2>/dev/null || echo 2)

presets=(ci)
((quick)) || presets+=(sanitize)
for preset in "${presets[@]}"; do
  echo "== $preset: configure and build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "== $preset: test"
  ctest --preset "$preset" -j "$jobs"
done

if ((!quick)); then
  echo "== windows: tlb.exe and its unit and cli tests (mingw-w64) under wine; the fixture partitioned by ctest.exe"
  scripts/test-windows.sh build/windows

  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$jobs"
  corpus=$(mktemp -d)
  trap 'rm -rf "$corpus"' EXIT
  # fuzz <target> <seed corpus> <runs> [options]: a seeded run on a copy of the corpus; crash reproducers land in
  # build/fuzz, not in the source tree.
  fuzz() {
    local target=$1 seeds=$2 runs=$3
    shift 3
    rm -rf "${corpus:?}"/* && cp "$seeds"/* "$corpus"/
    build/fuzz/tests/fuzz/"$target" -seed=1 -runs="$runs" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix=build/fuzz/ "$@" "$corpus" 2>&1 | tail -n 1
  }
  echo "== fuzz: the readers of test lists, durations, partition records and timing files, 20000 seeded runs"
  fuzz tlb_readers_fuzzer tests/fuzz/corpus 20000
  echo "== fuzz: the results parser (JUnit XML, ctest's formats, GoogleTest's XML), 100000 seeded runs"
  fuzz tlb_results_fuzzer tests/fuzz/results-corpus 100000 -dict=tests/fuzz/results.dict
  echo "== fuzz: the server's request handling (every route, a fresh database per request), 45 seconds"
  fuzz tlb_server_fuzzer tests/fuzz/server-corpus 1000000 -max_total_time=45 -dict=tests/fuzz/server.dict
fi
