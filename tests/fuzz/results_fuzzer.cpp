// libFuzzer target for the results parser: any input must be read or rejected with InputError, never crash,
// hang or leak; what is read must hold the parser's promises (UTF-8 names, finite non-negative times, lines
// within the document), and matching must find every named result among its own names.
//
//   cmake --preset fuzz && cmake --build build/fuzz --target tlb_results_fuzzer
//   build/fuzz/tests/fuzz/tlb_results_fuzzer -max_total_time=120 tests/fuzz/results-corpus
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "io/results.hpp"
#include "io/text.hpp"

namespace {

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = lead < 0x80                    ? 1
                         : lead >= 0xC2 && lead <= 0xDF ? 2
                         : lead >= 0xE0 && lead <= 0xEF ? 3
                         : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                        : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

void check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tlb::io::ResultFile file;
  try {
    file = tlb::io::parse_results(text, "fuzz");
  } catch (const tlb::io::InputError& e) {
    check(e.source() == "fuzz");
    return 0;
  }
  // Every line break of the input is one line (UTF-16 has two bytes per character).
  const std::size_t lines = 1 + static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  std::vector<std::string> names;
  for (const tlb::io::TestResult& result : file.results) {
    check(valid_utf8(result.name) && valid_utf8(result.classname));
    check(!result.seconds || (std::isfinite(*result.seconds) && *result.seconds >= 0));
    check(result.line >= 1 && result.line <= lines);
    const std::string name = tlb::io::ctest_name(result, file.format);
    check(name.empty() == result.name.empty());
    if (!name.empty()) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  // With its own names known, every named result is matched; without, the same.
  for (const auto& known : {names, std::vector<std::string>{}}) {
    const tlb::io::Matching matching = tlb::io::match_to_ctest(file, known);
    std::size_t nameless = 0;
    for (const tlb::io::TestResult& result : file.results) nameless += result.name.empty();
    check(matching.unmatched.size() == nameless);
    check(matching.matched.size() <= file.results.size() - nameless);
  }
  return 0;
}
