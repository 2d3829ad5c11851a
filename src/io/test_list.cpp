#include "io/test_list.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "io/json_reader.hpp"
#include "io/text.hpp"

namespace tlb::io {
namespace {

using nlohmann::json;

// Checks a property's value against what splitting expects of it; a mismatch names the file, line and test.
class PropertyReader {
 public:
  // `offset` is where the value starts in `text`; it becomes a line only if the value is wrong, since
  // counting lines is a scan from the start of the document.
  PropertyReader(const std::string& source, std::string_view text, std::size_t offset,
                 const std::string& test)
      : source_(source), text_(text), offset_(offset), test_(test) {}

  std::vector<std::string> strings(const json& value, std::string_view property) const {
    std::vector<std::string> result;
    if (value.is_string()) {
      result.push_back(value.get<std::string>());
      return result;
    }
    if (!value.is_array()) fail(property, "a list of strings", value);
    for (const json& item : value) {
      if (!item.is_string()) fail(property, "a list of strings", value);
      result.push_back(item.get<std::string>());
    }
    return result;
  }

  double number(const json& value, std::string_view property) const {
    if (value.is_number()) return value.get<double>();
    // Properties set from strings in CMake can arrive as strings; accept a clean number.
    if (value.is_string()) {
      if (auto n = parse_number(value.get<std::string>())) return *n;
    }
    fail(property, "a number", value);
  }

  bool boolean(const json& value, std::string_view property) const {
    if (value.is_boolean()) return value.get<bool>();
    fail(property, "true or false", value);
  }

