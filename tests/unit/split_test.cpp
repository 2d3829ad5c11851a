// Examples of each splitter, with results worked out by hand.
#include "tlb/split.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>

namespace tlb {
namespace {

std::vector<tlb::Test> named(int n, const std::string& prefix = "t") {
  std::vector<tlb::Test> tests;
  for (int i = 0; i < n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%s%03d", prefix.c_str(), i);
    tests.push_back(tlb::Test::named(name));
  }
  return tests;
}

std::vector<std::size_t> sizes(const Plan& plan) {
  std::vector<std::size_t> result;
  for (const Partition& p : plan.partitions) result.push_back(p.tests.size());
  return result;
}

std::vector<std::string> names(const Partition& p) {
  std::vector<std::string> result;
  for (const PlannedTest& t : p.tests) result.push_back(t.name);
  return result;
}

History durations(const std::map<std::string, double>& seconds) {
  History history;
  for (const auto& [name, s] : seconds) history.set(name, TestRecord{s, 1, Outcome::passed});
  return history;
}

SplitOptions options(int total, std::vector<Splitter> splitters = {Splitter::time, Splitter::count}) {
  SplitOptions o;
  o.total = total;
  o.splitters = std::move(splitters);
  return o;
}

TEST(CountSplitter, ReproducesTheOriginalFormula) {
  // research/tlb-original.md section 3: 37 files over 7 partitions, and 39 over 6.
  EXPECT_EQ(sizes(split(named(37), {}, options(7, {Splitter::count}))),
            (std::vector<std::size_t>{5, 5, 5, 6, 5, 5, 6}));
  EXPECT_EQ(sizes(split(named(39), {}, options(6, {Splitter::count}))),
            (std::vector<std::size_t>{6, 7, 6, 7, 6, 7}));
}

TEST(CountSplitter, SlicesTheNameSortedListContiguously) {
  std::vector<tlb::Test> tests = named(10);
  std::reverse(tests.begin(), tests.end());
  Plan plan = split(tests, {}, options(3, {Splitter::count}));
  EXPECT_EQ(names(plan.partitions[0]), (std::vector<std::string>{"t000", "t001", "t002"}));
  EXPECT_EQ(names(plan.partitions[1]), (std::vector<std::string>{"t003", "t004", "t005"}));
  EXPECT_EQ(names(plan.partitions[2]), (std::vector<std::string>{"t006", "t007", "t008", "t009"}));
}

TEST(CountSplitter, LeavesPartitionsEmptyWhenThereAreFewerTestsThanPartitions) {
  Plan plan = split(named(2), {}, options(4, {Splitter::count}));
  EXPECT_EQ(sizes(plan), (std::vector<std::size_t>{0, 1, 0, 1}));
}

TEST(CountSplitter, WeightsSizeTheSlices) {
  SplitOptions o = options(3, {Splitter::count});
  o.weights = {1, 1, 2};
  EXPECT_EQ(sizes(split(named(40), {}, o)), (std::vector<std::size_t>{10, 10, 20}));
}

TEST(RoundRobinSplitter, DealsTheNameSortedListInTurn) {
  Plan plan = split(named(7), {}, options(3, {Splitter::round_robin}));
  EXPECT_EQ(names(plan.partitions[0]), (std::vector<std::string>{"t000", "t003", "t006"}));
  EXPECT_EQ(names(plan.partitions[1]), (std::vector<std::string>{"t001", "t004"}));
  EXPECT_EQ(names(plan.partitions[2]), (std::vector<std::string>{"t002", "t005"}));
}

TEST(RoundRobinSplitter, HonoursWeights) {
  SplitOptions o = options(2, {Splitter::round_robin});
  o.weights = {1, 3};
  EXPECT_EQ(sizes(split(named(40), {}, o)), (std::vector<std::size_t>{10, 30}));
}

TEST(TimeSplitter, IsolatesTheOutlier) {
  // CircleCI's example: 5, 2, 1, 1, 1 minutes over 3 nodes; nothing beats the 5-minute test.
  History h = durations({{"a", 300}, {"b", 120}, {"c", 60}, {"d", 60}, {"e", 60}});
  Plan plan = split({tlb::Test::named("a"), tlb::Test::named("b"), tlb::Test::named("c"),
                     tlb::Test::named("d"), tlb::Test::named("e")},
                    h, options(3));
  EXPECT_EQ(plan.splitter, Splitter::time);
  EXPECT_DOUBLE_EQ(plan.predicted_makespan_seconds, 300);
  EXPECT_DOUBLE_EQ(plan.lower_bound_seconds, 300);
  EXPECT_EQ(names(plan.partitions[0]), (std::vector<std::string>{"a"}));
}

TEST(TimeSplitter, ImprovesOnLongestProcessingTimeFirst) {
  // LPT puts 3+2+2 | 3+2 (makespan 7); the best split is 3+3 | 2+2+2 (makespan 6).
  History h = durations({{"a", 3}, {"b", 3}, {"c", 2}, {"d", 2}, {"e", 2}});
  Plan plan = split({tlb::Test::named("a"), tlb::Test::named("b"), tlb::Test::named("c"),
                     tlb::Test::named("d"), tlb::Test::named("e")},
                    h, options(2));
  EXPECT_DOUBLE_EQ(plan.predicted_makespan_seconds, 6);
  EXPECT_DOUBLE_EQ(plan.partitions[0].predicted_seconds, 6);
  EXPECT_DOUBLE_EQ(plan.partitions[1].predicted_seconds, 6);
}

TEST(TimeSplitter, FindsTheBestPlanOfASmallSuiteWithAFixture) {
  // The demo suite's measured durations. An exhaustive search finds no plan faster than 4.35 s; LPT with
  // single moves and swaps stops at 4.54 s.
  History h = durations({{"compaction", 3.01},
                         {"large", 2.41},
                         {"retry", 2.11},
                         {"pool", 1.71},
                         {"ttl", 1.51},
                         {"tls", 1.31},
                         {"config", 1.21},
                         {"wal", 1.11},
                         {"lru", 1.01},
                         {"unicode", 0.51},
                         {"open", 0.21},
                         {"empty", 0.12},
                         {"db.setup", 0.31},
                         {"db.cleanup", 0.11}});
  std::vector<tlb::Test> tests;
  for (const auto& [name, record] : h.records()) {
    tlb::Test t = tlb::Test::named(name);
    if (name == "db.setup") t.fixtures_setup = {"db"};
    if (name == "db.cleanup") t.fixtures_cleanup = {"db"};
    if (name == "compaction" || name == "wal" || name == "open") t.fixtures_required = {"db"};
    tests.push_back(t);
  }
  Plan plan = split(tests, h, options(4));
  EXPECT_NEAR(plan.predicted_makespan_seconds, 4.35, 1e-9);
}

TEST(TimeSplitter, GivesAHeavierPartitionMoreWork) {
  std::vector<tlb::Test> tests = named(400);
  History h;
  for (const tlb::Test& t : tests) h.set(t.name, TestRecord{1.0, 1, Outcome::passed});
  SplitOptions o = options(3);
  o.weights = {1, 1, 2};
  Plan plan = split(tests, h, o);
  EXPECT_DOUBLE_EQ(plan.partitions[0].predicted_seconds, 100);
  EXPECT_DOUBLE_EQ(plan.partitions[1].predicted_seconds, 100);
  EXPECT_DOUBLE_EQ(plan.partitions[2].predicted_seconds, 200);
  EXPECT_DOUBLE_EQ(plan.lower_bound_seconds, 100);
}

TEST(TimeSplitter, DeclinesWithoutAnyDurationAndTheChainFallsBackToCount) {
  Plan plan = split(named(9), {}, options(3));
  EXPECT_EQ(plan.splitter, Splitter::count);
  ASSERT_EQ(plan.declined.size(), 1u);
  EXPECT_NE(plan.declined[0].find("time"), std::string::npos);
  EXPECT_EQ(sizes(plan), (std::vector<std::size_t>{3, 3, 3}));
}

TEST(TimeSplitter, AloneStillSplitsByCountWhenItDeclines) {
  Plan plan = split(named(4), {}, options(2, {Splitter::time}));
  EXPECT_EQ(plan.splitter, Splitter::count);
}

TEST(Estimates, UseHistoryThenCostThenTheMeanOfKnownTests) {
  std::vector<tlb::Test> tests{tlb::Test::named("known1"), tlb::Test::named("known2"),
                               tlb::Test::named("costed"), tlb::Test::named("new"), tlb::Test::named("off")};
  tests[2].cost = 7;
  tests[4].disabled = true;
  History h = durations({{"known1", 2}, {"known2", 4}, {"gone", 1000}});
  Plan plan = split(tests, h, options(1));
  std::map<std::string, PlannedTest> by_name;
  for (const PlannedTest& t : plan.partitions[0].tests) by_name[t.name] = t;
  EXPECT_EQ(by_name["known1"].estimate, Estimate::history);
  EXPECT_DOUBLE_EQ(by_name["known1"].seconds, 2);
  EXPECT_EQ(by_name["costed"].estimate, Estimate::cost);
  EXPECT_DOUBLE_EQ(by_name["costed"].seconds, 7);
  // The mean of the known tests of this list: a deleted test's history ("gone") does not count.
  EXPECT_EQ(by_name["new"].estimate, Estimate::fallback);
  EXPECT_DOUBLE_EQ(by_name["new"].seconds, 3);
  EXPECT_EQ(by_name["off"].estimate, Estimate::disabled);
  EXPECT_DOUBLE_EQ(by_name["off"].seconds, 0);
  EXPECT_EQ(plan.tests_without_history, 2u);
  EXPECT_DOUBLE_EQ(plan.fallback_seconds, 3);
}

TEST(Fixtures, SetupAndCleanupGoWithEveryPartitionThatNeedsThem) {
  tlb::Test setup = tlb::Test::named("db.setup");
  setup.fixtures_setup = {"db"};
  tlb::Test cleanup = tlb::Test::named("db.cleanup");
  cleanup.fixtures_cleanup = {"db"};
  std::vector<tlb::Test> tests{setup, cleanup};
  History h = durations({{"db.setup", 1}, {"db.cleanup", 0.5}});
  for (int i = 0; i < 6; ++i) {
    tlb::Test t = tlb::Test::named("uses_db" + std::to_string(i));
    t.fixtures_required = {"db"};
    tests.push_back(t);
    h.set(t.name, TestRecord{10, 1, Outcome::passed});
  }
  tests.push_back(tlb::Test::named("plain"));
  h.set("plain", TestRecord{10, 1, Outcome::passed});

  Plan plan = split(tests, h, options(3));
  // The bound counts the fixture tests once: (6 * 10 + 10 + 1.5) / 3.
  EXPECT_NEAR(plan.lower_bound_seconds, 71.5 / 3, 1e-9);
  for (const Partition& p : plan.partitions) {
    auto n = names(p);
    const bool needs_db =
        std::any_of(n.begin(), n.end(), [](const std::string& s) { return s.starts_with("uses_db"); });
    EXPECT_EQ(std::count(n.begin(), n.end(), "db.setup"), needs_db ? 1 : 0) << "partition " << p.number;
    EXPECT_EQ(std::count(n.begin(), n.end(), "db.cleanup"), needs_db ? 1 : 0) << "partition " << p.number;
    // Their cost counts in each partition that carries them.
    double sum = 0;
    for (const PlannedTest& t : p.tests) sum += t.seconds;
    EXPECT_DOUBLE_EQ(p.predicted_seconds, sum);
    for (const PlannedTest& t : p.tests) EXPECT_EQ(t.fixture, t.name.starts_with("db."));
  }
}

TEST(Fixtures, ASetupTestNobodyRequiresIsAnOrdinaryTest) {
  tlb::Test setup = tlb::Test::named("orphan.setup");
  setup.fixtures_setup = {"orphan"};
  Plan plan = split({setup, tlb::Test::named("a"), tlb::Test::named("b")}, {}, options(3));
  int placements = 0;
  for (const Partition& p : plan.partitions) {
    for (const PlannedTest& t : p.tests) {
      placements += t.name == "orphan.setup";
      if (t.name == "orphan.setup") {
        EXPECT_FALSE(t.fixture);
      }
    }
  }
  EXPECT_EQ(placements, 1);
}

TEST(Fixtures, RequirementsOfASetupTestAreFollowed) {
  tlb::Test net = tlb::Test::named("net.setup");
  net.fixtures_setup = {"net"};
  tlb::Test db = tlb::Test::named("db.setup");
  db.fixtures_setup = {"db"};
  db.fixtures_required = {"net"};
  tlb::Test user = tlb::Test::named("query");
  user.fixtures_required = {"db"};
  Plan plan = split({net, db, user, tlb::Test::named("other")}, {}, options(2, {Splitter::count}));
  for (const Partition& p : plan.partitions) {
    auto n = names(p);
    if (std::count(n.begin(), n.end(), "query")) {
      EXPECT_EQ(n, (std::vector<std::string>{"db.setup", "net.setup", "query"}));
    }
  }
}

TEST(Depends, KeepsDependentTestsTogether) {
  std::vector<tlb::Test> tests = named(12);
  tests[3].depends = {"t010"};
  tests[10].depends = {"t007"};
  History h;
  for (const tlb::Test& t : tests) h.set(t.name, TestRecord{1, 1, Outcome::passed});
  for (Splitter s : {Splitter::time, Splitter::count, Splitter::round_robin}) {
    Plan plan = split(tests, h, options(4, {s}));
    for (const Partition& p : plan.partitions) {
      auto n = names(p);
      const auto has = [&](const char* name) { return std::count(n.begin(), n.end(), name) == 1; };
      EXPECT_EQ(has("t003"), has("t010")) << to_string(s);
      EXPECT_EQ(has("t007"), has("t010")) << to_string(s);
    }
  }
}

TEST(Split, DuplicateNamesCountOnce) {
  std::vector<tlb::Test> tests{tlb::Test::named("a"), tlb::Test::named("a"), tlb::Test::named("b")};
  Plan plan = split(tests, {}, options(2));
  EXPECT_EQ(plan.partitions[0].tests.size() + plan.partitions[1].tests.size(), 2u);
}

// Shuffles with our own Fisher-Yates over std::mt19937_64, whose output the standard fixes (std::shuffle's
// is not).
template <typename T>
void shuffle(std::vector<T>& items, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[engine() % i]);
}

// Names that end inside, at and just past eight-byte boundaries, are prefixes of each other, hold NUL and
// bytes above 0x7f (which sort after ASCII, as in std::string), and share long prefixes.
std::vector<std::string> awkward_names() {
  std::vector<std::string> result = {"",
                                     "a",
                                     std::string("a\0", 2),
                                     std::string("a\0\0", 3),
                                     "ab",
                                     "abcdefg",
                                     "abcdefgh",
                                     std::string("abcdefgh\0", 9),
                                     "abcdefghi",
                                     "abcdefgh\x7f",
                                     "abcdefgh\x80",
                                     "abcdefgh\xff",
                                     "\xff",
                                     "\xff\xff",
                                     "\x01",
                                     std::string(15, 'x'),
                                     std::string(16, 'x'),
                                     std::string(17, 'x'),
                                     std::string(16, 'x') + "\xfe",
                                     std::string(40, 'y'),
                                     std::string(39, 'y') + "z",
                                     std::string(41, 'y')};
  return result;
}

TEST(Split, NamesAreOrderedByteByByteHoweverTheyShareOrEndPrefixes) {
  // The small list is sorted by comparison; above a thousand names the sort goes a byte at a time.
  for (int generated : {0, 3000}) {
    std::vector<std::string> all = awkward_names();
    for (int i = 0; i < generated; ++i) {
      // gtest-style names with prefixes of 0 to 30 shared bytes and suffixes of varying length.
      all.push_back(std::string(static_cast<std::size_t>(i % 31), 'm') + "odule_" + std::to_string(i % 7) +
                    ".Suite_" + std::to_string(i % 13) + ".Case_" + std::to_string(i));
    }
    std::vector<tlb::Test> tests;
    for (const std::string& name : all) tests.push_back(tlb::Test::named(name));
    shuffle(tests, 42);
    std::sort(all.begin(), all.end());
    for (Splitter s : {Splitter::count, Splitter::round_robin}) {
      Plan plan = split(tests, {}, options(1, {s}));
      EXPECT_EQ(names(plan.partitions[0]), all) << to_string(s) << ", " << all.size() << " names";
    }
    // Round-robin over two partitions deals the name-sorted list: the first holds every other name.
    Plan plan = split(tests, {}, options(2, {Splitter::round_robin}));
    std::vector<std::string> every_other;
    for (std::size_t i = 0; i < all.size(); i += 2) every_other.push_back(all[i]);
    EXPECT_EQ(names(plan.partitions[0]), every_other);
  }
}

TEST(Split, OfDuplicatesTheOneThatSortsFirstOnItsPropertiesIsKeptWhateverTheInputOrder) {
  // Small and large lists take different paths through the sort.
  for (int padding : {0, 2000}) {
    std::vector<tlb::Test> tests = named(padding, "pad");
    auto with_cost = [](std::string name, std::optional<double> cost, bool disabled = false) {
      tlb::Test t = tlb::Test::named(std::move(name));
      t.cost = cost;
      t.disabled = disabled;
      return t;
    };
    // The lowest COST wins; no COST sorts before any; then enabled before disabled.
    tests.push_back(with_cost("costs", 3));
    tests.push_back(with_cost("costs", 1));
    tests.push_back(with_cost("costs", 2));
    tests.push_back(with_cost("no-cost-first", 1));
    tests.push_back(with_cost("no-cost-first", std::nullopt));
    tests.push_back(with_cost("enabled-first", 4, true));
    tests.push_back(with_cost("enabled-first", 4, false));
    tests.push_back(with_cost("enabled-first", 4, true));
    for (std::uint64_t seed = 0; seed < 5; ++seed) {
      shuffle(tests, seed);
      Plan plan = split(tests, {}, options(1, {Splitter::count}));
      ASSERT_EQ(plan.partitions[0].tests.size(), static_cast<std::size_t>(padding) + 3);
      std::map<std::string, PlannedTest> by_name;
      for (const PlannedTest& t : plan.partitions[0].tests) by_name[t.name] = t;
      EXPECT_EQ(by_name["costs"].estimate, Estimate::cost);
      EXPECT_DOUBLE_EQ(by_name["costs"].seconds, 1);
      EXPECT_EQ(by_name["no-cost-first"].estimate, Estimate::fallback);
      EXPECT_EQ(by_name["enabled-first"].estimate, Estimate::cost);
      EXPECT_DOUBLE_EQ(by_name["enabled-first"].seconds, 4);
    }
  }
}

TEST(TimeSplitter, EqualDurationsAreDealtInNameOrder) {
  // Longest first keeps name order among equals, and each test goes to the least loaded partition, the
  // lowest numbered among equals: with every test as long, that deals the name-sorted list in turn. Enough
  // tests that the placement sorts by bytes and finds the least loaded partition through its tree.
  std::vector<tlb::Test> tests = named(2000);
  History h;
  for (const tlb::Test& t : tests) h.set(t.name, TestRecord{1.5, 1, Outcome::passed});
  shuffle(tests, 7);
  for (int total : {7, 8, 64}) {
    for (double weight : {0.0, 2.5}) {  // 0: no weights given.
      SplitOptions o = options(total, {Splitter::time});
      if (weight > 0) o.weights.assign(static_cast<std::size_t>(total), weight);
      Plan plan = split(tests, h, o);
      Plan dealt = split(tests, h, options(total, {Splitter::round_robin}));
      for (int p = 0; p < total; ++p) {
        EXPECT_EQ(names(plan.partitions[static_cast<std::size_t>(p)]),
                  names(dealt.partitions[static_cast<std::size_t>(p)]))
            << total << " partitions, weight " << weight << ", partition " << p + 1;
      }
    }
  }
}

TEST(Split, RejectsInconsistentOptions) {
  EXPECT_THROW(split(named(3), {}, options(0)), std::invalid_argument);
  SplitOptions o = options(2);
  o.weights = {1, 1, 1};
  EXPECT_THROW(split(named(3), {}, o), std::invalid_argument);
  o.weights = {1, 0};
  EXPECT_THROW(split(named(3), {}, o), std::invalid_argument);
}

TEST(SplitterNames, RoundTrip) {
  for (Splitter s : {Splitter::count, Splitter::round_robin, Splitter::time}) {
    EXPECT_EQ(parse_splitter(to_string(s)), s);
  }
  EXPECT_EQ(parse_splitter("fastest"), std::nullopt);
}

}  // namespace
}  // namespace tlb

