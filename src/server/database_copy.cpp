#include "server/database_copy.hpp"

namespace tlb::server {
namespace {

enum class Kind { integer, real, text };

struct Table {
  std::string name;
  std::vector<std::pair<std::string, Kind>> columns;
  std::string identity;  // The autoincrement key, whose sequence continues after the copied rows.
};

// The source's tables and their columns, from SQLite's catalog.
std::vector<Table> sqlite_tables(Session& s) {
  std::vector<Table> tables;
  Statement names = s.prepare(
      "SELECT name, sql LIKE '%AUTOINCREMENT%' FROM sqlite_master WHERE type = 'table' "
      "AND name NOT LIKE 'sqlite_%' ORDER BY name");
  while (names.step()) {
    Table table{names.text(0), {}, {}};
    Statement columns = s.prepare("SELECT name, upper(type), pk FROM pragma_table_info(?1) ORDER BY cid");
    columns.bind(1, table.name);
    while (columns.step()) {
      const std::string type = columns.text(1);
      const Kind kind = type.find("INT") != std::string::npos    ? Kind::integer
                        : type.find("REAL") != std::string::npos ? Kind::real
                                                                 : Kind::text;
      table.columns.emplace_back(columns.text(0), kind);
      if (names.integer(1) != 0 && columns.integer(2) != 0) table.identity = columns.text(0);
    }
    tables.push_back(std::move(table));
  }
  return tables;
}

std::int64_t rows_in(Session& s, const std::string& table) {
  Statement count = s.prepare("SELECT count(*) FROM " + table);
  count.step();
  return count.integer(0);
}

// Copies one table's rows; returns how many.
std::int64_t copy_rows(Session& from, Session& to, const Table& table) {
  std::string columns, placeholders;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    columns += (i == 0 ? "" : ", ") + table.columns[i].first;
    placeholders += (i == 0 ? "?" : ", ?") + std::to_string(i + 1);
  }
  Statement rows = from.prepare("SELECT " + columns + " FROM " + table.name);
  Statement insert =
      to.prepare("INSERT INTO " + table.name + " (" + columns + ") VALUES (" + placeholders + ")");
  std::int64_t copied = 0;
  while (rows.step()) {
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      const int column = static_cast<int>(i);
      if (rows.is_null(column)) {
        insert.bind_null(column + 1);
      } else if (table.columns[i].second == Kind::integer) {
        insert.bind(column + 1, rows.integer(column));
      } else if (table.columns[i].second == Kind::real) {
        insert.bind(column + 1, rows.real(column));
      } else {
        insert.bind(column + 1, rows.text(column));
      }
    }
    insert.run();
    ++copied;
  }
  return copied;
}

}  // namespace

std::vector<std::pair<std::string, std::int64_t>> copy_database(Database& from, Database& to) {
  return to.transaction(true, [&](Session& target) {
    return from.transaction(false, [&](Session& source) {
      const std::vector<Table> tables = sqlite_tables(source);
      for (const Table& table : tables) {
        if (const std::int64_t rows = rows_in(target, table.name); rows != 0) {
          throw DatabaseError(to.path() + ": not empty (" + table.name + " has " + std::to_string(rows) +
                              " rows): --copy-from copies into an empty database only");
        }
      }
      std::vector<std::pair<std::string, std::int64_t>> copied;
      for (const Table& table : tables) {
        copied.emplace_back(table.name, copy_rows(source, target, table));
        if (!table.identity.empty() && to.dialect() == db::Dialect::postgres) {
          // An identity column's next value follows the copied keys.
          Statement next = target.prepare("SELECT setval(pg_get_serial_sequence('" + table.name + "', '" +
                                          table.identity + "'), coalesce(max(" + table.identity +
                                          "), 0) + 1, " + "false) FROM " + table.name);
          next.step();
        }
      }
      return copied;
    });
  });
}

}  // namespace tlb::server
