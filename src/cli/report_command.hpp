// `tlb report`: one self-contained HTML page of a run, from its partition records and the history.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "cli/settings.hpp"
#include "io/record.hpp"
#include "io/verification.hpp"

namespace tlb::cli {

// Adds the `report` subcommand to `app`; returns the action to run when it was chosen.
std::function<void(std::ostream& out, std::ostream& err, const Environment& env)> add_report_command(
    CLI::App& app);

// The records of the newest run, and the others. Records are grouped by run: their job_version when they
// have one, else their test_list_hash. The newest group is the one recorded last (recorded_on), then the one
// with the greater job version (as a number when both are), then the one given last. Within it, a partition
// recorded twice keeps its newest record (with results, recorded last, given last); the other goes to
// `earlier` with the records of the other runs. Each list keeps the order the records were given in.
struct RunRecords {
  std::vector<io::LoadedRecord> run;
  std::vector<io::LoadedRecord> earlier;
};
RunRecords group_by_run(std::vector<io::LoadedRecord> records);

}  // namespace tlb::cli
