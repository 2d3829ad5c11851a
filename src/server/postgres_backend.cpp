// The PostgreSQL backend (db_backend.hpp), on libpq: parameters and results as text (numbers parsed with
// from_chars, doubles sent in their shortest round-trip form), statements prepared once per connection and
// parameter types. A lost connection fails the request with DatabaseUnavailable; the next transaction
// connects again.
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "server/db_backend.hpp"

namespace tlb::server::db {
namespace {

// pg_advisory_xact_lock's key for write transactions ("tlb" in ASCII): one writer at a time across every
// replica, as SQLite's BEGIN IMMEDIATE across processes. Migrating runs in a write transaction, so under it
// too.
constexpr std::int64_t kWriteLock = 0x746c62;
// A statement (or a wait for the write lock) running longer fails instead of holding a request forever.
constexpr std::string_view kStatementTimeout = "30s";

// Parameter types by OID (pg_type.h, stable across versions); 0 lets the server infer it (a NULL).
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kFloat8Oid = 701;

// `?N` placeholders as PostgreSQL's `$N` (a bare `?` takes the next number), outside quotes.
std::string dollar_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 8);
  char quote = 0;
  int next = 1;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '?') {
      std::size_t end = i + 1;
      while (end < sql.size() && sql[end] >= '0' && sql[end] <= '9') ++end;
      out += '$';
      if (end == i + 1) {
        out += std::to_string(next++);
      } else {
        out.append(sql.substr(i + 1, end - i - 1));
      }
      i = end - 1;
      continue;
    }
    out += c;
  }
  return out;
}

// SQLSTATE classes that mean the server went away rather than the statement failed.
bool connection_lost(PGconn* conn, const PGresult* result) {
  if (PQstatus(conn) != CONNECTION_OK) return true;
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (state == nullptr) return result == nullptr;
  const std::string_view code(state);
  return code.starts_with("08") || code == "57P01" || code == "57P02" || code == "57P03";
}

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

class PostgresConnection;

// A number PostgreSQL sent as text in (row, column) of `result`: the whole text, or a DatabaseError naming
// `what` (a NULL or a value of another type is a bug in the query, not a 0).
template <class Number>
Number parse_number(const PGresult* result, int row, int column, std::string_view what) {
  Number value{};
  const char* begin = PQgetvalue(result, row, column);
  const char* end = begin + PQgetlength(result, row, column);
  const auto [stop, error] = std::from_chars(begin, end, value);
  if (PQgetisnull(result, row, column) != 0 || error != std::errc() || stop != end || begin == end) {
    throw DatabaseError("PostgreSQL: not a number in column " + std::to_string(column) + " of " +
                        std::string(what.substr(0, 120)) + ": '" + std::string(begin, end) + "'");
  }
  return value;
}

class PostgresCursor final : public Cursor {
 public:
  PostgresCursor(PostgresConnection& connection, std::string_view sql)
      : connection_(connection), sql_(dollar_placeholders(sql)) {}

