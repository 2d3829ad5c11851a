#include "server/run_ledger.hpp"

#include <algorithm>

namespace tlb::server {
namespace {

thread_local std::size_t parsed = 0;

}  // namespace

io::PartitionRecord parse_stored(const StoredRecord& stored, const std::string& source) {
  ++parsed;
  return io::parse_record(stored.text, source);
}

std::size_t parse_count() {
  return parsed;
}

void reset_parse_count() {
  parsed = 0;
}

void RunLedger::add(PartitionId id, const io::PartitionRecord& record) {
  if (!first_id || id < *first_id) {
    first_id = id;
    first = io::PartitionRecord{};
    first.total = record.total;
    first.test_list_hash = record.test_list_hash;
    first.fingerprint = record.fingerprint;
  }
  if (!tests.emplace(id, record.tests.size()).second) return;
  for (const std::string& test : record.tests) {
    auto [it, added] = owners.try_emplace(test);
    if (added) bytes += test.size() + 64;
    it->second.insert(std::upper_bound(it->second.begin(), it->second.end(), id), id);
  }
  bytes += 64 + record.tests.size() * sizeof(PartitionId);
}

bool RunLedger::holds_exactly(PartitionId id, const std::vector<std::string>& wanted) const {
  const auto count = tests.find(id);
  if (count == tests.end() || count->second != wanted.size()) return false;
  return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& test) {
    const auto holders = owners.find(test);
    return holders != owners.end() && std::binary_search(holders->second.begin(), holders->second.end(), id);
  });
}

RunLedger* RunLedgers::find(const Key& key, std::uint64_t stamp) {
  RunLedger* found = ledgers_.find(key);
  return found != nullptr && found->stamp == stamp ? found : nullptr;
}

RunLedger& RunLedgers::put(const Key& key, RunLedger ledger) {
  const std::size_t bytes = ledger.bytes;
  return ledgers_.put(key, std::move(ledger), bytes);
}

void RunLedgers::clear() {
  std::lock_guard guard(mutex_);
  ledgers_.clear();
}

std::optional<RunCheck> RunChecks::find(const std::string& job, const std::string& version,
                                        std::uint64_t stamp) {
  std::lock_guard guard(mutex_);
  const auto found = checks_.find({job, version});
  if (found == checks_.end() || found->second.stamp != stamp) return std::nullopt;
  return found->second;
}

void RunChecks::put(const std::string& job, const std::string& version, RunCheck check) {
  std::lock_guard guard(mutex_);
  if (checks_.size() >= kMaxRuns) checks_.clear();
  checks_[{job, version}] = check;
}

void RunChecks::clear() {
  std::lock_guard guard(mutex_);
  checks_.clear();
}

}  // namespace tlb::server
