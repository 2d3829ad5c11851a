#include "server/database.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>

#include "io/text.hpp"

namespace tlb::server {
namespace {

std::string_view outcome_text(Outcome outcome) {
  return to_string(outcome);
}

store::TimedRecord timed_record(const Statement& row, int first) {
  store::TimedRecord entry;
  entry.record.seconds = row.real(first);
  const std::int64_t runs = row.integer(first + 1);
  entry.record.runs = static_cast<std::uint32_t>(std::clamp<std::int64_t>(runs, 0, UINT32_MAX));
  entry.record.last = outcome_named(row.text(first + 2)).value_or(Outcome::unknown);
  entry.last_seen = store::parse_date(row.text(first + 3)).value_or(store::Date{});
  return entry;
}

// Migration 1: the history server's tables.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE history (
  job TEXT NOT NULL, name TEXT NOT NULL,
  seconds REAL NOT NULL, runs INTEGER NOT NULL, last_result TEXT NOT NULL, last_seen TEXT NOT NULL,
  PRIMARY KEY (job, name)) WITHOUT ROWID;
CREATE TABLE versions (
  job TEXT NOT NULL, version TEXT NOT NULL,
  created INTEGER NOT NULL,
  snapshot_created INTEGER,
  PRIMARY KEY (job, version)) WITHOUT ROWID;
CREATE INDEX versions_by_age ON versions (created);
CREATE TABLE snapshots (
  job TEXT NOT NULL, version TEXT NOT NULL, name TEXT NOT NULL,
  seconds REAL NOT NULL, runs INTEGER NOT NULL, last_result TEXT NOT NULL, last_seen TEXT NOT NULL,
  PRIMARY KEY (job, version, name)) WITHOUT ROWID;
CREATE TABLE records (
  job TEXT NOT NULL, version TEXT NOT NULL, partition INTEGER NOT NULL, total INTEGER NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (job, version, partition, total)) WITHOUT ROWID;
CREATE TABLE applied_results (
  job TEXT NOT NULL, version TEXT NOT NULL, digest TEXT NOT NULL,
  PRIMARY KEY (job, version, digest)) WITHOUT ROWID;
CREATE TABLE subset_sizes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, size INTEGER NOT NULL);
CREATE INDEX subset_sizes_by_ns ON subset_sizes (ns, seq);
CREATE TABLE universal_sets (
  job TEXT NOT NULL, version TEXT NOT NULL, module TEXT NOT NULL, name TEXT NOT NULL,
  partition INTEGER, total INTEGER,
  PRIMARY KEY (job, version, module, name)) WITHOUT ROWID;
CREATE TABLE subset_reports (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, version TEXT NOT NULL, module TEXT NOT NULL,
  partition INTEGER NOT NULL, total INTEGER NOT NULL);
CREATE INDEX subset_reports_by_module ON subset_reports (job, version, module, seq);
)sql";

// Version 2 added the swarm coordinator's state (swarm_state.cpp); a version 1 database gains these tables.
constexpr std::string_view kSwarmSchema = R"sql(
CREATE TABLE swarm_runs (
  id INTEGER PRIMARY KEY, job TEXT NOT NULL, version TEXT NOT NULL, test_list_hash TEXT NOT NULL,
  created REAL NOT NULL, finished REAL NOT NULL DEFAULT 0, trusted INTEGER NOT NULL DEFAULT 0,
  UNIQUE (job, version));
CREATE TABLE swarm_tests (
  run INTEGER NOT NULL, name TEXT NOT NULL, seconds REAL NOT NULL, known INTEGER NOT NULL,
  important INTEGER NOT NULL, state INTEGER NOT NULL, is_check INTEGER NOT NULL DEFAULT 0,
  lease INTEGER NOT NULL DEFAULT 0, agent TEXT NOT NULL DEFAULT '', deadline REAL NOT NULL DEFAULT 0,
  expected_end REAL NOT NULL DEFAULT 0, losses INTEGER NOT NULL DEFAULT 0, excluded TEXT NOT NULL DEFAULT '',
  status INTEGER NOT NULL DEFAULT 0, result_seconds REAL NOT NULL DEFAULT 0, flaky INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run, name)) WITHOUT ROWID;
