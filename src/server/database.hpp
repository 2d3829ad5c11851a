// The server's storage, one interface on two backends (db_backend.hpp): a SQLite file (sqlite_backend.cpp,
// the default) or a PostgreSQL database (postgres_backend.cpp) that several servers can share. The swarm's
// state, swarm_state.cpp, keeps its tables here through Session::prepare.
//
// Durability: SQLite in WAL mode with synchronous=FULL, PostgreSQL with its own WAL, so a transaction is on
// disk when COMMIT returns; every write request runs in one transaction committed before its response is
// sent, so an acknowledged write survives kill -9 and power loss. One connection, used under a mutex: the
// database serializes writers anyway (PostgreSQL's write transactions take one advisory lock), and requests
// are small.
//
// Schema: numbered migrations (database.cpp) that both backends run; the version is SQLite's PRAGMA
// user_version, PostgreSQL's one-row table tlb_schema. Version 4 (3 added the agents' secrets and the tests'
// confirm flag, 4 the generations and swarm_runs.recorded):
//   history          live history per job: the timing file's columns (file_store.hpp's TimedRecord)
//   versions         one row per (job, version) the server has seen, with when it was first seen (for the
//                    purge) and whether its snapshot is frozen
//   snapshots        the frozen copy of a job's live history, per version
//   records          partition records (io::format_record's text) per (job, version, partition, total)
//   applied_results  digests of the results bodies applied per (job, version): the idempotence of results
//   subset_sizes     the original API's subset sizes per namespace, in the order they were posted
//   universal_sets   the original correctness check's universal set per (job, version, module), each
//                    name with the partition ("p/t") that took it
//   subset_reports   every partition ("p/t") that posted a subset, per (job, version, module), in order
//   swarm_*          the swarm coordinator's runs, tests, leases, results, agents and answered pulls
//   generations      how often each job's history and each version's records and snapshot were written, by
//                    any server on this database: what a server's cached reads and ledgers are stamped with
//
// Several `tlb server` processes (replicas) may share one database file: BEGIN IMMEDIATE serializes their
// writers, and nothing a replica keeps in memory is trusted without a value read in the transaction.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/db_backend.hpp"
#include "store/file_store.hpp"

namespace tlb::server {

// A write that would add a job past Database::set_max_jobs's limit; the message names the job and the limit.
class JobLimitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The schema version this tlb writes; a database with a newer one is refused.
inline constexpr int kSchemaVersion = 4;

// Statements prepared once and kept, by their SQL: preparing is most of what a small query costs (the swarm's
// pull and report run a dozen each). Used only under the database's lock, by Session::prepare.
class StatementCache {
 public:
  StatementCache() = default;
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  void clear() { entries_.clear(); }

 private:
  friend class Session;
  struct Entry {
    std::unique_ptr<db::Cursor> cursor;
    bool in_use = false;  // Lent to a Statement now.
  };
  std::unordered_map<std::string, Entry> entries_;  // Nodes: an entry's address stays while the map grows.
};

// A prepared statement with bound parameters (the only way SQL sees a value). Parameters are bound by
// position, from 1. step() returns true while there is a row.
class Statement {
 public:
  // A statement of its own (destroyed at the end).
  explicit Statement(std::unique_ptr<db::Cursor> cursor) : owned_(std::move(cursor)), cursor_(owned_.get()) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::string_view text) {
    cursor_->bind_text(index, text);
    return *this;
  }
  Statement& bind(int index, std::int64_t value) {
    cursor_->bind_integer(index, value);
    return *this;
  }
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value) {
    cursor_->bind_real(index, value);
    return *this;
  }
  Statement& bind_null(int index) {
    cursor_->bind_null(index);
    return *this;
  }

  bool step() { return cursor_->step(); }
  // step() for statements that return no row.
  void run();
  // Rows the last run() inserted, updated or deleted.
  std::int64_t changes() const { return cursor_->changes(); }

  std::string text(int column) const { return cursor_->text(column); }
  std::int64_t integer(int column) const { return cursor_->integer(column); }
  double real(int column) const { return cursor_->real(column); }
  bool is_null(int column) const { return cursor_->is_null(column); }

 private:
  friend class Session;
  // Borrows a cached statement, reset and handed back at the end.
  Statement(db::Cursor& cached, bool* in_use) : cursor_(&cached), in_use_(in_use) { *in_use_ = true; }

  std::unique_ptr<db::Cursor> owned_;
  db::Cursor* cursor_;
  bool* in_use_ = nullptr;  // Set when borrowed from a StatementCache.
};

