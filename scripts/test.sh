#!/usr/bin/env bash
# Builds TLB and runs its whole test suite: the release build with warnings as errors, then the same tests under
# AddressSanitizer and UndefinedBehaviorSanitizer. Installs what it needs first (scripts/setup.sh).
#
#   scripts/test.sh            both builds
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