 private:
  [[noreturn]] void fail(std::string_view property, std::string_view expected, const json& value) const {
    throw InputError(source_, line_at(text_, offset_),
                     "test '" + test_ + "': property " + std::string(property) + " should be " +
                         std::string(expected) + ", got " +
                         value.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  const std::string& source_;
  std::string_view text_;
  std::size_t offset_;
  const std::string& test_;
};

// Sets the properties splitting reads; others (WORKING_DIRECTORY, TIMEOUT...) are ignored.
void apply_property(Test& test, const std::string& name, const json& value, const PropertyReader& read) {
  if (name == "LABELS")
    test.labels = read.strings(value, name);
  else if (name == "COST")
    test.cost = read.number(value, name);
  else if (name == "PROCESSORS")
    test.processors = std::max(1, static_cast<int>(read.number(value, name)));
  else if (name == "RUN_SERIAL")
    test.run_serial = read.boolean(value, name);
  else if (name == "DISABLED")
    test.disabled = read.boolean(value, name);
  else if (name == "RESOURCE_LOCK")
    test.resource_locks = read.strings(value, name);
  else if (name == "FIXTURES_SETUP")
    test.fixtures_setup = read.strings(value, name);
  else if (name == "FIXTURES_CLEANUP")
    test.fixtures_cleanup = read.strings(value, name);
  else if (name == "FIXTURES_REQUIRED")
    test.fixtures_required = read.strings(value, name);
  else if (name == "DEPENDS")
    test.depends = read.strings(value, name);
}

// A property's value as a small JSON value (a string, number, boolean or list of them), read by the same
// reader: values come from the user's CMake files and may hold any bytes.
json read_value(JsonReader& reader, int depth = 0) {
  switch (reader.peek()) {
    case JsonReader::Kind::string:
      return reader.read_string();
    case JsonReader::Kind::number: {
      // Whole numbers stay whole, so messages show a value as it was written.
      const double number = reader.read_number();
      if (std::abs(number) < 1e15 && number == std::trunc(number)) return static_cast<long long>(number);
      return number;
    }
    case JsonReader::Kind::boolean:
      return reader.read_boolean();
    case JsonReader::Kind::array: {
      json items = json::array();
      reader.begin_array();
      while (reader.next_element()) {
        if (depth > 0) {
          reader.skip();  // Lists of lists mean nothing to splitting.
        } else {
          items.push_back(read_value(reader, depth + 1));
        }
      }
      return items;
    }
    case JsonReader::Kind::object:
    case JsonReader::Kind::null:
      reader.skip();
      return nullptr;
  }
  return nullptr;
}

void read_properties(JsonReader& reader, std::string_view text, Test& test, const std::string& source) {
  std::string key;
  reader.begin_array();
  while (reader.next_element()) {
    if (reader.peek() != JsonReader::Kind::object) {
      reader.skip();
      continue;
    }
    std::string name;
    std::optional<json> value;
    std::size_t value_offset = 0;
    reader.begin_object();
    while (reader.next_key(key)) {
      if (key == "name" && reader.peek() == JsonReader::Kind::string) {
        name = reader.read_string();
      } else if (key == "value") {
        value_offset = reader.offset();
        value = read_value(reader);
      } else {
        reader.skip();
      }
    }
    if (value) apply_property(test, name, *value, PropertyReader(source, text, value_offset, test.name));
  }
}

Test read_test(JsonReader& reader, std::string_view text, std::size_t index, const std::string& source) {
  const std::size_t start = reader.offset();
  Test test;
  bool named = false;
  // ctest writes "name" before "properties"; should properties come first, they wait for the name, which
  // messages about them need.
  std::optional<std::size_t> deferred_properties;
  std::string key;
  reader.begin_object();
  while (reader.next_key(key)) {
    if (key == "name" && reader.peek() == JsonReader::Kind::string) {
      test.name = reader.read_string();
      named = true;
    } else if (key == "properties" && reader.peek() == JsonReader::Kind::array) {
      if (named) {
        read_properties(reader, text, test, source);
      } else {
        deferred_properties = reader.offset();
        reader.skip();
      }
    } else {
      reader.skip();
    }
  }
  if (!named) {
    throw InputError(source, line_at(text, start), "test #" + std::to_string(index + 1) + " has no name");
  }
  if (deferred_properties) {
    // A reader over the rest of the text keeps offsets, and so lines, those of the document.
    JsonReader again(text, source);
    again.seek(*deferred_properties);
    read_properties(again, text, test, source);
  }
  return test;
}

// ctest's json-v1 document, read without building a tree of it: commands, working directories and the
// backtrace graph are most of a big document and splitting needs none of them.
std::vector<Test> parse_ctest_json(std::string_view text, const std::string& source) {
  JsonReader reader(text, source);
  std::vector<Test> tests;
  std::string kind, key;
  bool saw_tests = false;
  std::optional<json> major_version;
  if (reader.peek() != JsonReader::Kind::object) reader.fail("expected an object");
  reader.begin_object();
  while (reader.next_key(key)) {
    if (key == "kind" && reader.peek() == JsonReader::Kind::string) {
      kind = reader.read_string();
    } else if (key == "version" && reader.peek() == JsonReader::Kind::object) {
      reader.begin_object();
      while (reader.next_key(key)) {
        if (key == "major") {
          major_version = read_value(reader);
        } else {
          reader.skip();
        }
      }
    } else if (key == "tests" && reader.peek() == JsonReader::Kind::array) {
      saw_tests = true;
      reader.begin_array();
      while (reader.next_element()) tests.push_back(read_test(reader, text, tests.size(), source));
    } else {
      reader.skip();
    }
  }
  reader.expect_end();
  if (kind != "ctestInfo" || !saw_tests) {
    throw InputError(
        source, 1, "expected the output of 'ctest --show-only=json-v1' (kind \"ctestInfo\" with \"tests\")");
  }
  if (major_version && *major_version != 1) {
    throw InputError(source, 1,
                     "unsupported ctest JSON version " +
                         major_version->dump(-1, ' ', false, json::error_handler_t::replace) +
                         " (expected major 1)");
  }
  return tests;
}

}  // namespace

std::vector<Test> parse_test_list(std::string_view text, const std::string& source) {
  text = strip_bom(text);
  std::string_view body = trim(text);
  if (!body.empty() && body.front() == '{') return parse_ctest_json(text, source);
  std::vector<Test> tests;
  for (std::string_view line : split_lines(text)) {
    if (trim(line).empty()) continue;
    tests.push_back(Test::named(std::string(line)));
  }
  return tests;
}

std::vector<Test> read_test_list(const std::string& path) {
  return parse_test_list(read_file(path), display_name(path));
}

}  // namespace tlb::io
