# The part of include(TLB) that runs inside ctest, before it adds any test. Internal: ctest reads it through the
# hook include(TLB) writes into the build tree, which sets _tlb_settings_dir and returns early in the listing run
# (TLB_HOOK_ACTIVE). See TLB.cmake for the design.

# ctest reads test files without policy settings; include() gives this file its own policy scope, and the
# functions below keep these policies wherever ctest calls them.
cmake_policy(VERSION 3.20)

# The CI's own partition variables that are set, of the first CI (GitLab, CircleCI, Buildkite) that sets any, as
# NAME=value items; `single_var` is true when that CI's total is 1 (GitLab sets CI_NODE_TOTAL=1 on every job that
# is not parallel). The rule is tlb's (settings.cpp, ci_partition): they count only with TLB_TOTAL_PARTITIONS=auto.
function(_tlb_ci_partition variables_var single_var)
  set(single FALSE)
  set(found "")
  foreach(pair IN ITEMS "CI_NODE_INDEX:CI_NODE_TOTAL" "CIRCLE_NODE_INDEX:CIRCLE_NODE_TOTAL"
                        "BUILDKITE_PARALLEL_JOB:BUILDKITE_PARALLEL_JOB_COUNT")
    string(REPLACE ":" ";" pair "${pair}")
    foreach(variable IN LISTS pair)
      if(NOT "$ENV{${variable}}" STREQUAL "")
        list(APPEND found "${variable}=$ENV{${variable}}")
      endif()
    endforeach()
    if(NOT found STREQUAL "")
      list(GET pair 1 total)
      string(STRIP "$ENV{${total}}" total)
      if(total MATCHES "^0*1$")
        set(single TRUE)
      endif()
      break()
    endif()
  endforeach()
  set(${variables_var} "${found}" PARENT_SCOPE)
  set(${single_var} ${single} PARENT_SCOPE)
endfunction()

# No partition in the environment: return at once, and ctest runs as if TLB were not there.
set(_tlb_partition_variables "")
foreach(_tlb_variable IN ITEMS TLB_PARTITION TLB_PARTITION_NUMBER TLB_TOTAL_PARTITIONS)
  if(NOT "$ENV{${_tlb_variable}}" STREQUAL "")
    list(APPEND _tlb_partition_variables "${_tlb_variable}=$ENV{${_tlb_variable}}")
  endif()
endforeach()
# ctest's own arguments, NUL-separated, in hex (Linux only): tlb split reads its filters and -j from them, and
# `ctest --rerun-failed` needs the hook even without a partition, since its log numbers a partition's tests.
set(_tlb_ctest_arguments "")
if(EXISTS "/proc/self/cmdline")
  file(READ "/proc/self/cmdline" _tlb_ctest_arguments HEX)
endif()
string(FIND "${_tlb_ctest_arguments}" "002d2d726572756e2d6661696c656400" _tlb_rerun_failed) # \0--rerun-failed\0
_tlb_ci_partition(_tlb_ci_variables _tlb_ci_single)
string(STRIP "$ENV{TLB_TOTAL_PARTITIONS}" _tlb_total)
if(_tlb_total STREQUAL "auto" AND NOT _tlb_ci_single)
  list(APPEND _tlb_partition_variables ${_tlb_ci_variables})
elseif(_tlb_total STREQUAL "auto" OR _tlb_partition_variables STREQUAL "")
  # No partition: TLB_TOTAL_PARTITIONS=auto with a CI total of 1, or no partition variable at all.
  if(NOT _tlb_total STREQUAL "auto" AND NOT _tlb_ci_variables STREQUAL "" AND NOT _tlb_ci_single)
    list(JOIN _tlb_ci_variables " " _tlb_ci_variables)
    message(NOTICE "TLB: ${_tlb_ci_variables} ignored: TLB splits by the CI's own variables only with "
                   "TLB_TOTAL_PARTITIONS=auto, so this job runs every test.")
  endif()
  if(_tlb_rerun_failed EQUAL -1)
    return()
  endif()
  set(_tlb_partition_variables "") # A rerun of failed tests with no partition.
endif()
list(JOIN _tlb_partition_variables " " _tlb_partition_variables)

# The settings include(TLB) wrote for this configuration.
if(NOT "${CTEST_CONFIGURATION_TYPE}" STREQUAL ""
   AND EXISTS "${_tlb_settings_dir}/settings-${CTEST_CONFIGURATION_TYPE}.cmake")
  include("${_tlb_settings_dir}/settings-${CTEST_CONFIGURATION_TYPE}.cmake")
else()
  file(GLOB _tlb_settings_files "${_tlb_settings_dir}/settings-*.cmake")
  list(LENGTH _tlb_settings_files _tlb_count)
  if(NOT _tlb_count EQUAL 1)
    message(FATAL_ERROR "TLB: a partition is set (${_tlb_partition_variables}) but this build tree has several "
                        "configurations; pass -C <config> to ctest.")
  endif()
  include("${_tlb_settings_files}")
