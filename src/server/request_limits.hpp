// What every request passes before its route runs: the request target parsed and decoded, the token of a
// write, and the limits a request must keep. One home for each, so that each rule has one test to name.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tlb::server {

inline constexpr int kMaxPartitions =
    100'000;  // Far beyond any CI; keeps a hostile total from sizing arrays.

struct Target {
  std::vector<std::string> segments;         // Decoded; "/" is none, a trailing '/' adds none.
  std::map<std::string, std::string> query;  // Decoded; a name given twice keeps the first.
  bool api = false;                          // Under /api/v1: errors are JSON.
};

// The target as sent (path and query, percent-encoded); refuses (400) a malformed one.
Target parse_target(std::string_view target);

// Refuses (401) a write whose Authorization header does not carry `token` (nothing when no token is set).
// Compared in time that does not depend on where they differ.
void check_token(const std::optional<std::string>& token, std::string_view authorization);

}  // namespace tlb::server
