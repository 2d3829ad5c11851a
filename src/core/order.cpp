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
  auto failed = [&](const PlannedTest& t) {
    const TestRecord* record = history.find(t.name);
    return record != nullptr && record->last == Outcome::failed;
  };
  std::sort(tests.begin(), tests.end(), [&](const PlannedTest& a, const PlannedTest& b) {
    for (Orderer o : orderers) {
      switch (o) {
        case Orderer::failed_first:
          if (failed(a) != failed(b)) return failed(a);
          break;
        case Orderer::longest_first:
          if (a.seconds != b.seconds) return a.seconds > b.seconds;
          break;
      }
    }
    return a.name < b.name;
  });
  return tests;
}

}  // namespace tlb
