#include "server/read_cache.hpp"

namespace tlb::server {

ReadCache::Body ReadCache::find(const std::string& key, std::uint64_t stamp) {
  std::lock_guard lock(mutex_);
  const Entry* found = entries_.find(key);
  return found != nullptr && found->stamp == stamp ? found->body : nullptr;
}

void ReadCache::put(const std::string& key, std::uint64_t stamp, const Body& body) {
  std::lock_guard lock(mutex_);
  entries_.put(key, Entry{stamp, body}, body->size());
}

void ReadCache::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

}  // namespace tlb::server
