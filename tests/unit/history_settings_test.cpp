// The settings of history: TLB_STORE, TLB_SMOOTHING_FACTOR, TLB_FORGET_AFTER_DAYS, and the date written.
#include <gtest/gtest.h>

#include <map>

#include "cli/settings.hpp"
#include "support/environment.hpp"

namespace tlb::cli {
namespace {

using tlb::testing::env_of;

std::string policy_error(std::map<std::string, std::string> variables) {
  try {
    resolve_history_policy(env_of(std::move(variables)));
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(HistorySettings, Defaults) {
  const store::HistoryPolicy policy = resolve_history_policy(env_of({}));
  EXPECT_EQ(policy.smoothing_factor, 0.5);
  EXPECT_EQ(policy.forget_after_days, 30);
  EXPECT_FALSE(resolve_store(std::nullopt, env_of({})).has_value());
}

TEST(HistorySettings, FromTheEnvironment) {
  const store::HistoryPolicy policy =
      resolve_history_policy(env_of({{"TLB_SMOOTHING_FACTOR", "1"}, {"TLB_FORGET_AFTER_DAYS", "0"}}));
  EXPECT_EQ(policy.smoothing_factor, 1.0);
  EXPECT_EQ(policy.forget_after_days, 0);
  EXPECT_EQ(resolve_history_policy(env_of({{"TLB_SMOOTHING_FACTOR", "0.25"}})).smoothing_factor, 0.25);
}

TEST(HistorySettings, BadValuesNameTheVariable) {
  EXPECT_EQ(
      policy_error({{"TLB_SMOOTHING_FACTOR", "0"}}),
      "TLB_SMOOTHING_FACTOR=0: the smoothing factor must be greater than 0 and at most 1 (1 keeps only the "
      "latest run)");
  EXPECT_EQ(policy_error({{"TLB_SMOOTHING_FACTOR", "1.5"}}).rfind("TLB_SMOOTHING_FACTOR=1.5: ", 0), 0u);
  EXPECT_EQ(
      policy_error({{"TLB_SMOOTHING_FACTOR", "abc"}}).rfind("TLB_SMOOTHING_FACTOR=abc: not a number", 0), 0u);
  EXPECT_EQ(
      policy_error({{"TLB_SMOOTHING_FACTOR", "0,5"}}).rfind("TLB_SMOOTHING_FACTOR=0,5: not a number", 0), 0u);
  EXPECT_EQ(policy_error({{"TLB_FORGET_AFTER_DAYS", "-3"}}),
            "TLB_FORGET_AFTER_DAYS=-3: not a whole number of days (0 or more)");
  EXPECT_EQ(policy_error({{"TLB_FORGET_AFTER_DAYS", "2.5"}}).rfind("TLB_FORGET_AFTER_DAYS=2.5: ", 0), 0u);
}

TEST(HistorySettings, StoreFlagWinsOverTheVariable) {
  auto store = resolve_store(std::string("flag.txt"), env_of({{"TLB_STORE", "env.txt"}}));
  ASSERT_TRUE(store);
  EXPECT_EQ(store->value, "flag.txt");
  EXPECT_EQ(store->name, "--store");
  store = resolve_store(std::nullopt, env_of({{"TLB_STORE", "env.txt"}}));
  EXPECT_EQ(store->name, "TLB_STORE");
}

TEST(HistorySettings, AStoreNoBackendServesIsAUsageErrorNamingTheVariable) {
  try {
    open_store(Setting{"ftp://host/t.txt", "TLB_STORE"}, store::HistoryPolicy{});
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("TLB_STORE=ftp://host/t.txt: unknown store scheme 'ftp://'", 0), 0u)
        << e.what();
  }
  EXPECT_EQ(open_store(Setting{"file://t.txt", "TLB_STORE"}, store::HistoryPolicy{})->location(), "t.txt");
}

TEST(HistorySettings, TodayFollowsSourceDateEpoch) {
  EXPECT_EQ(store::format_date(resolve_today(env_of({{"SOURCE_DATE_EPOCH", "1714608000"}}))), "2024-05-02");
  EXPECT_EQ(store::format_date(resolve_today(env_of({{"SOURCE_DATE_EPOCH", "1714694399"}}))), "2024-05-02");
  EXPECT_THROW(resolve_today(env_of({{"SOURCE_DATE_EPOCH", "yesterday"}})), UsageError);
  EXPECT_THROW(resolve_today(env_of({{"SOURCE_DATE_EPOCH", "-5"}})), UsageError);
  const store::Date now = resolve_today(env_of({}));
  EXPECT_GT(now, store::parse_date("2024-01-01").value());
}

}  // namespace
}  // namespace tlb::cli
