// `tlb swarm run`: runs the build tree's test suite on a swarm of `tlb agent`s (docs/swarm-protocol.md):
// submits it to the coordinator, shows progress, waits for the results, and writes the same partition records
// as a split run does (one per agent), so that `tlb verify` and `tlb report` work on it.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>

#include "cli/settings.hpp"

namespace tlb::cli {

// Adds the `swarm` command group (with its subcommand `run`) to `app`; returns the action to run when it was
// chosen, which returns the exit status: 0 every test passed or was skipped, 8 a test failed (ctest's
// convention), 1 the coordinator could not be used, 2 bad flag or variable.
std::function<int(std::ostream& out, std::ostream& err, const Environment& env)> add_swarm_command(
    CLI::App& app);

}  // namespace tlb::cli
