// Small text helpers shared by the readers: locale-free numbers, lines, and errors that name their source.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tlb::io {

// Bad input: names the source (a file, or "<stdin>") and, where there is one, the 1-based line.
class InputError : public std::runtime_error {
 public:
  InputError(std::string source, std::size_t line, const std::string& message);
  const std::string& source() const { return source_; }
  std::size_t line() const { return line_; }

 private:
  std::string source_;
  std::size_t line_;
};

// A finite decimal number ("1.5", "2", "1e-3", "0."), never read through the locale: "1,5" and "abc" are
// rejected.
std::optional<double> parse_number(std::string_view text);

// A non-negative integer that fits an int ("4"; not "+4", "4.0" or "04x").
std::optional<int> parse_int(std::string_view text);

std::string_view trim(std::string_view text);

// Appends the code point `code` (at most 0x10FFFF) encoded as UTF-8.
void append_utf8(std::string& out, std::uint32_t code);

// The text without a leading UTF-8 byte order mark.
std::string_view strip_bom(std::string_view text);

// Lines without their "\n" or "\r\n".
std::vector<std::string_view> split_lines(std::string_view text);

// The 1-based line holding byte `offset`.
std::size_t line_at(std::string_view text, std::size_t offset);

// The whole file, or "-" for standard input. Throws InputError when it cannot be read.
std::string read_file(const std::string& path);

// `text` with &, <, >, " and ' replaced by entities, safe in the text and the quoted attribute values of HTML
// and XML; a control character XML 1.0 cannot carry even escaped (all but tab, newline and carriage return)
// becomes '?'.
std::string escape_markup(std::string_view text);

// How a path is named in messages: "<stdin>" for "-".
std::string display_name(const std::string& path);

// 64 bits from the system's source of randomness (std::random_device): for what must not be guessed (secrets,
// lease numbers, made-up versions), never for a decision two machines must take alike.
std::uint64_t random_bits();

// `bytes` random bytes as lower-case hex (2 × bytes characters).
std::string random_hex(std::size_t bytes);

// Whether `given` equals `expected`, compared in time that does not depend on where they differ (tokens and
// secrets).
bool same_secret(std::string_view given, std::string_view expected);

}  // namespace tlb::io
