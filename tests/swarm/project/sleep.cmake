# One test of the swarm fixture: cmake -DNAME=<test> -DMILLISECONDS=<base> -DOUTCOME=pass|fail|skip -P sleep.cmake
# Sleeps <base> x $ENV{SWARM_SLOWDOWN} (a positive integer, 1 when unset) milliseconds, then passes, fails or
# skips. When $ENV{SWARM_RAN_LOG} names a file, appends "start <test>" before sleeping and "end <test>" after,
# so the tests can tell which agent ran what, and when it was in the middle of a test.
cmake_minimum_required(VERSION 3.20)

set(slowdown "$ENV{SWARM_SLOWDOWN}")
if(slowdown STREQUAL "")
  set(slowdown 1)
endif()
if(NOT slowdown MATCHES "^[1-9][0-9]*$")
  message(FATAL_ERROR "swarm fixture: SWARM_SLOWDOWN=${slowdown}: expected a positive integer")
endif()

set(log "$ENV{SWARM_RAN_LOG}")
if(NOT log STREQUAL "")
  file(APPEND "${log}" "start ${NAME}\n")
endif()

# cmake -E sleep takes seconds with a fraction; math() knows only integers.
math(EXPR milliseconds "${MILLISECONDS} * ${slowdown}")
math(EXPR whole "${milliseconds} / 1000")
math(EXPR fraction "1000 + ${milliseconds} % 1000")
string(SUBSTRING "${fraction}" 1 3 fraction)
execute_process(COMMAND "${CMAKE_COMMAND}" -E sleep "${whole}.${fraction}")

if(NOT log STREQUAL "")
  file(APPEND "${log}" "end ${NAME}\n")
endif()

if(OUTCOME STREQUAL "fail")
  message(FATAL_ERROR "swarm fixture: ${NAME} fails, as it always does")
elseif(OUTCOME STREQUAL "skip")
  message("swarm fixture: skipped (${NAME} does not apply here)")
endif()
