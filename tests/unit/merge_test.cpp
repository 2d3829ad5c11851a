// `tlb merge`'s rule: timing files joined per test by the newest entry, then records' results folded in by
// partition; the same output whatever the order of the inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "cli/merge_command.hpp"

namespace tlb::cli {
namespace {

using store::Date;
using store::TimedRecord;
using store::Timings;

Date day(std::string_view text) {
  return store::parse_date(text).value();
}

io::PartitionRecord completed(int k, int n, std::vector<io::RecordedResult> results,
                              std::string recorded_on = "2024-05-10") {
  io::PartitionRecord r;
  r.partition = k;
  r.total = n;
  r.has_results = true;
  for (const io::RecordedResult& result : results) r.tests.push_back(result.name);
  r.results = std::move(results);
  r.recorded_on = std::move(recorded_on);
  return r;
}

MergeInputs sample_inputs() {
  MergeInputs inputs;
  inputs.base = {{"a", {TestRecord{10, 3, Outcome::passed}, day("2024-05-01")}},
                 {"fixture", {TestRecord{2, 3, Outcome::passed}, day("2024-05-01")}},
                 {"untouched", {TestRecord{1, 1, Outcome::passed}, day("2024-05-01")}}};
  inputs.timings.push_back({{"b", {TestRecord{5, 1, Outcome::passed}, day("2024-05-02")}},
                            {"untouched", {TestRecord{1, 1, Outcome::passed}, day("2024-05-01")}}});
  inputs.timings.push_back({{"b", {TestRecord{7, 1, Outcome::failed}, day("2024-05-03")}}});
  inputs.records.push_back(
      completed(1, 3, {{"a", io::ResultStatus::passed, 20.0}, {"fixture", io::ResultStatus::passed, 4.0}}));
  inputs.records.push_back(
      completed(2, 3, {{"c", io::ResultStatus::error, 3.0}, {"fixture", io::ResultStatus::passed, 6.0}}));
  inputs.records.push_back(completed(3, 3, {{"d", io::ResultStatus::skipped, 0.0}}, ""));
  return inputs;
}

TEST(Merge, JoinsTimingFilesThenFoldsInRecordsByPartition) {
  const Merged merged = merge(sample_inputs(), store::HistoryPolicy{0.5, 30}, day("2024-05-11"));
  const Timings& t = merged.timings;
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t.at("a"), (TimedRecord{TestRecord{15, 4, Outcome::passed}, day("2024-05-10")}));
  EXPECT_EQ(t.at("b"),
            (TimedRecord{TestRecord{7, 1, Outcome::failed}, day("2024-05-03")}));  // The later file.
  EXPECT_EQ(t.at("c"), (TimedRecord{TestRecord{3, 1, Outcome::failed}, day("2024-05-10")}));
  // In partition 1 (4 s), then partition 2 (6 s): (2 + 4) / 2 = 3, then (3 + 6) / 2 = 4.5.
  EXPECT_EQ(t.at("fixture"), (TimedRecord{TestRecord{4.5, 5, Outcome::passed}, day("2024-05-10")}));
  // Skipped with no history: its skipping time is its duration; a record without recorded_on is dated today.
  EXPECT_EQ(t.at("d"), (TimedRecord{TestRecord{0, 1, Outcome::skipped}, day("2024-05-11")}));
  EXPECT_EQ(t.at("untouched").last_seen, day("2024-05-01"));
  EXPECT_EQ(merged.added, 3u);  // b, c, d
  EXPECT_EQ(merged.forgotten, 0u);
}

TEST(Merge, TheOrderOfTheInputsDoesNotMatter) {
  const MergeInputs original = sample_inputs();
  // Two records of one partition (a retried job) still apply in a fixed order.
  MergeInputs inputs = original;
  inputs.records.push_back(completed(2, 3, {{"fixture", io::ResultStatus::passed, 1.0}}));
  inputs.timings.push_back({{"a", {TestRecord{99, 9, Outcome::failed}, day("2024-05-01")}}});
  const std::string expected =
      store::format_timings(merge(inputs, store::HistoryPolicy{0.5, 30}, day("2024-05-11")).timings);
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 engine(seed);
    MergeInputs shuffled = inputs;
    std::shuffle(shuffled.records.begin(), shuffled.records.end(), engine);
    std::shuffle(shuffled.timings.begin(), shuffled.timings.end(), engine);
    EXPECT_EQ(
        store::format_timings(merge(shuffled, store::HistoryPolicy{0.5, 30}, day("2024-05-11")).timings),
        expected)
        << "seed " << seed;
  }
}

