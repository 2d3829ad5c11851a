// Ordering the tests of one partition: what to run first.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlb/history.hpp"
#include "tlb/split.hpp"

namespace tlb {

enum class Orderer {
  failed_first,   // Tests whose last recorded outcome is a failure come first.
  longest_first,  // Longer predicted duration first (what `ctest -j` wants to see early).
};

std::string_view to_string(Orderer orderer);
std::optional<Orderer> parse_orderer(std::string_view name);

// Failed last time first, then longest first: what TLB_ORDERER defaults to.
inline std::vector<Orderer> default_orderers() {
  return {Orderer::failed_first, Orderer::longest_first};
}

// Returns the tests sorted by the orderers in turn (the first orderer decides first), then by name. An empty
// list of orderers gives name order.
std::vector<PlannedTest> order_tests(std::vector<PlannedTest> tests, const History& history,
                                     const std::vector<Orderer>& orderers);

}  // namespace tlb
