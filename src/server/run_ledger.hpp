// What the server derives from a version's stored partition records, kept so that a request does not parse
// them all again (issue 17: re-verifying every run on each dashboard hit and re-parsing every record on each
// partition post grew with the records stored). Each entry is stamped with the version's records generation
// (Session::records_generation) and used only while it is the same; a write updates it in place.
//   RunLedger   what a partition post checks a new record against (partition_checks in history_routes.cpp)
//   RunChecks   each run's verdict on the dashboard
// parse_stored parses a stored record and counts it, per request: `tlb server` sends the count in a header
// when TLB_SERVER_COUNT_PARSES is set, so that tests can see how much a request parsed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/record.hpp"
#include "server/database.hpp"
#include "server/lru.hpp"

namespace tlb::server {

// io::parse_record of a stored record (`source` names it in messages), counted.
io::PartitionRecord parse_stored(const StoredRecord& stored, const std::string& source);
// Stored records this thread parsed since reset_parse_count().
std::size_t parse_count();
void reset_parse_count();

// A version's stored records as a partition post needs them: the first (in partition, total order), how
// many tests each holds, and which records hold each test.
struct RunLedger {
  std::uint64_t stamp = 0;
  std::optional<PartitionId> first_id;
  io::PartitionRecord first;  // Its total, test list hash and fingerprint only.
  std::map<PartitionId, std::size_t> tests;
  std::unordered_map<std::string, std::vector<PartitionId>> owners;  // Each list ascending.
  std::size_t bytes = 0;                                             // About what it holds.

  // Counts in a record newly stored under `id` (one already there keeps its tests: a retried job's).
  void add(PartitionId id, const io::PartitionRecord& record);
  // Whether the record stored under `id` holds exactly `tests` (sorted, without repeats).
  bool holds_exactly(PartitionId id, const std::vector<std::string>& tests) const;
};

// The ledgers of the versions posted to lately, by (job, version); the oldest go past kMaxBytes.
class RunLedgers {
 public:
  static constexpr std::size_t kMaxBytes = std::size_t{128} << 20;
  using Key = std::pair<std::string, std::string>;

  // Under this lock only.
  std::unique_lock<std::mutex> lock() { return std::unique_lock(mutex_); }
  // The ledger of `key` at `stamp`, else null.
  RunLedger* find(const Key& key, std::uint64_t stamp);
  RunLedger& put(const Key& key, RunLedger ledger);
  // After a write committed that took the version's records from generation `before` to `after`: a ledger
  // at `before` is brought to `after` by `update` (and left stale when it is at another generation).
  template <class Update>
  void advance(const Key& key, std::uint64_t before, std::uint64_t after, Update&& update) {
    std::lock_guard guard(mutex_);
    RunLedger* ledger = find(key, before);
    if (!ledger) return;
    update(*ledger);
    ledger->stamp = after;
    ledgers_.resized(key, ledger->bytes);
  }
  void clear();

 private:
  std::mutex mutex_;
  ByteBoundedLru<Key, RunLedger> ledgers_{kMaxBytes};
};

// A run's verdict as the dashboard shows it, per (job, version) at a records generation.
struct RunCheck {
  std::uint64_t stamp = 0;
  bool proven = false;
  std::size_t problems = 0;
};

class RunChecks {
 public:
  std::optional<RunCheck> find(const std::string& job, const std::string& version, std::uint64_t stamp);
  void put(const std::string& job, const std::string& version, RunCheck check);
  void clear();

 private:
  static constexpr std::size_t kMaxRuns = 100'000;  // About 10 MiB; emptied past it.
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, RunCheck> checks_;
};

}  // namespace tlb::server
