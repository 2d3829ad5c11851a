// `tlb server`: serves test history and partition records over HTTP to tlb's `http://` store and to the
// original TLB's clients (see spec/server-spec.md and src/server/).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>

#include "cli/settings.hpp"

namespace tlb::cli {

// Adds the `server` subcommand to `app`; returns the action to run when it was chosen (its exit status).
std::function<int(std::ostream& out, std::ostream& err, const Environment& env)> add_server_command(
    CLI::App& app);

}  // namespace tlb::cli
