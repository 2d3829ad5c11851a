// Reading test lists: ctest's json-v1 document and one name a line.
#include "io/test_list.hpp"

#include <gtest/gtest.h>

#include "io/text.hpp"

namespace tlb::io {
namespace {

// Trimmed from what `ctest --show-only=json-v1` printed for a project with a fixture (CMake 3.25).
constexpr std::string_view kCtestJson = R"({
  "backtraceGraph": {"commands": ["add_test"], "files": ["/p/CMakeLists.txt"], "nodes": [{"file": 0}]},
  "kind": "ctestInfo",
  "tests": [
    {"backtrace": 0, "command": ["/usr/bin/cmake", "-E", "sleep", "0.1"], "name": "a b;c",
     "properties": [{"name": "WORKING_DIRECTORY", "value": "/p/b"}]},
    {"backtrace": 0, "command": ["/usr/bin/cmake", "-E", "true"], "name": "setup",
     "properties": [{"name": "FIXTURES_SETUP", "value": ["db"]}]},
    {"backtrace": 0, "command": ["/usr/bin/cmake", "-E", "true"], "name": "t2",
     "properties": [{"name": "COST", "value": 3.5}, {"name": "DEPENDS", "value": ["setup"]},
                    {"name": "FIXTURES_REQUIRED", "value": ["db", "x"]}, {"name": "LABELS", "value": ["l1", "l2"]},
                    {"name": "PROCESSORS", "value": 2}, {"name": "RESOURCE_LOCK", "value": ["r"]},
                    {"name": "RUN_SERIAL", "value": true}, {"name": "DISABLED", "value": false},
                    {"name": "FIXTURES_CLEANUP", "value": ["y"]}]}
  ],
  "version": {"major": 1, "minor": 0}
})";

TEST(TestList, ReadsCtestJsonWithProperties) {
  auto tests = parse_test_list(kCtestJson, "tests.json");
  ASSERT_EQ(tests.size(), 3u);
  EXPECT_EQ(tests[0].name, "a b;c");
  EXPECT_EQ(tests[1].fixtures_setup, std::vector<std::string>{"db"});
  const tlb::Test& t = tests[2];
  EXPECT_EQ(t.cost, 3.5);
  EXPECT_EQ(t.depends, std::vector<std::string>{"setup"});
  EXPECT_EQ(t.fixtures_required, (std::vector<std::string>{"db", "x"}));
  EXPECT_EQ(t.fixtures_cleanup, std::vector<std::string>{"y"});
  EXPECT_EQ(t.labels, (std::vector<std::string>{"l1", "l2"}));
  EXPECT_EQ(t.processors, 2);
  EXPECT_EQ(t.resource_locks, std::vector<std::string>{"r"});
  EXPECT_TRUE(t.run_serial);
  EXPECT_FALSE(t.disabled);
}

TEST(TestList, ReadsOneNameALineKeepingSpacesAndNonAscii) {
  auto tests = parse_test_list(
      "\xEF\xBB\xBF"
      "alpha\r\n\r\nname with spaces\nünïcode [x];\"q\"\n",
      "list.txt");
  ASSERT_EQ(tests.size(), 3u);
  EXPECT_EQ(tests[0].name, "alpha");
  EXPECT_EQ(tests[1].name, "name with spaces");
  EXPECT_EQ(tests[2].name, "ünïcode [x];\"q\"");
}

std::string error_of(std::string_view text) {
  try {
    parse_test_list(text, "tests.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(TestList, MalformedJsonNamesTheLine) {
  EXPECT_EQ(error_of("{\n  \"kind\": \"ctestInfo\",\n  \"tests\": [,]\n}"),
            "tests.json:3: not valid JSON (expected '{', got ',')");
  EXPECT_EQ(
      error_of("{\"kind\": \"somethingElse\"}"),
      "tests.json:1: expected the output of 'ctest --show-only=json-v1' (kind \"ctestInfo\" with \"tests\")");
  EXPECT_EQ(
      error_of(
          R"({"kind": "ctestInfo", "tests": [{"name": "x", "properties": [{"name": "COST", "value": [1]}]}]})"),
      "tests.json:1: test 'x': property COST should be a number, got [1]");
  EXPECT_EQ(error_of(R"({"kind": "ctestInfo", "version": {"major": 2}, "tests": []})"),
            "tests.json:1: unsupported ctest JSON version 2 (expected major 1)");
}

TEST(TestList, PropertyErrorsNameTheLineOfTheValueWhateverTheKeyOrder) {
  EXPECT_EQ(error_of("{\"kind\": \"ctestInfo\", \"tests\": [\n"
                     " {\"name\": \"a\"},\n"
                     " {\"name\": \"b\",\n"
                     "  \"properties\": [{\"name\": \"LABELS\", \"value\": [\"x\"]},\n"
                     "                 {\"name\": \"RUN_SERIAL\", \"value\": \"maybe\"}]}]}"),
            "tests.json:5: test 'b': property RUN_SERIAL should be true or false, got \"maybe\"");
  // Properties before the name: read once the name is known, with the lines of the document.
  EXPECT_EQ(error_of("{\"kind\": \"ctestInfo\", \"tests\": [\n"
                     " {\"properties\": [\n"
                     "   {\"name\": \"COST\", \"value\": \"slow\"}],\n"
                     "  \"name\": \"late\"}]}"),
            "tests.json:3: test 'late': property COST should be a number, got \"slow\"");
  auto tests = parse_test_list(
      R"({"kind": "ctestInfo", "tests": [{"properties": [{"name": "COST", "value": 2}], "name": "late"}]})",
      "t");
  ASSERT_EQ(tests.size(), 1u);
  EXPECT_EQ(tests[0].cost, 2.0);
  EXPECT_EQ(error_of("{\"kind\": \"ctestInfo\", \"tests\": [\n {\"name\": \"a\"},\n {\"command\": []}]}"),
            "tests.json:3: test #2 has no name");
}

TEST(TestList, PropertyValuesWithInvalidUtf8AreReadOrReportedNeverThrownRaw) {
  // Found by the fuzzer: such a value used to reach nlohmann-json's parser, whose exception escaped.
  auto tests = parse_test_list(
      "{\"kind\": \"ctestInfo\", \"tests\": [{\"name\": \"t\", \"properties\": "
      "[{\"name\": \"LABELS\", \"value\": [\"ok\", \"bad\xff\"]}]}]}",
      "tests.json");
  ASSERT_EQ(tests.size(), 1u);
  EXPECT_EQ(tests[0].labels, (std::vector<std::string>{"ok", "bad\xff"}));
  EXPECT_EQ(error_of("{\"kind\": \"ctestInfo\", \"tests\": [{\"name\": \"t\", \"properties\": "
                     "[{\"name\": \"COST\", \"value\": \"x\xff\"}]}]}"),
            "tests.json:1: test 't': property COST should be a number, got \"x\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace tlb::io
