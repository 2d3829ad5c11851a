// What the swarm's clients conclude from a run's results: when a finished run is not proven (every job of a
// queue run then exits 1, issue 17 item 6).
#include "cli/swarm_client.hpp"

#include <gtest/gtest.h>

namespace tlb::cli {
namespace {

RunResults two_passes() {
  RunResults results;
  results.tests = {{"a", io::ResultStatus::passed, 1.0, "a1"}, {"b", io::ResultStatus::passed, 2.0, "a2"}};
  return results;
}

TEST(UnprovenBecause, ARunWhoseTestsRanOnceWithAResultIsProven) {
  RunResults results = two_passes();
  results.tests[1].status = io::ResultStatus::failed;  // A failure is a result: proven, and failing.
  EXPECT_EQ(unproven_because(results), "");
}

TEST(UnprovenBecause, ATestThatRanOnTwoAgentsOrGotNoResultIsNamed) {
  RunResults twice = two_passes();
  twice.duplicates = {{"b", {"a1", "a2"}}};
  EXPECT_EQ(unproven_because(twice), "1 test ran on two agents (b)");
  RunResults lost = two_passes();
  lost.tests[0].status = io::ResultStatus::error;
  lost.tests[1].status = io::ResultStatus::error;
  lost.duplicates = twice.duplicates;
  EXPECT_EQ(unproven_because(lost), "1 test ran on two agents (b); 2 tests got no result (a, ...)");
}

}  // namespace
}  // namespace tlb::cli
