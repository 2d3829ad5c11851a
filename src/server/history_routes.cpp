// The JSON API of tlb's own clients: a job's live history and a version's frozen snapshot, partition records
// checked as they arrive, run reports folded into the history once, and a run's verification.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "io/record.hpp"
#include "io/text.hpp"
#include "io/verification.hpp"
#include "server/names.hpp"
#include "server/replies.hpp"
#include "server/request_limits.hpp"
#include "server/server_impl.hpp"

namespace tlb::server {
namespace {

using nlohmann::ordered_json;

std::string partition_text(PartitionId id) {
  return std::to_string(id.partition) + "/" + std::to_string(id.total);
}

// FNV-1a 64 of a request body, with its length: what identifies a results body already applied.
std::string body_digest(std::string_view body) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : body) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  constexpr char kDigits[] = "0123456789abcdef";
  std::string text = "fnv1a64:";
  for (int shift = 60; shift >= 0; shift -= 4) text += kDigits[(hash >> shift) & 0xF];
  return text + ":" + std::to_string(body.size());
}

struct ResultsRequest {
  store::RunReport report;
  store::HistoryPolicy policy;
};

ResultsRequest parse_results(std::string_view body) {
  ordered_json document;
  try {
    document = ordered_json::parse(body.begin(), body.end());
  } catch (const ordered_json::exception& e) {
    refuse(400, "request body is not JSON: " + one_line(e.what()));
  }
  if (!document.is_object()) refuse(400, "request body is not a JSON object");
  if (document.value("kind", ordered_json()) != "tlb-run-report") {
    refuse(400, "request body is not a run report (no \"kind\": \"tlb-run-report\")");
  }
  const ordered_json version = document.value("version", ordered_json());
  if (!version.is_number_integer() || version.get<std::int64_t>() < 1) {
    refuse(400, "run report without a valid \"version\"");
  }
  if (version.get<std::int64_t>() > 1) {
    refuse(400, "run report version " + version.dump() +
                    " was written by a newer tlb; this server reads version 1");
  }
  const auto whole = [&](const char* key, std::int64_t low, std::int64_t high, std::int64_t fallback) {
    if (!document.contains(key)) return fallback;
    const ordered_json& value = document[key];
    if (!value.is_number_integer() || value.get<std::int64_t>() < low || value.get<std::int64_t>() > high) {
      refuse(400, std::string("run report: \"") + key + "\" should be a whole number from " +
                      std::to_string(low) + " to " + std::to_string(high));
    }
    return value.get<std::int64_t>();
  };
  ResultsRequest request;
  request.report.partition = static_cast<int>(whole("partition", 0, kMaxPartitions, 0));
  request.report.total = static_cast<int>(whole("total", 0, kMaxPartitions, 0));
  if (request.report.partition > request.report.total) {
    refuse(400, "run report: partition " + std::to_string(request.report.partition) + " of " +
                    std::to_string(request.report.total) + ": partitions are numbered 1 to the total");
  }
  request.policy.forget_after_days = static_cast<int>(whole("forget_after_days", 0, 1'000'000, 30));
  if (document.contains("smoothing_factor")) {
    const ordered_json& alpha = document["smoothing_factor"];
    if (!alpha.is_number() || !(alpha.get<double>() > 0 && alpha.get<double>() <= 1)) {
      refuse(400, "run report: \"smoothing_factor\" should be a number in (0, 1]");
    }
    request.policy.smoothing_factor = alpha.get<double>();
  }
  const ordered_json date = document.value("date", ordered_json());
  const auto parsed_date = date.is_string() ? store::parse_date(date.get<std::string>()) : std::nullopt;
  if (!parsed_date) refuse(400, "run report: \"date\" should be a date YYYY-MM-DD");
  request.report.date = *parsed_date;
  if (document.contains("test_list_hash")) {
    if (!document["test_list_hash"].is_string())
      refuse(400, "run report: \"test_list_hash\" should be a string");
    request.report.test_list_hash = document["test_list_hash"].get<std::string>();
  }
  const ordered_json observations = document.value("observations", ordered_json());
  if (!observations.is_array()) refuse(400, "run report: \"observations\" should be a list");
  check_test_count(observations.size(), "run report");
  std::size_t index = 0;
  for (const ordered_json& item : observations) {
    ++index;
    const std::string where = "run report: observation " + std::to_string(index);
    if (!item.is_object()) refuse(400, where + " should be {\"name\", \"seconds\", \"outcome\"}");
    store::Observation observation;
    const ordered_json name = item.value("name", ordered_json());
    if (!name.is_string()) refuse(400, where + " has no \"name\"");
    observation.name = name.get<std::string>();
    if (auto reason = check_test_name(observation.name)) refuse(400, where + ": " + *reason);
    const ordered_json seconds = item.value("seconds", ordered_json());
    if (!seconds.is_null()) {
      if (!seconds.is_number()) {
        refuse(400,
               where + " ('" + printable(observation.name) + "'): \"seconds\" should be a number or null");
      }
      if (seconds.get<double>() < 0) {
        refuse(400, where + " ('" + printable(observation.name) + "'): negative seconds " + seconds.dump());
      }
      if (auto reason =
              check_duration(seconds.get<double>(), where + " ('" + printable(observation.name) + "')")) {
        refuse(400, *reason);
      }
      observation.seconds = seconds.get<double>();
    }
    const ordered_json outcome = item.value("outcome", ordered_json("unknown"));
    const auto known = outcome.is_string() ? outcome_named(outcome.get<std::string>()) : std::nullopt;
    if (!known) {
      refuse(400, where + " ('" + printable(observation.name) +
                      "'): \"outcome\" should be passed, failed, skipped or unknown");
    }
    observation.outcome = *known;
    request.report.observations.push_back(std::move(observation));
  }
  return request;
}