CREATE INDEX swarm_tests_by_state ON swarm_tests (state, deadline);
CREATE INDEX swarm_tests_by_agent ON swarm_tests (agent, state);
CREATE TABLE swarm_leases (
  lease INTEGER PRIMARY KEY, run INTEGER NOT NULL, name TEXT NOT NULL, agent TEXT NOT NULL);
CREATE TABLE swarm_results (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run INTEGER NOT NULL, name TEXT NOT NULL, agent TEXT NOT NULL,
  lease INTEGER NOT NULL UNIQUE, status INTEGER NOT NULL, seconds REAL NOT NULL,
  reference_estimate REAL NOT NULL, known INTEGER NOT NULL, authoritative INTEGER NOT NULL,
  is_check INTEGER NOT NULL, plausible INTEGER NOT NULL, reported REAL NOT NULL);
CREATE INDEX swarm_results_by_test ON swarm_results (run, name);
CREATE INDEX swarm_results_by_agent ON swarm_results (agent);
CREATE TABLE swarm_agents (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, key TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL, test_list_hash TEXT NOT NULL,
  os TEXT NOT NULL, arch TEXT NOT NULL, cores INTEGER NOT NULL, ram_mb REAL NOT NULL, bench REAL NOT NULL,
  rtt_ms REAL NOT NULL, trust INTEGER NOT NULL, error_rate REAL NOT NULL, speed REAL NOT NULL,
  speed_samples INTEGER NOT NULL, checks_passed INTEGER NOT NULL, consecutive_losses INTEGER NOT NULL,
  unconfirmed_failures INTEGER NOT NULL, registered REAL NOT NULL, last_seen REAL NOT NULL,
  left_swarm INTEGER NOT NULL, evicted_because TEXT NOT NULL, checks_asked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE swarm_answers (
  agent TEXT NOT NULL, request_id TEXT NOT NULL, answer TEXT NOT NULL,
  PRIMARY KEY (agent, request_id)) WITHOUT ROWID;
)sql";

// Version 3: each agent's secret, which its calls after registering must carry (an agent registered before
// has none, and must register again); a test whose pass must be confirmed on a second agent (new, or failed
// last time).
constexpr std::string_view kSwarmSchemaV3 = R"sql(
ALTER TABLE swarm_agents ADD COLUMN secret TEXT NOT NULL DEFAULT '';
ALTER TABLE swarm_tests ADD COLUMN confirm INTEGER NOT NULL DEFAULT 0;
)sql";

// Migration 4 (several servers on one database):
// generations: a stamp of the last write of each job's history ('history', job, ''), and of each version's
// records ('records') and snapshot ('snapshot'), by any replica: a new random value in the transaction of the
// write (equality is all a stamp needs, and no row that every write updates serializes the writers), so a
// value does not come twice, even for a version purged and seen anew. A replica's cached reads and run
// ledgers are stamped with these values.
// swarm_runs.recorded: whether a finished run's results went into the history (exactly once, by whichever
// replica gets there first); the runs of an older database are all recorded already.
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE generations (
  kind TEXT NOT NULL, job TEXT NOT NULL, version TEXT NOT NULL, value INTEGER NOT NULL,
  PRIMARY KEY (kind, job, version));
ALTER TABLE swarm_runs ADD COLUMN recorded INTEGER NOT NULL DEFAULT 1;
)sql";

// The schema's migrations, in order: migration N takes a database from version N-1 to N (kSchemaVersion is
// their count). Written for SQLite; migration_sql maps them for PostgreSQL. A new one is appended here.
constexpr std::array<std::string_view, kSchemaVersion> kMigrations{kSchema, kSwarmSchema, kSwarmSchemaV3,
                                                                   kSchemaV4};

// Replaces the whole word `word` (not part of a longer identifier) everywhere in `text`.
void replace_word(std::string& text, std::string_view word, std::string_view by) {
  const auto identifier = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; };
  for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at)) {
    const std::size_t end = at + word.size();
    if ((at > 0 && identifier(text[at - 1])) || (end < text.size() && identifier(text[end]))) {
      at = end;
      continue;
    }
    text.replace(at, word.size(), by);
    at += by.size();
  }
}

