#include "io/test_list.hpp"

#include <nlohmann/json.hpp>

#include "io/text.hpp"

namespace tlb::io {
namespace {

using nlohmann::json;

class PropertyReader {
 public:
  PropertyReader(const std::string& source, const std::string& test) : source_(source), test_(test) {}

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
    throw InputError(source_, 0,
                     "test '" + test_ + "': property " + std::string(property) + " should be " +
                         std::string(expected) + ", got " + value.dump());
  }
  const std::string& source_;
  const std::string& test_;
};

Test read_test(const json& item, std::size_t index, const std::string& source) {
  if (!item.is_object() || !item.contains("name") || !item["name"].is_string()) {
    throw InputError(source, 0, "test #" + std::to_string(index + 1) + " has no name");
  }
  Test test = Test::named(item["name"].get<std::string>());
  if (!item.contains("properties")) return test;
  PropertyReader read(source, test.name);
  for (const json& property : item["properties"]) {
    if (!property.is_object() || !property.contains("name") || !property.contains("value")) continue;
    const std::string name = property["name"].get<std::string>();
    const json& value = property["value"];
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
  return test;
}

std::vector<Test> parse_ctest_json(std::string_view text, const std::string& source) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& e) {
    const std::string what = e.what();
    throw InputError(source, line_at(text, e.byte > 0 ? e.byte - 1 : 0),
                     "not valid JSON (" + what.substr(what.find(':') + 2) + ")");
  }
  if (!document.is_object() || document.value("kind", "") != "ctestInfo" || !document.contains("tests") ||
      !document["tests"].is_array()) {
    throw InputError(
        source, 1, "expected the output of 'ctest --show-only=json-v1' (kind \"ctestInfo\" with \"tests\")");
  }
  if (document.contains("version") && document["version"].value("major", 1) != 1) {
    throw InputError(source, 1,
                     "unsupported ctest JSON version " + document["version"].dump() + " (expected major 1)");
  }
  std::vector<Test> tests;
  const json& items = document["tests"];
  tests.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i)
    tests.push_back(read_test(items[i], i, source));
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
