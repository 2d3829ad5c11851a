// What the ctest that runs the include(TLB) hook was asked to do, read from its command line. The hook passes
// ctest's /proc/self/cmdline (so this is known on Linux only); ctest shows its filters and -j to no script.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlb/test.hpp"

namespace tlb::cli {

struct CtestInvocation {
  std::optional<std::string> include_regex;  // -R (the last one given, as ctest takes it).
  std::optional<std::string> exclude_regex;  // -E
  std::vector<std::string> label_regex;      // -L: a test needs a label matching each.
  std::vector<std::string> label_exclude;    // -LE: a test is left out when a label matches each.
  std::optional<int> parallel_level;         // -j N, -jN, --parallel N.
  bool rerun_failed = false;                 // --rerun-failed
  std::string filters;                       // The filter options as given, for messages ("-R parser").

  bool filtered() const { return !filters.empty(); }
};

// The bytes of lowercase or uppercase hex text (CMake's file(READ ... HEX)); nullopt when it is not hex.
std::optional<std::string> from_hex(std::string_view hex);

// Reads ctest's arguments, separated by NUL bytes, the program first. Unknown options are passed over.
CtestInvocation parse_ctest_invocation(std::string_view nul_separated);

// Whether ctest's -R, -E, -L and -LE leave `test` in the run (ECMAScript regular expressions, searched in the
// name or in each label, which agree with ctest's own for the patterns people write). nullopt when a
// pattern is not a valid regular expression.
std::optional<bool> passes_filters(const CtestInvocation& invocation, const Test& test);

}  // namespace tlb::cli
