#include "server/read_cache.hpp"

namespace tlb::server {

ReadCache::Body ReadCache::find(const std::string& key, std::uint64_t stamp) {
  std::lock_guard lock(mutex_);
  const auto found = entries_.find(key);
  if (found == entries_.end() || found->second.stamp != stamp) return nullptr;
  return found->second.body;
}

void ReadCache::put(const std::string& key, std::uint64_t stamp, const Body& body) {
  std::lock_guard lock(mutex_);
  auto [it, added] = entries_.try_emplace(key);
  if (!added) {
    bytes_ -= it->second.body->size();
    order_.erase(it->second.age);
  }
  it->second.stamp = stamp;
  it->second.body = body;
  it->second.age = order_.insert(order_.end(), key);
  bytes_ += body->size();
  while (bytes_ > kMaxBytes && order_.size() > 1) {
    const auto oldest = entries_.find(order_.front());
    bytes_ -= oldest->second.body->size();
    entries_.erase(oldest);
    order_.pop_front();
  }
}

void ReadCache::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
  order_.clear();
  bytes_ = 0;
}

}  // namespace tlb::server
