#!/bin/sh
# The peak resident memory of `tlb server` in the worst case its limits allow with its 64 request threads
# (issue 17): a job of 200,000 tests with long names; then 64 run reports posted at once to it, each of
# 200,000 tests just under the 64 MiB body limit; then 64 reads at once without the token of the job's
# history (JSON and the original's texts), a run's snapshot (JSON and text), and the job's dashboard page;
# then 32 posts and 32 reads at once. The peak (VmHWM in /proc/PID/status) is reset before each phase.
#
#   bench/server_memory.sh build/ci/src/tlb
set -eu
tlb=${1:?usage: server_memory.sh PATH/TO/tlb}
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
TLB_TOKEN=bench "$tlb" server --port 0 --data-dir "$work/data" --max-client-connections 0 --exit-after 1800 \
  >"$work/out" 2>"$work/err" &
pid=$!
while ! grep -q 'listening on' "$work/out" 2>/dev/null; do sleep 0.1; done
url=$(sed -n 's/.*listening on \(http:[^ ]*\) .*/\1/p' "$work/out")

# 200,000 tests whose names take 281 bytes each: 65 MB, just under the 64 MiB (67,108,864 bytes) limit.
awk 'BEGIN {
  pad = sprintf("%270s", ""); gsub(/ /, "x", pad)
  printf "{\"kind\":\"tlb-run-report\",\"version\":1,\"partition\":1,\"total\":1,\"date\":\"2026-12-07\","
  printf "\"observations\":["
  for (i = 0; i < 200000; i++) {
    printf "%s{\"name\":\"%s.%09d\",\"seconds\":1.5,\"outcome\":\"passed\"}", (i ? "," : ""), pad, i
  }
  printf "]}"
}' >"$work/report.json"
echo "report body: $(wc -c <"$work/report.json") bytes"

post() {  # post VERSION
  curl -s -o /dev/null -w '%{http_code}\n' -H 'Authorization: Bearer bench' -H 'Content-Type: application/json' -H 'Expect:' \
    --data-binary "@$work/report.json" "$url/api/v1/jobs/big/versions/$1/results"
}
read_one() {  # read N: one of the heavy reads, by N
  case $(($1 % 6)) in
    0) path=/api/v1/jobs/big/history ;;
    1) path=/big/suite_time ;;
    2) path=/api/v1/jobs/big/versions/seed/history ;;
    3) path=/big/suite_result ;;
    4) path=/big/suite_time/seed ;;
    *) path='/?job=big' ;;
  esac
  curl -s -o /dev/null -w '%{http_code}\n' "$url$path"
}
peak() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status"; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status"; }
phase() {  # phase NAME POSTS READS
  echo 5 >"/proc/$pid/clear_refs"
  before=$(rss)
  clients= i=0
  while [ "$i" -lt "$2" ]; do post "$1-$i" >>"$work/codes" & clients="$clients $!"; i=$((i + 1)); done
  i=0
  while [ "$i" -lt "$3" ]; do read_one "$i" >>"$work/codes" & clients="$clients $!"; i=$((i + 1)); done
  for client in $clients; do wait "$client" || true; done
  echo "$1: $2 posts, $3 reads: RSS $((before / 1024)) MiB before, peak $(($(peak) / 1024)) MiB;" \
    "answers: $(sort "$work/codes" | uniq -c | tr -s ' \n' ' ')"
  rm -f "$work/codes"
}

echo "seed: $(post seed)"
phase posts 64 0
phase reads 0 64
phase mixed 32 32
echo "server RSS at the end: $(($(rss) / 1024)) MiB"
