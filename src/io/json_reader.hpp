// A validating JSON reader that walks a document without building it: callers read the values they need and
// skip the rest. Made for ctest's --show-only=json-v1 output, where commands and backtraces are most of the
// bytes and splitting needs none of them; about ten times faster than building a tree.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tlb::io {

class JsonReader {
 public:
  // Errors throw InputError naming `source` and the line.
  JsonReader(std::string_view text, const std::string& source);

  enum class Kind { object, array, string, number, boolean, null };

  // The kind of the next value, after skipping whitespace.
  Kind peek();

  // Iterates an object: `reader.begin_object(); while (reader.next_key(key)) { ...read or skip the value...
  // }`. next_key returns false after consuming '}'.
  void begin_object();
  bool next_key(std::string& key);
  // Iterates an array the same way; next_element returns false after consuming ']'.
  void begin_array();
  bool next_element();

  std::string read_string();
  double read_number();
  bool read_boolean();
  // Skips one value of any kind, checking that it is well formed.
  void skip();
  // Skips one value and returns its text, for handing a small value to another parser.
  std::string_view raw_value();

  // Fails unless only whitespace is left.
  void expect_end();

  // Where the next value starts, as an offset into the text: callers that find a value wrong after reading it
  // take this first and turn it into a line (io::line_at) only when they report.
  std::size_t offset();
  // Continues reading at `offset`, outside any container: for coming back to a value skipped earlier.
  void seek(std::size_t offset);

  [[noreturn]] void fail(const std::string& message) const;

 private:
  void skip_space();
  char next_char();
  void expect(char c);
  void expect_word(std::string_view word);
  void skip_string();
  void skip_number();
  void skip_value(int depth);
  // The shared part of next_key and next_element: ends the container at `closer`, or consumes the ',' due
  // before every member but the first.
  bool next_member(char closer);

  std::string_view text_;
  const std::string& source_;
  std::size_t pos_ = 0;
  // Per open container, innermost last: whether its first member is still to come (so no ',' is due).
  std::string open_;  // 'O'/'o' an object before/after its first member, 'A'/'a' likewise an array.
};

}  // namespace tlb::io
