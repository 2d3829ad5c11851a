// `tlb run [--queue] -- ctest [ctest args]`: runs ctest for one job of a CI matrix. As is, the command runs
// unchanged (include(TLB)'s hook makes the static split); with --queue, the job joins its CI run on a TLB
// server and pulls tests from the run's queue as it goes, so that jobs of different speeds finish together
// (docs/swarm-protocol.md: a queue-mode run is a trusted swarm run whose agents are the CI's own jobs).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>

#include "cli/settings.hpp"

namespace tlb::cli {

// Adds the `run` subcommand to `app`; returns the action to run when it was chosen, which returns the exit
// status: ctest's own as is; with --queue, 0 when every test this job ran passed or was skipped, 8 when one
// failed (ctest's convention), 1 when the server failed it, 2 bad flag or variable, 128 + the signal that
// stopped it.
std::function<int(std::ostream& out, std::ostream& err, const Environment& env)> add_run_command(
    CLI::App& app);

}  // namespace tlb::cli
