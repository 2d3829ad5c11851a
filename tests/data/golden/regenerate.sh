#!/usr/bin/env bash
# Rewrites the expected splits from the current `tlb`. Run it only when a change to a splitter is meant to change
# where tests go, and say so in the commit: these files are what every machine must produce.
#   tests/data/golden/regenerate.sh build/dev/src/tlb
set -euo pipefail
tlb=$(realpath "${1:?usage: regenerate.sh path/to/tlb}")
cd "$(dirname "$0")"
while read -r name args; do
  # shellcheck disable=SC2086
  "$tlb" split --tests tests.json --durations durations.json --all $args > "expected-$name.txt"
done < cases.txt
