// The CMake script `tlb split --cmake-script` writes for the include(TLB) hook: which tests this partition
// runs, and the COST that makes ctest run them in TLB's order.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tlb/split.hpp"

namespace tlb::cli {

// `text` as a CMake bracket argument ([=[...]=]) with enough '=' that nothing inside can close it.
std::string cmake_bracket(std::string_view text);

// Lowercase hex of the bytes of `text`, as CMake's string(HEX) writes it.
std::string hex(std::string_view text);

// The script: `_tlb_summary` (one line for the user), `_tlb_selected` (how many tests), and for each test of
// `ordered` (in run order) `_tlb_cost_<hex of name>` set to its COST, highest first.
std::string hook_script(const std::vector<PlannedTest>& ordered, std::string_view summary);

}  // namespace tlb::cli
