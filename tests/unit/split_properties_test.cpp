// Properties of the split contract, checked over many random suites, sizes and partition counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <string_view>

#include "support/random_suite.hpp"
#include "tlb/split.hpp"

namespace tlb {
namespace {

using testing::Draw;
using testing::random_suite;
using testing::RandomSuite;
using testing::SuiteShape;

struct Case {
  std::uint64_t seed;
  SuiteShape shape;
  SplitOptions options;
};

Case random_case(std::uint64_t seed, Splitter splitter) {
  Draw draw(seed * 7919 + 17);
  Case c;
  c.seed = seed;
  c.shape.size = draw.between(0, 400);
  c.shape.history_share = draw.chance(0.1) ? 0.0 : draw.uniform();
  c.shape.fixture_share = draw.chance(0.5) ? draw.uniform() * 0.3 : 0.0;
  c.shape.depends_share = draw.chance(0.3) ? draw.uniform() * 0.1 : 0.0;
  c.shape.disabled_share = draw.chance(0.2) ? 0.05 : 0.0;
  c.options.total = draw.between(1, 24);
  c.options.splitters = {splitter};
  if (draw.chance(0.3)) {
    for (int i = 0; i < c.options.total; ++i) c.options.weights.push_back(draw.between(1, 8) * 0.5);
  }
  return c;
}

// The tests each partition must hold a copy of: those requiring a fixture pull in its setup and cleanup
// tests, transitively.
std::set<std::string> fixture_tests_needed_by(const std::vector<std::string>& names,
                                              const std::vector<tlb::Test>& all) {
  std::map<std::string, std::vector<const Test*>> providers;
  std::map<std::string, const Test*> by_name;
  std::set<std::string> required_anywhere;
  for (const tlb::Test& t : all) {
    by_name[t.name] = &t;
    for (const auto& f : t.fixtures_setup) providers[f].push_back(&t);
    for (const auto& f : t.fixtures_cleanup) providers[f].push_back(&t);
    for (const auto& f : t.fixtures_required) required_anywhere.insert(f);
  }
  std::set<std::string> needed;
  std::vector<std::string> pending;
  for (const std::string& n : names) {
    for (const auto& f : by_name.at(n)->fixtures_required) pending.push_back(f);
  }
  std::set<std::string> seen;
  while (!pending.empty()) {
    std::string f = pending.back();
    pending.pop_back();
    if (!seen.insert(f).second) continue;
    for (const Test* p : providers[f]) {
      needed.insert(p->name);
      for (const auto& g : p->fixtures_required) pending.push_back(g);
    }
  }
  return needed;
}

bool is_fixture_test(const tlb::Test& t, const std::vector<tlb::Test>& all) {
  for (const tlb::Test& other : all) {
    for (const auto& f : other.fixtures_required) {
      if (std::count(t.fixtures_setup.begin(), t.fixtures_setup.end(), f) ||
          std::count(t.fixtures_cleanup.begin(), t.fixtures_cleanup.end(), f)) {
        return true;
      }
    }
  }
  return false;
}

void expect_exactly_once(const Case& c, const std::vector<tlb::Test>& tests, const Plan& plan) {
  SCOPED_TRACE("seed " + std::to_string(c.seed) + ", " + std::to_string(c.shape.size) + " tests, " +
               std::to_string(c.options.total) + " partitions");
  ASSERT_EQ(plan.partitions.size(), static_cast<std::size_t>(c.options.total));
  std::map<std::string, int> placements;
  for (const Partition& p : plan.partitions) {
    std::vector<std::string> regular;
    std::set<std::string> fixtures;
    for (const PlannedTest& t : p.tests) {
      ++placements[t.name];
      if (t.fixture) {
        fixtures.insert(t.name);
      } else {
        regular.push_back(t.name);
      }
    }
    // Fixture tests: exactly those the partition's tests need.
    EXPECT_EQ(fixtures, fixture_tests_needed_by(regular, tests)) << "partition " << p.number;
  }
  for (const tlb::Test& t : tests) {
    if (is_fixture_test(t, tests)) {
      EXPECT_GE(placements[t.name], 1) << t.name << " is needed but placed nowhere";
    } else {
      // Mutual exclusion and collective exhaustion.
      EXPECT_EQ(placements[t.name], 1) << t.name;
    }
  }
  EXPECT_EQ(placements.size(), tests.size()) << "a partition holds a test that is not in the suite";
}

std::vector<std::vector<std::string>> partition_names(const Plan& plan) {
  std::vector<std::vector<std::string>> result;
  for (const Partition& p : plan.partitions) {
    result.emplace_back();
    for (const PlannedTest& t : p.tests) result.back().push_back(t.name);
  }
  return result;
}

class SplitProperties : public ::testing::TestWithParam<Splitter> {};

TEST_P(SplitProperties, EveryTestRunsExactlyOnceExceptFixtureTests) {
  for (std::uint64_t seed = 0; seed < 150; ++seed) {
    Case c = random_case(seed, GetParam());
    auto suite = random_suite(seed, c.shape);
    Plan plan = split(suite.tests, suite.history, c.options);
    expect_exactly_once(c, suite.tests, plan);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST_P(SplitProperties, InputOrderDoesNotMatter) {
  for (std::uint64_t seed = 0; seed < 60; ++seed) {
    Case c = random_case(seed, GetParam());
    auto suite = random_suite(seed, c.shape);
    const Plan reference = split(suite.tests, suite.history, c.options);
    std::vector<tlb::Test> shuffled = suite.tests;
    std::mt19937_64 engine(seed);
    std::shuffle(shuffled.begin(), shuffled.end(), engine);
    // A duplicate of a listed test must not change anything either.
    if (!shuffled.empty()) shuffled.push_back(shuffled.front());
    const Plan again = split(shuffled, suite.history, c.options);
    ASSERT_EQ(partition_names(again), partition_names(reference)) << "seed " << seed;
    ASSERT_EQ(again.predicted_makespan_seconds, reference.predicted_makespan_seconds) << "seed " << seed;
  }
}

TEST_P(SplitProperties, PredictedTimesAddUp) {
  for (std::uint64_t seed = 0; seed < 60; ++seed) {
    Case c = random_case(seed, GetParam());
    auto suite = random_suite(seed, c.shape);
    Plan plan = split(suite.tests, suite.history, c.options);
    for (const Partition& p : plan.partitions) {
      double sum = 0;
      for (const PlannedTest& t : p.tests) sum += t.seconds;
      EXPECT_NEAR(p.predicted_seconds, sum, 1e-6 * static_cast<double>(p.tests.size() + 1));
    }
    EXPECT_GE(plan.predicted_makespan_seconds + 1e-9, plan.lower_bound_seconds) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(AllSplitters, SplitProperties,
                         ::testing::Values(Splitter::time, Splitter::count, Splitter::round_robin),
                         [](const auto& param_info) {
                           std::string name(to_string(param_info.param));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Plain LPT with the earliest-finish rule, as most peers implement it: the baseline the time splitter must
// match or beat.
double lpt_makespan(const std::vector<double>& durations, const std::vector<double>& weights) {
  std::vector<double> sorted = durations;
  std::sort(sorted.rbegin(), sorted.rend());
  std::vector<double> loads(weights.size(), 0);
  for (double d : sorted) {
    std::size_t best = 0;
    for (std::size_t p = 1; p < loads.size(); ++p) {
      if ((loads[p] + d) / weights[p] < (loads[best] + d) / weights[best]) best = p;
    }
    loads[best] += d;
  }
  double makespan = 0;
  for (std::size_t p = 0; p < loads.size(); ++p) makespan = std::max(makespan, loads[p] / weights[p]);
  return makespan;
}

TEST(TimeSplitterQuality, NeverWorseThanPlainLptAndWithinItsGuarantee) {
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    Case c = random_case(seed, Splitter::time);
    c.shape.history_share = 1.0;
    c.shape.fixture_share = 0;
    c.shape.depends_share = 0;
    c.shape.disabled_share = 0;
    if (c.shape.size == 0) continue;
    auto suite = random_suite(seed, c.shape);
    for (tlb::Test& t : suite.tests) t.cost.reset();
    Plan plan = split(suite.tests, suite.history, c.options);

    std::vector<double> durations, weights = c.options.weights;
    if (weights.empty()) weights.assign(static_cast<std::size_t>(c.options.total), 1.0);
    for (const tlb::Test& t : suite.tests) durations.push_back(suite.history.find(t.name)->seconds);
    const double total = std::accumulate(durations.begin(), durations.end(), 0.0);
    const double longest = *std::max_element(durations.begin(), durations.end());
    const double weight_sum = std::accumulate(weights.begin(), weights.end(), 0.0);
    const double lightest = *std::min_element(weights.begin(), weights.end());

    SCOPED_TRACE("seed " + std::to_string(seed));
    // Durations are rounded to microseconds inside the splitter: allow that much per test.
    const double rounding = 1e-6 * static_cast<double>(durations.size()) / lightest;
    EXPECT_LE(plan.predicted_makespan_seconds, lpt_makespan(durations, weights) + rounding)
        << std::setprecision(12) << plan.predicted_makespan_seconds << " vs "
        << lpt_makespan(durations, weights);
    // List scheduling's bound on uniform machines: no worse than the average load plus one test on the
    // slowest.
    EXPECT_LE(plan.predicted_makespan_seconds, total / weight_sum + longest / lightest + rounding);
  }
}

TEST(TimeSplitterQuality, WeightsAreHonoured) {
  // Many small tests: each partition's time is its share of the total, within one test.
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    Draw draw(seed);
    const int total = draw.between(2, 8);
    std::vector<double> weights;
    for (int i = 0; i < total; ++i) weights.push_back(draw.between(1, 4));
    std::vector<tlb::Test> tests;
    History history;
    for (int i = 0; i < 2000; ++i) {
      tests.push_back(tlb::Test::named("t" + std::to_string(i)));
      history.set(tests.back().name, TestRecord{0.01 + draw.uniform(), 1, Outcome::passed});
    }
    SplitOptions o;
    o.total = total;
    o.weights = weights;
    Plan plan = split(tests, history, o);
    double sum = 0;
    for (const Partition& p : plan.partitions) sum += p.predicted_seconds;
    const double weight_sum = std::accumulate(weights.begin(), weights.end(), 0.0);
    for (const Partition& p : plan.partitions) {
      EXPECT_NEAR(p.predicted_seconds / p.weight, sum / weight_sum, 1.01 / p.weight)
          << "seed " << seed << ", partition " << p.number;
    }
  }
}

// Large suites, built from integers only so that they are the same with every standard library: names with
// long shared prefixes, durations in whole milliseconds that often tie, a few much longer, some tests known
// only by COST or not at all, disabled tests, fixtures (one requiring another), DEPENDS, duplicates, and the
// list in scrambled order. Large enough for the paths the splitter takes on big suites only.
RandomSuite large_suite(int size, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  auto below = [&](std::uint64_t n) { return engine() % n; };
  RandomSuite suite;
  auto fixture_test = [&](std::string name, std::uint64_t ms) {
    suite.history.set(name, TestRecord{static_cast<double>(ms) / 1000, 1, Outcome::passed});
    return Test::named(std::move(name));
  };
  Test db_setup = fixture_test("fixture.db_setup", 20'000);
  db_setup.fixtures_setup = {"db"};
  Test db_cleanup = fixture_test("fixture.db_cleanup", 3'000);
  db_cleanup.fixtures_cleanup = {"db"};
  Test cache_setup = fixture_test("fixture.cache_setup", 7'000);
  cache_setup.fixtures_setup = {"cache"};
  cache_setup.fixtures_required = {"db"};
  suite.tests = {db_setup, db_cleanup, cache_setup};
  for (int i = 0; i < size; ++i) {
    const std::uint64_t module =
        below(7);  // Drawn one by one: the order operands are evaluated in is not fixed.
    const std::uint64_t suite_number = below(40);
    Test test = Test::named("module_" + std::to_string(module) + ".Suite_" + std::to_string(suite_number) +
                            ".Case_" + std::to_string(i));
    std::uint64_t ms = 1 + below(3'000);
    if (below(100) == 0) ms *= 60;
    switch (below(20)) {
      case 0:  // Known by COST only.
        test.cost = static_cast<double>(ms) / 1000;
        break;
      case 1:  // Unknown.
        break;
      default:
        suite.history.set(test.name, TestRecord{static_cast<double>(ms) / 1000, 2, Outcome::passed});
    }
    if (below(60) == 0) test.fixtures_required = {"db"};
    if (below(150) == 0) test.fixtures_required.push_back("cache");
    if (below(80) == 0 && i > 0) test.depends = {suite.tests[3 + below(suite.tests.size() - 3)].name};
    if (below(97) == 0) test.disabled = true;
    suite.tests.push_back(std::move(test));
  }
  for (int d = 0; d < 25; ++d) {
    Test copy = suite.tests[3 + below(suite.tests.size() - 3)];
    if (below(2) == 0) copy.cost = static_cast<double>(1 + below(5'000)) / 1000;
    suite.tests.push_back(std::move(copy));
  }
  for (std::size_t i = suite.tests.size(); i > 1; --i) std::swap(suite.tests[i - 1], suite.tests[below(i)]);
  return suite;
}

// FNV-1a over what a plan says: partition by partition, each test's name, estimate source, fixture flag and
// estimate in microseconds, and the partition's predicted microseconds.
std::uint64_t fingerprint(const Plan& plan) {
  std::uint64_t hash = 14695981039346656037ull;
  auto add = [&](std::string_view bytes) {
    for (char c : bytes) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 1099511628211ull;
    }
  };
  auto add_number = [&](long long n) { add(std::to_string(n) + ";"); };
  for (const Partition& p : plan.partitions) {
    add_number(p.number);
    add_number(std::llround(p.predicted_seconds * 1e6));
    for (const PlannedTest& t : p.tests) {
      add(t.name);
      add_number(static_cast<int>(t.estimate) * 2 + (t.fixture ? 1 : 0));
      add_number(std::llround(t.seconds * 1e6));
    }
  }
  return hash;
}

struct LargeCase {
  int size;
  int total;
  std::vector<double> weights;
  Splitter splitter;
  std::uint64_t expected;  // fingerprint() of the plan.
};

const std::vector<LargeCase>& large_cases() {
  // The fingerprints are of the plans the splitter made before it was tuned for big suites; a change of any
  // of them is a change of behaviour, which the golden files would call for as well.
  static const std::vector<LargeCase> cases = {
      {3'000, 8, {}, Splitter::time, 0xf09011e1bd67a775ull},
      {3'000, 64, {}, Splitter::time, 0x8b951377a42106a8ull},
      {5'000,
       24,
       {1, 2, 0.5, 1.5, 1, 1, 3, 1, 1, 1, 2, 1, 1, 1, 1, 0.25, 1, 1, 1, 1, 1, 1, 1, 4},
       Splitter::time,
       0x306da400b0868ce0ull},
      {20'000, 8, {}, Splitter::time, 0x64559af1a50922d2ull},
      {20'000, 3, {1, 2.5, 0.75}, Splitter::time, 0xaa98dbe99bcec7f8ull},
      {20'000, 5, {}, Splitter::count, 0xfd5df7ebd3c26443ull},
      {20'000, 6, {1, 2, 1, 2, 1, 2}, Splitter::round_robin, 0x0a75c5644152e950ull},
  };
  return cases;
}

SplitOptions options_of(const LargeCase& c) {
  SplitOptions options;
  options.total = c.total;
  options.weights = c.weights;
  options.splitters = {c.splitter};
  return options;
}

std::uint64_t large_seed(const LargeCase& c) {
  return static_cast<std::uint64_t>(c.size) + static_cast<std::uint64_t>(c.total);
}

TEST(LargeSuites, SplitExactlyAsTheyAlwaysHave) {
  for (const LargeCase& c : large_cases()) {
    const RandomSuite suite = large_suite(c.size, large_seed(c));
    const Plan plan = split(suite.tests, suite.history, options_of(c));
    EXPECT_EQ(fingerprint(plan), c.expected)
        << c.size << " tests, " << c.total << " partitions, " << to_string(c.splitter) << std::hex
        << ": fingerprint 0x" << fingerprint(plan);
  }
}

TEST(LargeSuites, EveryTestRunsExactlyOnceAndInputOrderDoesNotMatter) {
  for (const LargeCase& c : large_cases()) {
    const RandomSuite suite = large_suite(c.size, large_seed(c));
    const Plan plan = split(suite.tests, suite.history, options_of(c));
    if (c.size <= 5'000) {  // The check is quadratic.
      // The list without its duplicates (a duplicate here differs from its first only in COST).
      std::vector<tlb::Test> unique;
      std::set<std::string> seen;
      for (const tlb::Test& t : suite.tests) {
        if (seen.insert(t.name).second) unique.push_back(t);
      }
      Case described;
      described.seed = large_seed(c);
      described.shape.size = c.size;
      described.options = options_of(c);
      expect_exactly_once(described, unique, plan);
    }

    std::vector<tlb::Test> reversed(suite.tests.rbegin(), suite.tests.rend());
    EXPECT_EQ(fingerprint(split(reversed, suite.history, options_of(c))), fingerprint(plan))
        << c.size << " tests, " << c.total << " partitions, " << to_string(c.splitter);
  }
}

}  // namespace
}  // namespace tlb
