# Finding TLB's dependencies: a missing one stops configure with the Debian package that provides it, instead of
# find_package's generic message. tinyxml2, the one compiled library TLB builds against, can instead come from a
# pinned release archive (TLB_FETCH_TINYXML2).
include_guard(GLOBAL)

# Every Debian package the light client (TLB_BUILD_SERVER=OFF) needs to build, besides CMake and a C++20 compiler.
set(TLB_CLIENT_PACKAGES "pkg-config nlohmann-json3-dev libcli11-dev libtinyxml2-dev libcpp-httplib-dev")

# tinyxml2's release archive, used only when find_package does not find tinyxml2: a URL or a local file, and its
# SHA256 (checked whatever the source).
set(TLB_TINYXML2_ARCHIVE "https://github.com/leethomason/tinyxml2/archive/9.0.0.tar.gz"
    CACHE STRING "tinyxml2 release archive (URL or path) built when tinyxml2 is not installed")
set(TLB_TINYXML2_SHA256 "cc2f1417c308b1f6acc54f88eb70771a0bf65f76282ce5c40e54cfe52952702c"
    CACHE STRING "SHA256 of TLB_TINYXML2_ARCHIVE")
option(TLB_FETCH_TINYXML2 "Build tinyxml2 from TLB_TINYXML2_ARCHIVE when it is not installed" ON)

# tlb_find_dependency(<package> <debian package> [find_package arguments...])
function(tlb_find_dependency package debian)
  find_package(${package} ${ARGN} QUIET)
  if(NOT ${package}_FOUND)
    tlb_missing_dependency("${package}" "${debian}")
  endif()
endfunction()

# Stops configure naming what is missing and how to install it.
function(tlb_missing_dependency what debian)
  message(FATAL_ERROR "TLB needs ${what}, which was not found. On Debian or Ubuntu: apt-get install ${debian}\n"
                      "(everything the tlb client needs: apt-get install ${TLB_CLIENT_PACKAGES}; "
                      "with TLB_BUILD_SERVER=ON also libsqlite3-dev libpq-dev; on Fedora: dnf install "
                      "json-devel cli11-devel tinyxml2-devel cpp-httplib-devel, and sqlite-devel libpq-devel; on macOS: "
                      "brew install nlohmann-json cli11 tinyxml2 cpp-httplib)")
endfunction()

# tinyxml2::tinyxml2: the installed package, else (TLB_FETCH_TINYXML2) a static library built from the release
# archive's one source file, with none of its own CMake project (which would add its tests and install rules to
# the consumer's build).
function(tlb_find_tinyxml2)
  find_package(tinyxml2 QUIET)
  if(tinyxml2_FOUND)
    return()
  endif()
  if(NOT TLB_FETCH_TINYXML2)
    tlb_missing_dependency("tinyxml2 (TLB_FETCH_TINYXML2 is OFF)" libtinyxml2-dev)
  endif()
  message(STATUS "TLB: tinyxml2 not found; building it from ${TLB_TINYXML2_ARCHIVE} "
                 "(or apt-get install libtinyxml2-dev)")
  include(FetchContent)
  if(POLICY CMP0135)
    cmake_policy(SET CMP0135 NEW)  # Unpacked files dated now, so that a new archive rebuilds.
  endif()
  # SOURCE_SUBDIR names a directory without CMakeLists.txt, so that MakeAvailable only unpacks the archive.
  FetchContent_Declare(tlb_tinyxml2 URL "${TLB_TINYXML2_ARCHIVE}" URL_HASH "SHA256=${TLB_TINYXML2_SHA256}"
                       SOURCE_SUBDIR tlb-unpack-only)
  FetchContent_MakeAvailable(tlb_tinyxml2)
  set(source "${tlb_tinyxml2_SOURCE_DIR}")
  if(NOT EXISTS "${source}/tinyxml2.cpp" OR NOT EXISTS "${source}/tinyxml2.h")
    message(FATAL_ERROR "TLB_TINYXML2_ARCHIVE (${TLB_TINYXML2_ARCHIVE}) has no tinyxml2.cpp and tinyxml2.h at "
                        "its top. On Debian or Ubuntu: apt-get install libtinyxml2-dev")
  endif()
  add_library(tlb_tinyxml2 STATIC EXCLUDE_FROM_ALL "${source}/tinyxml2.cpp")
  target_include_directories(tlb_tinyxml2 SYSTEM PUBLIC "$<BUILD_INTERFACE:${source}>")
  add_library(tinyxml2::tinyxml2 ALIAS tlb_tinyxml2)
endfunction()
