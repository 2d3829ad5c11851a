// Proof that every test ran exactly once: checks a set of partition records, wherever they were kept (files
// for `tlb verify`, a server's database for `tlb server`). The text and JSON forms are what `tlb verify`
// prints.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/record.hpp"

namespace tlb::io {

struct LoadedRecord {
  std::string path;
  PartitionRecord record;
};

// The kinds of problem, in the order they are reported.
enum class ProblemKind {
  inconsistent,          // A record saw another total, test list or history snapshot than the others.
  missing_partition,     // No record of a partition 1..N.
  duplicate_partition,   // Two records of one partition.
  no_results,            // A record `tlb record` never completed.
  unassigned,            // A test of the list that no partition was given.
  assigned_twice,        // A test (not a fixture attachment) given to two partitions.
  not_in_test_list,      // A partition was given a test the list does not hold.
  lost,                  // A test given to a partition that has no result for it.
  duplicated,            // A test (not an attachment) that ran in two partitions.
  ran_but_not_assigned,  // A result for a test its partition was not given.
  history,               // A partition split without its history (a problem only when strict).
};

std::string_view to_string(ProblemKind kind);

struct Problem {
  ProblemKind kind;
  std::string test;             // "" for problems of a whole partition.
  std::vector<int> partitions;  // The partitions concerned, ascending.
  std::string message;          // One line, naming the test and partitions (and records' files).
};

// A partition run more than once (a CI retry): its latest attempt (by the record's split_at) stands, the
// earlier ones are history, not duplicates.
struct Retry {
  int partition = 0;
  std::size_t earlier = 0;  // Earlier attempts set aside.
  std::string message;      // One line naming the records.
};

// "partition 3 retried once", "... twice", "... 3 times".
std::string retried_text(int partition, std::size_t earlier);

struct Verification {
  std::vector<Problem>
      problems;  // Grouped by kind, in ProblemKind order; within a kind by test, then partition.
  std::vector<Problem> notes;   // Not failures: history that was not ok (unless strict).
  int total = 0;                // N, as most records say.
  std::size_t tests = 0;        // Tests in the list, as most records have it.
  std::size_t attachments = 0;  // Fixture tests that ran in several partitions, as allowed.
  std::vector<Retry> retries;   // Partitions whose latest attempt stands, in partition order.
  // The run keys when the records were of several runs (cells of a CI matrix), each checked on its own;
  // total and tests are then the first run's. Empty for one run.
  std::vector<std::string> runs;
  bool proven() const { return problems.empty(); }
};

// Checks a set of records: agreement (total, test list hash, history hash, and each list against its own
// hash), partitions 1..N present exactly once, every test assigned once (attachments in each partition that
// needs them), every assigned test ran, none ran twice or where it was not assigned. `strict` makes history
// that was not ok a problem instead of a note. Records of different run keys are checked as separate runs
// (Verification::runs). Deterministic whatever the order of `records`.
Verification verify_records(std::vector<LoadedRecord> records, bool strict);

// For a run ledger: what differs between the inputs `mine` split on and those of its run's first record,
// `first` (see fingerprint_difference); nullopt when they agree or either record has no fingerprint.
std::optional<std::string> split_inputs_differ(const PartitionRecord& mine, const PartitionRecord& first);

// What `tlb verify` prints: a summary line, the problems grouped by kind, notes, and the verdict. `records`
// is how many records were read.
std::string verification_text(const Verification& verification, std::size_t records);

// What `tlb verify --json` prints: {"proven", "total", "records", "tests", "problems": [{kind, test,
// partitions, message}], "notes": [...]}.
std::string verification_json(const Verification& verification, std::size_t records);

// Reads verification_json()'s document back (from a server). Throws InputError naming `source` when it is
// not one. Sets `records` to the count it holds.
Verification parse_verification_json(std::string_view text, const std::string& source, std::size_t& records);

}  // namespace tlb::io