ordered_json history_json(const std::string& job, const std::optional<std::string>& snapshot,
                          const store::Timings& timings) {
  ordered_json tests = ordered_json::array();
  for (const auto& [name, entry] : timings) {
    tests.push_back(ordered_json{{"name", name},
                                 {"seconds", entry.record.seconds},
                                 {"runs", entry.record.runs},
                                 {"last_result", to_string(entry.record.last)},
                                 {"last_seen", store::format_date(entry.last_seen)}});
  }
  return ordered_json{{"kind", "tlb-history"},
                      {"version", 1},
                      {"job", job},
                      {"snapshot", snapshot ? ordered_json(*snapshot) : ordered_json(nullptr)},
                      {"tests", std::move(tests)}};
}

// Up to 10 names, quoted, then how many more.
std::string some_names(const std::vector<std::string>& names) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < 10; ++i) {
    text += (i == 0 ? "'" : ", '") + printable(names[i]) + "'";
  }
  if (names.size() > 10) text += " and " + std::to_string(names.size() - 10) + " more";
  return text;
}

}  // namespace

std::string record_source(const std::string& job, const std::string& version, PartitionId id) {
  return job + "/" + version + "/partition-" + std::to_string(id.partition) + "-of-" +
         std::to_string(id.total);
}

Reply Server::Impl::history(const std::string& job) {
  const store::Timings timings = database.transaction(false, [&](Session& s) { return s.history(job); });
  return json_reply(200, history_json(job, std::nullopt, timings));
}

store::Timings Server::Impl::snapshot(const std::string& job, const std::string& version) {
  // Read first: once frozen (the common case) no write lock is taken.
  auto frozen = database.transaction(false, [&](Session& s) { return s.snapshot(job, version); });
  if (frozen) return *frozen;
  return database.transaction(true, [&](Session& s) {
    if (auto again = s.snapshot(job, version)) return *again;  // Another request froze it meanwhile.
    s.freeze_snapshot(job, version, options.now());
    return s.snapshot(job, version).value_or(store::Timings{});
  });
}

std::optional<store::Timings> Server::Impl::read_snapshot(const std::string& job, const std::string& version,
                                                          bool may_freeze) {
  if (may_freeze) return snapshot(job, version);
  return database.transaction(false, [&](Session& s) { return s.snapshot(job, version); });
}

