# Finding TLB's dependencies: a missing one stops configure with the Debian package that provides it, instead of
# find_package's generic message.
include_guard(GLOBAL)

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
                      "with TLB_BUILD_SERVER=ON also libsqlite3-dev)")
endfunction()

# Every Debian package the light client (TLB_BUILD_SERVER=OFF) needs to build, besides CMake and a C++20 compiler.
set(TLB_CLIENT_PACKAGES "pkg-config nlohmann-json3-dev libcli11-dev libtinyxml2-dev libcpp-httplib-dev")