// A migration's SQL for `dialect`. PostgreSQL: INTEGER as BIGINT, REAL as DOUBLE PRECISION, TEXT compared by
// bytes (COLLATE "C", SQLite's BINARY), autoincrement keys as identity columns, no WITHOUT ROWID.
std::string migration_sql(std::string_view sql, db::Dialect dialect) {
  std::string text(sql);
  if (dialect == db::Dialect::sqlite) return text;
  replace_word(text, "INTEGER PRIMARY KEY AUTOINCREMENT",
               "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
  replace_word(text, "WITHOUT ROWID", "");
  replace_word(text, "INTEGER", "BIGINT");
  replace_word(text, "REAL", "DOUBLE PRECISION");
  replace_word(text, "TEXT", "TEXT COLLATE \"C\"");
  return text;
}

}  // namespace

// --- Statement ---

Statement::~Statement() {
  if (in_use_ == nullptr) return;
  cursor_->reset();
  cursor_->clear_bindings();
  *in_use_ = false;
}

Statement Session::prepare(std::string_view sql) {
  auto [it, added] = cache_.entries_.try_emplace(std::string(sql));
  StatementCache::Entry& entry = it->second;
  // The same query inside a loop over its own rows gets a statement of its own.
  if (entry.in_use) return Statement(connection_.prepare(sql, false));
  if (added) {
    try {
      entry.cursor = connection_.prepare(sql, true);
    } catch (...) {
      cache_.entries_.erase(it);
      throw;
    }
  }
  return Statement(*entry.cursor, &entry.in_use);
}

void Statement::run() {
  while (step()) {
  }
  // Ready to be bound and run again.
  cursor_->reset();
}

// --- Session ---

store::Timings Session::history(const std::string& job) {
  Statement rows = prepare("SELECT name, seconds, runs, last_result, last_seen FROM history WHERE job = ?1");
  rows.bind(1, job);
  store::Timings timings;
  while (rows.step()) timings.emplace_hint(timings.end(), rows.text(0), timed_record(rows, 1));
  return timings;
}

void Session::replace_history(const std::string& job, const store::Timings& before,
                              const store::Timings& after) {
  admit_job(job);
  bump_generation("history", job, "");
  Statement remove = prepare("DELETE FROM history WHERE job = ?1 AND name = ?2");
  for (const auto& [name, entry] : before) {
    if (after.contains(name)) continue;
    remove.bind(1, job).bind(2, name).run();
  }
  // Written in chunks of 64, 32, ... 1 rows a statement: one round trip to PostgreSQL per chunk, not per
  // test, and at most seven statements to prepare.
  std::vector<std::pair<const std::string*, const store::TimedRecord*>> changed;
  for (const auto& [name, entry] : after) {
    const auto old = before.find(name);
    if (old == before.end() || !(old->second == entry)) changed.emplace_back(&name, &entry);
  }
  for (std::size_t at = 0; at < changed.size();) {
    std::size_t rows = 64;
    while (rows > changed.size() - at) rows /= 2;
    std::string sql = "INSERT INTO history (job, name, seconds, runs, last_result, last_seen) VALUES ";
    for (std::size_t row = 0; row < rows; ++row) {
      const std::size_t first = row * 6 + 1;
      sql += (row == 0 ? "(" : ", (");
      for (std::size_t column = 0; column < 6; ++column)
        sql += (column == 0 ? "?" : ", ?") + std::to_string(first + column);
      sql += ")";
    }
    sql +=
        " ON CONFLICT (job, name) DO UPDATE SET seconds = excluded.seconds, runs = excluded.runs, "
        "last_result = excluded.last_result, last_seen = excluded.last_seen";
    Statement upsert = prepare(sql);
    for (std::size_t row = 0; row < rows; ++row, ++at) {
      const auto& [name, entry] = changed[at];
      const int first = static_cast<int>(row * 6 + 1);
      upsert.bind(first, job)
          .bind(first + 1, *name)
          .bind(first + 2, entry->record.seconds)
          .bind(first + 3, static_cast<std::int64_t>(entry->record.runs))
          .bind(first + 4, outcome_text(entry->record.last))
          .bind(first + 5, store::format_date(entry->last_seen));
    }
    upsert.run();
  }
}

std::uint64_t Session::history_generation(const std::string& job) {
  return generation("history", job, "");
}

std::uint64_t Session::generation(std::string_view kind, const std::string& job, const std::string& version) {
  Statement row = prepare("SELECT value FROM generations WHERE kind = ?1 AND job = ?2 AND version = ?3");
  row.bind(1, kind).bind(2, job).bind(3, version);
  return row.step() ? static_cast<std::uint64_t>(row.integer(0)) : 0;
}

