// `tlb record`: stores what a run measured (durations, results) and completes the partition's record.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "cli/settings.hpp"
#include "io/record.hpp"
#include "store/store.hpp"

namespace tlb::cli {

// Adds the `record` subcommand to `app`; returns the action to run when it was chosen.
std::function<void(std::ostream& out, std::ostream& err, const Environment& env)> add_record_command(
    CLI::App& app);

// What a store folds in for one recorded result: an error is a failure.
store::Observation observation_of(const io::RecordedResult& result);

// The partition records in `directory`: the *.json files in it and in its tlb/ folder (where the CMake hook
// writes them) that are records, sorted by path. Other JSON files are passed over.
std::vector<std::string> partition_records_in(const std::string& directory);

// Whether `path` starts like a partition record ("kind": "tlb-partition-record" near the top).
bool looks_like_partition_record(const std::string& path);

// The run a completed record reports, dated `recorded_on` (or `fallback` when the record has none).
store::RunReport report_of(const io::PartitionRecord& record, store::Date fallback);

}  // namespace tlb::cli
