// `tlb server --copy-from OLD.sqlite`: a SQLite store moved into another database (PostgreSQL), table by
// table.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "server/database.hpp"

namespace tlb::server {

// Copies every table of `from` (a SQLite database, the schema at its latest version) into `to`, in one
// transaction of `to`. `to` must hold no row yet: else throws DatabaseError naming it and the table that has
// rows. Returns each table with the rows copied, by name.
std::vector<std::pair<std::string, std::int64_t>> copy_database(Database& from, Database& to);

}  // namespace tlb::server