void Session::bump_generation(std::string_view kind, const std::string& job, const std::string& version) {
  // Random, below 2^63 and never 0 (no write yet).
  const auto stamp = static_cast<std::int64_t>((io::random_bits() >> 1) | 1);
  prepare(
      "INSERT INTO generations (kind, job, version, value) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (kind, job, version) DO UPDATE SET value = excluded.value")
      .bind(1, kind)
      .bind(2, job)
      .bind(3, version)
      .bind(4, stamp)
      .run();
}

// Read from the database, not remembered: another replica may have added or purged jobs. Inside a write
// transaction (every caller of admit_job), so two replicas cannot both take the last place.
bool Session::admits_job(const std::string& job) {
  if (memo_.max_jobs == 0) return true;
  Statement known = prepare(
      "SELECT 1 WHERE EXISTS (SELECT 1 FROM versions WHERE job = ?1) OR EXISTS (SELECT 1 FROM history WHERE "
      "job = ?1)");
  known.bind(1, job);
  if (known.step()) return true;
  Statement count =
      prepare("SELECT count(*) FROM (SELECT job FROM versions UNION SELECT job FROM history) AS held");
  count.step();
  return static_cast<std::size_t>(count.integer(0)) < memo_.max_jobs;
}

void Session::admit_job(const std::string& job) {
  if (memo_.max_jobs == 0) return;
  if (!admits_job(job)) {
    throw JobLimitError("the server holds " + std::to_string(memo_.max_jobs) +
                        " jobs, its limit (tlb server --max-jobs): job " + job + " would be one more");
  }
}

