// The dashboard's routes (read-only HTML; the pages themselves are dashboard.cpp's): the index, a job's runs,
// a run's report.
#include <algorithm>
#include <iterator>

#include "io/record.hpp"
#include "io/text.hpp"
#include "io/verification.hpp"
#include "server/names.hpp"
#include "server/replies.hpp"
#include "server/server_impl.hpp"

namespace tlb::server {
namespace {

constexpr std::size_t kIndexRuns = 10;     // Runs per job on the index.
constexpr std::size_t kJobPageRuns = 200;  // Runs on a job's page (versions are purged after a week anyway).
constexpr std::size_t kEarlierRuns = 10;   // Earlier runs whose records a run's report compares with.

}  // namespace

Reply Server::Impl::dashboard_page(const std::map<std::string, std::string>& query) {
  const auto given = [&](const char* key) -> std::optional<std::string> {
    const auto it = query.find(key);
    if (it == query.end()) return std::nullopt;
    return it->second;
  };
  const std::optional<std::string> job = given("job"), version = given("version");
  for (const auto& [what, name] : {std::pair{"job", job}, std::pair{"version", version}}) {
    if (!name) continue;
    if (auto reason = check_name(what, *name)) return html_reply(400, dashboard::error_page(400, *reason));
  }
  if (version && !job)
    return html_reply(400, dashboard::error_page(400, "a version needs its job: ?job=J&version=V"));
  if (job && version) return run_report(*job, *version);

  // Read under the lock; parsed and verified after it, so that writers do not wait for the page.
  const std::size_t shown = job ? kJobPageRuns : kIndexRuns;
  const std::vector<StoredRuns> stored = database.transaction(false, [&](Session& s) {
    std::vector<StoredRuns> jobs;
    for (const std::string& name : s.jobs()) {
      if (job && name != *job) continue;
      StoredRuns runs{name, s.versions(name), {}, {}};
      for (std::size_t i = 0; i < runs.versions.size() && i < shown; ++i) {
        const VersionSummary& run = runs.versions[i];
        runs.checked.push_back(checks.find(name, run.version, run.records_generation));
        runs.records.push_back(runs.checked.back() || run.partitions == 0 ? std::vector<StoredRecord>{}
                                                                          : s.records(name, run.version));
      }
      jobs.push_back(std::move(runs));
    }
    return jobs;
  });
  std::vector<dashboard::JobRuns> pages;
  pages.reserve(stored.size());
  for (const StoredRuns& runs : stored) pages.push_back(job_runs(runs));
  if (!job) return html_reply(200, dashboard::index_page(pages, options.tlb_version, generated()));
  if (pages.empty()) {
    return html_reply(404,
                      dashboard::error_page(404, "the server holds no history and no run of job " + *job));
  }
  return html_reply(200, dashboard::job_page(pages.front(), options.tlb_version, generated()));
}

dashboard::JobRuns Server::Impl::job_runs(const StoredRuns& stored) {
  dashboard::JobRuns runs{stored.job, {}, stored.versions.size()};
  for (std::size_t i = 0; i < stored.records.size(); ++i) {
    const VersionSummary& version = stored.versions[i];
    dashboard::RunRow row{version.version, version.created, version.partitions, false, 0};
    if (const std::optional<RunCheck>& kept = stored.checked[i]) {
      row.proven = kept->proven;
      row.problems = kept->problems;
    } else if (!stored.records[i].empty()) {
      std::vector<io::LoadedRecord> loaded;
      for (const StoredRecord& record : stored.records[i]) {
        const std::string source = record_source(stored.job, version.version, record.id);
        loaded.push_back(io::LoadedRecord{source, parse_stored(record, source)});
      }
      const io::Verification verification = io::verify_records(std::move(loaded), false);
      row.proven = verification.proven();
      row.problems = verification.problems.size();
      checks.put(stored.job, version.version, RunCheck{version.records_generation, row.proven, row.problems});
    }
    runs.runs.push_back(std::move(row));
  }
  return runs;
}

// The report library's page of one run: its records, the job's live history, and the records of up to
// kEarlierRuns runs before it (for the tests that both passed and failed).
Reply Server::Impl::run_report(const std::string& job, const std::string& version) {
  struct Found {
    bool known = false;
    std::vector<StoredRecord> records;
    std::vector<std::pair<std::string, StoredRecord>> earlier;
    store::Timings history;
  };
  const Found found = database.transaction(false, [&](Session& s) {
    Found f;
    const std::vector<VersionSummary> versions = s.versions(job);
    const auto mine = std::find_if(versions.begin(), versions.end(),
                                   [&](const VersionSummary& v) { return v.version == version; });
    f.known = mine != versions.end();
    if (!f.known) return f;
    f.records = s.records(job, version);
    std::size_t runs = 0;
    for (auto older = std::next(mine); older != versions.end() && runs < kEarlierRuns; ++older) {
      if (older->partitions == 0) continue;
      ++runs;
      for (StoredRecord& record : s.records(job, older->version))
        f.earlier.emplace_back(older->version, std::move(record));
    }
    f.history = s.history(job);
    return f;
  });
  if (!found.known) {
    return html_reply(404,
                      dashboard::error_page(404, "the server holds no run " + version + " of job " + job));
  }
  if (found.records.empty()) {
    return html_reply(
        404, dashboard::error_page(404, "no partition of " + job + " run " + version + " has reported"));
  }
  report::RunData run;
  run.title = job + ", run " + version;
  for (const StoredRecord& stored : found.records) {
    run.records.push_back(parse_stored(stored, record_source(job, version, stored.id)));
  }
  // A cell of a CI matrix says which: "job J, run 1234.5f0e3c2a (config Release / CXX GNU 12.2.0 / ...)".
  if (!run.records.front().run_key.empty()) run.title += " (" + run.records.front().run_key + ")";
  for (const auto& [older, stored] : found.earlier) {
    run.earlier.push_back(parse_stored(stored, record_source(job, older, stored.id)));
  }
  run.history = store::to_history(found.history);
  run.generated = generated();
  return html_reply(200, dashboard::run_page(job, run));
}

// The footer's date: the day the server takes as today (SOURCE_DATE_EPOCH's when set, for reproducible
// pages), with the time of day only when that is the clock's own day.
std::string Server::Impl::generated() const {
  const store::Date today = options.today();
  const std::string now = dashboard::format_time(options.now());
  const std::string day = store::format_date(today);
  return now.starts_with(day) ? now : day;
}

}  // namespace tlb::server