// A partition: number and total ("p/t" in the original API).
struct PartitionId {
  int partition = 0;
  int total = 0;
  friend auto operator<=>(const PartitionId&, const PartitionId&) = default;
};

// One name of an original universal set and the partition that took it, if any.
struct SetEntry {
  std::string name;
  std::optional<PartitionId> mark;
};

struct StoredRecord {
  PartitionId id;
  std::string text;  // io::format_record's JSON.
};

// A job version as the dashboard lists it.
struct VersionSummary {
  std::string version;
  std::int64_t created = 0;              // When the server first saw it (unix seconds).
  std::size_t partitions = 0;            // Partition records stored.
  std::uint64_t records_generation = 0;  // Session::records_generation.
};

class Database;

// What the database keeps in memory beside SQLite, used under its lock: the limit on jobs only. The jobs
// held and the generations are read from the database (the generations table), since another server on the
// same database may have changed them.
struct DatabaseMemo {
  std::size_t max_jobs = 0;  // 0: any number.
};

// The operations, valid only inside Database::transaction (which holds the lock and the transaction).
class Session {
 public:
  // Live history of `job` (empty for an unknown job).
  store::Timings history(const std::string& job);
  // Writes `after` over `before` (what history() returned): deletes the names it lost, writes the rows that
  // changed.
  void replace_history(const std::string& job, const store::Timings& before, const store::Timings& after);

  // Changes whenever any server on this database writes the job's live history (0: never): what a body
  // built from the history is stamped with, so that a cached one is used only while it is the same.
  std::uint64_t history_generation(const std::string& job);

  // Throws JobLimitError when `job` is new and the server holds its limit of jobs already; else counts it in.
  // Every write that can add a job (history, versions) calls it.
  void admit_job(const std::string& job);
  // Whether admit_job would take `job` now (for a check before a long operation).
  bool admits_job(const std::string& job);

  // Remembers (job, version) as first seen at `now` (unix seconds) unless it is known already.
  void touch_version(const std::string& job, const std::string& version, std::int64_t now);
  // The version's frozen snapshot; nullopt when it was never frozen.
  std::optional<store::Timings> snapshot(const std::string& job, const std::string& version);
  // Freezes a copy of the live history as the version's snapshot (the caller checked it is not frozen).
  void freeze_snapshot(const std::string& job, const std::string& version, std::int64_t now);
  // Changes whenever the version's snapshot is frozen (again, after a purge); 0 before the first.
  std::uint64_t snapshot_generation(const std::string& job, const std::string& version);

  // Every job the server holds a history or a version of, sorted by name (bytes).
  std::vector<std::string> jobs();
  // The versions of `job`, newest first: first seen later, then (same second) the longer name, then the
  // greater, so that numbered CI runs seen at once still come in their order.
  std::vector<VersionSummary> versions(const std::string& job);

  // Changes whenever any server writes one of the version's records (put_record); 0 before the first.
  std::uint64_t records_generation(const std::string& job, const std::string& version);
  // Partition records of a version, sorted by (partition, total).
  std::vector<StoredRecord> records(const std::string& job, const std::string& version);
  void put_record(const std::string& job, const std::string& version, PartitionId id,
                  const std::string& text);

  bool applied(const std::string& job, const std::string& version, const std::string& digest);
  void mark_applied(const std::string& job, const std::string& version, const std::string& digest);

  std::vector<std::int64_t> subset_sizes(const std::string& ns);
  void add_subset_size(const std::string& ns, std::int64_t size);

