// `tlb plan`: before a run, how the suite will be split: each partition's tests and predicted time, the tests
// that have no history yet, and the predicted makespan against the lower bound.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>

#include "cli/settings.hpp"

namespace tlb::cli {

// Adds the `plan` subcommand to `app`; returns the action to run when it was chosen.
std::function<void(std::ostream& out, std::ostream& err, const Environment& env)> add_plan_command(
    CLI::App& app);

}  // namespace tlb::cli
