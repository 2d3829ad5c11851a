// The inputs of a split, shared by `tlb split` and `tlb plan`: the test list and the history it splits on.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/settings.hpp"
#include "store/store.hpp"
#include "tlb/test.hpp"

namespace tlb::cli {

// The test list from `path` ("-" or nullopt: stdin). Stdin that is a terminal is a UsageError with
// `no_input`, since nothing is being piped in.
std::vector<Test> read_tests(const std::optional<std::string>& path, const std::string& no_input);

// Where the history of a split came from: a store (--store, TLB_STORE), a durations file (--durations), or
// nothing.
struct HistorySource {
  store::LoadedHistory loaded;
  bool given = false;                   // A store or durations file was named.
  bool from_store = false;              // The history came from a store, which `tlb record` may update.
  std::string origin;                   // In a phrase, for --explain and `tlb plan`.
  std::unique_ptr<store::Store> store;  // The store it came from, kept for reporting the partition.
  store::ServerOptions server;          // With a server store: its job and run.
};

// Loads the history named by `store_flag` (else TLB_STORE) or `durations` (a file; nullopt when not given).
// Naming both is a UsageError. History that is missing, corrupt or unreachable adds a warning and leaves the
// history empty, or with `strict` throws an InputError naming it.
HistorySource load_history(const std::optional<std::string>& store_flag,
                           const std::optional<std::string>& durations, const Environment& env, bool strict,
                           std::vector<std::string>& warnings);

}  // namespace tlb::cli
