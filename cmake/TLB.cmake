#[=======================================================================[.rst:
TLB
---

Balanced test partitions for plain ``ctest``.

Include this module once, in the top-level ``CMakeLists.txt``, after ``enable_testing()`` (or ``include(CTest)``)::

  include(TLB)

Every later ``ctest`` run in that build tree then looks for a partition in the environment. With none set, ctest runs
exactly as before. With one set (``TLB_TOTAL_PARTITIONS=4`` and ``TLB_PARTITION_NUMBER=2``, ``TLB_PARTITION=2/4``, or
``TLB_TOTAL_PARTITIONS=auto`` with the parallel-job variables of GitLab, CircleCI or Buildkite, which alone never
partition a job), ctest runs only that partition's tests, chosen from measured durations so that the N jobs finish
together and every test runs exactly once across them.

How it works
^^^^^^^^^^^^

The module appends a script to the top directory's ``TEST_INCLUDE_FILES``, so ctest reads it before it adds any test.
The script returns at once when no partition is set. Otherwise it lists every test of the build tree with
``ctest --show-only=json-v1`` (the listing run sees ``TLB_HOOK_ACTIVE`` and does nothing, so there is no recursion),
pipes the list into ``tlb split``, and redefines ``add_test`` so that ctest adds only this partition's tests, with a
``COST`` that makes it run them failed-last-time first, then longest first. The decision is made each time ctest
starts, so tests discovered at build or test time (``gtest_discover_tests``, Catch2, doctest) are balanced too, and
``-R``, ``-E``, ``-L``, ``-j``, ``-C`` and ``--test-dir`` work on top of the partition. Before the run, the partition
writes its record to ``<build>/tlb/partition-K-of-N.json`` for ``tlb record`` and ``tlb verify``. The build's
configuration (``-C``, else ``CMAKE_BUILD_TYPE``), compilers and system go into the record's run key, so that the
cells of a CI matrix are runs of their own.

Cache variables
^^^^^^^^^^^^^^^