TEST(Merge, AgingDropsWhatTheLatestRunsNoLongerSee) {
  MergeInputs inputs;
  inputs.base = {{"deleted long ago", {TestRecord{1, 1, Outcome::passed}, day("2024-01-01")}},
                 {"recent", {TestRecord{1, 1, Outcome::passed}, day("2024-04-20")}}};
  inputs.records.push_back(completed(1, 1, {{"a", io::ResultStatus::passed, 1.0}}, "2024-05-10"));
  const Merged merged = merge(inputs, store::HistoryPolicy{0.5, 30}, day("2024-05-11"));
  EXPECT_EQ(merged.forgotten, 1u);
  EXPECT_FALSE(merged.timings.contains("deleted long ago"));
  EXPECT_TRUE(merged.timings.contains("recent"));
}

TEST(Merge, OnlyTheLatestAttemptOfARetriedPartitionIsFoldedIn) {
  // Partition 2 failed on its first attempt and passed on the retry; the failed attempt was recorded on a
  // later date (its job's record was completed last), so an order by content alone would apply it last.
  MergeInputs inputs;
  io::PartitionRecord first = completed(2, 2, {{"c", io::ResultStatus::failed, 30.0}}, "2024-05-11");
  first.split_at = "2024-05-10T08:00:00.000000Z";
  io::PartitionRecord retry = completed(2, 2, {{"c", io::ResultStatus::passed, 3.0}}, "2024-05-10");
  retry.split_at = "2024-05-10T09:00:00.000000Z";
  inputs.records = {first, retry, completed(1, 2, {{"a", io::ResultStatus::passed, 1.0}})};
  const Merged merged = merge(inputs, store::HistoryPolicy{0.5, 30}, day("2024-05-11"));
  EXPECT_EQ(merged.timings.at("c"), (TimedRecord{TestRecord{3, 1, Outcome::passed}, day("2024-05-10")}));
  EXPECT_EQ(merged.earlier_attempts, 1u);
  // Records split at the same time (or written before split_at existed) are not attempts: both apply.
  inputs.records[0].split_at = inputs.records[1].split_at;
  EXPECT_EQ(merge(inputs, store::HistoryPolicy{0.5, 30}, day("2024-05-11")).earlier_attempts, 0u);
}

TEST(Merge, PartitionsOfOtherCellsOfAMatrixAreNotAttempts) {
  // Partition 1 of 1 in the gcc cell and in the clang cell of one CI run, split at different times: both are
  // folded in; neither is a retry of the other.
  MergeInputs inputs;
  io::PartitionRecord gcc = completed(1, 1, {{"a", io::ResultStatus::passed, 1.0}});
  gcc.split_at = "2024-05-10T08:00:00.000000Z";
  gcc.run_key = "CXX GNU 12.2.0";
  io::PartitionRecord clang = completed(1, 1, {{"b", io::ResultStatus::passed, 2.0}});
  clang.split_at = "2024-05-10T09:00:00.000000Z";
  clang.run_key = "CXX Clang 14.0.6";
  inputs.records = {gcc, clang};
  const Merged merged = merge(inputs, store::HistoryPolicy{0.5, 30}, day("2024-05-11"));
  EXPECT_EQ(merged.earlier_attempts, 0u);
  EXPECT_TRUE(merged.timings.contains("a"));
  EXPECT_TRUE(merged.timings.contains("b"));
}

}  // namespace
}  // namespace tlb::cli
