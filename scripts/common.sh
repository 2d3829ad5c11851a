# What scripts/demo.sh and scripts/swarm-demo.sh share; sourced, with `script` set to the script's name first.

heading() { printf '\n== %s\n' "$*"; }
die() { printf '%s: %s\n' "$script" "$*" >&2; exit 1; }
# Runs a command with its output in a log file; on failure shows the end of the log and where it is.
logged() {
  local log=$1; shift
  if ! "$@" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "'$*' failed; the full output is in $log"
  fi
}
# Clears what a CI machine running a demo may have set, so that each step names its own partition and store: the
# partition variables, and the store and server settings.
unset TLB_PARTITION TLB_PARTITION_NUMBER TLB_TOTAL_PARTITIONS CI_NODE_INDEX CI_NODE_TOTAL CIRCLE_NODE_INDEX \
  CIRCLE_NODE_TOTAL BUILDKITE_PARALLEL_JOB BUILDKITE_PARALLEL_JOB_COUNT TLB_STORE TLB_BASE_URL TLB_TOKEN
