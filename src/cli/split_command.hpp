// `tlb split`: which tests this partition runs.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>

#include "cli/settings.hpp"

namespace tlb::cli {

// Adds the `split` subcommand to `app`; returns the action to run when it was chosen.
std::function<void(std::ostream& out, std::ostream& err, const Environment& env)> add_split_command(
    CLI::App& app);

}  // namespace tlb::cli
