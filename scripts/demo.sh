#!/usr/bin/env bash
# The TLB demo: splits the small suite of examples/demo into 4 partitions with `tlb split`, runs each
# partition with plain ctest as 4 CI jobs would, and checks that together they ran every test exactly once.
#
# Usage: scripts/demo.sh   (on a fresh Debian machine; installs packages with scripts/setup.sh)
# Outputs go to build/demo; tlb itself is built in build/demo-tlb.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tlb_build=$root/build/demo-tlb
demo=$root/build/demo
tlb=$tlb_build/src/tlb
total=4

heading() { printf '\n== %s\n' "$*"; }
now() { local t=$EPOCHREALTIME; echo "${t/[^0-9]/.}"; }        # Seconds, whatever the locale's decimal point.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
# Runs a command with its output in a log file; on failure shows the end of the log and where it is.
logged() {
  local log=$1; shift
  if ! "$@" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "'$*' failed; the full output is in $log"
  fi
}

heading "Setup"
"$root/scripts/setup.sh"
mkdir -p "$demo"
if [ -f "$demo/CMakeCache.txt" ] && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$root/examples/demo" "$demo/CMakeCache.txt"; then
  die "$demo holds a build of another project; remove it (rm -rf build/demo) and run the demo again"
fi
echo "Building tlb in build/demo-tlb (a minute or two the first time)..."
logged "$demo/tlb-configure.log" cmake -S "$root" -B "$tlb_build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTLB_BUILD_TESTS=OFF -DTLB_BUILD_BENCHMARKS=OFF
logged "$demo/tlb-build.log" cmake --build "$tlb_build" --target tlb
echo "Configuring the demo suite (examples/demo) in build/demo..."
logged "$demo/demo-configure.log" cmake -S "$root/examples/demo" -B "$demo" -G Ninja
# Start from no history, so that every run of the demo learns the same durations.
rm -rf "$demo/Testing" "$demo"/partition-*.xml "$demo"/partition-*.log

# Names of the tests in ctest's order (test #1 first), and those that are fixture setup/cleanup tests.
# ctest --show-only=json-v1 writes one key a line: a test's name at 6 spaces, a property's name at 10.
test_names() { sed -n 's/^      "name" : "\(.*\)",\{0,1\}$/\1/p' "$1"; }
fixture_names() {
  awk '/^      "name" : "/ { name = $0; sub(/^[^:]*: "/, "", name); sub(/",?$/, "", name) }
       /^          "name" : "FIXTURES_(SETUP|CLEANUP)"/ { print name }' "$1"
}

heading "1. Learn durations: run the whole suite once (ctest -j2)"
start=$(now)
logged "$demo/learn.log" ctest --test-dir "$demo" -j2 --no-label-summary
echo "$(grep 'tests passed' "$demo/learn.log") in $(elapsed "$start" "$(now)") s"
# Each ctest run updates CTestCostData.txt; every partition must split from the same durations, so keep a copy.
durations=$demo/CTestCostData.txt
cp "$demo/Testing/Temporary/CTestCostData.txt" "$durations"
echo "ctest recorded the durations in Testing/Temporary/CTestCostData.txt (copied to build/demo)."

heading "2. Plan: tlb split --total $total --explain"
ctest --test-dir "$demo" --show-only=json-v1 >"$demo/tests.json"
mapfile -t all_tests < <(test_names "$demo/tests.json")
mapfile -t fixtures < <(fixture_names "$demo/tests.json")
ctest_count=$(ctest --test-dir "$demo" -N | sed -n 's/^Total Tests: //p')
[ "${#all_tests[@]}" -eq "$ctest_count" ] ||
  die "read ${#all_tests[@]} test names from tests.json, but ctest -N lists $ctest_count"
declare -A number_of
for i in "${!all_tests[@]}"; do number_of[${all_tests[$i]}]=$((i + 1)); done
declare -A seconds_of
while read -r name _ mean; do seconds_of[$name]=$mean; done < <(sed '/^---$/q' "$durations" | grep -v '^---$')
is_fixture() { local f; for f in "${fixtures[@]}"; do [ "$f" = "$1" ] && return 0; done; return 1; }

