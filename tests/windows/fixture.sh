#!/usr/bin/env bash
# The include(TLB) hook on Windows, end to end under wine (run by scripts/test-windows.sh, which sets WINEPREFIX):
# the Windows cmake.exe configures tests/windows/fixture with TLB_EXECUTABLE and TLB_STORE given as Windows paths
# (drive letter, backslashes), the store a timing file with CRLF line ends as a Windows checkout has it; ctest.exe
# runs it as 3 partitions, and tlb.exe records each; `tlb.exe plan --build-dir` runs ctest.exe itself. Passes when the partitions' tests, as ctest.exe reports
# them, are every test of the fixture exactly once, and `tlb.exe verify` proves the same from the records.
#
# Usage: tests/windows/fixture.sh WORK_DIR TLB_EXE WINDOWS_CMAKE_BIN_DIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=$(realpath -m "$1")
tlb=$(realpath "$2")
cmake_bin=$(realpath "$3")
wine=/usr/lib/wine/wine64
total=3

windows_path() { printf 'Z:%s' "${1//\//\\}"; }
fail() {
  echo "fixture.sh: FAILED: $*" >&2
  exit 1
}

rm -rf "$work"
mkdir -p "$work/store"
build="$work/build"
# Durations for some of the tests, CRLF line ends: the others are estimated.
printf '%s\r\n' '# tlb timings v1' '# seconds runs last-result last-seen name' \
  '1.000000 1 passed 2026-01-01 sleep.10' '0.900000 1 passed 2026-01-01 sleep.9' \
  '0.100000 1 passed 2026-01-01 sleep with space' >"$work/store/timings.txt"

"$wine" "$cmake_bin/cmake.exe" -S "$(windows_path "$here/fixture")" -B "$(windows_path "$build")" \
  -G "Unix Makefiles" -DCMAKE_MAKE_PROGRAM="$(windows_path "$cmake_bin/cmake.exe")" \
  -DTLB_SOURCE_DIR="Z:$(dirname "$(dirname "$here")")" \
  -DTLB_EXECUTABLE="$(windows_path "$tlb")" -DTLB_STORE="$(windows_path "$work/store/timings.txt")" \
  >"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; fail "cmake.exe could not configure the fixture"; }
# For CI scripts' "$(cat build/tlb-path)": the program's path, with no CR a shell would keep.
grep -q 'tlb\.exe$' "$build/tlb-path" && ! grep -q $'\r' "$build/tlb-path" ||
  fail "tlb-path is not tlb.exe's path on an LF-ended line: $(od -c "$build/tlb-path" | head -3)"

all=$("$wine" "$cmake_bin/ctest.exe" --test-dir "$(windows_path "$build")" -N | tr -d '\r' |
  sed -nE 's/^ *Test +#[0-9]+: (.*)$/\1/p' | sort)
[ "$(wc -l <<<"$all")" -eq 11 ] || fail "ctest.exe -N lists $(wc -l <<<"$all") tests, not the fixture's 11"

# tlb.exe runs ctest.exe itself (found on the PATH, as "ctest") to list the tests, with both outputs on pipes.
WINEPATH="$(windows_path "$cmake_bin")" "$wine" "$tlb" plan --build-dir "$(windows_path "$build")" --total "$total" \
  >"$work/plan.log" 2>&1 || { cat "$work/plan.log" >&2; fail "tlb.exe plan --build-dir failed"; }
grep -q "total *11 " "$work/plan.log" || { cat "$work/plan.log" >&2; fail "tlb.exe plan does not plan the 11 tests"; }

ran=""
for k in $(seq 1 "$total"); do
  log="$work/partition-$k.log"
  TLB_PARTITION="$k/$total" "$wine" "$cmake_bin/ctest.exe" --test-dir "$(windows_path "$build")" \
    --output-junit junit.xml >"$log" 2>&1 || { cat "$log" >&2; fail "partition $k/$total: ctest.exe failed"; }
  names=$(tr -d '\r' <"$log" | sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: (.*[^ ]) \.+ +Passed.*$/\1/p')
  [ -n "$names" ] || { cat "$log" >&2; fail "partition $k/$total ran no test"; }
  echo "fixture.sh: partition $k/$total ran $(wc -l <<<"$names") tests: $(tr '\n' ',' <<<"$names")" >&2
  ran+="$names"$'\n'
  # Into a store of its own: the split's store must stay as it was for the partitions still to run.
  TLB_PARTITION="$k/$total" "$wine" "$tlb" record --store "$(windows_path "$work/store/recorded.txt")" \
    "$(windows_path "$build")" >"$work/record-$k.log" 2>&1 ||
    { cat "$work/record-$k.log" >&2; fail "partition $k/$total: tlb.exe record failed"; }
done

ran=$(sed '/^$/d' <<<"$ran" | sort)
duplicated=$(uniq -d <<<"$ran")
[ -z "$duplicated" ] || fail "tests ran in more than one partition: $duplicated"
[ "$ran" = "$all" ] || fail "the partitions ran $(wc -l <<<"$ran") tests, not the fixture's 11:"$'\n'"$(diff <(echo "$all") <(echo "$ran"))"

"$wine" "$tlb" verify "$(windows_path "$build\\tlb")" >"$work/verify.log" 2>&1 ||
  { cat "$work/verify.log" >&2; fail "tlb.exe verify does not prove the run"; }
grep -q "proven: each of the 11 tests ran exactly once across $total partitions" "$work/verify.log" ||
  fail "tlb.exe verify: $(cat "$work/verify.log")"
# tlb.exe record wrote its store (atomically, under the directory lock), every test in it.
[ "$(grep -c ' sleep' "$work/store/recorded.txt")" -eq 11 ] || fail "the store lacks tests: $(cat "$work/store/recorded.txt")"
echo "fixture.sh: every one of the 11 tests ran exactly once across $total partitions of ctest.exe under wine," \
  "and tlb.exe verify proves it" >&2
