// The SQLite backend (db_backend.hpp): one file, WAL journal, synchronous=FULL, so a transaction is on disk
// when COMMIT returns.
#include <sqlite3.h>

#include <chrono>

#include "server/db_backend.hpp"

namespace tlb::server::db {
namespace {

// How long a statement waits for a lock another process holds (a second server on the same file, or a
// backup tool) before it fails.
constexpr int kBusyTimeoutMs = 10'000;

std::string describe(sqlite3* db, const std::string& path) {
  return path + ": database error: " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory");
}

class SqliteCursor final : public Cursor {
 public:
  SqliteCursor(sqlite3* db, std::string_view sql, bool keep, const std::string& path) : db_(db), path_(path) {
    const unsigned flags = keep ? SQLITE_PREPARE_PERSISTENT : 0;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), flags, &statement_, nullptr) !=
        SQLITE_OK) {
      const std::string message = describe(db_, path_);
      sqlite3_finalize(statement_);
      throw DatabaseError(message);
    }
  }
  ~SqliteCursor() override { sqlite3_finalize(statement_); }
  SqliteCursor(const SqliteCursor&) = delete;
  SqliteCursor& operator=(const SqliteCursor&) = delete;

  void bind_text(int index, std::string_view text) override {
    check(sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
  }
  void bind_integer(int index, std::int64_t value) override {
    check(sqlite3_bind_int64(statement_, index, value));
  }
  void bind_real(int index, double value) override { check(sqlite3_bind_double(statement_, index, value)); }
  void bind_null(int index) override { check(sqlite3_bind_null(statement_, index)); }

  bool step() override {
    const int status = sqlite3_step(statement_);
    if (status == SQLITE_ROW) return true;
    if (status == SQLITE_DONE) {
      changes_ = sqlite3_changes64(db_);
      return false;
    }
    const std::string message = describe(db_, path_);
    sqlite3_reset(statement_);
    throw DatabaseError(message);
  }
  void reset() override { sqlite3_reset(statement_); }
  void clear_bindings() override { sqlite3_clear_bindings(statement_); }
  std::int64_t changes() const override { return changes_; }

  std::string text(int column) const override {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
    const int size = sqlite3_column_bytes(statement_, column);
    return data == nullptr ? std::string() : std::string(data, static_cast<std::size_t>(size));
  }
  std::int64_t integer(int column) const override { return sqlite3_column_int64(statement_, column); }
  double real(int column) const override { return sqlite3_column_double(statement_, column); }
  bool is_null(int column) const override { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }

 private:
  void check(int status) const {
    if (status != SQLITE_OK) throw DatabaseError(describe(db_, path_));
  }

  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
  const std::string& path_;
  std::int64_t changes_ = 0;
};

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(std::string path) : path_(std::move(path)) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      const std::string message = describe(db_, path_);
      sqlite3_close(db_);
      throw DatabaseError(message);
    }
    try {
      configure();
    } catch (...) {
      sqlite3_close(db_);
      throw;
    }
  }
  ~SqliteConnection() override {
    // A clean close checkpoints the WAL into the database file and removes it.
    sqlite3_close_v2(db_);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Dialect dialect() const override { return Dialect::sqlite; }
  const std::string& name() const override { return path_; }

  void begin(bool write) override { execute(write ? "BEGIN IMMEDIATE" : "BEGIN"); }
  void commit() override { execute("COMMIT"); }
  void rollback() noexcept override {
    char* error = nullptr;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, &error);
    sqlite3_free(error);
  }

  std::unique_ptr<Cursor> prepare(std::string_view sql, bool keep) override {
    return std::make_unique<SqliteCursor>(db_, sql, keep, path_);
  }

  void execute(std::string_view sql) override {
    char* error = nullptr;
    if (sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = path_ + ": database error: " + (error != nullptr ? error : sqlite3_errmsg(db_));
      sqlite3_free(error);
      throw DatabaseError(message);
    }
  }

  double now() override {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  std::int64_t schema_version() override { return single("PRAGMA user_version"); }
  void set_schema_version(std::int64_t version) override {
    execute("PRAGMA user_version = " + std::to_string(version));
  }
  bool has_tables() override {
    return single("SELECT count(*) FROM sqlite_master WHERE type = 'table'") != 0;
  }

 private:
  void configure() {
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    sqlite3_extended_result_codes(db_, 1);
    // journal_mode answers with the mode it is in; a file that is not a database fails here.
    {
      SqliteCursor journal(db_, "PRAGMA journal_mode = WAL", false, path_);
      // ":memory:" (simulations, bench/swarm.cpp) has no journal file and answers "memory".
      const std::string wanted = path_ == ":memory:" ? "memory" : "wal";
      if (!journal.step() || journal.text(0) != wanted) {
        throw DatabaseError(path_ + ": cannot switch the database to WAL mode");
      }
    }
    execute("PRAGMA synchronous = FULL");
    execute("PRAGMA foreign_keys = ON");
  }

  std::int64_t single(std::string_view sql) {
    SqliteCursor query(db_, sql, false, path_);
    query.step();
    return query.integer(0);
  }

  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace

std::unique_ptr<Connection> open_sqlite(const std::string& path) {
  return std::make_unique<SqliteConnection>(path);
}

}  // namespace tlb::server::db