Reply Server::Impl::version_history(const std::string& job, const std::string& version, bool may_freeze) {
  if (std::optional<std::string> body = snapshots.find(job, version)) {
    return Reply{200, std::string(kJson), std::move(*body), {}};
  }
  const std::optional<store::Timings> frozen = read_snapshot(job, version, may_freeze);
  if (!frozen) return history(job);  // Not frozen by a read without the token: the live history, said so.
  Reply reply = json_reply(200, history_json(job, version, *frozen));
  snapshots.put(job, version, reply.body);
  return reply;
}

Reply Server::Impl::post_partition(const std::string& job, const std::string& version,
                                   std::string_view body) {
  io::PartitionRecord record;
  try {
    record = io::parse_record(body, "request body");
  } catch (const io::InputError& e) {
    refuse(400, e.what());
  }
  for (const auto* names : {&record.all_tests, &record.tests, &record.attachments}) {
    for (const std::string& test : *names) {
      if (auto reason = check_test_name(test)) refuse(400, "partition record: " + *reason);
    }
  }
  for (const io::RecordedResult& result : record.results) {
    if (auto reason = check_test_name(result.name)) refuse(400, "partition record: " + *reason);
    if (!result.seconds) continue;
    if (auto reason = check_duration(*result.seconds, "partition record: '" + printable(result.name) + "'")) {
      refuse(400, *reason);
    }
  }
  check_test_count(record.all_tests.size(), "partition record");
  check_test_count(record.results.size(), "partition record's results");
  const std::string computed = io::hash_names(record.all_tests);
  if (computed != record.test_list_hash) {
    refuse(400, "partition record: its all_tests hash to " + computed + ", not to its test_list_hash " +
                    printable(record.test_list_hash));
  }
  const PartitionId id{record.partition, record.total};
  const std::string self = "partition " + partition_text(id);
  const std::string text = io::format_record(record, "request body");

  struct Stored {
    PartitionId id;
    io::PartitionRecord record;
  };
  return database.transaction(true, [&](Session& s) -> Reply {
    std::vector<Stored> stored;
    for (const StoredRecord& row : s.records(job, version)) {
      stored.push_back(Stored{row.id, io::parse_record(row.text, record_source(job, version, row.id))});
    }
    s.touch_version(job, version, options.now());
    if (!stored.empty()) {
      const Stored& first = stored.front();
      const std::string other = "partition " + partition_text(first.id);
      if (first.record.total != record.total) {
        refuse(409, self + " saw another total than " + other + " (" + std::to_string(record.total) +
                        " against " + std::to_string(first.record.total) + ")");
      }
      if (first.record.test_list_hash != record.test_list_hash) {
        refuse(409, self + " saw another test list than " + other + " (" + record.test_list_hash +
                        " against " + first.record.test_list_hash + ")");
      }
      if (auto difference = io::split_inputs_differ(record, first.record)) {
        refuse(409, self + " split on other inputs than " + other + ": " + *difference);
      }
    }
    const auto same = std::find_if(stored.begin(), stored.end(), [&](const Stored& r) { return r.id == id; });
    if (same != stored.end() && same->record.tests != record.tests) {
      refuse(409,
             self + " was already recorded with other tests (a retried job must be given the same tests)");
    }
    if (same == stored.end()) {
      const std::set<std::string, std::less<>> attachments(record.attachments.begin(),
                                                           record.attachments.end());
      for (const Stored& other : stored) {
        const std::set<std::string, std::less<>> theirs(other.record.tests.begin(), other.record.tests.end());
        std::vector<std::string> shared;
        for (const std::string& test : record.tests) {
          if (!attachments.contains(test) && theirs.contains(test)) shared.push_back(test);
        }
        if (!shared.empty()) {
          refuse(409, self + " was given " + std::to_string(shared.size()) + " test" +
                          (shared.size() == 1 ? "" : "s") + " that partition " + partition_text(other.id) +
                          " already has: " + some_names(shared));
        }
      }
    }
    // A retried job's record without results does not wipe the results already stored.
    if (same == stored.end() || record.has_results) s.put_record(job, version, id, text);

    std::set<int> present;
    std::size_t count = stored.size() + (same == stored.end() ? 1 : 0);
    for (const Stored& r : stored) {
      if (r.id.total == record.total) present.insert(r.id.partition);
    }
    present.insert(record.partition);
    const bool complete = static_cast<int>(present.size()) == record.total;
    return json_reply(stored.empty() ? 201 : 200, ordered_json{{"partition", record.partition},
                                                               {"total", record.total},
                                                               {"records", count},
                                                               {"complete", complete}});
  });
}

