#include "io/json_reader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include "io/text.hpp"

namespace tlb::io {
namespace {

constexpr int kMaxDepth = 256;

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

}  // namespace

JsonReader::JsonReader(std::string_view text, const std::string& source) : text_(text), source_(source) {}

void JsonReader::fail(const std::string& message) const {
  throw InputError(source_, line_at(text_, pos_), "not valid JSON (" + message + ")");
}

void JsonReader::skip_space() {
  while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
}

char JsonReader::next_char() {
  skip_space();
  if (pos_ >= text_.size()) fail("unexpected end of input");
  return text_[pos_];
}

void JsonReader::expect(char c) {
  if (next_char() != c) fail(std::string("expected '") + c + "', got '" + text_[pos_] + "'");
  ++pos_;
}

void JsonReader::expect_word(std::string_view word) {
  if (text_.substr(pos_, word.size()) != word) fail("expected '" + std::string(word) + "'");
  pos_ += word.size();
}

JsonReader::Kind JsonReader::peek() {
  switch (next_char()) {
    case '{':
      return Kind::object;
    case '[':
      return Kind::array;
    case '"':
      return Kind::string;
    case 't':
    case 'f':
      return Kind::boolean;
    case 'n':
      return Kind::null;
    default:
      if (text_[pos_] == '-' || (text_[pos_] >= '0' && text_[pos_] <= '9')) return Kind::number;
      fail(std::string("unexpected '") + text_[pos_] + "'");
  }
}

void JsonReader::begin_object() {
  expect('{');
  open_ += 'O';
}

bool JsonReader::next_member(char closer) {
  const bool first = open_.back() == 'O' || open_.back() == 'A';
  if (next_char() == closer) {
    ++pos_;
    open_.pop_back();
    return false;
  }
  if (!first) expect(',');
  open_.back() = static_cast<char>(open_.back() | 0x20);  // 'O' -> 'o', 'A' -> 'a': past the first member.
  return true;
}

bool JsonReader::next_key(std::string& key) {
  if (!next_member('}')) return false;
  if (next_char() != '"') fail("expected a key in quotes");
  key = read_string();
  expect(':');
  return true;
}

void JsonReader::begin_array() {
  expect('[');
  open_ += 'A';
}

bool JsonReader::next_element() {
  return next_member(']');
}

std::string JsonReader::read_string() {
  expect('"');
  std::string out;
  while (true) {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != '"' && text_[pos_] != '\\' &&
           static_cast<unsigned char>(text_[pos_]) >= 0x20) {
      ++pos_;
    }
    out.append(text_.substr(start, pos_ - start));
    if (pos_ >= text_.size()) fail("unterminated string");
    const char c = text_[pos_++];
    if (c == '"') return out;
    if (c != '\\') {
      --pos_;
      fail("control character in string");
    }
    if (pos_ >= text_.size()) fail("unterminated string");
    switch (text_[pos_++]) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        auto hex4 = [&]() -> std::uint32_t {
          std::uint32_t value = 0;
          if (pos_ + 4 > text_.size()) fail("truncated \\u escape");
          auto [end, error] = std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, value, 16);
          if (error != std::errc() || end != text_.data() + pos_ + 4) fail("bad \\u escape");
          pos_ += 4;
          return value;
        };
        std::uint32_t code = hex4();
        if (code >= 0xD800 && code <= 0xDBFF) {
          if (text_.substr(pos_, 2) != "\\u") fail("unpaired surrogate in \\u escape");
          pos_ += 2;
          const std::uint32_t low = hex4();
          if (low < 0xDC00 || low > 0xDFFF) fail("unpaired surrogate in \\u escape");
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        } else if (code >= 0xDC00 && code <= 0xDFFF) {
          fail("unpaired surrogate in \\u escape");
        }
        append_utf8(out, code);
        break;
      }
      default:
        --pos_;
        fail("bad escape in string");
    }
  }
}

void JsonReader::skip_string() {
  expect('"');
  while (pos_ < text_.size()) {
    const char c = text_[pos_++];
    if (c == '"') return;
    if (c == '\\') {
      if (pos_ >= text_.size()) break;
      const char e = text_[pos_++];
      if (e == 'u') {
        for (int i = 0; i < 4; ++i, ++pos_) {
          if (pos_ >= text_.size() || !std::isxdigit(static_cast<unsigned char>(text_[pos_])))
            fail("bad \\u escape");
        }
      } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
        --pos_;
        fail("bad escape in string");
      }
    } else if (static_cast<unsigned char>(c) < 0x20) {
      --pos_;
      fail("control character in string");
    }
  }
  fail("unterminated string");
}

// JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
void JsonReader::skip_number() {
  skip_space();
  auto digits = [&] {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    if (pos_ == start) fail("malformed number");
  };
  if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
  if (pos_ < text_.size() && text_[pos_] == '0') {
    ++pos_;
  } else {
    digits();
  }
  if (pos_ < text_.size() && text_[pos_] == '.') {
    ++pos_;
    digits();
  }
  if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
    digits();
  }
}

double JsonReader::read_number() {
  if (peek() != Kind::number) fail("expected a number");
  const std::size_t start = pos_;
  skip_number();
  double value = 0;
  std::from_chars(text_.data() + start, text_.data() + pos_, value);
  return value;
}

bool JsonReader::read_boolean() {
  if (next_char() == 't') {
    expect_word("true");
    return true;
  }
  expect_word("false");
  return false;
}

void JsonReader::skip_value(int depth) {
  if (depth > kMaxDepth) fail("nested too deeply");
  switch (peek()) {
    case Kind::object: {
      std::string key;
      begin_object();
      while (next_key(key)) skip_value(depth + 1);
      break;
    }
    case Kind::array:
      begin_array();
      while (next_element()) skip_value(depth + 1);
      break;
    case Kind::string:
      skip_string();
      break;
    case Kind::number:
      skip_number();
      break;
    case Kind::boolean:
      read_boolean();
      break;
    case Kind::null:
      expect_word("null");
      break;
  }
}

void JsonReader::skip() {
  skip_value(0);
}

std::string_view JsonReader::raw_value() {
  skip_space();
  const std::size_t start = pos_;
  skip();
  return text_.substr(start, pos_ - start);
}

std::size_t JsonReader::offset() {
  skip_space();
  return pos_;
}

void JsonReader::seek(std::size_t offset) {
  pos_ = std::min(offset, text_.size());
  open_.clear();
}

void JsonReader::expect_end() {
  skip_space();
  if (pos_ != text_.size()) fail(std::string("unexpected '") + text_[pos_] + "' after the document");
}

}  // namespace tlb::io
