// The canonical form of a test suite that every splitter works on (internal to the core).
//
// Tests are sorted by name and de-duplicated, durations are integer microseconds, and tests are grouped into
// units: the tests a splitter places together. A unit is a set of tests joined by DEPENDS; a fixture's setup
// and cleanup tests are not units of their own but attachments, placed with every unit that requires the
// fixture.
#pragma once

#include <cstdint>
#include <vector>

#include "tlb/history.hpp"
#include "tlb/split.hpp"
#include "tlb/test.hpp"

namespace tlb::detail {

using Micros = std::int64_t;

Micros to_micros(double seconds);
double to_seconds(Micros micros);

struct Unit {
  std::vector<int> members;  // Test indices, ascending (so name order); members[0] names the unit.
  Micros micros = 0;         // Sum of the members' estimates.
  std::vector<int>
      attached;  // Indices into Suite::attachments of the fixture tests this unit needs, ascending.
};

struct Suite {
  std::vector<Test> tests;          // Sorted by name, unique names.
  std::vector<Micros> micros;       // Estimate per test.
  std::vector<Estimate> estimates;  // Source of each estimate.
  std::vector<int> attachments;     // Test indices of fixture setup/cleanup tests that some test requires.
  std::vector<int> attachment_of;   // Per test: its index in `attachments`, or -1.
  std::vector<Unit> units;          // Ordered by their first member, so by name.
  Micros fallback = 0;              // Estimate for tests with neither history nor COST.
  std::size_t without_history = 0;  // Enabled tests estimated from something other than history.
  bool any_known_duration = false;  // Some enabled test has history or COST.

  Micros attachment_micros(int attachment) const {
    return micros[static_cast<std::size_t>(attachments[static_cast<std::size_t>(attachment)])];
  }
};

Suite prepare(std::vector<Test> tests, const History& history);

}  // namespace tlb::detail
