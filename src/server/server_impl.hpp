// Inside `tlb server`: the routes behind Server::handle, one file per family (server.cpp the table and the
// dispatch, history_routes.cpp the JSON API of tlb's own clients, original_routes.cpp the original TLB's text
// routes, dashboard_routes.cpp the HTML pages, swarm_routes.cpp the swarm), and http_server.cpp httplib's
// side.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/dashboard.hpp"
#include "server/database.hpp"
#include "server/request_limits.hpp"
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
  Reply records(const std::string& job, const std::string& version);
  Reply verify(const std::string& job, const std::string& version, bool strict);
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
  };
  static dashboard::JobRuns job_runs(const StoredRuns& stored);
  Reply run_report(const std::string& job, const std::string& version);
  std::string generated() const;

  Database& database;
  ServerOptions options;

  // A frozen snapshot never changes, and every partition of a CI run reads it: its JSON is kept, so that the
  // reads after the first cost a copy instead of a database read and a serialization. Bounded by bytes; the
  // oldest entry goes first; emptied when versions are purged.
  class SnapshotCache {
   public:
    std::optional<std::string> find(const std::string& job, const std::string& version) {
      std::lock_guard lock(mutex_);
      auto it = bodies_.find({job, version});
      if (it == bodies_.end()) return std::nullopt;
      return it->second;
    }
    void put(const std::string& job, const std::string& version, const std::string& body) {
      if (body.size() > kMaxBytes / 4) return;
      std::lock_guard lock(mutex_);
      if (!bodies_.emplace(std::pair(job, version), body).second) return;
      order_.emplace_back(job, version);
      bytes_ += body.size();
      while (bytes_ > kMaxBytes && !order_.empty()) {
        auto oldest = bodies_.find(order_.front());
        bytes_ -= oldest->second.size();
        bodies_.erase(oldest);
        order_.pop_front();
      }
    }
    void clear() {
      std::lock_guard lock(mutex_);
      bodies_.clear();
      order_.clear();
      bytes_ = 0;
    }

   private:
    static constexpr std::size_t kMaxBytes = std::size_t{256} << 20;
    std::mutex mutex_;
    std::map<std::pair<std::string, std::string>, std::string> bodies_;
    std::deque<std::pair<std::string, std::string>> order_;
    std::size_t bytes_ = 0;
  };
  SnapshotCache snapshots;
  std::unique_ptr<SwarmRoutes> swarm;  // The swarm's coordinator (docs/swarm-protocol.md).
};

}  // namespace tlb::server
