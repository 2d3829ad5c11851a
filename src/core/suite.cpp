#include "suite.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <set>
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

// What the later passes need to know of each test of the input, read in one walk over it in input order:
// a Test is large, and walking the tests again in name order would jump around memory.
enum Fact : std::uint8_t {
  kDisabled = 1,
  kCost = 2,      // A COST above zero.
  kFixtures = 4,  // Sets up, cleans up or requires a fixture.
  kDepends = 8,
};

struct InputFacts {
  std::vector<std::string_view> names;  // Per input position.
  std::vector<std::uint8_t> facts;      // Per input position, Fact bits.
  bool any_fixtures = false;
  bool any_depends = false;
};

InputFacts read_facts(const std::vector<Test>& input) {
  InputFacts facts;
  facts.names.reserve(input.size());
  facts.facts.reserve(input.size());
  for (const Test& t : input) {
    facts.names.push_back(t.name);
    std::uint8_t bits = 0;
    if (t.disabled) bits |= kDisabled;
    if (t.cost && *t.cost > 0) bits |= kCost;
    if (!t.fixtures_setup.empty() || !t.fixtures_cleanup.empty() || !t.fixtures_required.empty())
      bits |= kFixtures;
    if (!t.depends.empty()) bits |= kDepends;
    facts.facts.push_back(bits);
    facts.any_fixtures = facts.any_fixtures || (bits & kFixtures) != 0;
    facts.any_depends = facts.any_depends || (bits & kDepends) != 0;
  }
  return facts;
}

// Eight bytes of `name` from `depth` on, zero-padded, as a big-endian number: comparing these compares the
// bytes as unsigned chars, as std::string's comparison does.
std::uint64_t chunk(std::string_view name, std::size_t depth) {
  std::uint64_t value = 0;
  if (depth + 8 <= name.size()) {
    std::memcpy(&value, name.data() + depth, 8);
  } else if (depth < name.size()) {
    unsigned char bytes[8] = {};
    std::memcpy(bytes, name.data() + depth, name.size() - depth);
    std::memcpy(&value, bytes, 8);
  }
  if constexpr (std::endian::native == std::endian::little) value = __builtin_bswap64(value);
  return value;
}

// Sorts the input by name and keeps one test per name. When duplicates differ, the one that sorts first on
// all properties is kept, so the choice does not depend on input order. Returns the input positions of the
// kept tests, in name order.
//
// The sort is most-significant-digit first, eight bytes a digit: positions are sorted on the number made of
// their name's first eight bytes, runs of equal numbers on the next eight, and so on. The numbers sit in the
// array being sorted, so comparisons do not chase pointers to names, and names that share long prefixes
// (module.suite.case) cost a few passes instead of a memcmp of the prefix at every comparison.
std::vector<std::size_t> name_order(const std::vector<Test>& input,
                                    const std::vector<std::string_view>& names) {
  struct Item {
    std::uint64_t digit;
    std::size_t position;
  };
  constexpr std::size_t kDropped = static_cast<std::size_t>(-1);
  std::vector<Item> items(input.size());
  for (std::size_t i = 0; i < items.size(); ++i) items[i] = {0, i};
  Item* const first = items.data();
  std::vector<Item> scratch;

  struct Range {
    std::size_t begin, end, depth;
  };
  std::vector<Range> pending;
  if (items.size() > 1) pending.push_back({0, items.size(), 0});
  while (!pending.empty()) {
    const Range range = pending.back();
    pending.pop_back();
    const std::size_t depth = range.depth;
    bool all_equal = true;
    bool any_ends = false;  // Some name ends within these eight bytes.
    for (std::size_t k = range.begin; k < range.end; ++k) {
      if (depth > 0) {
        // Items are in name order so far, names in input order: ask for both early.
        if (k + 2 * kPrefetchDistance < range.end)
          prefetch(&names[items[k + 2 * kPrefetchDistance].position]);
        if (k + kPrefetchDistance < range.end) {
          const std::string_view ahead = names[items[k + kPrefetchDistance].position];
          prefetch(ahead.data() + std::min(depth, ahead.size()));
        }
      }
      const std::string_view name = names[items[k].position];
      items[k].digit = chunk(name, depth);
      all_equal = all_equal && items[k].digit == items[range.begin].digit;
      any_ends = any_ends || name.size() <= depth + 8;
    }
    if (!all_equal)
      stable_sort_by_key(first + range.begin, range.end - range.begin, scratch,
                         [](const Item& item) { return item.digit; });

    for (std::size_t run = range.begin; run < range.end;) {
      std::size_t run_end = run + 1;
      while (run_end < range.end && items[run_end].digit == items[run].digit) ++run_end;
      if (run_end - run > 1) {
        // The same eight bytes at `depth`, and the same bytes before (the run was made at the previous
        // depth). Names that end within these bytes are prefixes of the others: they come first, shorter
        // first, and names of equal length are equal. The others go on to the next eight bytes.
        auto ends_here = [&](const Item& item) { return names[item.position].size() <= depth + 8; };
        Item* const rest = any_ends ? std::partition(first + run, first + run_end, ends_here) : first + run;
        auto by_length = [&](const Item& a, const Item& b) {
          return names[a.position].size() < names[b.position].size();
        };
        std::sort(first + run, rest, by_length);
        for (auto same = first + run; same != rest;) {
          auto same_end =
              std::find_if(same + 1, rest, [&](const Item& item) { return by_length(*same, item); });
          if (same_end - same > 1) {
            auto kept = std::min_element(same, same_end, [&](const Item& a, const Item& b) {
              return key(input[a.position]) < key(input[b.position]);
            });
            std::iter_swap(same, kept);
            for (auto dropped = same + 1; dropped != same_end; ++dropped) dropped->position = kDropped;
          }
          same = same_end;
        }
        if (first + run_end - rest > 1)
          pending.push_back({static_cast<std::size_t>(rest - first), run_end, depth + 8});
      }
      run = run_end;
    }
  }

  std::vector<std::size_t> order;
  order.reserve(items.size());
  for (const Item& item : items) {
    if (item.position != kDropped) order.push_back(item.position);
  }
  return order;
}

