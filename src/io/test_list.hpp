// Reading the test list: `ctest --show-only=json-v1` output, or one test name per line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tlb/test.hpp"

namespace tlb::io {

// JSON (detected by a leading '{') must be ctest's json-v1 document; anything else is one name per line,
// blank lines ignored. Throws InputError naming `source` and the line on malformed input.
std::vector<Test> parse_test_list(std::string_view text, const std::string& source);

std::vector<Test> read_test_list(const std::string& path);

}  // namespace tlb::io
