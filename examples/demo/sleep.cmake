# cmake -DSECONDS=<s> -P sleep.cmake: sleeps <s> seconds, times the whole number in the environment variable
# SWARM_SLOWDOWN when it is set (scripts/swarm-demo.sh runs agents of different speeds on one machine with it).
set(times 1)
if("$ENV{SWARM_SLOWDOWN}" MATCHES "^[1-9][0-9]*$")
  set(times "$ENV{SWARM_SLOWDOWN}")
endif()
# cmake -E sleep sleeps for the sum of its arguments.
set(seconds "")
foreach(_ RANGE 1 ${times})
  list(APPEND seconds ${SECONDS})
endforeach()
execute_process(COMMAND "${CMAKE_COMMAND}" -E sleep ${seconds})
