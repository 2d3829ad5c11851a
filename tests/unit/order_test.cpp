#include "tlb/order.hpp"

#include <gtest/gtest.h>

namespace tlb {
namespace {

std::vector<std::string> names(const std::vector<PlannedTest>& tests) {
  std::vector<std::string> result;
  for (const PlannedTest& t : tests) result.push_back(t.name);
  return result;
}

const std::vector<PlannedTest> kTests = {{"a", 1.0, Estimate::history, false},
                                         {"b", 5.0, Estimate::history, false},
                                         {"c", 3.0, Estimate::history, false},
                                         {"d", 3.0, Estimate::history, false},
                                         {"e", 0.5, Estimate::history, false}};

History failures() {
  History history;
  history.set("e", TestRecord{0.5, 1, Outcome::failed});
  history.set("a", TestRecord{1.0, 1, Outcome::failed});
  history.set("b", TestRecord{5.0, 1, Outcome::passed});
  return history;
}

TEST(Order, FailedFirstThenLongestFirstThenName) {
  EXPECT_EQ(names(order_tests(kTests, failures(), default_orderers())),
            (std::vector<std::string>{"a", "e", "b", "c", "d"}));
}

TEST(Order, LongestFirstAlone) {
  EXPECT_EQ(names(order_tests(kTests, failures(), {Orderer::longest_first})),
            (std::vector<std::string>{"b", "c", "d", "a", "e"}));
}

TEST(Order, NoOrdererMeansNameOrder) {
  EXPECT_EQ(names(order_tests(kTests, failures(), {})), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
}

TEST(Order, OnlyPermutes) {
  auto ordered = order_tests(kTests, failures(), default_orderers());
  EXPECT_TRUE(
      std::is_permutation(ordered.begin(), ordered.end(), kTests.begin(), kTests.end(),
                          [](const PlannedTest& x, const PlannedTest& y) { return x.name == y.name; }));
}

TEST(OrdererNames, RoundTrip) {
  for (Orderer o : {Orderer::failed_first, Orderer::longest_first}) EXPECT_EQ(parse_orderer(to_string(o)), o);
  EXPECT_EQ(parse_orderer("random"), std::nullopt);
}

}  // namespace
}  // namespace tlb