Reply Server::Impl::post_results(const std::string& job, const std::string& version, std::string_view body) {
  const ResultsRequest request = parse_results(body);
  const std::string digest = body_digest(body);
  return database.transaction(true, [&](Session& s) -> Reply {
    // A run outside any CI run (version "") has no version to purge; its digests are the job's own.
    if (!version.empty()) s.touch_version(job, version, options.now());
    if (s.applied(job, version, digest)) {
      const std::size_t stored = s.history(job).size();
      return json_reply(
          200, ordered_json{
                   {"observed", 0}, {"added", 0}, {"forgotten", 0}, {"stored", stored}, {"duplicate", true}});
    }
    const store::Timings before = s.history(job);
    store::Timings after = before;
    store::apply(after, request.report, request.policy.smoothing_factor);
    store::UpdateSummary summary;
    summary.observed = request.report.observations.size();
    summary.forgotten = store::forget_stale(after, request.policy.forget_after_days);
    for (const auto& [name, entry] : after) summary.added += !before.contains(name);
    summary.stored = after.size();
    s.replace_history(job, before, after);

    const PartitionId id{request.report.partition, request.report.total};
    if (id.partition > 0 && !version.empty()) {
      for (const StoredRecord& row : s.records(job, version)) {
        if (row.id != id) continue;
        io::PartitionRecord record = io::parse_record(row.text, record_source(job, version, id));
        std::map<std::string, io::RecordedResult> results;
        for (const store::Observation& observation : request.report.observations) {
          io::RecordedResult result{observation.name, io::ResultStatus::passed, observation.seconds};
          if (observation.outcome == Outcome::failed) result.status = io::ResultStatus::failed;
          if (observation.outcome == Outcome::skipped) result.status = io::ResultStatus::skipped;
          results[observation.name] = std::move(result);
        }
        record.results.clear();
        for (auto& [name, result] : results) record.results.push_back(std::move(result));
        record.has_results = true;
        record.recorded_on = store::format_date(request.report.date);
        s.put_record(job, version, id, io::format_record(record, record_source(job, version, id)));
      }
    }
    s.mark_applied(job, version, digest);
    return json_reply(200, ordered_json{{"observed", summary.observed},
                                        {"added", summary.added},
                                        {"forgotten", summary.forgotten},
                                        {"stored", summary.stored},
                                        {"duplicate", false}});
  });
}

Reply Server::Impl::records(const std::string& job, const std::string& version) {
  const std::vector<StoredRecord> rows =
      database.transaction(false, [&](Session& s) { return s.records(job, version); });
  // The stored texts are io::format_record's JSON: they go out as they are.
  std::string body = "{\"records\":[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::string_view text = rows[i].text;
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    body.append(i == 0 ? "" : ",").append(text);
  }
  body += "]}\n";
  return Reply{200, std::string(kJson), std::move(body), {}};
}

Reply Server::Impl::verify(const std::string& job, const std::string& version, bool strict) {
  const std::vector<StoredRecord> rows =
      database.transaction(false, [&](Session& s) { return s.records(job, version); });
  if (rows.empty()) refuse(404, "no partition of " + job + " version " + version + " has reported");
  std::vector<io::LoadedRecord> loaded;
  for (const StoredRecord& row : rows) {
    const std::string source = record_source(job, version, row.id);
    loaded.push_back(io::LoadedRecord{source, io::parse_record(row.text, source)});
  }
  const std::size_t count = loaded.size();
  const io::Verification verification = io::verify_records(std::move(loaded), strict);
  return Reply{200, std::string(kJson), io::verification_json(verification, count), {}};
}

}  // namespace tlb::server
