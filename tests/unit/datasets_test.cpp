// The time splitter on real CI timing data (../shared/datasets), when this checkout sits beside it.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/durations.hpp"
#include "tlb/split.hpp"

namespace tlb {
namespace {

namespace fs = std::filesystem;

class Datasets : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(TLB_SHARED_DIR) / "datasets";
    if (!fs::exists(root_))
      GTEST_SKIP() << "skipped: " << root_ << " is absent (it sits beside the project in CI)";
  }
  fs::path root_;
};

TEST_F(Datasets, RealSuitesSplitExactlyOnceAndCloseToTheBound) {
  const std::vector<std::string> files = {"pgmpy/.test_durations", "sequencescape/knapsack_rspec_report.json",
                                          "sequencescape/knapsack_cucumber_report.json",
                                          "ocamlc2/test/.lit_test_times.txt"};
  int read = 0;
  for (const std::string& file : files) {
    const fs::path path = root_ / file;
    if (!fs::exists(path)) continue;
    ++read;
    io::Durations durations = io::read_durations(path.string());
    std::vector<tlb::Test> tests;
    double longest = 0, total = 0;
    for (const auto& [name, record] : durations.history.records()) {
      tests.push_back(tlb::Test::named(name));
      longest = std::max(longest, record.seconds);
      total += record.seconds;
    }
    ASSERT_FALSE(tests.empty()) << path;
    for (int n : {2, 4, 8, 16, 32, 64}) {
      SplitOptions options;
      options.total = n;
      Plan plan = split(tests, durations.history, options);
      std::size_t placed = 0;
      for (const Partition& p : plan.partitions) placed += p.tests.size();
      EXPECT_EQ(placed, tests.size()) << file << " N=" << n;
      EXPECT_EQ(plan.splitter, Splitter::time);
      // Where the bound is the average load with room to spare, the split must be within 1% of it.
      if (total / n >= 3 * longest) {
        EXPECT_LE(plan.predicted_makespan_seconds / plan.lower_bound_seconds, 1.01) << file << " N=" << n;
      }
      EXPECT_GE(plan.predicted_makespan_seconds + 1e-6, plan.lower_bound_seconds);
    }
  }
  EXPECT_GT(read, 0) << "no dataset file found under " << root_;
}

}  // namespace
}  // namespace tlb
