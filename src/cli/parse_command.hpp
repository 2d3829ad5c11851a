// `tlb parse`: what TLB reads from test results files (JUnit XML, ctest's own formats, GoogleTest's XML).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>

#include "cli/settings.hpp"

namespace tlb::cli {

// Adds the `parse` subcommand to `app`; returns the action to run when it was chosen.
std::function<void(std::ostream& out, std::ostream& err, const Environment& env)> add_parse_command(
    CLI::App& app);

}  // namespace tlb::cli
