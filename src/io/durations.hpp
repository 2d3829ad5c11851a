// Reading durations from the files users migrate from, as history.
#pragma once

#include <string>
#include <string_view>

#include "tlb/history.hpp"

namespace tlb::io {

enum class DurationFormat {
  json_object,   // {"name": seconds, ...}: pytest-split's .test_durations, knapsack's report.
  name_seconds,  // "<name> <seconds>" a line; the name may contain spaces.
  seconds_name,  // "<seconds> <name>" a line, LLVM lit's .lit_test_times.txt; negative means it failed last
                 // run.
  ctest_cost_data,  // CTest's Testing/Temporary/CTestCostData.txt: "<name> <runs> <mean>", "---", failed
                    // names.
};

std::string_view to_string(DurationFormat format);

struct Durations {
  History history;
  DurationFormat format = DurationFormat::json_object;
};

// Detects the format from the content. Throws InputError naming `source` and the line when no format fits or
// a value is bad (negative or non-numeric durations).
Durations parse_durations(std::string_view text, const std::string& source);

Durations read_durations(const std::string& path);

}  // namespace tlb::io
