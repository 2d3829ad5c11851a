// The bodies of a server's heavy reads (a job's history as JSON or as the original's text, a frozen
// snapshot), built once and shared: every reader of the same state holds a reference to one body, and the
// answer is streamed from it rather than copied (Reply::shared_body). Each body carries the stamp of the
// state it was built from (a job's history generation, a version's snapshot generation: values the database
// keeps, which another server on it advances too), and a reader with another stamp builds anew. At most
// kBuilders heavy reads (these builds, and the records, verify and dashboard reads, through heavy()) run at
// once; the others wait without holding memory. Three concurrent reads of a job of 1,000,000 tests took the
// server to 4.3 GB when each built its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <utility>

#include "server/lru.hpp"

namespace tlb::server {

class ReadCache {
 public:
  using Body = std::shared_ptr<const std::string>;
  static constexpr std::ptrdiff_t kBuilders = 2;
  // Kept bodies in all; the newest is kept whatever its size, so that concurrent readers of a body larger
  // than this still share it.
  static constexpr std::size_t kMaxBytes = std::size_t{256} << 20;

  // The body kept for `key` built at `stamp`; else built by `build()` (a std::optional<std::string>; nullopt:
  // nothing to keep, and get returns null) under a builder slot, unless another reader built it meanwhile.
  template <class Build>
  Body get(const std::string& key, std::uint64_t stamp, Build&& build) {
    if (Body kept = find(key, stamp)) return kept;
    Slot slot(builders_);
    if (Body kept = find(key, stamp)) return kept;
    std::optional<std::string> text = build();
    if (!text) return nullptr;
    Body built = std::make_shared<const std::string>(std::move(*text));
    put(key, stamp, built);
    return built;
  }

  // Runs `work` under a builder slot: a read whose answer is built whole each time.
  template <class Work>
  auto heavy(Work&& work) {
    Slot slot(builders_);
    return work();
  }

  void clear();

 private:
  class Slot {
   public:
    explicit Slot(std::counting_semaphore<kBuilders>& slots) : slots_(slots) { slots_.acquire(); }
    ~Slot() { slots_.release(); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    std::counting_semaphore<kBuilders>& slots_;
  };
  struct Entry {
    std::uint64_t stamp = 0;
    Body body;
  };

  Body find(const std::string& key, std::uint64_t stamp);
  void put(const std::string& key, std::uint64_t stamp, const Body& body);

  std::counting_semaphore<kBuilders> builders_{kBuilders};
  std::mutex mutex_;
  ByteBoundedLru<std::string, Entry> entries_{kMaxBytes};
};

}  // namespace tlb::server
