// What every request passes before its route runs: the request target parsed and decoded, the token of a
// write, and the limits a request must keep. One home for each, so that each rule has one test to name.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tlb::server {

// Far beyond any CI; keeps a hostile total from sizing arrays.
inline constexpr int kMaxPartitions = 100'000;
// JSON bodies nest a few levels; a parser walking 150,000 of them runs out of stack.
inline constexpr int kMaxJsonDepth = 64;
// Tests in one post (a run report, a partition record, the original's lists): far beyond any suite, and a
// bound on the work and memory of one request (a post of 1,000,000 stalled readers for seconds).
inline constexpr std::size_t kMaxTestsPerPost = 200'000;
// A test's duration past 30 days is a mistake or an attack, and would swamp every split that reads it.
inline constexpr double kMaxDurationSeconds = 30 * 86'400.0;

struct Target {
  std::vector<std::string> segments;         // Decoded; "/" is none, a trailing '/' adds none.
  std::map<std::string, std::string> query;  // Decoded; a name given twice keeps the first.
  bool api = false;                          // Under /api/v1: errors are JSON.
};

// The target as sent (path and query, percent-encoded); refuses (400) a malformed one.
Target parse_target(std::string_view target);

// Refuses (400) a JSON body whose arrays and objects nest deeper than kMaxJsonDepth, before any parser sees
// it. Every body of the JSON API passes here (Server::Impl::dispatch).
void check_json_depth(std::string_view body);

// Refuses (400) a post of more than kMaxTestsPerPost tests; `what` names the list.
void check_test_count(std::size_t count, std::string_view what);

// nullopt when `seconds` is a duration from 0 to kMaxDurationSeconds, else why not (naming `what`).
std::optional<std::string> check_duration(double seconds, std::string_view what);

// Refuses (401) a write whose Authorization header does not carry `token` (nothing when no token is set).
// Compared in time that does not depend on where they differ.
void check_token(const std::optional<std::string>& token, std::string_view authorization);
// Whether check_token would let it through.
bool has_token(const std::optional<std::string>& token, std::string_view authorization);

}  // namespace tlb::server
