// The connection under the server's database (database.hpp): one interface, two backends. sqlite_backend.cpp
// is the only file that includes sqlite3.h, postgres_backend.cpp the only one that includes libpq-fe.h.
//
// SQL is written once, in what both accept: `?N` placeholders (PostgreSQL's backend turns them into `$N`),
// INSERT ... ON CONFLICT, no SQLite-only functions. Table definitions are written for SQLite and mapped to
// PostgreSQL's types by migration_sql (database.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tlb::server {

// A database that cannot be opened, read or written; the message names the file (or the URL, password
// masked).
class DatabaseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The database cannot be reached now (PostgreSQL restarting, the network down): the request fails with 503,
// and a later one connects again.
class DatabaseUnavailable : public DatabaseError {
 public:
  using DatabaseError::DatabaseError;
};

}  // namespace tlb::server

namespace tlb::server::db {

enum class Dialect { sqlite, postgres };

// One prepared statement: parameters bound by position from 1, columns read from 0.
class Cursor {
 public:
  virtual ~Cursor() = default;
  virtual void bind_text(int index, std::string_view text) = 0;
  virtual void bind_integer(int index, std::int64_t value) = 0;
  virtual void bind_real(int index, double value) = 0;
  virtual void bind_null(int index) = 0;
  // Runs the statement on the first call, then moves to the next row; false past the last.
  virtual bool step() = 0;
  // Ready to run again, with the same parameters.
  virtual void reset() = 0;
  virtual void clear_bindings() = 0;
  // Rows the last run inserted, updated or deleted.
  virtual std::int64_t changes() const = 0;

  virtual std::string text(int column) const = 0;
  virtual std::int64_t integer(int column) const = 0;
  virtual double real(int column) const = 0;
  virtual bool is_null(int column) const = 0;
};

// A connection, used by one thread at a time (Database's lock). Errors throw DatabaseError (database.hpp),
// DatabaseUnavailable when the database cannot be reached.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  // What messages name: the file, or the URL with its password masked.
  virtual const std::string& name() const = 0;

  // A write transaction holds the database's write lock from its start (SQLite's BEGIN IMMEDIATE, an advisory
  // lock on PostgreSQL), so a read-then-write never acts on stale data, across processes too.
  virtual void begin(bool write) = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;

  // `keep`: the statement will be cached and run many times.
  virtual std::unique_ptr<Cursor> prepare(std::string_view sql, bool keep) = 0;
  // Statements without parameters or rows, several separated by ';'.
  virtual void execute(std::string_view sql) = 0;

  // The database's clock (unix seconds): the system's for SQLite, the server's for PostgreSQL.
  virtual double now() = 0;

  // The schema version (0: none yet) and whether the database holds tables of its own (inside a write
  // transaction).
  virtual std::int64_t schema_version() = 0;
  virtual void set_schema_version(std::int64_t version) = 0;
  virtual bool has_tables() = 0;
};

// Whether `location` names a PostgreSQL database (postgresql:// or postgres://) rather than a SQLite file.
bool is_postgres_url(std::string_view location);
// `url` with the password (user:password@, or a password= parameter) replaced by "***".
std::string mask_password(std::string_view url);

std::unique_ptr<Connection> open_sqlite(const std::string& path);
std::unique_ptr<Connection> open_postgres(const std::string& url);

}  // namespace tlb::server::db
