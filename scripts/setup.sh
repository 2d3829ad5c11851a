#!/usr/bin/env bash
# Installs what building and testing TLB needs, from Debian packages only.
# Idempotent: packages already present are not touched, and apt-get runs only when something is missing.
set -euo pipefail

packages=(
  cmake g++ ninja-build pkg-config
  nlohmann-json3-dev libtinyxml2-dev libgtest-dev libgmock-dev libcpp-httplib-dev
  libsqlite3-dev libcli11-dev libbenchmark-dev
  catch2 doctest-dev  # Header-only; the tests of include(TLB) check Catch2's and doctest's test discovery.
  chromium           # Headless, for the test that opens tlb report's page in a browser (label "browser").
)
# Extra groups, asked for by the commands that need them: `setup.sh sanitize` adds clang's runtimes.
for group in "$@"; do
  case "$group" in
    sanitize) packages+=(clang libclang-rt-14-dev) ;;
    *) echo "setup.sh: unknown package group '$group' (known: sanitize)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]})) || exit 0

echo "setup.sh: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
