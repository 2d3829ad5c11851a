// Properties of the split contract, checked over many random suites, sizes and partition counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <iomanip>
#include <map>
#include <numeric>
#include <set>

#include "support/random_suite.hpp"
#include "tlb/split.hpp"

namespace tlb {
namespace {

using testing::Draw;
using testing::random_suite;
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

}  // namespace
}  // namespace tlb