split=("$tlb" split --tests "$demo/tests.json" --durations "$durations")
"${split[@]}" --total "$total" --explain

heading "3. Run each partition, as $total CI jobs would (one after another here)"
predicted=() actual=() counts=()
for k in $(seq "$total"); do
  mapfile -t names < <("${split[@]}" --partition "$k/$total")
  predicted[k]=$("${split[@]}" --partition "$k/$total" --json | sed -n 's/^ *"predicted_seconds": \([0-9.e+-]*\),$/\1/p')
  counts[k]=${#names[@]}
  printf '\nPartition %d/%d: %d tests, predicted %.2f s\n' "$k" "$total" "${#names[@]}" "${predicted[k]}"
  if [ "${#names[@]}" -eq 0 ]; then
    actual[k]=0.00
    echo "  (nothing to run)"
    continue
  fi
  numbers=()
  for name in "${names[@]}"; do
    [ -n "${number_of[$name]:-}" ] || die "tlb split named '$name', which is not in tests.json"
    numbers+=("${number_of[$name]}")
    note=""
    if is_fixture "$name"; then note="  (fixture)"; fi
    printf '  %-28s %5.2f s%s\n' "$name" "${seconds_of[$name]:-0}" "$note"
  done
  # ctest -I Start,End,Stride,n1,n2,...: with 0,0,0 only the listed test numbers run.
  start=$(now)
  logged "$demo/partition-$k.log" ctest --test-dir "$demo" -I "0,0,0,$(IFS=,; echo "${numbers[*]}")" \
    --output-junit "$demo/partition-$k.xml" --no-label-summary
  actual[k]=$(elapsed "$start" "$(now)")
  echo "  ran in ${actual[k]} s: $(grep 'tests passed' "$demo/partition-$k.log")"
done

heading "4. Check: together the partitions ran every test exactly once"
declare -A ran
while read -r count name; do ran[$name]=$count; done < <(
  cat "$demo"/partition-*.xml | grep -o '<testcase name="[^"]*"' | sed 's/^<testcase name="//; s/"$//' | sort | uniq -c)
problems=()
for name in "${all_tests[@]}"; do
  count=${ran[$name]:-0}
  if [ "$count" -eq 0 ]; then
    problems+=("lost: $name never ran")
  elif [ "$count" -gt 1 ] && ! is_fixture "$name"; then
    problems+=("duplicated: $name ran $count times")
  fi
  unset "ran[$name]"
done
for name in "${!ran[@]}"; do problems+=("unexpected: $name is not in tests.json"); done
if [ "${#problems[@]}" -gt 0 ]; then
  printf '  %s\n' "${problems[@]}"
  die "the partitions did not run every test exactly once"
fi
echo "every test ran exactly once (${#all_tests[@]} tests in the JUnit files of the $total partitions)"
for f in "${fixtures[@]}"; do
  echo "  fixture test $f ran in $(grep -l "<testcase name=\"$f\"" "$demo"/partition-*.xml | wc -l) of the $total partitions, with the tests that need it"
done

heading "Summary"
printf '  partition  tests  predicted  actual\n'
for k in $(seq "$total"); do
  printf '  %-9s  %5d  %7.2f s  %4.2f s\n' "$k/$total" "${counts[k]}" "${predicted[k]}" "${actual[k]}"
done
slowest=$(printf '%s\n' "${actual[@]}" | sort -g | tail -n 1)
serial=$(printf '%s\n' "${seconds_of[@]}" | awk '{ sum += $1 } END { printf "%.1f", sum }')
echo "One after another the tests take $serial s; split $total ways, the slowest job takes $slowest s."
echo "Outputs in $demo: tests.json, CTestCostData.txt, partition-<k>.xml (JUnit) and partition-<k>.log."
