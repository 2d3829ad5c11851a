#include "suite.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <string_view>
#include <tuple>

namespace tlb::detail {

Micros to_micros(double seconds) {
  // Negative, NaN and absurdly long values are clamped: parsers reject them, this only keeps arithmetic
  // defined.
  constexpr double kMaxSeconds = 1e9;  // About 31 years; sums of a million of these still fit in 64 bits.
  if (!(seconds > 0)) return 0;
  return std::llround(std::min(seconds, kMaxSeconds) * 1e6);
}

double to_seconds(Micros micros) {
  return static_cast<double>(micros) / 1e6;
}

namespace {

auto key(const Test& t) {
  return std::tie(t.name, t.cost, t.processors, t.run_serial, t.disabled, t.labels, t.resource_locks,
                  t.fixtures_setup, t.fixtures_cleanup, t.fixtures_required, t.depends);
}

// Sorts by name and keeps one test per name. When duplicates differ, the one that sorts first on all
// properties is kept, so the choice does not depend on input order. It sorts (name, index) pairs rather than
// tests: a Test is large to move, and properties are compared only between tests that share a name.
std::vector<Test> canonicalize(std::vector<Test> tests) {
  std::vector<std::pair<std::string_view, std::size_t>> order;
  order.reserve(tests.size());
  for (std::size_t i = 0; i < tests.size(); ++i) order.emplace_back(tests[i].name, i);
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    const int by_name = a.first.compare(b.first);
    return by_name != 0 ? by_name < 0 : key(tests[a.second]) < key(tests[b.second]);
  });
  std::vector<Test> sorted;
  sorted.reserve(tests.size());
  for (const auto& [name, i] : order) {
    if (sorted.empty() || sorted.back().name != name) sorted.push_back(std::move(tests[i]));
  }
  return sorted;
}

int find_index(const std::vector<Test>& tests, std::string_view name) {
  auto it = std::lower_bound(tests.begin(), tests.end(), name,
                             [](const Test& t, std::string_view n) { return t.name < n; });
  return it != tests.end() && it->name == name ? static_cast<int>(it - tests.begin()) : -1;
}

class DisjointSets {
 public:
  explicit DisjointSets(std::size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0); }
  int find(int x) {
    while (parent_[static_cast<std::size_t>(x)] != x) {
      auto& p = parent_[static_cast<std::size_t>(x)];
      p = parent_[static_cast<std::size_t>(p)];
      x = p;
    }
    return x;
  }
  // The smaller index becomes the root, so roots are each set's first member.
  void join(int a, int b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (b < a) std::swap(a, b);
    parent_[static_cast<std::size_t>(b)] = a;
  }

 private:
  std::vector<int> parent_;
};

void estimate(Suite& suite, const History& history) {
  const std::size_t n = suite.tests.size();
  suite.micros.assign(n, 0);
  suite.estimates.assign(n, Estimate::fallback);

  Micros history_sum = 0, cost_sum = 0;
  std::int64_t history_count = 0, cost_count = 0;
  // Tests and history are both in name order: walk them together instead of looking each test up.
  auto next_record = history.records().begin();
  const auto end_of_history = history.records().end();
  for (std::size_t i = 0; i < n; ++i) {
    const Test& test = suite.tests[i];
    while (next_record != end_of_history && next_record->first < test.name) ++next_record;
    const TestRecord* record =
        next_record != end_of_history && next_record->first == test.name ? &next_record->second : nullptr;
    if (test.disabled) {
      suite.estimates[i] = Estimate::disabled;
    } else if (record && record->runs > 0) {
      suite.estimates[i] = Estimate::history;
      suite.micros[i] = to_micros(record->seconds);
      history_sum += suite.micros[i];
      ++history_count;
    } else if (test.cost && *test.cost > 0) {
      suite.estimates[i] = Estimate::cost;
      suite.micros[i] = to_micros(*test.cost);
      cost_sum += suite.micros[i];
      ++cost_count;
    }
  }
  // Unknown tests get the mean of the known tests of this list (integer arithmetic, so the same everywhere);
  // with nothing known at all, one second each, which makes every split a split by count.
  if (history_count > 0) {
    suite.fallback = history_sum / history_count;
  } else if (cost_count > 0) {
    suite.fallback = cost_sum / cost_count;
  } else {
    suite.fallback = 1'000'000;
  }
  suite.any_known_duration = history_count + cost_count > 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (suite.estimates[i] == Estimate::fallback) suite.micros[i] = suite.fallback;
    if (suite.estimates[i] != Estimate::history && suite.estimates[i] != Estimate::disabled)
      ++suite.without_history;
  }
}

