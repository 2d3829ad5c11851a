// GoogleTest cases that ctest learns only by running the binary (gtest_discover_tests). Each case appends its
// CTest name (TLB_FAKE_PREFIX, then Suite.Case) to the file named by TLB_FAKE_LOG, like fake_test.cpp.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

void pause(int milliseconds) {
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
}

class Logger : public ::testing::EmptyTestEventListener {
  void OnTestEnd(const ::testing::TestInfo& info) override {
    const char* log = std::getenv("TLB_FAKE_LOG");
    if (log == nullptr) return;
    const char* prefix = std::getenv("TLB_FAKE_PREFIX");
    const std::string line =
        std::string(prefix ? prefix : "") + info.test_suite_name() + "." + info.name() + "\n";
    const int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return;
    if (write(fd, line.data(), line.size()) < 0) {
    }
    close(fd);
  }
};

TEST(Discovered, Fast) {
  pause(5);
}
TEST(Discovered, Medium) {
  pause(40);
}
TEST(Discovered, Slow) {
  pause(120);
}

class Sizes : public ::testing::TestWithParam<int> {};
TEST_P(Sizes, Fit) {
  pause(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Small, Sizes, ::testing::Values(10, 20, 30));

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::UnitTest::GetInstance()->listeners().Append(new Logger);
  return RUN_ALL_TESTS();
}
