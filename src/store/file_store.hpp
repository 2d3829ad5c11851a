// The timing file: the embedded store, one test a line, kept in the source tree (or a CI cache) and merged
// like code. The format and its rules are documented in README.md ("History: the timing file"):
//
//   # tlb timings v1
//   # seconds runs last-result last-seen name
//   1.250000 4 passed 2024-05-02 suite one;case[1] "ü"
//
// Lines are sorted by name (bytes); the name is the rest of the line after the fourth space, so it may hold
// spaces and any other character but a line break.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "store/store.hpp"

namespace tlb::store {

// One test's line.
struct TimedRecord {
  TestRecord record;
  Date last_seen;

  friend bool operator==(const TimedRecord&, const TimedRecord&) = default;
};

using Timings = std::map<std::string, TimedRecord, std::less<>>;

// Parses a timing file. Throws io::InputError naming `source` and the line when the text is not a timing
// file, is malformed, or was written by a newer tlb. An unresolved merge conflict is named as such. A name
// given twice (as a careless merge can leave) keeps the line that wins by keep_newer's rule.
Timings parse_timings(std::string_view text, const std::string& source);

// The canonical text: the version line, a column line, one line per test in name order.
std::string format_timings(const Timings& timings);

// Reads `path`; nullopt when it does not exist. Throws io::InputError when it cannot be read or parsed.
std::optional<Timings> read_timings(const std::string& path);

// read_timings() for a file about to be replaced: when it cannot be read, the error says that tlb refuses to
// replace it, since that would lose what it holds.
std::optional<Timings> read_timings_to_replace(const std::string& path);

// Writes `path` atomically. Throws io::InputError for a name that cannot be stored (a line break) or when
// the file cannot be written.
void write_timings(const std::string& path, const Timings& timings);

// Joins two views of the same tests: per test, the entry last seen later wins; on the same day the one with
// more runs; then the longer estimate; then the later outcome in the order unknown, passed, skipped, failed.
// A total order, so joining any number of files gives the same result in any order.
void keep_newer(Timings& into, const Timings& other);

// Folds a run in: each observation (in name order) through fold(), and the run's date as last seen when
// later than the one stored.
void apply(Timings& timings, const RunReport& report, double smoothing_factor);

// The aging rule: drops tests last seen more than `days` days before the newest last-seen date. Returns
// how many were dropped.
std::size_t forget_stale(Timings& timings, int days);

History to_history(const Timings& timings);

// The file backend of Store: load() reads the file; update() re-reads it, applies the reports and the aging
// rule, and replaces it atomically, under an advisory lock on its directory so that two `tlb record` runs
// on one machine do not lose each other's results.
std::unique_ptr<Store> open_file_store(std::string path, const HistoryPolicy& policy);

}  // namespace tlb::store