// Marks the fixture tests that travel with the tests requiring them, and returns, per test, the attachment
// indices it needs (transitively: a setup test may itself require another fixture).
std::vector<std::vector<int>> attach_fixtures(Suite& suite) {
  const auto& tests = suite.tests;
  std::map<std::string_view, std::vector<int>> providers;  // fixture -> its setup and cleanup tests
  std::set<std::string_view> required;
  for (std::size_t i = 0; i < tests.size(); ++i) {
    for (const auto& f : tests[i].fixtures_setup) providers[f].push_back(static_cast<int>(i));
    for (const auto& f : tests[i].fixtures_cleanup) providers[f].push_back(static_cast<int>(i));
    for (const auto& f : tests[i].fixtures_required) required.insert(f);
  }

  suite.attachment_of.assign(tests.size(), -1);
  for (std::size_t i = 0; i < tests.size(); ++i) {
    const Test& t = tests[i];
    auto provides_required = [&](const std::vector<std::string>& fixtures) {
      return std::any_of(fixtures.begin(), fixtures.end(),
                         [&](const std::string& f) { return required.count(f) > 0; });
    };
    if (provides_required(t.fixtures_setup) || provides_required(t.fixtures_cleanup)) {
      suite.attachment_of[i] = static_cast<int>(suite.attachments.size());
      suite.attachments.push_back(static_cast<int>(i));
    }
  }

  std::vector<std::vector<int>> needs(tests.size());
  for (std::size_t i = 0; i < tests.size(); ++i) {
    if (tests[i].fixtures_required.empty()) continue;
    std::set<int> seen;
    std::vector<std::string_view> pending(tests[i].fixtures_required.begin(),
                                          tests[i].fixtures_required.end());
    std::set<std::string_view> visited_fixtures;
    while (!pending.empty()) {
      std::string_view fixture = pending.back();
      pending.pop_back();
      if (!visited_fixtures.insert(fixture).second) continue;
      auto it = providers.find(fixture);
      if (it == providers.end())
        continue;  // Required but never provided: ctest runs the test alone, so do we.
      for (int provider : it->second) {
        if (provider == static_cast<int>(i)) continue;
        if (seen.insert(suite.attachment_of[static_cast<std::size_t>(provider)]).second) {
          for (const auto& f : tests[static_cast<std::size_t>(provider)].fixtures_required)
            pending.push_back(f);
        }
      }
    }
    needs[i].assign(seen.begin(), seen.end());
  }
  return needs;
}

void group_units(Suite& suite, const std::vector<std::vector<int>>& needs) {
  const auto& tests = suite.tests;
  DisjointSets sets(tests.size());
  for (std::size_t i = 0; i < tests.size(); ++i) {
    if (suite.attachment_of[i] >= 0) continue;
    for (const auto& dependency : tests[i].depends) {
      int j = find_index(tests, dependency);
      if (j >= 0 && suite.attachment_of[static_cast<std::size_t>(j)] < 0) sets.join(static_cast<int>(i), j);
    }
  }
  std::vector<int> unit_of_root(tests.size(), -1);
  for (std::size_t i = 0; i < tests.size(); ++i) {
    if (suite.attachment_of[i] >= 0) continue;
    const auto root = static_cast<std::size_t>(sets.find(static_cast<int>(i)));
    if (unit_of_root[root] < 0) {
      unit_of_root[root] = static_cast<int>(suite.units.size());
      suite.units.emplace_back();
    }
    Unit& unit = suite.units[static_cast<std::size_t>(unit_of_root[root])];
    unit.members.push_back(static_cast<int>(i));
    unit.micros += suite.micros[i];
    unit.attached.insert(unit.attached.end(), needs[i].begin(), needs[i].end());
  }
  for (Unit& unit : suite.units) {
    std::sort(unit.attached.begin(), unit.attached.end());
    unit.attached.erase(std::unique(unit.attached.begin(), unit.attached.end()), unit.attached.end());
  }
}

}  // namespace

Suite prepare(std::vector<Test> tests, const History& history) {
  Suite suite;
  suite.tests = canonicalize(std::move(tests));
  estimate(suite, history);
  auto needs = attach_fixtures(suite);
  group_units(suite, needs);
  return suite;
}

}  // namespace tlb::detail
