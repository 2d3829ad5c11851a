// `tlb verify`: proves from the partitions' records that every test ran exactly once and no partition is
// missing.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "cli/settings.hpp"
#include "io/verification.hpp"

namespace tlb::cli {

// Adds the `verify` subcommand to `app`; returns the action to run when it was chosen, which returns the
// exit status: 0 proven, 1 a problem found.
std::function<int(std::ostream& out, std::ostream& err, const Environment& env)> add_verify_command(
    CLI::App& app);

// The checks themselves live in io/verification.hpp, shared with `tlb server`.
using io::LoadedRecord;
using io::Problem;
using io::ProblemKind;
using io::Verification;
using io::verify_records;

}  // namespace tlb::cli
