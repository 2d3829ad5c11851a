// The fingerprint of a split: everything that decides which tests a partition gets. Partitions of one run
// with equal fingerprints split the same way; partitions whose fingerprints differ may lose or repeat tests,
// so the server's run ledger and `tlb verify` refuse them, naming what differs.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "tlb/split.hpp"
#include "tlb/test.hpp"

namespace tlb::io {

// Raised whenever a change to the splitters makes the same inputs split differently, so that partitions split
// by two versions of tlb are told apart.
inline constexpr int kSplitAlgorithmVersion = 1;

struct SplitFingerprint {
  std::string hash;        // Of every member below: equal hashes, equal splits.
  std::size_t tests = 0;   // Tests in the list.
  std::string test_list;   // Hash of the list with the properties the split reads (COST, PROCESSORS...).
  std::string history;     // history_hash of the history the split used; "" when it used none.
  int total = 0;           // N.
  std::string weights;     // TLB_PARTITION_WEIGHTS in thousandths ("1000,2000"); "" when all are equal.
  std::string splitters;   // The chain tried, "time:count".
  int parallel_level = 1;  // TLB_PARALLEL_LEVEL, else CTEST_PARALLEL_LEVEL.
  int algorithm = kSplitAlgorithmVersion;

  friend bool operator==(const SplitFingerprint&, const SplitFingerprint&) = default;
};

// The fingerprint of splitting `tests` (in any order) on the history whose hash is `history_hash` with
// `options`.
SplitFingerprint fingerprint_split(const std::vector<Test>& tests, const std::string& history_hash,
                                   const SplitOptions& options);

// The hash a fingerprint's members give; fingerprint_split sets it, a reader checks it.
std::string fingerprint_hash(const SplitFingerprint& fingerprint);

// What differs between `mine` and `theirs`, in words ("the parallel level: 4 against 1, the history: none
// against fnv1a64:..."); nullopt when they are equal.
std::optional<std::string> fingerprint_difference(const SplitFingerprint& mine,
                                                  const SplitFingerprint& theirs);

}  // namespace tlb::io
