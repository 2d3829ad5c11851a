#!/usr/bin/env bash
# Builds TLB and runs its whole test suite: the release build with warnings as errors, then the same tests under
# AddressSanitizer and UndefinedBehaviorSanitizer, then a short seeded libFuzzer run on the readers of user files.
# Installs what it needs first (scripts/setup.sh).
#
#   scripts/test.sh            all three
#   scripts/test.sh --quick    the release build only
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
  echo "== fuzz: the readers of test lists and durations, 20000 seeded runs"
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$jobs"
  corpus=$(mktemp -d)
  trap 'rm -rf "$corpus"' EXIT
  cp tests/fuzz/corpus/* "$corpus"/
  # Crash reproducers land in build/fuzz, not in the source tree.
  build/fuzz/tests/fuzz/tlb_readers_fuzzer -seed=1 -runs=20000 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=build/fuzz/ "$corpus" 2>&1 | tail -n 1
fi
