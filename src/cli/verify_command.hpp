// `tlb verify`: proves from the partitions' records that every test ran exactly once and no partition is
// missing.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "cli/settings.hpp"
#include "io/record.hpp"

namespace tlb::cli {

// Adds the `verify` subcommand to `app`; returns the action to run when it was chosen, which returns the
// exit status: 0 proven, 1 a problem found.
std::function<int(std::ostream& out, std::ostream& err, const Environment& env)> add_verify_command(
    CLI::App& app);

struct LoadedRecord {
  std::string path;
  io::PartitionRecord record;
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

struct Verification {
  std::vector<Problem>
      problems;  // Grouped by kind, in ProblemKind order; within a kind by test, then partition.
  std::vector<Problem> notes;   // Not failures: history that was not ok (unless strict).
  int total = 0;                // N, as most records say.
  std::size_t tests = 0;        // Tests in the list, as most records have it.
  std::size_t attachments = 0;  // Fixture tests that ran in several partitions, as allowed.
  bool proven() const { return problems.empty(); }
};

// Checks a set of records: agreement (total, test list hash, history hash, and each list against its own
// hash), partitions 1..N present exactly once, every test assigned once (attachments in each partition that
// needs them), every assigned test ran, none ran twice or where it was not assigned. `strict` makes history
// that was not ok a problem instead of a note. Deterministic whatever the order of `records`.
Verification verify_records(std::vector<LoadedRecord> records, bool strict);

}  // namespace tlb::cli
