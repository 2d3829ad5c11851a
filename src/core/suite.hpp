// The canonical form of a test suite that every splitter works on (internal to the core).
//
// Tests are sorted by name and de-duplicated, durations are integer microseconds, and tests are grouped into
// units: the tests a splitter places together. A unit is a set of tests joined by DEPENDS; a fixture's setup
// and cleanup tests are not units of their own but attachments, placed with every unit that requires the
// fixture.
//
// The tests themselves stay where the caller's list had them: a Test is large, and at a hundred thousand
// tests moving them into name order cost as much as the rest of the split. The suite keeps their positions
// in name order instead (`order`), and "test i" below always means the i-th test in name order.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "tlb/history.hpp"
#include "tlb/split.hpp"
#include "tlb/test.hpp"

namespace tlb::detail {

using Micros = std::int64_t;

Micros to_micros(double seconds);
double to_seconds(Micros micros);

struct Unit {
  int first_member = 0;  // Where its members start in Suite::members.
  int member_count = 0;  // Its members, ascending test indices (so name order); the first names the unit.
  Micros micros = 0;     // Sum of the members' estimates.
  std::vector<int>
      attached;  // Indices into Suite::attachments of the fixture tests this unit needs, ascending.
};

struct Suite {
  std::vector<Test> input;              // The tests as given, duplicates included.
  std::vector<std::size_t> order;       // Per test: its position in `input`. Unique names.
  std::vector<std::string_view> names;  // Per test: its name, a view into `input` (until the plan takes it).
  std::vector<Micros> micros;           // Estimate per test.
  std::vector<Estimate> estimates;      // Source of each estimate.
  std::vector<int> attachments;     // Test indices of fixture setup/cleanup tests that some test requires.
  std::vector<int> attachment_of;   // Per test: its index in `attachments`, or -1.
  std::vector<Unit> units;          // Ordered by their first member, so by name.
  std::vector<int> members;         // The members of every unit, unit after unit.
  bool one_member_each = false;     // No DEPENDS joined tests: unit u's only member is members[u].
  Micros fallback = 0;              // Estimate for tests with neither history nor COST.
  std::size_t without_history = 0;  // Enabled tests estimated from something other than history.
  bool any_known_duration = false;  // Some enabled test has history or COST.

  std::size_t size() const { return order.size(); }
  const Test& test(std::size_t i) const { return input[order[i]]; }
  Test& test(std::size_t i) { return input[order[i]]; }

  std::span<const int> members_of(const Unit& unit) const {
    return {members.data() + unit.first_member, static_cast<std::size_t>(unit.member_count)};
  }

  Micros attachment_micros(int attachment) const {
    return micros[static_cast<std::size_t>(attachments[static_cast<std::size_t>(attachment)])];
  }
};

Suite prepare(std::vector<Test> tests, const History& history);

// Sorts the n items from `items` on by `key(item)`, an unsigned 64-bit number, keeping the order of items
// with equal keys. Long lists are sorted a byte at a time, least significant first, skipping the bytes in
// which all keys agree; short ones by comparison. `scratch` is working space, kept between calls.
template <typename T, typename Key>
void stable_sort_by_key(T* items, std::size_t n, std::vector<T>& scratch, Key key) {
  constexpr std::size_t kRadixFrom = 1024;  // Below this, clearing the byte counts costs more than comparing.
  if (n < kRadixFrom) {
    std::stable_sort(items, items + n, [&](const T& a, const T& b) { return key(a) < key(b); });
    return;
  }
  // counts[b][v]: how many keys have value v in byte b.
  std::vector<std::array<std::size_t, 256>> counts(8, std::array<std::size_t, 256>{});
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t k = key(items[i]);
    for (std::size_t b = 0; b < 8; ++b) ++counts[b][(k >> (8 * b)) & 0xff];
  }
  if (scratch.size() < n) scratch.resize(n);
  T* from = items;
  T* to = scratch.data();
  for (std::size_t b = 0; b < 8; ++b) {
    auto& count = counts[b];
    if (std::find(count.begin(), count.end(), n) != count.end()) continue;  // All keys agree here.
    std::size_t next = 0;
    for (std::size_t& c : count) next += std::exchange(c, next);  // Now where each value's items start.
    for (std::size_t i = 0; i < n; ++i) to[count[(key(from[i]) >> (8 * b)) & 0xff]++] = from[i];
    std::swap(from, to);
  }
  if (from != items) std::copy(from, from + n, items);
}

// Loops that visit tests in name order jump around the input's memory; asking for an item this many
// iterations ahead hides most of the wait.
inline constexpr std::size_t kPrefetchDistance = 8;
inline void prefetch(const void* address) {
  __builtin_prefetch(address);
}

}  // namespace tlb::detail
