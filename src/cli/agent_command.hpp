// `tlb agent`: volunteers this machine to a swarm (docs/swarm-protocol.md): registers with the coordinator, a
// `tlb server`, pulls tests, runs each with ctest in its build tree and reports the result as it finishes.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>

#include "cli/settings.hpp"

namespace tlb::cli {

// Adds the `agent` subcommand to `app`; returns the action to run when it was chosen, which works until it is
// stopped (or, with --exit-when-idle, until the swarm has no work) and returns the exit status: 0 stopped,
// 1 evicted or the coordinator lost.
std::function<int(std::ostream& out, std::ostream& err, const Environment& env)> add_agent_command(
    CLI::App& app);

}  // namespace tlb::cli
