#!/usr/bin/env bash
# The swarm demo: the example project's suite (examples/demo, the one scripts/demo.sh splits into CI jobs) run by a
# swarm on this machine. `tlb server` is the coordinator; three `tlb agent`s of different speeds (SWARM_SLOWDOWN
# makes the demo's tests take 1x, 2x and 4x as long) volunteer; `tlb swarm run` submits the suite and waits. Midway
# the slow agent is killed with SIGKILL, as a machine that loses power: the coordinator takes its test back once its
# lease runs out, another agent runs it, and `tlb verify` proves that every test still ran exactly once.
#
# Usage: scripts/swarm-demo.sh   (on a fresh Debian machine; installs packages with scripts/setup.sh)
# Builds in build/demo (as scripts/demo.sh does); writes the coordinator's data, each agent's log, the records and
# the JUnit file under build/swarm-demo. Every process it starts is stopped when it ends, however it ends.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
demo=$root/build/demo
out=$root/build/swarm-demo
tlb=$demo/tlb-build/src/tlb
job=demo

script=swarm-demo
# The agents must not split the suite again: common.sh clears the partition variables a CI machine may have set.
source "$root/scripts/common.sh"

# Each background process leads a process group of its own (setsid), so that stopping it stops the ctest and
# test processes it started too.
groups=()
# shellcheck disable=SC2317 # Run by the trap.
cleanup() {
  local pid
  for pid in "${groups[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${groups[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
started() { groups+=("$1"); }

heading "Setup"
"$root/scripts/setup.sh"
command -v curl >/dev/null || die "curl is needed to watch the coordinator (apt-get install curl)"
mkdir -p "$demo"
if [ -f "$demo/CMakeCache.txt" ] && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$root/examples/demo" "$demo/CMakeCache.txt"; then
  die "$demo holds a build of another project; remove it (rm -rf build/demo) and run the demo again"
fi
echo "Building the example project, and tlb with it, in build/demo (a minute or two the first time)..."
# scripts/demo.sh's configuration, so that the two demos share the build, plus the server side (server, agent,
# swarm), which TLB leaves out of the light client it builds as a subproject.
logged "$demo/configure.log" cmake -S "$root/examples/demo" -B "$demo" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTLB_STORE="$root/build/demo-history/timings.txt" -DTLB_BUILD_SERVER=ON
logged "$demo/build.log" cmake --build "$demo"
rm -rf "$out"
mkdir -p "$out"
tests=$(ctest --test-dir "$demo" --show-only | grep -c '^  Test *#' || true)
echo "The suite: $tests tests in build/demo"

heading "1. The coordinator: tlb server on loopback, heartbeats every second, leases of 3 s"
setsid "$tlb" server --bind 127.0.0.1 --port 0 --data-dir "$out/data" --exit-after 600 \
  --swarm-heartbeat-seconds 1 --swarm-lease-seconds 3 >"$out/server.log" 2>&1 &
started $!
for _ in $(seq 100); do
  grep -q '^tlb server: listening on http://' "$out/server.log" && break
  sleep 0.1
done
url=$(grep -o 'http://[0-9.]*:[0-9]*' "$out/server.log" | head -n 1) || die "the server did not start: $out/server.log"
echo "tlb server: listening on $url"

heading "2. Submit: tlb swarm run --job $job (it waits for the swarm and prints its progress)"
setsid "$tlb" swarm run --server "$url" --build-dir "$demo" --job "$job" --job-version 1 \
  --record-dir "$out/records" --output-junit "$out/junit.xml" --timeout 300 >"$out/swarm-run.log" 2>&1 &
submitter=$!
started "$submitter"
# A fresh coordinator numbers its runs from 1.
progress=$url/api/v1/swarm/runs/1
for _ in $(seq 200); do
  curl -fsS "$progress" >/dev/null 2>&1 && break
  kill -0 "$submitter" 2>/dev/null || { cat "$out/swarm-run.log"; die "tlb swarm run failed"; }
  sleep 0.1
done
# Its output as it comes (sed -u: line by line, not a buffer at a time).
tail -n +1 -f --pid="$submitter" "$out/swarm-run.log" | sed -u 's/^/  /' &
follower=$!
sleep 0.3 # Its first lines under this heading.

heading "3. Three agents volunteer: fast (1x), medium (2x as slow), slow (4x as slow)"
declare -A agent
for spec in fast:1 medium:2 slow:4; do
  name=${spec%%:*}
  SWARM_SLOWDOWN=${spec##*:} setsid "$tlb" agent --server "$url" --build-dir "$demo" --name "$name" \
    --exit-when-idle >"$out/agent-$name.log" 2>&1 &
  agent[$name]=$!
  started $!
done

# The tests an agent holds in run 1, from the coordinator's progress JSON, one a line.
held_by() {
  curl -fsS "$progress" 2>/dev/null | grep -o "\"name\":\"$1\"[^]]*]" | sed 's/.*"running":\[//; s/]$//' |
    tr ',' '\n' | sed 's/^"//; s/"$//' | grep . || true
}
# Midway: a third of the suite done, and the slow agent holding a test.
victim=slow
held=""
while kill -0 "$submitter" 2>/dev/null; do
  done_count=$(curl -fsS "$progress" 2>/dev/null | grep -o '"done":[0-9]*' | head -n 1 | cut -d: -f2)
  if [ "${done_count:-0}" -ge $((tests / 3)) ]; then
    held=$(held_by "$victim")
    [ -n "$held" ] && break
  fi
  sleep 0.1
done
if [ -n "$held" ]; then
  kill -KILL -- "-${agent[$victim]}"
  wait "${agent[$victim]}" 2>/dev/null || true # Reaped here, where bash's "Killed" notice goes nowhere.
  printf '\n  *** SIGKILL to agent %s (and its ctest) while it held: %s\n\n' "$victim" "${held//$'\n'/ }"
else
  echo "  (the run finished before the $victim agent held a test midway; nothing was killed)"
fi

status=0
wait "$submitter" || status=$?
wait "$follower" || true

heading "4. The coordinator's view of the agents at the end"
# One object per agent in the results' "agents" list: {"agent":"a1","name":"fast","state":"trusted",...}.
curl -fsS "$url/api/v1/swarm/runs/1/results" | grep -o '{"agent":[^}]*}' |
  sed 's/.*"name":"\([^"]*\)","state":"\([^"]*\)".*"done":\([0-9]*\).*/  \1: \2, \3 results that count/'

heading "5. What each agent ran (its own log)"
for name in fast medium slow; do
  echo "$name:"
  sed 's/^/  /' "$out/agent-$name.log"
done
if [ -n "$held" ]; then
  for test in $held; do
    ran_on=$(grep -lF "tlb agent: $test: " "$out"/agent-*.log | sed 's/.*agent-\(.*\)\.log/\1/' | tr '\n' ' ')
    echo "$test, held by the killed agent, ran on: ${ran_on:-nobody}"
  done
fi

heading "6. Verify: the records tlb swarm run wrote, one per agent, hold every test exactly once"
"$tlb" verify "$out/records"

heading "Summary"
echo "tlb swarm run exited with $status (0: every test passed; 8: some failed)."
echo "Outputs: build/swarm-demo/ (swarm-run.log, agent-<name>.log, records/, junit.xml, server.log)."
exit "$status"
