// The original TLB server's text API (research/tlb-original.md §1, §4a, §5): its line formats, and its
// correctness check (universal set, subsets, completeness) with its messages byte for byte. Pure functions
// over what the database holds; server.cpp does the storage and the HTTP.
//
// Where the original's messages list the contents of a Java hash map, the order is that of Java 6's
// HashMap and ConcurrentHashMap (default capacity), which the original's own tests were written against;
// the emulation below reproduces it, so that two servers print the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/database.hpp"
#include "store/file_store.hpp"

namespace tlb::server::original {

// A request body the original's formats cannot read; the message is one line ("line 3: ...").
class BadInput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `body` as lines: "\n" or "\r\n" ends a line, empty lines are passed over. Each with its 1-based number.
std::vector<std::pair<std::size_t, std::string_view>> lines_of(std::string_view body);

// "name: milliseconds" lines (the original's regex `(.*?):\s*(-?\d+)`). Throws BadInput naming the line
// for a line that does not match, a negative or out-of-range time, or a name check_test_name refuses.
std::vector<std::pair<std::string, std::int64_t>> parse_suite_times(std::string_view body);

// "name: true|false" lines, true meaning failed.
std::vector<std::pair<std::string, bool>> parse_suite_results(std::string_view body);

// A suite list: "name" or "name: p/t" lines (the original's `(.*?)(:\s*(\d+)/(\d+))?`).
std::vector<SetEntry> parse_suite_list(std::string_view body);

// "name: ms\n" for each test with a measured duration (runs > 0), in name order; ms = llround(s * 1000).
std::string format_suite_times(const store::Timings& timings);

// "name: true\n" (failed) or "name: false\n" (passed) for each test whose last result is one of those.
std::string format_suite_results(const store::Timings& timings);

// An entry as the original prints it: "name", or "name: p/t" once a partition took it.
std::string entry_text(const SetEntry& entry);
// Java's List.toString(): "[a, b: 1/2]".
std::string java_list(const std::vector<SetEntry>& entries);

// The universal-set check: nullopt when `posted` (sorted, duplicates kept) names exactly the `stored` set,
// else the 409 body "Expected universal set was [...] but given [...].\n".
std::optional<std::string> universal_set_mismatch(const std::vector<SetEntry>& stored,
                                                  std::vector<SetEntry> posted);

struct SubsetOutcome {
  bool success = true;
  std::string message;              // The 409 body when !success: "- ..." lines, then the context line.
  std::vector<std::string> marked;  // Names this subset newly took (to store), in name order.
};

// The subset check of partition `id`: `universal` (sorted by name) gets this partition's marks on the names
// no other partition took; `reports` are all partitions that posted a subset, this one last, in order.
SubsetOutcome check_subset(std::vector<SetEntry>& universal, const std::vector<SetEntry>& posted,
                           PartitionId id, const std::vector<PartitionId>& reports,
                           const std::string& module);

struct Completeness {
  bool complete = false;
  std::string message;  // "All partitions executed.\n", or the "- ..." line of what is missing.
};
Completeness check_completeness(const std::vector<PartitionId>& reports, const std::string& module);

// Java's String.hashCode() of a UTF-8 name (over its UTF-16 code units).
std::int32_t java_hash_code(std::string_view utf8);

// The iteration order of a Java 6 java.util.HashMap (default constructor) into which `keys` were put in
// this order (repeats replace the value and change nothing).
std::vector<std::string> java6_hash_map_order(const std::vector<std::string>& keys);

// The iteration order of a Java 6 java.util.concurrent.ConcurrentHashMap (default constructor) after `puts`
// (repeats included: in Java 6 a repeated put can still grow a segment, which reorders it).
std::vector<std::string> java6_concurrent_hash_map_order(const std::vector<std::string>& puts);

}  // namespace tlb::server::original
