// The original TLB server's text routes (formats and messages in original.cpp): suite times and results,
// subset sizes, and the correctness check of a run's partitions.
#include <algorithm>
#include <cstdint>
#include <map>

#include "io/text.hpp"
#include "server/names.hpp"
#include "server/original.hpp"
#include "server/replies.hpp"
#include "server/request_limits.hpp"
#include "server/server_impl.hpp"

namespace tlb::server {
namespace {

// The original's suite list of a correctness check; a malformed one is refused with 400 naming the line.
std::vector<SetEntry> suite_list(std::string_view body) {
  try {
    std::vector<SetEntry> suites = original::parse_suite_list(body);
    check_test_count(suites.size(), "suite list");
    return suites;
  } catch (const original::BadInput& e) {
    refuse(400, e.what());
  }
}

}  // namespace

Reply Server::Impl::suite_time(std::string_view method, const std::string& job, std::string_view body) {
  if (method == "GET") return live_read("suite_time", job, kText, original::format_suite_times);
  std::vector<std::pair<std::string, std::int64_t>> times;
  try {
    times = original::parse_suite_times(body);
  } catch (const original::BadInput& e) {
    refuse(400, e.what());
  }
  check_test_count(times.size(), "suite time list");
  // Merged by name (a name given twice keeps its last time): the original client already smoothed.
  std::map<std::string, std::int64_t> merged;
  for (auto& [name, ms] : times) {
    if (auto reason = check_duration(static_cast<double>(ms) / 1000.0, "'" + printable(name) + "'")) {
      refuse(400, *reason);
    }
    merged[name] = ms;
  }
  const store::Date today = options.today();
  database.transaction(true, [&](Session& s) {
    const store::Timings before = s.history(job);
    store::Timings after = before;
    for (const auto& [name, ms] : merged) {
      auto [it, inserted] = after.try_emplace(name, store::TimedRecord{TestRecord{}, today});
      it->second.record.seconds = static_cast<double>(ms) / 1000.0;
      if (it->second.record.runs < UINT32_MAX) ++it->second.record.runs;
      it->second.last_seen = today;
    }
    s.replace_history(job, before, after);
  });
  return text_reply(200, "");
}

Reply Server::Impl::suite_result(std::string_view method, const std::string& job, std::string_view body) {
  if (method == "GET") return live_read("suite_result", job, kText, original::format_suite_results);
  std::vector<std::pair<std::string, bool>> results;
  try {
    results = original::parse_suite_results(body);
  } catch (const original::BadInput& e) {
    refuse(400, e.what());
  }
  check_test_count(results.size(), "suite result list");
  const store::Date today = options.today();
  database.transaction(true, [&](Session& s) {
    const store::Timings before = s.history(job);
    store::Timings after = before;
    for (const auto& [name, failed] : results) {
      auto [it, inserted] = after.try_emplace(name, store::TimedRecord{TestRecord{}, today});
      it->second.record.last = failed ? Outcome::failed : Outcome::passed;
      it->second.last_seen = std::max(it->second.last_seen, today);
    }
    s.replace_history(job, before, after);
  });
  return text_reply(200, "");
}

Reply Server::Impl::subset_size(std::string_view method, const std::string& ns, std::string_view body) {
  if (method == "GET") {
    const std::vector<std::int64_t> sizes =
        database.transaction(false, [&](Session& s) { return s.subset_sizes(ns); });
    std::string text;
    for (std::int64_t size : sizes) text += std::to_string(size) + "\n";
    return text_reply(200, std::move(text));
  }
  const std::string_view trimmed = io::trim(body);
  const auto size = io::parse_int(trimmed);
  if (!size) refuse(400, "subset size '" + printable(trimmed, 40) + "' is not a whole number");
  database.transaction(true, [&](Session& s) { s.add_subset_size(ns, *size); });
  return text_reply(200, "");
}

Reply Server::Impl::universal_set(const std::string& job, const std::string& version,
                                  const std::string& module, std::string_view body) {
  const std::vector<SetEntry> posted = suite_list(body);
  return database.transaction(true, [&](Session& s) -> Reply {
    const std::vector<SetEntry> stored = s.universal_set(job, version, module);
    if (stored.empty()) {
      s.touch_version(job, version, options.now());
      s.put_universal_set(job, version, module, posted);
      return text_reply(201, "");
    }
    if (auto mismatch = original::universal_set_mismatch(stored, posted)) return text_reply(409, *mismatch);
    return text_reply(200, "");
  });
}

Reply Server::Impl::sub_set(const std::string& job, const std::string& version, PartitionId id,
                            const std::string& module, std::string_view body) {
  const std::vector<SetEntry> posted = suite_list(body);
  return database.transaction(true, [&](Session& s) -> Reply {
    std::vector<SetEntry> universal = s.universal_set(job, version, module);
    if (universal.empty()) {
      return text_reply(
          406, "Universal set for given job-name, job-version and module-name combination doesn't exist.\n");
    }
    s.add_subset_report(job, version, module, id);
    const original::SubsetOutcome outcome =
        original::check_subset(universal, posted, id, s.subset_reports(job, version, module), module);
    for (const std::string& name : outcome.marked) s.mark(job, version, module, name, id);
    return outcome.success ? text_reply(200, "") : text_reply(409, outcome.message);
  });
}

Reply Server::Impl::completeness(const std::string& job, const std::string& version,
                                 const std::string& module) {
  const std::vector<PartitionId> reports =
      database.transaction(false, [&](Session& s) { return s.subset_reports(job, version, module); });
  const original::Completeness result = original::check_completeness(reports, module);
  return text_reply(result.complete ? 200 : 417, result.message);
}
}  // namespace tlb::server
