#include "server/names.hpp"

#include <cstdint>

namespace tlb::server {
namespace {

constexpr std::size_t kMaxName = 128;
constexpr std::size_t kMaxTestName = 4096;

bool alphanumeric(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Length of the well-formed UTF-8 sequence at the start of `text` (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when there is none.
std::size_t utf8_sequence(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
  const std::uint8_t first = byte(0);
  if (first < 0x80) return 1;
  std::size_t length = 0;
  std::uint8_t low = 0x80, high = 0xBF;  // Allowed range of the second byte.
  if (first >= 0xC2 && first <= 0xDF) {
    length = 2;
  } else if (first >= 0xE0 && first <= 0xEF) {
    length = 3;
    if (first == 0xE0) low = 0xA0;
    if (first == 0xED) high = 0x9F;
  } else if (first >= 0xF0 && first <= 0xF4) {
    length = 4;
    if (first == 0xF0) low = 0x90;
    if (first == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

std::string printable(std::string_view text, std::size_t limit) {
  constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  std::size_t i = 0;
  while (i < text.size() && i < limit) {
    const auto c = static_cast<std::uint8_t>(text[i]);
    const std::size_t length = utf8_sequence(text.substr(i));
    if (length > 1) {
      out.append(text.substr(i, length));
      i += length;
      continue;
    }
    if (c == '\\') {
      out += "\\\\";
    } else if (length == 0 || c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += kDigits[c >> 4];
      out += kDigits[c & 0xF];
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  if (i < text.size()) out += "...";
  return out;
}

std::optional<std::string> check_name(std::string_view what, std::string_view name) {
  const std::string rule = "use 1 to 128 of A-Z a-z 0-9 . _ - starting with a letter or digit";
  if (name.empty()) return std::string(what) + " name is empty: " + rule;
  if (name.size() > kMaxName) {
    return std::string(what) + " name '" + printable(name, 40) + "' is " + std::to_string(name.size()) +
           " bytes long: " + rule;
  }
  bool valid = alphanumeric(name.front());
  for (char c : name) valid = valid && (alphanumeric(c) || c == '.' || c == '_' || c == '-');
  if (!valid) return std::string(what) + " name '" + printable(name) + "' is not valid: " + rule;
  return std::nullopt;
}

std::optional<std::string> check_test_name(std::string_view name) {
  if (name.empty()) return std::string("empty test name");
  if (name.size() > kMaxTestName) {
    return "test name '" + printable(name, 40) + "' is " + std::to_string(name.size()) +
           " bytes long (at most 4096)";
  }
  for (std::size_t i = 0; i < name.size();) {
    const char c = name[i];
    if (c == '\n' || c == '\r' || c == '\0') {
      return "test name '" + printable(name) + "' holds a line break or NUL";
    }
    const std::size_t length = utf8_sequence(name.substr(i));
    if (length == 0) return "test name '" + printable(name) + "' is not valid UTF-8";
    i += length;
  }
  return std::nullopt;
}

}  // namespace tlb::server