``TLB_STORE``
  Where history lives: a timing file path or a server URL. Default ``<top source dir>/.tlb/timings.txt``.
  The environment variable of the same name (or ``TLB_BASE_URL``, the original TLB's name for the server),
  when set at ctest time, wins.

``TLB_JOB_NAME``
  With a server store, the namespace of this project's history on the server. Default: the top-level
  project's name. The environment variable wins.

``TLB_SPLITTER``, ``TLB_PREFERRED_SPLITTERS``, ``TLB_ORDERER``, ``TLB_PARTITION_WEIGHTS``, ``TLB_STRICT``, ``TLB_PARALLEL_LEVEL``
  Defaults for the ``tlb split`` settings of the same names (see TLB's README); empty means TLB's own default.
  The environment wins over them. ``TLB_PARALLEL_LEVEL`` is the ``J`` of ``ctest -j J``, which the hook cannot
  see; ``CTEST_PARALLEL_LEVEL`` in the environment serves too.

``TLB_EXECUTABLE``
  The ``tlb`` program the hook runs. Default: the ``tlb`` target when TLB is part of the build
  (``add_subdirectory``, ``FetchContent``), else the one from ``find_package(TLB)``, else ``tlb`` on the ``PATH``.
  When it is the ``tlb`` target, the module adds it to the default build (target ``tlb_hook_program``), so that
  ``add_subdirectory(... EXCLUDE_FROM_ALL)`` still builds it.

Files
^^^^^

``<build>/tlb-path`` (``tlb-path-<CONFIG>`` with a multi-config generator) holds the ``tlb`` program's full path,
for CI scripts: ``"$(cat build/tlb-path)" record build``. Where ``tlb`` is built depends on the project
(``CMAKE_RUNTIME_OUTPUT_DIRECTORY``, the way TLB was added).

Commands
^^^^^^^^

This module defines no commands; ``include(TLB)`` is the whole interface.
#]=======================================================================]

include_guard(GLOBAL)

if(NOT CMAKE_CURRENT_SOURCE_DIR STREQUAL CMAKE_SOURCE_DIR)
  message(FATAL_ERROR "include(TLB) must be in the top-level CMakeLists.txt (it was included from "
                      "${CMAKE_CURRENT_SOURCE_DIR}); the hook has to see every test of the build tree.")
endif()

set(_TLB_MODULE_DIR "${CMAKE_CURRENT_LIST_DIR}")

set(TLB_STORE "${CMAKE_SOURCE_DIR}/.tlb/timings.txt" CACHE STRING
    "Where TLB keeps test history: a timing file path or a server URL")
string(REGEX REPLACE "[^A-Za-z0-9._-]" "-" _tlb_job_name "${PROJECT_NAME}")
set(TLB_JOB_NAME "${_tlb_job_name}" CACHE STRING "The job name of this project's history on a TLB server")
foreach(_tlb_setting IN ITEMS TLB_SPLITTER TLB_PREFERRED_SPLITTERS TLB_ORDERER TLB_PARTITION_WEIGHTS TLB_STRICT
                     TLB_PARALLEL_LEVEL)
  set(${_tlb_setting} "" CACHE STRING "Default for tlb split's ${_tlb_setting} (empty: TLB's default)")
endforeach()
set(TLB_EXECUTABLE "" CACHE FILEPATH "The tlb program the ctest hook runs (empty: found automatically)")

# The tlb program, as a generator expression when it is a target of this build (its path depends on the
# configuration), else as a path.
function(_tlb_executable_expression out_var)
  if(TLB_EXECUTABLE)
    set(expression "${TLB_EXECUTABLE}")
  elseif(TARGET tlb)
    set(expression "$<TARGET_FILE:tlb>")
  elseif(TARGET TLB::tlb)
    set(expression "$<TARGET_FILE:TLB::tlb>")
  else()
    find_program(_TLB_FOUND_EXECUTABLE tlb)
    if(NOT _TLB_FOUND_EXECUTABLE)
      message(FATAL_ERROR "include(TLB): no tlb program: add TLB with add_subdirectory or FetchContent, "
                          "use find_package(TLB), put tlb on the PATH, or set TLB_EXECUTABLE.")
    endif()
    set(expression "${_TLB_FOUND_EXECUTABLE}")
  endif()
  set(${out_var} "${expression}" PARENT_SCOPE)
endfunction()

# `<build>/tlb-path` (multi-config generators: `tlb-path-<CONFIG>`): the tlb program's full path, one line, for
# CI scripts (`"$(cat build/tlb-path)" record build`), since where it lands depends on the project.
function(_tlb_write_path_file executable)
  get_property(multi_config GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
  set(name "tlb-path")
  if(multi_config)
    set(name "tlb-path-$<CONFIG>")
  endif()
  # LF on Windows too: a CRLF would stay in the path a shell's "$(cat build/tlb-path)" gives.
  file(GENERATE OUTPUT "${CMAKE_BINARY_DIR}/${name}" CONTENT "${executable}\n" NEWLINE_STYLE UNIX)
endfunction()

# Writes the hook ctest reads: a per-configuration settings file and a loader that includes it and then the
# hook's logic (TLBHook.cmake, beside this module).
function(_tlb_write_hook)
  _tlb_executable_expression(executable)
  _tlb_write_path_file("${executable}")
  set(dir "${CMAKE_BINARY_DIR}/CMakeFiles/TLB")
  set(settings "")
  foreach(name IN ITEMS TLB_STORE TLB_JOB_NAME TLB_SPLITTER TLB_PREFERRED_SPLITTERS TLB_ORDERER
                     TLB_PARTITION_WEIGHTS TLB_STRICT TLB_PARALLEL_LEVEL)
    string(APPEND settings "set(_tlb_default_${name} [==[${${name}}]==])\n")
  endforeach()
  # What tells this build from the other cells of a CI matrix, for the run key: its configuration, the
  # compilers of the top directory's languages and the target system (never a path or a host).
  set(compilers "")
  foreach(language IN ITEMS C CXX CUDA Fortran)
    if(NOT "${CMAKE_${language}_COMPILER_ID}" STREQUAL "")
      list(APPEND compilers "${language} ${CMAKE_${language}_COMPILER_ID} ${CMAKE_${language}_COMPILER_VERSION}")
    endif()
  endforeach()
  list(JOIN compilers ", " compilers)
  set(identity "${CMAKE_SYSTEM_NAME} ${CMAKE_SYSTEM_PROCESSOR}")
  if(NOT compilers STREQUAL "")
    set(identity "${compilers} / ${identity}")
  endif()
  string(REPLACE ";" "," identity "${identity}")
  # Read by the hook and by `tlb run --queue` (run_key.cpp): one line each, a bracket argument.
  string(APPEND settings "set(_tlb_build_config [==[$<CONFIG>]==])\n"
                         "set(_tlb_build_identity [==[${identity}]==])\n")
  file(GENERATE OUTPUT "${dir}/settings-$<CONFIG>.cmake" CONTENT
       "# Written by include(TLB) at generate time.
set(_tlb_executable [==[${executable}]==])
set(_tlb_ctest [==[${CMAKE_CTEST_COMMAND}]==])
set(_tlb_cmake [==[${CMAKE_COMMAND}]==])
set(_tlb_build_dir [==[${CMAKE_BINARY_DIR}]==])
set(_tlb_source_dir [==[${CMAKE_SOURCE_DIR}]==])
${settings}")
  file(WRITE "${dir}/hook.cmake"
       "# Written by include(TLB); ctest reads it first (TEST_INCLUDE_FILES of the top directory).
set(_tlb_hook_read TRUE)
if(DEFINED ENV{TLB_HOOK_ACTIVE})
  return()
endif()
set(_tlb_settings_dir [==[${dir}]==])
include([==[${_TLB_MODULE_DIR}/TLBHook.cmake]==])
")
endfunction()

# The hook must come before any other TEST_INCLUDE_FILES script (gtest_discover_tests adds one per call), so that
# the tests those scripts add go through it too. Deferred to the end of the top directory, when every other script
# has been appended and every target (the tlb program among them) exists, so the order of include(TLB) and
# add_subdirectory does not matter.
# ctest started in a subdirectory of the build tree (`ctest --test-dir build/sub`) never reads the top directory's
# TEST_INCLUDE_FILES: every subdirectory gets a guard that, when the top's hook was not read, runs the hook's
# partition rule and stops ctest when a partition is set, instead of running the subdirectory in full.
function(_tlb_guard_subdirectories)
  set(guard "${CMAKE_BINARY_DIR}/CMakeFiles/TLB/subdirectory.cmake")
  file(WRITE "${guard}"
       "# Written by include(TLB); ctest reads it in each subdirectory (TEST_INCLUDE_FILES).
if(DEFINED ENV{TLB_HOOK_ACTIVE} OR _tlb_hook_read)
  return()
endif()
set(_tlb_hook_read TRUE)
set(_tlb_in_subdirectory TRUE)
set(_tlb_settings_dir [==[${CMAKE_BINARY_DIR}/CMakeFiles/TLB]==])
include([==[${_TLB_MODULE_DIR}/TLBHook.cmake]==])
")
  get_property(pending DIRECTORY "${CMAKE_SOURCE_DIR}" PROPERTY SUBDIRECTORIES)
  while(pending)
    list(POP_FRONT pending directory)
    get_property(scripts DIRECTORY "${directory}" PROPERTY TEST_INCLUDE_FILES)
    if(NOT guard IN_LIST scripts)
      set_property(DIRECTORY "${directory}" PROPERTY TEST_INCLUDE_FILES "${guard}" ${scripts})
    endif()
    get_property(children DIRECTORY "${directory}" PROPERTY SUBDIRECTORIES)
    list(APPEND pending ${children})
  endwhile()
endfunction()

function(_tlb_install_hook)
  _tlb_write_hook()
  _tlb_guard_subdirectories()
  set(hook "${CMAKE_BINARY_DIR}/CMakeFiles/TLB/hook.cmake")
  get_property(scripts DIRECTORY "${CMAKE_SOURCE_DIR}" PROPERTY TEST_INCLUDE_FILES)
  list(REMOVE_ITEM scripts "${hook}")
  set_property(DIRECTORY "${CMAKE_SOURCE_DIR}" PROPERTY TEST_INCLUDE_FILES "${hook}" ${scripts})
endfunction()

cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _tlb_install_hook)

# A build type changed in place would leave the old configuration's settings beside the new one's, and the hook,
# run without -C, could not tell which to read. They are all removed here, at configure time; generating writes
# those of the current configurations again.
function(_tlb_remove_stale_settings)
  file(GLOB stale "${CMAKE_BINARY_DIR}/CMakeFiles/TLB/settings-*.cmake")
  if(stale)
    file(REMOVE ${stale})
  endif()
endfunction()

# The tlb program must be built with the project even when TLB was added with add_subdirectory(... EXCLUDE_FROM_ALL)
# or its `tlb` target is otherwise left out of `all`: a target of the default build depends on it.
function(_tlb_build_program_by_default)
  if(NOT TLB_EXECUTABLE AND TARGET tlb AND NOT TARGET tlb_hook_program)
    get_target_property(imported tlb IMPORTED)
    if(NOT imported)
      add_custom_target(tlb_hook_program ALL COMMENT "The tlb program include(TLB)'s ctest hook runs")
      add_dependencies(tlb_hook_program tlb)
    endif()
  endif()
endfunction()

# The build tree's store, for `tlb record <build dir>` after a run that wrote no partition record (a learning run
# with no partition set): one line, TLB_STORE with a relative path made absolute from the top source directory.
function(_tlb_write_store_file)
  set(store "${TLB_STORE}")
  if(NOT store MATCHES "^[A-Za-z][A-Za-z0-9+.-]*://" AND NOT IS_ABSOLUTE "${store}")
    set(store "${CMAKE_SOURCE_DIR}/${store}")
  endif()
  file(WRITE "${CMAKE_BINARY_DIR}/CMakeFiles/TLB/store.txt" "${store}\n")
endfunction()

_tlb_remove_stale_settings()
_tlb_write_store_file()
cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _tlb_build_program_by_default)
