// Inside `tlb server`: the routes behind Server::handle, one file per family (server.cpp the table and the
// dispatch, history_routes.cpp the JSON API of tlb's own clients, original_routes.cpp the original TLB's text
// routes, dashboard_routes.cpp the HTML pages, swarm_routes.cpp the swarm), and http_server.cpp httplib's
// side.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/dashboard.hpp"
#include "server/database.hpp"
#include "server/read_cache.hpp"
#include "server/request_limits.hpp"
#include "server/run_ledger.hpp"
#include "server/server.hpp"
#include "server/swarm_routes.hpp"
#include "store/file_store.hpp"

namespace tlb::server {

// Where a stored record came from, for messages: "JOB/VERSION/partition-P-of-T".
std::string record_source(const std::string& job, const std::string& version, PartitionId id);

struct Server::Impl {
  Impl(Database& db, ServerOptions opts);

  Reply handle(std::string_view method, std::string_view target, std::string_view authorization,
               std::string_view body);
  Reply dispatch(std::string_view method, const Target& target, std::string_view authorization,
                 std::string_view body);

  Reply status() const;
  // A read of the job's live history as `format` writes it (`kind` names the format): built once per history
  // generation and shared by its readers.
  using Format = std::function<std::string(const store::Timings&)>;
  Reply live_read(std::string_view kind, const std::string& job, std::string_view type, const Format& format);
  // The same of the version's frozen snapshot, which never changes; nullopt when it is not frozen and
  // `may_freeze` is false (read_snapshot).
  std::optional<Reply> frozen_read(std::string_view kind, const std::string& job, const std::string& version,
                                   bool may_freeze, std::string_view type, const Format& format);
  Reply history(const std::string& job);
  // The version's snapshot, frozen now if it is not yet.
  store::Timings snapshot(const std::string& job, const std::string& version);
  // The same when `may_freeze` (a request with the token, or a server without one); else only a snapshot
  // already frozen, so that reads without the token cannot grow the database (nullopt: none yet).
  std::optional<store::Timings> read_snapshot(const std::string& job, const std::string& version,
                                              bool may_freeze);
  Reply version_history(const std::string& job, const std::string& version, bool may_freeze);
  Reply post_partition(const std::string& job, const std::string& version, std::string_view body);
  Reply post_results(const std::string& job, const std::string& version, std::string_view body);
  // The heavy reads below run under a builder slot of `reads`; the *_now functions are their work.
  Reply records(const std::string& job, const std::string& version);
  Reply records_now(const std::string& job, const std::string& version);
  Reply verify(const std::string& job, const std::string& version, bool strict);
  Reply verify_now(const std::string& job, const std::string& version, bool strict);
  Reply suite_time(std::string_view method, const std::string& job, std::string_view body);
  Reply suite_result(std::string_view method, const std::string& job, std::string_view body);
  Reply subset_size(std::string_view method, const std::string& ns, std::string_view body);
  Reply universal_set(const std::string& job, const std::string& version, const std::string& module,
                      std::string_view body);
  Reply sub_set(const std::string& job, const std::string& version, PartitionId id, const std::string& module,
                std::string_view body);
  Reply completeness(const std::string& job, const std::string& version, const std::string& module);
  Reply route_list() const;
  Reply dashboard_page(const std::map<std::string, std::string>& query);
  // A job's versions, newest first, and the records of the first ones, as the database holds them.
  struct StoredRuns {
    std::string job;
    std::vector<VersionSummary> versions;
    std::vector<std::vector<StoredRecord>> records;  // Of versions[0..records.size()).
    std::vector<std::optional<RunCheck>> checked;    // Of the same versions: their verdict kept, if any.
  };
  // The runs' rows, each verified from its records as `tlb verify` would, unless its verdict is kept.
  dashboard::JobRuns job_runs(const StoredRuns& stored);
  Reply run_report(const std::string& job, const std::string& version);
  std::string generated() const;

  Database& database;
  ServerOptions options;

  // Bodies of heavy reads, built once per state and shared by their readers; at most two heavy reads built
  // at once (read_cache.hpp). Emptied when versions are purged.
  ReadCache reads;
  // What the versions' records say, kept from one request to the next (run_ledger.hpp).
  RunLedgers ledgers;
  RunChecks checks;
  // The ledger of a version's records as stored now, at records generation `stamp`.
  static RunLedger read_ledger(Session& s, const std::string& job, const std::string& version,
                               std::uint64_t stamp);
  std::unique_ptr<SwarmRoutes> swarm;  // The swarm's coordinator (docs/swarm-protocol.md).
};

}  // namespace tlb::server
