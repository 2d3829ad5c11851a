// `tlb merge`: joins the partitions' records and timing files into one timing file.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "cli/settings.hpp"
#include "io/record.hpp"
#include "store/file_store.hpp"

namespace tlb::cli {

// Adds the `merge` subcommand to `app`; returns the action to run when it was chosen.
std::function<void(std::ostream& out, std::ostream& err, const Environment& env)> add_merge_command(
    CLI::App& app);

struct MergeInputs {
  store::Timings base;                       // The output file's content, or --base's.
  std::vector<store::Timings> timings;       // Timing files given as inputs.
  std::vector<io::PartitionRecord> records;  // Completed records (others are passed over by the caller).
};

// The merge, independent of the order of the inputs: the base and the timing files are joined per test by
// keep_newer(); then each record's results are folded in, records in partition order (then by content, so
// that even two records of one partition apply in a fixed order); a fixture test that ran in several
// partitions is folded in once per partition, in that order. Records are dated by their `recorded_on`
// (`today` when absent). Of a retried partition's records, only the latest attempt (io::earlier_attempts)
// is folded in. Last, the aging rule.
struct Merged {
  store::Timings timings;
  std::size_t added = 0;             // Tests not in the base.
  std::size_t forgotten = 0;         // Tests dropped by the aging rule.
  std::size_t earlier_attempts = 0;  // Records of retried partitions passed over: the latest attempt stands.
};
Merged merge(const MergeInputs& inputs, const store::HistoryPolicy& policy, store::Date today);

}  // namespace tlb::cli