  void bind_text(int index, std::string_view text) override {
    // PostgreSQL's text holds no NUL (the names the server takes have none; this keeps any other from being
    // cut).
    if (text.find('\0') != std::string_view::npos)
      throw DatabaseError("a text with a NUL byte cannot be stored");
    set(index, kTextOid, std::string(text));
  }
  void bind_integer(int index, std::int64_t value) override { set(index, kInt8Oid, std::to_string(value)); }
  void bind_real(int index, double value) override {
    std::array<char, 32> buffer{};
    const auto end = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value).ptr;
    set(index, kFloat8Oid, std::string(buffer.data(), end));
  }
  void bind_null(int index) override { set(index, 0, std::nullopt); }

  bool step() override;
  void reset() override {
    result_.reset();
    row_ = -1;
  }
  void clear_bindings() override { parameters_.clear(); }
  std::int64_t changes() const override { return changes_; }

  std::string text(int column) const override {
    return std::string(PQgetvalue(result_.get(), row_, column),
                       static_cast<std::size_t>(PQgetlength(result_.get(), row_, column)));
  }
  std::int64_t integer(int column) const override {
    return parse_number<std::int64_t>(result_.get(), row_, column, sql_);
  }
  double real(int column) const override { return parse_number<double>(result_.get(), row_, column, sql_); }
  bool is_null(int column) const override { return PQgetisnull(result_.get(), row_, column) != 0; }

 private:
  struct Parameter {
    Oid type = 0;
    std::optional<std::string> value;
  };
  void set(int index, Oid type, std::optional<std::string> value) {
    if (index < 1) throw DatabaseError("parameter index " + std::to_string(index) + " out of range");
    if (parameters_.size() < static_cast<std::size_t>(index))
      parameters_.resize(static_cast<std::size_t>(index));
    parameters_[static_cast<std::size_t>(index) - 1] = Parameter{type, std::move(value)};
  }

  PostgresConnection& connection_;
  std::string sql_;
  std::vector<Parameter> parameters_;
  Result result_;
  int row_ = -1;
  std::int64_t changes_ = 0;
};

class PostgresConnection final : public Connection {
 public:
  explicit PostgresConnection(std::string url) : url_(std::move(url)), name_(mask_password(url_)) {
    connect();
  }
  ~PostgresConnection() override { PQfinish(conn_); }
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  Dialect dialect() const override { return Dialect::postgres; }
  const std::string& name() const override { return name_; }

  void begin(bool write) override {
    const std::string sql = write ? "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(" +
                                        std::to_string(kWriteLock) + ")"
                                  : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    if (PQstatus(conn_) != CONNECTION_OK) connect();
    try {
      start(sql);
    } catch (const DatabaseUnavailable&) {
      // A connection that died while idle (PostgreSQL restarted) is found out here, before any work: connect
      // again once.
      connect();
      start(sql);
    }
  }
  // Runs a BEGIN; one that fails after the BEGIN itself ran (the write lock's statement timeout) is rolled
  // back, so that the connection is not left in an aborted transaction that refuses every later one.
  void start(const std::string& sql) {
    try {
      execute(sql);
    } catch (const DatabaseError&) {
      rollback();
      throw;
    }
  }
  void commit() override { execute("COMMIT"); }
  void rollback() noexcept override {
    if (PQstatus(conn_) == CONNECTION_OK) PQclear(PQexec(conn_, "ROLLBACK"));
  }

  std::unique_ptr<Cursor> prepare(std::string_view sql, bool /*keep*/) override {
    return std::make_unique<PostgresCursor>(*this, sql);
  }

  void execute(std::string_view sql) override { check(Result(PQexec(conn_, std::string(sql).c_str())), sql); }

  // Inside a transaction: a lost connection is an error here, never a new connection (which would leave the
  // rest of the transaction's work outside it).
  double now() override {
    const Result result(PQexec(conn_, "SELECT EXTRACT(EPOCH FROM clock_timestamp())"));
    check(result, "SELECT clock_timestamp()");
    return parse_number<double>(result.get(), 0, 0, name_);
  }