int find_index(const Suite& suite, std::string_view name) {
  auto it = std::lower_bound(suite.names.begin(), suite.names.end(), name);
  return it != suite.names.end() && *it == name ? static_cast<int>(it - suite.names.begin()) : -1;
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

void estimate(Suite& suite, const History& history, const std::vector<std::uint8_t>& facts) {
  const std::size_t n = suite.size();
  suite.micros.assign(n, 0);
  suite.estimates.assign(n, Estimate::fallback);

  Micros history_sum = 0, cost_sum = 0;
  std::int64_t history_count = 0, cost_count = 0;
  // Tests and history are both in name order: walk them together instead of looking each test up.
  auto next_record = history.records().begin();
  const auto end_of_history = history.records().end();
  for (std::size_t i = 0; i < n; ++i) {
    if (i + kPrefetchDistance < n) prefetch(suite.names[i + kPrefetchDistance].data());
    const std::string_view name = suite.names[i];
    const TestRecord* record = nullptr;
    while (next_record != end_of_history) {
      const int order = next_record->first.compare(name);
      if (order < 0) {
        ++next_record;
        continue;
      }
      if (order == 0) record = &next_record->second;
      break;
    }
    const std::uint8_t fact = facts[suite.order[i]];
    if (fact & kDisabled) {
      suite.estimates[i] = Estimate::disabled;
    } else if (record && record->runs > 0) {
      suite.estimates[i] = Estimate::history;
      suite.micros[i] = to_micros(record->seconds);
      history_sum += suite.micros[i];
      ++history_count;
    } else if (fact & kCost) {
      suite.estimates[i] = Estimate::cost;
      suite.micros[i] = to_micros(*suite.test(i).cost);
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
// indices it needs (transitively: a setup test may itself require another fixture). Returns nothing when no
// test has anything to do with fixtures. Tests without fixture properties are skipped: they provide and
// require nothing.
std::vector<std::vector<int>> attach_fixtures(Suite& suite, const InputFacts& facts) {
  const std::size_t n = suite.size();
  suite.attachment_of.assign(n, -1);
  if (!facts.any_fixtures) return {};
  auto has_fixtures = [&](std::size_t i) { return (facts.facts[suite.order[i]] & kFixtures) != 0; };

  std::map<std::string_view, std::vector<int>> providers;  // fixture -> its setup and cleanup tests
  std::set<std::string_view> required;
  for (std::size_t i = 0; i < n; ++i) {
    if (!has_fixtures(i)) continue;
    const Test& t = suite.test(i);
    for (const auto& f : t.fixtures_setup) providers[f].push_back(static_cast<int>(i));
    for (const auto& f : t.fixtures_cleanup) providers[f].push_back(static_cast<int>(i));
    for (const auto& f : t.fixtures_required) required.insert(f);
  }

  for (std::size_t i = 0; i < n; ++i) {
    if (!has_fixtures(i)) continue;
    const Test& t = suite.test(i);
    auto provides_required = [&](const std::vector<std::string>& fixtures) {
      return std::any_of(fixtures.begin(), fixtures.end(),
                         [&](const std::string& f) { return required.count(f) > 0; });
    };
    if (provides_required(t.fixtures_setup) || provides_required(t.fixtures_cleanup)) {
      suite.attachment_of[i] = static_cast<int>(suite.attachments.size());
      suite.attachments.push_back(static_cast<int>(i));
    }
  }

  std::vector<std::vector<int>> needs(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!has_fixtures(i)) continue;
    const Test& t = suite.test(i);
    if (t.fixtures_required.empty()) continue;
    std::set<int> seen;
    std::vector<std::string_view> pending(t.fixtures_required.begin(), t.fixtures_required.end());
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
          for (const auto& f : suite.test(static_cast<std::size_t>(provider)).fixtures_required)
            pending.push_back(f);
        }
      }
    }
    needs[i].assign(seen.begin(), seen.end());
  }
  return needs;
}

