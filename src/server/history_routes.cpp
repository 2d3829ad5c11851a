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
#include "server/run_ledger.hpp"
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

// The history's JSON (kind tlb-history), written test by test: a document of a large job built whole first
// cost about ten times its text.
std::string history_text(const std::string& job, const std::optional<std::string>& snapshot,
                         const store::Timings& timings) {
  std::string text =
      dump(ordered_json{{"kind", "tlb-history"},
                        {"version", 1},
                        {"job", job},
                        {"snapshot", snapshot ? ordered_json(*snapshot) : ordered_json(nullptr)},
                        {"tests", ordered_json::array()}});
  text.resize(text.size() - 3);  // Down to "tests":[ (dump ends with "]}\n").
  text.reserve(text.size() + timings.size() * 120);
  bool first = true;
  for (const auto& [name, entry] : timings) {
    if (!first) text += ',';
    first = false;
    text += ordered_json{{"name", name},
                         {"seconds", entry.record.seconds},
                         {"runs", entry.record.runs},
                         {"last_result", to_string(entry.record.last)},
                         {"last_seen", store::format_date(entry.last_seen)}}
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return text + "]}\n";
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

struct PartitionCheck {
  bool known = false;       // A record of this partition is stored already.
  std::size_t records = 0;  // Records stored once this one is.
  bool complete = false;    // Every partition of its total is then stored.
};

// Refuses (409) a record that disagrees with the version's records stored (`ledger`): another total, test
// list or split inputs than the first, other tests than this partition's stored record, or tests another
// partition has.
PartitionCheck check_partition(const RunLedger& ledger, PartitionId id, const io::PartitionRecord& record) {
  const std::string self = "partition " + partition_text(id);
  if (ledger.first_id) {
    const io::PartitionRecord& first = ledger.first;
    const std::string other = "partition " + partition_text(*ledger.first_id);
    if (first.total != record.total) {
      refuse(409, self + " saw another total than " + other + " (" + std::to_string(record.total) +
                      " against " + std::to_string(first.total) + ")");
    }
    if (first.test_list_hash != record.test_list_hash) {
      refuse(409, self + " saw another test list than " + other + " (" + record.test_list_hash + " against " +
                      first.test_list_hash + ")");
    }
    if (auto difference = io::split_inputs_differ(record, first)) {
      refuse(409, self + " split on other inputs than " + other + ": " + *difference);
    }
  }
  PartitionCheck check;
  check.known = ledger.tests.contains(id);
  if (check.known && !ledger.holds_exactly(id, record.tests)) {
    refuse(409, self + " was already recorded with other tests (a retried job must be given the same tests)");
  }
  if (!check.known) {
    // The first other partition (in order) that has any of its tests, and the tests they share.
    const std::set<std::string, std::less<>> attachments(record.attachments.begin(),
                                                         record.attachments.end());
    std::optional<PartitionId> owner;
    for (const std::string& test : record.tests) {
      const auto holders = ledger.owners.find(test);
      if (attachments.contains(test) || holders == ledger.owners.end()) continue;
      if (!owner || holders->second.front() < *owner) owner = holders->second.front();
    }
    if (owner) {
      std::vector<std::string> shared;
      for (const std::string& test : record.tests) {
        const auto holders = ledger.owners.find(test);
        if (attachments.contains(test) || holders == ledger.owners.end()) continue;
        if (std::binary_search(holders->second.begin(), holders->second.end(), *owner))
          shared.push_back(test);
      }
      refuse(409, self + " was given " + std::to_string(shared.size()) + " test" +
                      (shared.size() == 1 ? "" : "s") + " that partition " + partition_text(*owner) +
                      " already has: " + some_names(shared));
    }
  }
  std::set<int> present{record.partition};
  for (const auto& [stored, count] : ledger.tests) {
    if (stored.total == record.total) present.insert(stored.partition);
  }
  check.records = ledger.tests.size() + (check.known ? 0 : 1);
  check.complete = static_cast<int>(present.size()) == record.total;
  return check;
}

// Whether `name` is a cell of `version`: the version, a dot and the 8 hex digits of a run key's hash
// (store::run_version).
bool is_cell_of(std::string_view name, std::string_view version) {
  if (name.size() != version.size() + 9 || !name.starts_with(version) || name[version.size()] != '.')
    return false;
  return name.substr(version.size() + 1).find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

RunLedger Server::Impl::read_ledger(Session& s, const std::string& job, const std::string& version,
                                    std::uint64_t stamp) {
  RunLedger ledger;
  ledger.stamp = stamp;
  for (const StoredRecord& row : s.records(job, version)) {
    ledger.add(row.id, parse_stored(row, record_source(job, version, row.id)));
  }
  return ledger;
}

std::string record_source(const std::string& job, const std::string& version, PartitionId id) {
  return job + "/" + version + "/partition-" + std::to_string(id.partition) + "-of-" +
         std::to_string(id.total);
}

Reply Server::Impl::live_read(std::string_view kind, const std::string& job, std::string_view type,
                              const Format& format) {
  // A body built while a write lands is newer than its stamp: its readers see that write a little early.
  const std::uint64_t stamp =
      database.transaction(false, [&](Session& s) { return s.history_generation(job); });
  return shared_reply(type, reads.get(std::string(kind) + "\n" + job, stamp, [&] {
    return std::optional(format(database.transaction(false, [&](Session& s) { return s.history(job); })));
  }));
}

std::optional<Reply> Server::Impl::frozen_read(std::string_view kind, const std::string& job,
                                               const std::string& version, bool may_freeze,
                                               std::string_view type, const Format& format) {
  // Stamped with the snapshot's generation, read from the database: a replica's kept body is used only while
  // it is of the snapshot the database holds (another server may have purged the version and frozen it anew).
  const auto stamp = [&] {
    return database.transaction(false, [&](Session& s) { return s.snapshot_generation(job, version); });
  };
  std::uint64_t frozen_at = stamp();
  std::optional<store::Timings> frozen;
  if (frozen_at == 0) {
    frozen = read_snapshot(job, version, may_freeze);  // Freezes it, unless it may not.
    if (!frozen) return std::nullopt;
    frozen_at = stamp();
  }
  ReadCache::Body body = reads.get(std::string(kind) + "\n" + job + "\n" + version, frozen_at, [&] {
    if (!frozen) frozen = read_snapshot(job, version, false);
    return frozen ? std::optional(format(*frozen)) : std::nullopt;
  });
  if (!body) return std::nullopt;
  return shared_reply(type, std::move(body));
}

Reply Server::Impl::history(const std::string& job) {
  return live_read("history", job, kJson,
                   [&](const store::Timings& timings) { return history_text(job, std::nullopt, timings); });
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
  if (may_freeze) {
    try {
      return snapshot(job, version);
    } catch (const JobLimitError&) {
      // A read of a job past --max-jobs freezes nothing: it is answered from the live history.
    }
  }
  return database.transaction(false, [&](Session& s) { return s.snapshot(job, version); });
}

// A frozen snapshot never changes, and every partition of a CI run reads it: its JSON is built once.
Reply Server::Impl::version_history(const std::string& job, const std::string& version, bool may_freeze) {
  std::optional<Reply> frozen =
      frozen_read("history", job, version, may_freeze, kJson,
                  [&](const store::Timings& timings) { return history_text(job, version, timings); });
  // Not frozen by a read without the token: the live history, said so.
  return frozen ? std::move(*frozen) : history(job);
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
  const std::string text = io::format_record(record, "request body");
  const RunLedgers::Key key{job, version};
  std::uint64_t before = 0, after = 0;
  bool stored = false;
  Reply reply = database.transaction(true, [&](Session& s) -> Reply {
    s.touch_version(job, version, options.now());
    before = s.records_generation(job, version);
    auto locked = ledgers.lock();
    RunLedger* ledger = ledgers.find(key, before);
    if (!ledger) ledger = &ledgers.put(key, read_ledger(s, job, version, before));
    const PartitionCheck check = check_partition(*ledger, id, record);
    // A retried job's record without results does not wipe the results already stored.
    stored = !check.known || record.has_results;
    if (stored) s.put_record(job, version, id, text);
    after = s.records_generation(job, version);
    return json_reply(ledger->tests.empty() ? 201 : 200, ordered_json{{"partition", record.partition},
                                                                      {"total", record.total},
                                                                      {"records", check.records},
                                                                      {"complete", check.complete}});
  });
  // Committed: the ledger takes the record (unless another post moved it on meanwhile).
  if (stored) ledgers.advance(key, before, after, [&](RunLedger& ledger) { ledger.add(id, record); });
  return reply;
}

Reply Server::Impl::post_results(const std::string& job, const std::string& version, std::string_view body) {
  const ResultsRequest request = parse_results(body);
  const std::string digest = body_digest(body);
  std::uint64_t records_before = 0, records_after = 0;  // The version's records generation.
  Reply reply = database.transaction(true, [&](Session& s) -> Reply {
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
    records_before = records_after = s.records_generation(job, version);
    if (id.partition > 0 && !version.empty()) {
      for (const StoredRecord& row : s.records(job, version)) {
        if (row.id != id) continue;
        io::PartitionRecord record = parse_stored(row, record_source(job, version, id));
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
        records_after = s.records_generation(job, version);
      }
    }
    s.mark_applied(job, version, digest);
    return json_reply(200, ordered_json{{"observed", summary.observed},
                                        {"added", summary.added},
                                        {"forgotten", summary.forgotten},
                                        {"stored", summary.stored},
                                        {"duplicate", false}});
  });
  // Results change no record's tests: the version's ledger holds as it is.
  if (records_after != records_before) {
    ledgers.advance({job, version}, records_before, records_after, [](RunLedger&) {});
  }
  return reply;
}

Reply Server::Impl::records(const std::string& job, const std::string& version) {
  return reads.heavy([&] { return records_now(job, version); });
}

Reply Server::Impl::records_now(const std::string& job, const std::string& version) {
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
  return reads.heavy([&] { return verify_now(job, version, strict); });
}

Reply Server::Impl::verify_now(const std::string& job, const std::string& version, bool strict) {
  // The version's own records and those of its cells (the configurations of a CI matrix under one CI run
  // id, each a run of its own, which io::verify_records checks apart).
  using Row = std::pair<std::string, StoredRecord>;
  const std::vector<Row> rows = database.transaction(false, [&](Session& s) {
    std::vector<Row> found;
    for (const VersionSummary& v : s.versions(job)) {
      if (v.version != version && !is_cell_of(v.version, version)) continue;
      for (StoredRecord& row : s.records(job, v.version)) found.emplace_back(v.version, std::move(row));
    }
    return found;
  });
  if (rows.empty()) refuse(404, "no partition of " + job + " version " + version + " has reported");
  std::vector<io::LoadedRecord> loaded;
  for (const auto& [cell, row] : rows) {
    const std::string source = record_source(job, cell, row.id);
    loaded.push_back(io::LoadedRecord{source, parse_stored(row, source)});
    // A cell's records without a run key (a queue run's) are still that cell's run.
    if (cell != version && loaded.back().record.run_key.empty())
      loaded.back().record.run_key = "version " + cell;
  }
  const std::size_t count = loaded.size();
  const io::Verification verification = io::verify_records(std::move(loaded), strict);
  return Reply{200, std::string(kJson), io::verification_json(verification, count), {}};
}

}  // namespace tlb::server
