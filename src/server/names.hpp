// What the server accepts as a job, version or module name, and as a test name. Everything that reaches the
// database or a message goes through these checks first; SQL itself only ever sees bound parameters.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tlb::server {

// A job, version or module name: 1 to 128 bytes of [A-Za-z0-9._-], the first a letter or digit (so never
// "..", a '/', a '%' or a space). nullopt when valid, else a one-line reason naming `what` ("job",
// "version", "module") and the name.
std::optional<std::string> check_name(std::string_view what, std::string_view name);

// A test name: 1 to 4096 bytes of valid UTF-8 without '\n', '\r' or NUL. Spaces, ';', quotes, ':' and any
// other character are allowed and kept exactly. nullopt when valid, else a one-line reason.
std::optional<std::string> check_test_name(std::string_view name);

// `text` made safe for a one-line message: at most `limit` bytes shown (then "..."), control bytes, DEL
// and bytes of invalid UTF-8 written as \xNN, a backslash as "\\".
std::string printable(std::string_view text, std::size_t limit = 80);

}  // namespace tlb::server