namespace tlb {
namespace {

// Under ctest -j 4 one RUN_SERIAL test of 8 s and eight tests of 4 s over two partitions: the serial test
// alone takes 8 s, the eight others 4 at a time also take 8 s. Balancing sums instead (20 s each) puts the
// serial test with three others, which then wait for it: 12 s.
TEST(SplitUnderCtestJ, ARunSerialTestTakesItsPartitionAlone) {
  std::vector<tlb::Test> tests = named(8, "quick");
  tests.push_back(tlb::Test::named("serial"));
  tests.back().run_serial = true;
  std::map<std::string, double> seconds = {{"serial", 8.0}};
  for (const tlb::Test& t : tests) seconds.emplace(t.name, 4.0);
  SplitOptions o = options(2);

  const Plan sums = split(tests, durations(seconds), o);
  EXPECT_DOUBLE_EQ(sums.predicted_makespan_seconds, 20.0);

  o.parallel_level = 4;
  const Plan plan = split(tests, durations(seconds), o);
  const Partition& with_serial =
      names(plan.partitions[0]).front() == "serial" ? plan.partitions[0] : plan.partitions[1];
  EXPECT_EQ(names(with_serial), std::vector<std::string>{"serial"});
  for (const Partition& p : plan.partitions) EXPECT_DOUBLE_EQ(p.predicted_seconds, 8.0);
  EXPECT_DOUBLE_EQ(plan.lower_bound_seconds, 8.0);
  // Each test still carries its own duration, which orders the partition.
  for (const Partition& p : plan.partitions) {
    for (const PlannedTest& t : p.tests) EXPECT_DOUBLE_EQ(t.seconds, seconds.at(t.name));
  }
}

TEST(SplitUnderCtestJ, ProcessorsTakeSlotsAndNoPartitionBeatsItsLongestTest) {
  // J = 4: a 4-processor test of 2 s loads its partition like four 2 s tests, a 1-processor test of 6 s like
  // 1.5 s, yet that partition cannot finish before 6 s.
  std::vector<tlb::Test> tests = {tlb::Test::named("wide"), tlb::Test::named("long")};
  tests[0].processors = 4;
  SplitOptions o = options(1);
  o.parallel_level = 4;
  const Plan plan = split(tests, durations({{"wide", 2.0}, {"long", 6.0}}), o);
  EXPECT_DOUBLE_EQ(plan.partitions[0].predicted_seconds, 6.0);
  EXPECT_DOUBLE_EQ(plan.lower_bound_seconds, 6.0);

  tests.push_back(tlb::Test::named("more"));
  tests[2].processors = 8;  // More than J: takes all 4 slots, no more.
  const Plan wider = split(tests, durations({{"wide", 2.0}, {"long", 6.0}, {"more", 5.0}}), o);
  EXPECT_DOUBLE_EQ(wider.partitions[0].predicted_seconds, 2.0 + 1.5 + 5.0);
}

TEST(SplitUnderCtestJ, OneIsTheSumAndZeroIsRejected) {
  std::vector<tlb::Test> tests = named(5);
  std::map<std::string, double> seconds;
  for (const tlb::Test& t : tests) seconds[t.name] = 1.0 + static_cast<double>(seconds.size());
  SplitOptions o = options(2);
  const Plan plain = split(tests, durations(seconds), o);
  o.parallel_level = 1;
  const Plan one = split(tests, durations(seconds), o);
  for (std::size_t p = 0; p < 2; ++p) EXPECT_EQ(names(one.partitions[p]), names(plain.partitions[p]));
  o.parallel_level = 0;
  EXPECT_THROW(split(tests, durations(seconds), o), std::invalid_argument);
}

}  // namespace
}  // namespace tlb