  std::int64_t schema_version() override {
    execute("CREATE TABLE IF NOT EXISTS tlb_schema (version BIGINT NOT NULL)");
    const Result result(PQexec(conn_, "SELECT coalesce(max(version), 0) FROM tlb_schema"));
    check(result, "SELECT version FROM tlb_schema");
    return std::stoll(PQgetvalue(result.get(), 0, 0));
  }
  void set_schema_version(std::int64_t version) override {
    execute("DELETE FROM tlb_schema; INSERT INTO tlb_schema (version) VALUES (" + std::to_string(version) +
            ")");
  }
  bool has_tables() override {
    const Result result(PQexec(conn_,
                               "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                               "AND tablename != 'tlb_schema'"));
    check(result, "SELECT FROM pg_tables");
    return std::string_view(PQgetvalue(result.get(), 0, 0)) != "0";
  }

  // Runs `sql` (already with $N placeholders) with `parameters`, preparing it first on this connection for
  // these parameter types.
  Result run(const std::string& sql, const std::vector<Oid>& types, const std::vector<const char*>& values) {
    auto key = std::pair{sql, types};
    auto found = prepared_.find(key);
    if (found == prepared_.end()) {
      const std::string statement = "tlb" + std::to_string(prepared_.size() + 1);
      check(Result(PQprepare(conn_, statement.c_str(), sql.c_str(), static_cast<int>(types.size()),
                             types.data())),
            sql);
      found = prepared_.emplace(std::move(key), statement).first;
    }
    Result result(PQexecPrepared(conn_, found->second.c_str(), static_cast<int>(values.size()), values.data(),
                                 nullptr, nullptr, 0));
    check(result, sql);
    return result;
  }

 private:
  void connect() {
    prepared_.clear();
    PQfinish(conn_);
    // connect_timeout first, so that the URL's own wins; dbname is expanded from the URL.
    const std::array<const char*, 4> keys{"connect_timeout", "application_name", "dbname", nullptr};
    const std::array<const char*, 4> values{"10", "tlb server", url_.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys.data(), values.data(), 1);
    if (PQstatus(conn_) != CONNECTION_OK) {
      const std::string message = name_ + ": cannot connect: " + one_line(PQerrorMessage(conn_));
      PQfinish(conn_);
      conn_ = nullptr;
      throw DatabaseUnavailable(message);
    }
    try {
      execute("SET statement_timeout = '" + std::string(kStatementTimeout) +
              "'; SET extra_float_digits = 3; SET client_min_messages = warning");
    } catch (...) {
      PQfinish(conn_);
      conn_ = nullptr;
      throw;
    }
  }

  static std::string one_line(std::string_view text) {
    std::string out;
    for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
  }

  void check(const Result& result, std::string_view sql) {
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return;
    const std::string message = name_ + ": database error: " + one_line(PQerrorMessage(conn_)) + " (in " +
                                std::string(sql.substr(0, 120)) + ")";
    if (connection_lost(conn_, result.get())) throw DatabaseUnavailable(message);
    throw DatabaseError(message);
  }

  std::string url_;
  std::string name_;
  PGconn* conn_ = nullptr;
  std::map<std::pair<std::string, std::vector<Oid>>, std::string> prepared_;
};

bool PostgresCursor::step() {
  if (!result_) {
    std::vector<Oid> types;
    std::vector<const char*> values;
    for (const Parameter& parameter : parameters_) {
      types.push_back(parameter.type);
      values.push_back(parameter.value ? parameter.value->c_str() : nullptr);
    }
    result_ = connection_.run(sql_, types, values);
    const char* tuples = PQcmdTuples(result_.get());
    changes_ = 0;
    std::from_chars(tuples, tuples + std::char_traits<char>::length(tuples), changes_);
    row_ = -1;
  }
  return ++row_ < PQntuples(result_.get());
}

}  // namespace

bool is_postgres_url(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string mask_password(std::string_view url) {
  std::string out(url);
  // user:password@ in the authority (before the first '/' after the scheme).
  const std::size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const std::size_t start = scheme + 3;
    const std::size_t end = std::min(out.find_first_of("/?", start), out.size());
    const std::size_t at = out.rfind('@', end);
    if (at != std::string::npos && at >= start) {
      const std::size_t colon = out.find(':', start);
      if (colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... among the parameters.
  for (std::size_t at = out.find("password="); at != std::string::npos; at = out.find("password=", at + 1)) {
    if (at > 0 && out[at - 1] != '?' && out[at - 1] != '&') continue;
    const std::size_t value = at + 9;
    const std::size_t end = std::min(out.find('&', value), out.size());
    out.replace(value, end - value, "***");
  }
  return out;
}

std::unique_ptr<Connection> open_postgres(const std::string& url) {
  return std::make_unique<PostgresConnection>(url);
}

}  // namespace tlb::server::db