endif()

if(_tlb_in_subdirectory)
  message(FATAL_ERROR "TLB: a partition is set (${_tlb_partition_variables}) but ctest was started in a "
                      "subdirectory of the build tree, where it cannot take its share of the whole tree's split; "
                      "no test was run. Run ctest at the top: ctest --test-dir ${_tlb_build_dir}")
endif()

if(NOT EXISTS "${_tlb_executable}")
  message(FATAL_ERROR "TLB: a partition is set (${_tlb_partition_variables}) but the tlb program "
                      "${_tlb_executable} does not exist. Build the project first, or unset the partition "
                      "variables to run every test.")
endif()

# Settings from the CMake cache, for those the environment does not set: the environment wins.
set(_tlb_environment "")
foreach(_tlb_name IN ITEMS TLB_STORE TLB_JOB_NAME TLB_SPLITTER TLB_PREFERRED_SPLITTERS TLB_ORDERER
                          TLB_PARTITION_WEIGHTS TLB_STRICT TLB_PARALLEL_LEVEL)
  if(_tlb_name STREQUAL "TLB_STORE" AND NOT "$ENV{TLB_BASE_URL}" STREQUAL "")
    continue()  # The original TLB's name for the server, set at ctest time: it wins over the cache's store.
  endif()
  if("$ENV{${_tlb_name}}" STREQUAL "" AND NOT "${_tlb_default_${_tlb_name}}" STREQUAL "")
    list(APPEND _tlb_environment "${_tlb_name}=${_tlb_default_${_tlb_name}}")
  endif()
endforeach()

# A relative TLB_STORE (in the environment or the cache) is under the project's top source directory, as the
# default store is, wherever ctest was started; `tlb record` reads the same directory from the record.
function(_tlb_resolve_store)
  if(_tlb_partition_variables STREQUAL "")
    # A rerun of failed tests with no partition: one partition of every test, no history needed.
    set(_tlb_environment --unset=TLB_STORE --unset=TLB_BASE_URL PARENT_SCOPE)
    return()
  endif()
  set(store "$ENV{TLB_STORE}")
  if(store STREQUAL "" AND "$ENV{TLB_BASE_URL}" STREQUAL "")
    set(store "${_tlb_default_TLB_STORE}")
  endif()
  if(store STREQUAL "" OR store MATCHES "^[A-Za-z][A-Za-z0-9+.-]*://" OR IS_ABSOLUTE "${store}"
     OR "${_tlb_source_dir}" STREQUAL "")
    return()
  endif()
  get_filename_component(store "${store}" ABSOLUTE BASE_DIR "${_tlb_source_dir}")
  list(FILTER _tlb_environment EXCLUDE REGEX "^TLB_STORE=")
  list(APPEND _tlb_environment "TLB_STORE=${store}")
  set(_tlb_environment "${_tlb_environment}" PARENT_SCOPE)
endfunction()

# tlb split's options beyond the selection: the record (not under --rerun-failed, which keeps the partition's
# record), ctest's arguments, and the rerun of failed tests (with no partition set: as one partition of all).
function(_tlb_split_options)
  set(options "")
  if(NOT _tlb_ctest_arguments STREQUAL "")
    list(APPEND options --ctest-command-line "${_tlb_ctest_arguments}")
  endif()
  if(NOT "${_tlb_source_dir}" STREQUAL "")
    list(APPEND options --source-dir "${_tlb_source_dir}")
  endif()
  if(_tlb_rerun_failed EQUAL -1)
    list(APPEND options --record-dir "${_tlb_build_dir}/tlb")
  else()
    list(APPEND options --rerun-failed "${_tlb_build_dir}/Testing/Temporary")
    if(_tlb_partition_variables STREQUAL "")
      list(APPEND options --partition 1/1)
    endif()
  endif()
  set(_tlb_split_options "${options}" PARENT_SCOPE)
endfunction()

# The build's part of the run key (tlb adds the CI job's name and TLB_RUN_KEY): ctest's -C, else the build's
# configuration, the compilers and the system, the same in every partition of a cell of a CI matrix, so
# that the cells are runs of their own and one's partition never fills another's gap.
function(_tlb_pass_build_identity)
  set(config "${CTEST_CONFIGURATION_TYPE}")
  if(config STREQUAL "")
    set(config "${_tlb_build_config}")
  endif()
  set(identity "${_tlb_build_identity}")
  if(NOT config STREQUAL "")
    string(REPLACE ";" "," config "${config}")
    set(identity "config ${config} / ${identity}")
  endif()
  if(NOT identity STREQUAL "")
    set(_tlb_environment ${_tlb_environment} "TLB_BUILD_IDENTITY=${identity}" PARENT_SCOPE)
  endif()
endfunction()

_tlb_resolve_store()
_tlb_pass_build_identity()
_tlb_split_options()

