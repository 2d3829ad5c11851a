// Where test history lives between runs: one small interface, two backends picked by the store's URL: a path
// or file://path is the timing file (file_store.hpp), http:// or https:// a TLB server (http_store.hpp).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "io/verification.hpp"
#include "tlb/history.hpp"

namespace tlb::store {

enum class HistoryStatus {
  ok,           // Read; possibly empty.
  missing,      // No history yet (no file). Expected on a first run or a cache miss.
  corrupt,      // There is something, but it cannot be read: malformed, or written by a newer tlb.
  unavailable,  // It could not be reached (unreadable file; later: server down).
};

std::string_view to_string(HistoryStatus status);

// What a split is made on. load() never throws for history that is absent or unreadable: the split goes on
// without it, deterministically, and the caller prints `warning` once (or fails, under TLB_STRICT).
struct LoadedHistory {
  History history;
  HistoryStatus status = HistoryStatus::missing;
  std::string source;   // The store's location, for records and messages.
  std::string hash;     // history_hash(history) when status is ok, else "".
  std::string warning;  // One line naming the file (and line) when status is not ok.
};

// A stable hash of history content ("fnv1a64:<16 hex digits>"): FNV-1a 64 over one line per test in name
// order, "<seconds, 6 decimals> <runs> <last result> <name>\n". Partitions that split on the same history
// carry the same hash in their records, whatever the backend.
std::string history_hash(const History& history);

// Seconds as the timing file and history_hash write them: fixed, 6 decimals, never through the locale.
std::string format_seconds(double seconds);

// Calendar days in UTC; what a timing file remembers of when a test last ran.
using Date = std::chrono::sys_days;

// "YYYY-MM-DD".
std::string format_date(Date date);
std::optional<Date> parse_date(std::string_view text);

// One test's run, as a partition reports it.
struct Observation {
  std::string name;  // CTest test name.
  std::optional<double> seconds;
  Outcome outcome = Outcome::unknown;
  std::uint32_t jobs = 0;  // The ctest -j it ran under (0: not known).
};

// What one run (one partition of a CI run, or an unpartitioned run) reports after it ran: the unit a backend
// applies at once. A server backend gets the same batch in one request.
struct RunReport {
  std::vector<Observation> observations;
  Date date;                   // When it ran: becomes each observed test's last-seen date.
  int partition = 0;           // 1-based; 0 when not known.
  int total = 0;               // 0 when not known.
  std::string test_list_hash;  // "" when not known; lets a server check the partitions of one run agree.
};

// How observations become history. The same rules for every backend.
struct HistoryPolicy {
  // Alpha of the exponential smoothing: new = alpha * observed + (1 - alpha) * previous, in (0, 1].
  double smoothing_factor = 0.5;
  // A test not seen for this many days, counted back from the newest last-seen date in the store (not from
  // today), is forgotten when the store is next written.
  int forget_after_days = 30;
};

// Folds one observation into `record`. A passed (or unknown) run's duration is smoothed in. A failed run's
// duration is smoothed in only when it is longer than the estimate (or the test has none yet): a failure
// often stops a test early, so a short time says little about the next run, while a long one (a hang until
// the timeout) is likely to recur until the test is fixed, and under-estimating makes a partition late.
// A skipped run's duration counts only for a test with no duration yet or skipped last time too (a test that
// always skips). Any known outcome replaces the last one. A duration measured under another ctest -j than the
// estimate's replaces it instead of being smoothed in: tests run slower side by side, and the two levels'
// times are kept apart rather than averaged.
void fold(TestRecord& record, const Observation& observation, double smoothing_factor);

// What update() did.
struct UpdateSummary {
  std::size_t observed = 0;   // Observations folded in.
  std::size_t added = 0;      // Tests that were not in the store before.
  std::size_t forgotten = 0;  // Tests dropped by the aging rule.
  std::size_t stored = 0;     // Tests in the store afterwards.
};

// The partitions of one CI run, as a TLB server keeps them: it checks each partition's tests against the
// others' as they report (the original TLB's universal-set and sub-set checks) and proves the run complete.
// The timing file keeps none: there the records stay files for `tlb verify`.
class RunLedger {
 public:
  virtual ~RunLedger() = default;

  // "job J, run V at URL", for messages.
  virtual std::string describe() const = 0;

  // Reports the tests a partition was given (its record, before the run). Throws RunConflict when they
  // contradict what the run's other partitions reported, io::InputError when the server cannot be reached.
  virtual void report_partition(const io::PartitionRecord& record) = 0;

  // The server's verification of the run, as `tlb verify` prints it; `records` is set to how many partitions
  // reported. Throws io::InputError when the server cannot be reached or no partition has reported.
  virtual io::Verification verify(bool strict, std::size_t& records) = 0;
};

// A partition whose tests contradict its run's other partitions (another test list, another total, a test
// another partition holds): the split contract would break, so the partition must not run.
class RunConflict : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Store {
 public:
  virtual ~Store() = default;

  // Where the history lives, as the user wrote it (for messages and records).
  virtual const std::string& location() const = 0;

  // Never throws for missing, corrupt or unreachable history: see LoadedHistory.
  virtual LoadedHistory load() = 0;

  // Applies the reports in order, all or none. Throws io::InputError, leaving the store as it was, when it
  // cannot be written or when what is stored cannot be read: it is never replaced by less than it holds.
  virtual UpdateSummary update(const std::vector<RunReport>& reports) = 0;

  // The run's ledger when this store keeps one (a server, given a job version), else nullptr.
  virtual RunLedger* run_ledger() { return nullptr; }
};

// A store URL that names no backend this tlb has (an unknown scheme), or a server store without a job name.
class UnsupportedStore : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// What a server store needs beyond its URL (the settings TLB_JOB_NAME, TLB_JOB_VERSION, TLB_TOKEN,
// TLB_SERVER_TIMEOUT and TLB_SERVER_RETRY_SECONDS).
struct ServerOptions {
  std::string job;             // The namespace of the history on the server. Required.
  std::string job_version;     // The CI run, whose first read freezes the snapshot all its partitions split
                               // on. "" when there is none: the live history is read, and no ledger kept.
  std::string token;           // Sent as a bearer token with writes; "" for none.
  double timeout_seconds = 5;  // For connecting, and for each read and write: a server never hangs a run.
  std::string run_key;         // What tells this cell of a CI matrix from the others (see run_version).
  // How long a request is sent again, after no answer or a 502, 503 or 504 (a replica restarting behind a
  // proxy): every request of the store is idempotent. 0: sent once.
  double retry_seconds = 10;
};

// The name of the server's run: the job version, and, when there is a run key, a dot and the first 8 hex
// digits of its hash ("1234.5f0e3c2a"), so that the cells of a CI matrix (another configuration, compiler,
// system, CI job or TLB_RUN_KEY) under one CI run id are runs of their own. "" without a job version.
std::string run_version(const ServerOptions& server);

// Whether `url` names a TLB server (http:// or https://, in any case) rather than a timing file.
bool is_server_url(const std::string& url);

// "path" or "file://path": the timing file; "http://host:port" or "https://...": a TLB server. Throws
// UnsupportedStore for other schemes, and for a server without a job name.
std::unique_ptr<Store> open_store(const std::string& url, const HistoryPolicy& policy = {},
                                  const ServerOptions& server = {});

}  // namespace tlb::store
