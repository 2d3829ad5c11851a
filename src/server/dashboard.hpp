// The pages of `tlb server`'s read-only dashboard, as pure functions of what the database holds (server.cpp
// reads it and routes): the index of jobs and their recent runs, a job's runs, a run's report (the report
// library's page, with a way back), and error pages. Every name is escaped; the pages fetch nothing and carry
// no script.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report/report.hpp"

namespace tlb::server::dashboard {

// One CI run (a job version) in a list.
struct RunRow {
  std::string version;
  std::int64_t first_seen = 0;  // Unix seconds.
  std::size_t partitions = 0;   // Partition records stored; a run without any is listed but not linked.
  bool proven = false;          // `tlb verify` of its records proves it.
  std::size_t problems = 0;     // When not proven: how many problems the verification found.
};

struct JobRuns {
  std::string job;
  std::vector<RunRow> runs;  // Newest first: the ones shown.
  std::size_t all_runs = 0;  // How many the server holds.
};

// GET /: every job with its recent runs, each linking to its report.
std::string index_page(const std::vector<JobRuns>& jobs, std::string_view tlb_version,
                       std::string_view generated);

// GET /?job=J: the job's runs.
std::string job_page(const JobRuns& job, std::string_view tlb_version, std::string_view generated);

// GET /?job=J&version=V: the report library's page of the run, with links back to the index and the job.
std::string run_page(const std::string& job, const report::RunData& run);

// A page for a refused or unknown request: the status and one line.
std::string error_page(int status, std::string_view message);

// "YYYY-MM-DD HH:MM UTC".
std::string format_time(std::int64_t unix_seconds);

}  // namespace tlb::server::dashboard
