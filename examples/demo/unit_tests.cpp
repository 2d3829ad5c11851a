// Stand-ins for unit tests: each sleeps for about as long as the test it stands for would run.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace {

// Sleeps `seconds`, times SWARM_SLOWDOWN when it is set (scripts/swarm-demo.sh: agents of different speeds).
void takes(double seconds) {
  if (const char* slowdown = std::getenv("SWARM_SLOWDOWN")) {
    const double times = std::atof(slowdown);
    if (times >= 1) seconds *= times;
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

TEST(Strings, Split) {
  takes(0.2);
}
TEST(Strings, Format) {
  takes(0.4);
}
TEST(Clock, Monotonic) {
  takes(0.9);
}
TEST(Clock, TimeZones) {
  takes(1.4);
}

}  // namespace
