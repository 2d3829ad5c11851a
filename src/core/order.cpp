#include "tlb/order.hpp"

#include <algorithm>

namespace tlb {

std::string_view to_string(Orderer orderer) {
  switch (orderer) {
    case Orderer::failed_first:
      return "failed-first";
    case Orderer::longest_first:
      return "longest-first";
  }
  return "failed-first";
}

std::optional<Orderer> parse_orderer(std::string_view name) {
  for (Orderer o : {Orderer::failed_first, Orderer::longest_first}) {
    if (name == to_string(o)) return o;
  }
  return std::nullopt;
}

std::vector<PlannedTest> order_tests(std::vector<PlannedTest> tests, const History& history,
                                     const std::vector<Orderer>& orderers) {
  // Look each test's history up once, not on every comparison.
  struct Keyed {
    bool failed;
    PlannedTest test;
  };
  std::vector<Keyed> keyed;
  keyed.reserve(tests.size());
  for (PlannedTest& t : tests) {
    const TestRecord* record = history.find(t.name);
    keyed.push_back({record != nullptr && record->last == Outcome::failed, std::move(t)});
  }
  std::sort(keyed.begin(), keyed.end(), [&](const Keyed& a, const Keyed& b) {
    for (Orderer o : orderers) {
      switch (o) {
        case Orderer::failed_first:
          if (a.failed != b.failed) return a.failed;
          break;
        case Orderer::longest_first:
          if (a.test.seconds != b.test.seconds) return a.test.seconds > b.test.seconds;
          break;
      }
    }
    return a.test.name < b.test.name;
  });
  for (std::size_t i = 0; i < keyed.size(); ++i) tests[i] = std::move(keyed[i].test);
  return tests;
}

}  // namespace tlb
