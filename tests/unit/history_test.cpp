#include "tlb/history.hpp"

#include <gtest/gtest.h>

namespace tlb {
namespace {

TEST(Smoothing, BlendsTheNewObservationWithThePrevious) {
  EXPECT_DOUBLE_EQ(smooth(10, 20, 1.0), 20);
  EXPECT_DOUBLE_EQ(smooth(10, 20, 0.5), 15);
  EXPECT_DOUBLE_EQ(smooth(10, 20, 0.25), 12.5);
  EXPECT_THROW(smooth(10, 20, 0), std::invalid_argument);
  EXPECT_THROW(smooth(10, 20, 1.5), std::invalid_argument);
}

TEST(History, FirstObservationIsTakenAsIsThenSmoothed) {
  History history;
  history.observe("a", 8.0, Outcome::passed, 0.5);
  EXPECT_EQ(*history.find("a"), (TestRecord{8.0, 1, Outcome::passed}));
  history.observe("a", 4.0, Outcome::failed, 0.5);
  EXPECT_EQ(*history.find("a"), (TestRecord{6.0, 2, Outcome::failed}));
}

TEST(History, AnOutcomeWithoutADurationKeepsTheDuration) {
  History history;
  history.observe("a", 8.0, Outcome::passed, 0.5);
  history.observe("a", std::nullopt, Outcome::skipped, 0.5);
  EXPECT_EQ(*history.find("a"), (TestRecord{8.0, 1, Outcome::skipped}));
}

TEST(History, IteratesInNameOrder) {
  History history;
  for (const char* name : {"b", "a", "c"}) history.set(name, TestRecord{});
  std::string order;
  for (const auto& [name, record] : history.records()) order += name;
  EXPECT_EQ(order, "abc");
  EXPECT_EQ(history.find("missing"), nullptr);
}

}  // namespace
}  // namespace tlb
