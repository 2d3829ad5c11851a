// A partition's record: what it was given to run, on what test list and history, and what ran. Written by the
// hook (`tlb split --record`) before the run, completed by `tlb record` after it, read by `tlb merge` and
// `tlb verify`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/fingerprint.hpp"
#include "io/results.hpp"
#include "tlb/split.hpp"

namespace tlb::io {

struct RecordedResult {
  std::string name;  // CTest test name.
  ResultStatus status = ResultStatus::passed;
  std::optional<double> seconds;

  friend bool operator==(const RecordedResult&, const RecordedResult&) = default;
};

// What the split predicted for the whole run, as this partition's split saw it.
struct RecordedPlan {
  std::vector<double>
      predicted_seconds;           // Each partition's predicted time, 1..N (seconds of a weight-1 partition).
  double lower_bound_seconds = 0;  // No schedule finishes before this.
  double makespan_seconds = 0;     // The predicted makespan: the largest of predicted_seconds / weight.

  friend bool operator==(const RecordedPlan&, const RecordedPlan&) = default;
};

// One test's estimate, as the split used it.
struct RecordedEstimate {
  std::string name;
  double seconds = 0;
  Estimate estimate = Estimate::history;  // Where it came from: history, COST, the fallback, or disabled.

  friend bool operator==(const RecordedEstimate&, const RecordedEstimate&) = default;
};

std::string_view to_string(Estimate estimate);

struct PartitionRecord {
  int partition = 0;  // 1-based.
  int total = 0;
  std::string splitter;                // The splitter that made the split ("time", "count", "round-robin").
  std::vector<std::string> all_tests;  // The full test list the split was made on, sorted.
  std::string test_list_hash;          // hash_names(all_tests).
  std::string history_source;          // Store path or URL the history came from ("" when none).
  std::string job;  // With a server store: the job name (TLB_JOB_NAME) and run (TLB_JOB_VERSION) the
  std::string
      job_version;  // history was read for and results go to, so `tlb record` needs no more ("" else).
  // What tells this cell of a CI matrix from the others (configuration, compiler, system, CI job,
  // TLB_RUN_KEY): records of different run keys are different runs ("" in records of earlier tlb, and when
  // nothing is known).
  std::string run_key;
  std::string history_status;            // "ok", "missing", "corrupt", "unavailable".
  std::string history_hash;              // Hash of the history the split was made on ("" when none).
  std::vector<std::string> tests;        // Assigned to this partition, sorted; includes the attachments.
  std::vector<std::string> attachments;  // Fixture setup/cleanup tests, which may be in several partitions.
  bool has_results = false;              // Set once `tlb record` added what ran.
  std::vector<RecordedResult> results;   // Sorted by name.
  std::optional<RecordedPlan> plan;      // The split's prediction; absent in records of tlb before 0.x.
  std::vector<RecordedEstimate> estimates;  // This partition's tests in name order, with their estimates.
  std::string recorded_on;  // UTC date (YYYY-MM-DD) `tlb record` added the results, so that `tlb merge`
                            // dates each test's last run the same whatever day it runs ("" before).
  std::optional<SplitFingerprint> fingerprint;  // What decided the split; absent in records of older tlb.

  // UTC time the hook split (ISO 8601, microseconds): orders a partition's attempts, the latest standing (""
  // in records of earlier tlb).
  std::string split_at;
  // The -j of the ctest that ran the partition (0: not known).
  int ctest_parallel_level = 0;
  // The project's top source directory, which a relative TLB_STORE is under ("" when not known).
  std::string source_dir;

  friend bool operator==(const PartitionRecord&, const PartitionRecord&) = default;
};

// The current UTC time as split_at holds it: "2026-12-07T06:30:12.123456Z".
std::string utc_timestamp();

// Records of one partition (same job, job version, run key, partition and total) split at different times
// are attempts of it: the
// latest stands. True for each record split before its partition's latest attempt. Records split at the
// same time (or before split_at was written) all stand.
std::vector<bool> earlier_attempts(const std::vector<const PartitionRecord*>& records);

// A stable hash of a sorted name list, as text ("fnv1a64:<16 hex digits>").
std::string hash_names(const std::vector<std::string>& sorted_names);

// The record's JSON text, as write_record writes it. Throws InputError naming `source` for a name that is
// not valid UTF-8.
std::string format_record(const PartitionRecord& record, const std::string& source);

// Writes atomically (a temporary file beside `path`, then rename). Creates missing parent directories.
void write_record(const std::string& path, const PartitionRecord& record);

// Throws InputError naming the file (and line) when it is not a record or is of a newer version.
PartitionRecord read_record(const std::string& path);

// read_record() of text that came from elsewhere (a server's request body); `source` names it in errors.
PartitionRecord parse_record(std::string_view text, const std::string& source);

}  // namespace tlb::io
