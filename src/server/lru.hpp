// A map bounded by the bytes of its values: past the bound the least recently used go first, though the
// newest stays whatever its size. The server's kept reads (read_cache.hpp) and run ledgers (run_ledger.hpp)
// use it. Not locked: its owner locks.
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <utility>

namespace tlb::server {

template <class Key, class Value>
class ByteBoundedLru {
 public:
  explicit ByteBoundedLru(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // The value of `key`, now the most recently used; null when there is none.
  Value* find(const Key& key) {
    const auto found = entries_.find(key);
    if (found == entries_.end()) return nullptr;
    order_.splice(order_.end(), order_, found->second.age);
    return &found->second.value;
  }

  // Puts `value`, of about `bytes`, as the most recently used, then drops the oldest past the bound.
  Value& put(const Key& key, Value value, std::size_t bytes) {
    auto [it, added] = entries_.try_emplace(key);
    if (!added) {
      bytes_ -= it->second.bytes;
      order_.erase(it->second.age);
    }
    it->second.value = std::move(value);
    it->second.bytes = bytes;
    it->second.age = order_.insert(order_.end(), key);
    bytes_ += bytes;
    trim();
    return it->second.value;
  }

  // After the value of `key` (found just now) changed in place to about `bytes`.
  void resized(const Key& key, std::size_t bytes) {
    auto& entry = entries_.at(key);
    bytes_ = bytes_ - entry.bytes + bytes;
    entry.bytes = bytes;
    trim();
  }

  void clear() {
    entries_.clear();
    order_.clear();
    bytes_ = 0;
  }

 private:
  struct Entry {
    Value value{};
    std::size_t bytes = 0;
    typename std::list<Key>::iterator age;  // In order_.
  };

  void trim() {
    while (bytes_ > max_bytes_ && order_.size() > 1) {
      const auto oldest = entries_.find(order_.front());
      bytes_ -= oldest->second.bytes;
      entries_.erase(oldest);
      order_.pop_front();
    }
  }

  std::size_t max_bytes_;
  std::map<Key, Entry, std::less<>> entries_;
  std::list<Key> order_;  // The least recently used first.
  std::size_t bytes_ = 0;
};

}  // namespace tlb::server
