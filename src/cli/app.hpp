// The `tlb` command line: subcommands on one CLI11 application.
#pragma once

#include <iosfwd>

#include "cli/settings.hpp"

namespace tlb::cli {

// Exit statuses: 0 success, 1 bad input (a file that cannot be read or parsed), 2 misconfiguration (flags,
// variables).
enum ExitStatus { kSuccess = 0, kInputError = 1, kUsageError = 2 };

// Runs `tlb` with `argv`; output goes to `out`, messages to `err`, variables come from `env`.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, const Environment& env);

}  // namespace tlb::cli