set(_tlb_listing_options --show-only=json-v1 --test-dir "${_tlb_build_dir}")
if(NOT "${CTEST_CONFIGURATION_TYPE}" STREQUAL "")
  list(APPEND _tlb_listing_options -C "${CTEST_CONFIGURATION_TYPE}")
endif()
string(RANDOM LENGTH 12 _tlb_token)
set(_tlb_selection "${_tlb_settings_dir}/selection-${_tlb_token}.cmake")

# Every test of the build tree, as the same ctest lists it (discovered tests included), piped into tlb split,
# which writes the selection as a CMake script and the partition's record.
execute_process(
  COMMAND "${_tlb_cmake}" -E env TLB_HOOK_ACTIVE=1 "${_tlb_ctest}" ${_tlb_listing_options}
  COMMAND "${_tlb_cmake}" -E env ${_tlb_environment} "${_tlb_executable}" split --tests -
          --cmake-script "${_tlb_selection}" ${_tlb_split_options}
  RESULTS_VARIABLE _tlb_statuses
  OUTPUT_VARIABLE _tlb_output
  ERROR_VARIABLE _tlb_errors
  TIMEOUT 600)
string(STRIP "${_tlb_errors}" _tlb_errors)
list(GET _tlb_statuses 0 _tlb_listing_status)
list(GET _tlb_statuses 1 _tlb_split_status)
# tlb split first: when it refuses (a bad partition number) it stops reading, and the listing then dies of
# SIGPIPE; its own message is the one to show.
if(NOT _tlb_split_status STREQUAL "0")
  message(FATAL_ERROR "TLB: `tlb split` failed (${_tlb_split_status}) for ${_tlb_partition_variables}; "
                      "no test was run.\n${_tlb_errors}")
endif()
if(NOT _tlb_listing_status STREQUAL "0")
  message(FATAL_ERROR "TLB: listing the tests with `ctest --show-only=json-v1` failed (${_tlb_listing_status}):\n"
                      "${_tlb_errors}")
endif()
if(NOT EXISTS "${_tlb_selection}")
  message(FATAL_ERROR "TLB: `tlb split` wrote no selection for ${_tlb_partition_variables}; "
                      "no test was run.\n${_tlb_errors}")
endif()
if(NOT _tlb_errors STREQUAL "")
  message(NOTICE "${_tlb_errors}")
endif()
include("${_tlb_selection}")
file(REMOVE "${_tlb_selection}")
message(NOTICE "${_tlb_summary}")

# `text` as one bracket argument that nothing inside it can close.
function(_tlb_bracket out_var text)
  # The closing bracket may not appear inside, nor complete one with the text's last characters.
  set(equals "")
  string(FIND "${text}]" "]]" position)
  while(NOT position EQUAL -1)
    string(APPEND equals "=")
    string(FIND "${text}]" "]${equals}]" position)
  endwhile()
  if(text MATCHES "^\n")
    set(text "\n${text}") # A newline right after the opening bracket is dropped.
  endif()
  set(${out_var} "[${equals}[${text}]${equals}]" PARENT_SCOPE)
endfunction()

# ctest adds only this partition's tests. The arguments are forwarded one by one as bracket arguments, so names and
# commands with spaces, ';', quotes or brackets reach ctest unchanged.
function(add_test name)
  string(HEX "${name}" hex)
  if(NOT DEFINED _tlb_cost_${hex})
    return()
  endif()
  set(code "_add_test(")
  math(EXPR last "${ARGC} - 1")
  foreach(index RANGE ${last})
    _tlb_bracket(argument "${ARGV${index}}")
    string(APPEND code " ${argument}")
  endforeach()
  cmake_language(EVAL CODE "${code})")
  _set_tests_properties("${name}" PROPERTIES COST "${_tlb_cost_${hex}}")
endfunction()

# Properties reach the tests that were added; TLB's COST is set again after them, so a project's own COST does not
# reorder the partition.
function(set_tests_properties)
  set(selected "")
  math(EXPR last "${ARGC} - 1")
  foreach(index RANGE ${last})
    if("${ARGV${index}}" STREQUAL "PROPERTIES")
      break()
    endif()
    string(HEX "${ARGV${index}}" hex)
    if(DEFINED _tlb_cost_${hex})
      list(APPEND selected ${index})
    endif()
  endforeach()
  if(selected STREQUAL "")
    return()
  endif()
  set(code "_set_tests_properties(")
  foreach(index RANGE ${last})
    _tlb_bracket(argument "${ARGV${index}}")
    string(APPEND code " ${argument}")
  endforeach()
  cmake_language(EVAL CODE "${code})")
  foreach(index IN LISTS selected)
    string(HEX "${ARGV${index}}" hex)
    _set_tests_properties("${ARGV${index}}" PROPERTIES COST "${_tlb_cost_${hex}}")
  endforeach()
endfunction()