void group_units(Suite& suite, std::vector<std::vector<int>>& needs, const InputFacts& facts) {
  const std::size_t n = suite.size();
  // Without DEPENDS every test is a unit of its own (its own root).
  DisjointSets sets(facts.any_depends ? n : 0);
  if (facts.any_depends) {
    for (std::size_t i = 0; i < n; ++i) {
      if (suite.attachment_of[i] >= 0 || (facts.facts[suite.order[i]] & kDepends) == 0) continue;
      for (const auto& dependency : suite.test(i).depends) {
        int j = find_index(suite, dependency);
        if (j >= 0 && suite.attachment_of[static_cast<std::size_t>(j)] < 0) sets.join(static_cast<int>(i), j);
      }
    }
  }
  auto root_of = [&](std::size_t i) {
    return facts.any_depends ? static_cast<std::size_t>(sets.find(static_cast<int>(i))) : i;
  };

  // Units in the order of their first member; then their members, unit after unit, each unit's ascending.
  suite.units.reserve(n - suite.attachments.size());  // As many as tests when no DEPENDS joins any.
  std::vector<int> unit_of_root(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    if (suite.attachment_of[i] >= 0) continue;
    const std::size_t root = root_of(i);
    if (unit_of_root[root] < 0) {
      unit_of_root[root] = static_cast<int>(suite.units.size());
      suite.units.emplace_back();
    }
    Unit& unit = suite.units[static_cast<std::size_t>(unit_of_root[root])];
    ++unit.member_count;
    unit.micros += suite.micros[i];
    if (!needs.empty() && !needs[i].empty()) {
      if (unit.attached.empty()) {
        unit.attached = std::move(needs[i]);
      } else {
        unit.attached.insert(unit.attached.end(), needs[i].begin(), needs[i].end());
      }
    }
  }
  int first_member = 0;
  for (Unit& unit : suite.units) {
    unit.first_member = first_member;
    first_member += unit.member_count;
    std::sort(unit.attached.begin(), unit.attached.end());
    unit.attached.erase(std::unique(unit.attached.begin(), unit.attached.end()), unit.attached.end());
  }
  suite.members.resize(static_cast<std::size_t>(first_member));
  if (!facts.any_depends) {
    // Each test its own unit, in test order.
    suite.one_member_each = true;
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (suite.attachment_of[i] < 0) suite.members[k++] = static_cast<int>(i);
    }
    return;
  }
  std::vector<int> next(suite.units.size());
  for (std::size_t u = 0; u < suite.units.size(); ++u) next[u] = suite.units[u].first_member;
  for (std::size_t i = 0; i < n; ++i) {
    if (suite.attachment_of[i] >= 0) continue;
    const int unit = unit_of_root[root_of(i)];
    suite.members[static_cast<std::size_t>(next[static_cast<std::size_t>(unit)]++)] = static_cast<int>(i);
  }
}

}  // namespace

Suite prepare(std::vector<Test> tests, const History& history) {
  Suite suite;
  suite.input = std::move(tests);
  InputFacts facts = read_facts(suite.input);
  suite.order = name_order(suite.input, facts.names);
  suite.names.reserve(suite.order.size());
  for (std::size_t position : suite.order) suite.names.push_back(facts.names[position]);
  facts.names = {};
  estimate(suite, history, facts.facts);
  auto needs = attach_fixtures(suite, facts);
  group_units(suite, needs, facts);
  return suite;
}

}  // namespace tlb::detail
