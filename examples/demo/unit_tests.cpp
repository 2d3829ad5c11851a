// Stand-ins for unit tests: each sleeps for about as long as the test it stands for would run.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace {

void takes(double seconds) {
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