  // The universal set, sorted by name (bytes); empty when none was posted.
  std::vector<SetEntry> universal_set(const std::string& job, const std::string& version,
                                      const std::string& module);
  // Inserts `entries` (a name given twice keeps its last mark) as the universal set.
  void put_universal_set(const std::string& job, const std::string& version, const std::string& module,
                         const std::vector<SetEntry>& entries);
  void mark(const std::string& job, const std::string& version, const std::string& module,
            const std::string& name, PartitionId id);
  // Every partition that posted a subset, in the order they posted (repeats included).
  std::vector<PartitionId> subset_reports(const std::string& job, const std::string& version,
                                          const std::string& module);
  void add_subset_report(const std::string& job, const std::string& version, const std::string& module,
                         PartitionId id);

  // Deletes every version first seen before `before` (unix seconds) with all that hangs on it. Returns how
  // many versions went.
  std::size_t purge_versions(std::int64_t before);

  // Any statement, for the swarm's state (swarm_state.cpp), which keeps its own tables in this database.
  // Prepared once per connection and reused; the same SQL while an earlier one is still open gets its own.
  // SQL in the dialect both backends accept (db_backend.hpp).
  Statement prepare(std::string_view sql);

 private:
  friend class Database;
  Session(db::Connection& connection, StatementCache& cache, DatabaseMemo& memo)
      : connection_(connection), cache_(cache), memo_(memo) {}
  // The generations table (schema version 4): the stamp of (kind, job, version) (0: never written), and a
  // new one.
  std::uint64_t generation(std::string_view kind, const std::string& job, const std::string& version);
  void bump_generation(std::string_view kind, const std::string& job, const std::string& version);

  db::Connection& connection_;
  StatementCache& cache_;
  DatabaseMemo& memo_;
};

class Database {
 public:
  // Opens `location`: a PostgreSQL URL (postgresql://user@host:port/db, db::is_postgres_url) or else a SQLite
  // file, created when missing (":memory:": a database in memory, for simulations). Creates or upgrades the
  // schema. Throws DatabaseError naming the file or URL (password masked) when it cannot be opened, is not a
  // tlb database, or has a newer schema.
  explicit Database(const std::string& location);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // The file, or the URL with its password masked.
  const std::string& path() const { return connection_->name(); }
  db::Dialect dialect() const { return connection_->dialect(); }

  // The database's clock, in unix seconds: what every server sharing this database measures leases by.
  // SQLite's is this machine's system clock (the servers of one file share a host); PostgreSQL's is its
  // own, as this machine's clock plus its offset from PostgreSQL's, measured at the start of a transaction
  // at most every 10 s. Takes no lock: the swarm's coordinator reads it inside its transactions.
  double now() const;

  // At most `jobs` jobs (histories and versions by job name); 0, the default, any number.
  void set_max_jobs(std::size_t jobs) {
    std::lock_guard lock(mutex_);
    memo_.max_jobs = jobs;
  }

  // Runs `work` in one transaction under the lock: committed (durably) when it returns, rolled back when it
  // throws. `write` takes the write lock at once (BEGIN IMMEDIATE; an advisory lock on PostgreSQL, whose
  // reads see a REPEATABLE READ snapshot), so a read-then-write never has to retry, across processes too.
  template <class Work>
  auto transaction(bool write, Work&& work) -> decltype(work(std::declval<Session&>())) {
    std::lock_guard lock(mutex_);
    Transaction guard(*this, write);
    Session session(*connection_, cache_, memo_);
    sync_clock();
    if constexpr (std::is_void_v<decltype(work(session))>) {
      work(session);
      guard.commit();
    } else {
      auto result = work(session);
      guard.commit();
      return result;
    }
  }

 private:
  // BEGIN on construction; ROLLBACK on destruction unless commit() ran.
  class Transaction {
   public:
    Transaction(Database& db, bool write);
    ~Transaction();
    void commit();

   private:
    Database& db_;
    bool done_ = false;
  };

  void migrate();
  // Measures the offset of the database's clock from this machine's, when the last measure is 10 s old
  // (PostgreSQL only; under the lock, in a transaction).
  void sync_clock();

  std::unique_ptr<db::Connection> connection_;
  StatementCache cache_;  // Destroyed before the connection closes.
  DatabaseMemo memo_;
  std::mutex mutex_;
  std::atomic<double> clock_offset_{0};  // The database's clock minus this machine's, in seconds.
  double clock_synced_ = -1e18;          // When clock_offset_ was measured (this machine's clock).
};

}  // namespace tlb::server
