// `tlb balancer`: the original TLB's balancing server for any language (tlb-alien.jar), one process a
// partition, started before the tests and stopped after them.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>

#include "cli/settings.hpp"

namespace tlb::cli {

// Adds the `balancer` subcommand to `app`; returns the action to run when it was chosen, which serves until
// stopped and returns the exit status (0, or 1 when the last reports could not be stored).
std::function<int(std::ostream& out, std::ostream& err, const Environment& env)> add_balancer_command(
    CLI::App& app);

}  // namespace tlb::cli
