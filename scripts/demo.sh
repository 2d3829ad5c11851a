#!/usr/bin/env bash
# The TLB demo: the example project (examples/demo, with `include(TLB)`) run as a CI matrix of 4 jobs would run
# it. One plain ctest run teaches TLB the durations; then each job sets its partition and runs plain ctest, which
# runs only that partition's tests; `tlb record` completes each job's record, `tlb verify` proves that together
# they ran every test exactly once, and `tlb merge` joins their results into the history for the next run.
#
# Usage: scripts/demo.sh   (on a fresh Debian machine; installs packages with scripts/setup.sh)
# Everything it writes is under build/demo (the build tree), build/demo-runs (one directory per job),
# build/demo-history (the timing file) and build/demo-report.html (the run's report).
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
demo=$root/build/demo
runs=$root/build/demo-runs
store=$root/build/demo-history/timings.txt
report=$root/build/demo-report.html
total=4

script=demo
source "$root/scripts/common.sh"
now() { local t=$EPOCHREALTIME; echo "${t/[^0-9]/.}"; }        # Seconds, whatever the locale's decimal point.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

heading "Setup"
"$root/scripts/setup.sh"
mkdir -p "$demo"
if [ -f "$demo/CMakeCache.txt" ] && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$root/examples/demo" "$demo/CMakeCache.txt"; then
  die "$demo holds a build of another project; remove it (rm -rf build/demo) and run the demo again"
fi
echo "Building the example project, and tlb with it, in build/demo (a minute or two the first time)..."
logged "$demo/configure.log" cmake -S "$root/examples/demo" -B "$demo" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTLB_STORE="$store"
logged "$demo/build.log" cmake --build "$demo"
tlb=$(cat "$demo/tlb-path")   # Where the build put tlb, as the README tells CI scripts to find it.
# Start from no history, so that every run of the demo learns the same durations.
rm -rf "$runs" "$(dirname "$store")" "$demo/Testing" "$demo/tlb"/partition-*.json
mkdir -p "$runs"

heading "1. Learn durations: plain ctest, no partition set, so TLB stays out of the way"
start=$(now)
logged "$runs/learn.log" ctest --test-dir "$demo" -j2 --output-junit "$runs/learn.xml"
echo "$(grep 'tests passed' "$runs/learn.log") in $(elapsed "$start" "$(now)") s"
"$tlb" record --store "$store" "$runs/learn.xml"

heading "2. The plan TLB will follow: tlb split --total $total --explain"
ctest --test-dir "$demo" --show-only=json-v1 | "$tlb" split --store "$store" --total "$total" --explain

heading "3. Run each partition, as $total CI jobs would (one after another here)"
declare -A actual
for k in $(seq "$total"); do
  job=$runs/partition-$k
  mkdir -p "$job/tlb"
  printf '\n$ TLB_TOTAL_PARTITIONS=%d TLB_PARTITION_NUMBER=%d ctest --test-dir build/demo --output-junit ...\n' \
    "$total" "$k"
  start=$(now)
  # ctest's own output, less the label summary; the "TLB:" line is the hook's.
  TLB_TOTAL_PARTITIONS=$total TLB_PARTITION_NUMBER=$k TLB_STORE=$store \
    ctest --test-dir "$demo" --output-junit "$job/junit.xml" --no-label-summary >"$job/ctest.log" 2>&1 ||
    { cat "$job/ctest.log"; die "partition $k/$total failed"; }
  grep -v -e '^Internal ctest changing' -e '^$' -e '^Total Test time' "$job/ctest.log" | sed 's/^/  /'
  actual[$k]=$(elapsed "$start" "$(now)")
  # What a CI job keeps as its artifact: the record the hook wrote, completed with what ran. Each CI job updates
  # its own copy of the history, which it then throws away; here the jobs share one machine, so each gets a
  # scratch copy and the shared history stays the snapshot all four split on.
  cp "$demo/tlb/partition-$k-of-$total.json" "$job/tlb/"
  "$tlb" record --store "$job/timings.txt" "$job" | sed 's/^/  /'
done

heading "4. Verify: together the partitions ran every test exactly once"
"$tlb" verify "$runs"/partition-*/tlb/partition-*.json

heading "5. Report: each partition's predicted and actual time, the slowest tests, one HTML page"
"$tlb" report --title "examples/demo, $total partitions" -o "$report" "$runs"/partition-*/tlb

heading "6. Merge: the partitions' results become the history the next run splits on"
"$tlb" merge -o "$store" "$runs"/partition-*/tlb/partition-*.json
echo "history: $store ($(grep -vc '^#' "$store") tests)"

heading "Summary"
printf '  partition  tests  predicted  actual\n'
for k in $(seq "$total"); do
  # From the hook's line: "TLB: partition k/N (...) runs T of A tests, predicted P s; ..."
  line=$(grep "^TLB: partition $k/$total " "$runs/partition-$k/ctest.log")
  tests=$(sed 's/.* runs \([0-9]*\) of .*/\1/' <<<"$line")
  predicted=$(sed 's/.*, predicted \([0-9.]* [a-z]*\);.*/\1/' <<<"$line")
  printf '  %-9s  %5s  %9s  %5.2f s\n' "$k/$total" "$tests" "$predicted" "${actual[$k]}"
done
serial=$(grep -o 'Total Test time (real) = *[0-9.]*' "$runs/learn.log" | grep -o '[0-9.]*$')
echo "The whole suite took $serial s with ctest -j2 on one machine; each partition above is one CI job."
echo "Outputs: build/demo-runs/partition-<k>/ (ctest.log, junit.xml, tlb/partition-<k>-of-$total.json)."
echo "Report: ${report#"$root"/} (open it in a browser)."
