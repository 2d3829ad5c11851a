// The plan file: the whole split, written once by `tlb plan --out` and read by every partition's hook
// (TLB_PLAN), so that the jobs of a run compute nothing and cannot disagree.
#pragma once

#include <string>
#include <vector>

#include "io/fingerprint.hpp"
#include "tlb/split.hpp"
#include "tlb/test.hpp"

namespace tlb::cli {

struct PlanFile {
  Plan plan;  // Each partition's tests in name order, with their estimates.
  std::vector<std::vector<std::string>> run_order;  // Each partition's tests in the order to run them.
  io::SplitFingerprint fingerprint;                 // What decided the split.
  std::string history_source;                       // As a partition record has them.
  std::string history_status;
};

// Writes `file` atomically to `path`. Throws InputError naming `path` for a name that is not valid UTF-8.
void write_plan_file(const std::string& path, const PlanFile& file);

// Reads a plan file; throws InputError naming `path` when it is not one, or is of a newer version.
PlanFile read_plan_file(const std::string& path);

// Checks that `tests` (this build tree's list) is the list `file` was made for, and that the partitions agree
// (`total`); throws InputError naming `path` and what differs, so no test runs on another tree's plan.
void check_plan_file(const PlanFile& file, const std::string& path, const std::vector<Test>& tests,
                     int total);

}  // namespace tlb::cli