void Session::touch_version(const std::string& job, const std::string& version, std::int64_t now) {
  admit_job(job);
  prepare("INSERT INTO versions (job, version, created) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
      .bind(1, job)
      .bind(2, version)
      .bind(3, now)
      .run();
}

std::optional<store::Timings> Session::snapshot(const std::string& job, const std::string& version) {
  Statement frozen =
      prepare("SELECT 1 FROM versions WHERE job = ?1 AND version = ?2 AND snapshot_created IS NOT NULL");
  frozen.bind(1, job).bind(2, version);
  if (!frozen.step()) return std::nullopt;
  Statement rows = prepare(
      "SELECT name, seconds, runs, last_result, last_seen FROM snapshots WHERE job = ?1 AND version = ?2");
  rows.bind(1, job).bind(2, version);
  store::Timings timings;
  while (rows.step()) timings.emplace_hint(timings.end(), rows.text(0), timed_record(rows, 1));
  return timings;
}

void Session::freeze_snapshot(const std::string& job, const std::string& version, std::int64_t now) {
  touch_version(job, version, now);
  prepare("DELETE FROM snapshots WHERE job = ?1 AND version = ?2").bind(1, job).bind(2, version).run();
  prepare(
      "INSERT INTO snapshots (job, version, name, seconds, runs, last_result, last_seen) "
      "SELECT job, ?2, name, seconds, runs, last_result, last_seen FROM history WHERE job = ?1")
      .bind(1, job)
      .bind(2, version)
      .run();
  prepare("UPDATE versions SET snapshot_created = ?3 WHERE job = ?1 AND version = ?2")
      .bind(1, job)
      .bind(2, version)
      .bind(3, now)
      .run();
  bump_generation("snapshot", job, version);
}

std::uint64_t Session::snapshot_generation(const std::string& job, const std::string& version) {
  return generation("snapshot", job, version);
}

std::vector<std::string> Session::jobs() {
  Statement rows = prepare("SELECT job FROM versions UNION SELECT job FROM history ORDER BY job");
  std::vector<std::string> names;
  while (rows.step()) names.push_back(rows.text(0));
  return names;
}

std::vector<VersionSummary> Session::versions(const std::string& job) {
  Statement rows = prepare(
      "SELECT v.version, v.created, "
      "(SELECT count(*) FROM records r WHERE r.job = v.job AND r.version = v.version) "
      "FROM versions v WHERE v.job = ?1 ORDER BY v.created DESC, length(v.version) DESC, v.version DESC");
  rows.bind(1, job);
  std::vector<VersionSummary> versions;
  while (rows.step()) {
    versions.push_back(VersionSummary{rows.text(0), rows.integer(1),
                                      static_cast<std::size_t>(std::max<std::int64_t>(rows.integer(2), 0))});
    versions.back().records_generation = records_generation(job, versions.back().version);
  }
  return versions;
}

std::vector<StoredRecord> Session::records(const std::string& job, const std::string& version) {
  Statement rows = prepare(
      "SELECT partition, total, record FROM records WHERE job = ?1 AND version = ?2 ORDER BY partition, "
      "total");
  rows.bind(1, job).bind(2, version);
  std::vector<StoredRecord> records;
  while (rows.step()) {
    records.push_back(StoredRecord{
        PartitionId{static_cast<int>(rows.integer(0)), static_cast<int>(rows.integer(1))}, rows.text(2)});
  }
  return records;
}

std::uint64_t Session::records_generation(const std::string& job, const std::string& version) {
  return generation("records", job, version);
}

void Session::put_record(const std::string& job, const std::string& version, PartitionId id,
                         const std::string& text) {
  bump_generation("records", job, version);
  prepare(
      "INSERT INTO records (job, version, partition, total, record) VALUES (?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT (job, version, partition, total) DO UPDATE SET record = excluded.record")
      .bind(1, job)
      .bind(2, version)
      .bind(3, id.partition)
      .bind(4, id.total)
      .bind(5, text)
      .run();
}

bool Session::applied(const std::string& job, const std::string& version, const std::string& digest) {
  Statement row = prepare("SELECT 1 FROM applied_results WHERE job = ?1 AND version = ?2 AND digest = ?3");
  row.bind(1, job).bind(2, version).bind(3, digest);
  return row.step();
}

void Session::mark_applied(const std::string& job, const std::string& version, const std::string& digest) {
  prepare("INSERT INTO applied_results (job, version, digest) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
      .bind(1, job)
      .bind(2, version)
      .bind(3, digest)
      .run();
}

std::vector<std::int64_t> Session::subset_sizes(const std::string& ns) {
  Statement rows = prepare("SELECT size FROM subset_sizes WHERE ns = ?1 ORDER BY seq");
  rows.bind(1, ns);
  std::vector<std::int64_t> sizes;
  while (rows.step()) sizes.push_back(rows.integer(0));
  return sizes;
}

void Session::add_subset_size(const std::string& ns, std::int64_t size) {
  prepare("INSERT INTO subset_sizes (ns, size) VALUES (?1, ?2)").bind(1, ns).bind(2, size).run();
}

std::vector<SetEntry> Session::universal_set(const std::string& job, const std::string& version,
                                             const std::string& module) {
  Statement rows = prepare(
      "SELECT name, partition, total FROM universal_sets WHERE job = ?1 AND version = ?2 AND module = ?3 "
      "ORDER BY name");
  rows.bind(1, job).bind(2, version).bind(3, module);
  std::vector<SetEntry> entries;
  while (rows.step()) {
    SetEntry entry{rows.text(0), std::nullopt};
    if (!rows.is_null(1)) {
      entry.mark = PartitionId{static_cast<int>(rows.integer(1)), static_cast<int>(rows.integer(2))};
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

void Session::put_universal_set(const std::string& job, const std::string& version, const std::string& module,
                                const std::vector<SetEntry>& entries) {
  Statement insert = prepare(
      "INSERT INTO universal_sets (job, version, module, name, partition, total) VALUES (?1, ?2, ?3, ?4, ?5, "
      "?6) "
      "ON CONFLICT (job, version, module, name) DO UPDATE SET partition = excluded.partition, "
      "total = excluded.total");
  for (const SetEntry& entry : entries) {
    insert.bind(1, job).bind(2, version).bind(3, module).bind(4, entry.name);
    if (entry.mark) {
      insert.bind(5, entry.mark->partition).bind(6, entry.mark->total);
    } else {
      insert.bind_null(5).bind_null(6);
    }
    insert.run();
  }
}

void Session::mark(const std::string& job, const std::string& version, const std::string& module,
                   const std::string& name, PartitionId id) {
  prepare(
      "UPDATE universal_sets SET partition = ?5, total = ?6 "
      "WHERE job = ?1 AND version = ?2 AND module = ?3 AND name = ?4")
      .bind(1, job)
      .bind(2, version)
      .bind(3, module)
      .bind(4, name)
      .bind(5, id.partition)
      .bind(6, id.total)
      .run();
}

std::vector<PartitionId> Session::subset_reports(const std::string& job, const std::string& version,
                                                 const std::string& module) {
  Statement rows = prepare(
      "SELECT partition, total FROM subset_reports WHERE job = ?1 AND version = ?2 AND module = ?3 "
      "ORDER BY seq");
  rows.bind(1, job).bind(2, version).bind(3, module);
  std::vector<PartitionId> reports;
  while (rows.step()) {
    reports.push_back(PartitionId{static_cast<int>(rows.integer(0)), static_cast<int>(rows.integer(1))});
  }
  return reports;
}

void Session::add_subset_report(const std::string& job, const std::string& version, const std::string& module,
                                PartitionId id) {
  prepare("INSERT INTO subset_reports (job, version, module, partition, total) VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind(1, job)
      .bind(2, version)
      .bind(3, module)
      .bind(4, id.partition)
      .bind(5, id.total)
      .run();
}

std::size_t Session::purge_versions(std::int64_t before) {
  Statement old = prepare("SELECT job, version FROM versions WHERE created < ?1 ORDER BY job, version");
  old.bind(1, before);
  std::vector<std::pair<std::string, std::string>> versions;
  while (old.step()) versions.emplace_back(old.text(0), old.text(1));
  for (std::string_view table : {"snapshots", "records", "applied_results", "universal_sets",
                                 "subset_reports", "versions", "generations"}) {
    Statement remove = prepare("DELETE FROM " + std::string(table) + " WHERE job = ?1 AND version = ?2");
    for (const auto& [job, version] : versions) remove.bind(1, job).bind(2, version).run();
  }
  // Finished swarm runs as old, with their tests, leases and results (an open one is kept: agents work on
  // it).
  Statement runs = prepare("SELECT id FROM swarm_runs WHERE finished != 0 AND created < ?1");
  runs.bind(1, before);
  std::vector<std::int64_t> finished;
  while (runs.step()) finished.push_back(runs.integer(0));
  for (std::string_view table : {"swarm_tests", "swarm_leases", "swarm_results"}) {
    Statement remove = prepare("DELETE FROM " + std::string(table) + " WHERE run = ?1");
    for (std::int64_t run : finished) remove.bind(1, run).run();
  }
  Statement remove = prepare("DELETE FROM swarm_runs WHERE id = ?1");
  for (std::int64_t run : finished) remove.bind(1, run).run();
  return versions.size();
}

// --- Database ---

namespace {
double system_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

double Database::now() const {
  return system_now() + clock_offset_.load();
}

void Database::sync_clock() {
  if (connection_->dialect() == db::Dialect::sqlite) return;
  const double before = system_now();
  if (before - clock_synced_ < 10) return;
  const double database = connection_->now();
  const double after = system_now();
  clock_offset_ = database - (before + after) / 2;
  clock_synced_ = after;
}

Database::Database(const std::string& location)
    : connection_(db::is_postgres_url(location) ? db::open_postgres(location) : db::open_sqlite(location)) {
  migrate();
}

Database::~Database() = default;

// Runs the migrations the database lacks, in one write transaction (on PostgreSQL under the write lock, so
// that of two servers starting at once one migrates and the other finds it done).
void Database::migrate() {
  std::lock_guard lock(mutex_);
  Transaction guard(*this, true);
  sync_clock();  // Before anyone reads now(): the swarm's coordinator takes its start time from it.
  db::Connection& db = *connection_;
  const std::int64_t found = db.schema_version();
  if (found > kSchemaVersion) {
    throw DatabaseError(db.name() + ": database schema version " + std::to_string(found) +
                        " was written by a newer tlb; this one reads version " +
                        std::to_string(kSchemaVersion) +
                        " (upgrade tlb, or point --data-dir or --database elsewhere)");
  }
  if (found == kSchemaVersion) {
    guard.commit();
    return;
  }
  if (found == 0 && db.has_tables()) {
    throw DatabaseError(db.name() + ": not a tlb database (it has tables but no tlb schema version)");
  }
  for (auto version = static_cast<std::size_t>(found); version < kMigrations.size(); ++version) {
    db.execute(migration_sql(kMigrations[version], db.dialect()));
  }
  db.set_schema_version(kSchemaVersion);
  guard.commit();
}

Database::Transaction::Transaction(Database& db, bool write) : db_(db) {
  db_.connection_->begin(write);
}

Database::Transaction::~Transaction() {
  if (!done_) {
    db_.connection_->rollback();
  }
}

void Database::Transaction::commit() {
  db_.connection_->commit();
  done_ = true;
}

}  // namespace tlb::server
