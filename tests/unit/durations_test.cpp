// Reading durations in every format users migrate from, and rejecting bad files with file and line.
#include "io/durations.hpp"

#include <gtest/gtest.h>

#include "io/text.hpp"

namespace tlb::io {
namespace {

double seconds(const Durations& d, const std::string& name) {
  const TestRecord* r = d.history.find(name);
  EXPECT_NE(r, nullptr) << name;
  return r ? r->seconds : -1;
}

// The message of the InputError that parsing `text` throws, or "" when it does not throw.
std::string error_of(std::string_view text, const std::string& source = "durations.txt") {
  try {
    parse_durations(text, source);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Durations, PytestSplitAndKnapsackJson) {
  auto d = parse_durations(R"({
    "tests/test_a.py::test_one": 0.5,
    "spec/models/user_spec.rb": 12,
    "weird \"name\" ü": 1e-3
  })",
                           "x");
  EXPECT_EQ(d.format, DurationFormat::json_object);
  EXPECT_DOUBLE_EQ(seconds(d, "tests/test_a.py::test_one"), 0.5);
  EXPECT_DOUBLE_EQ(seconds(d, "spec/models/user_spec.rb"), 12);
  EXPECT_DOUBLE_EQ(seconds(d, "weird \"name\" ü"), 0.001);
}

TEST(Durations, NameSecondsLinesWithSpacesInNamesCommentsAndCrlf) {
  auto d = parse_durations(
      "\xEF\xBB\xBF# a comment\r\nparser.empty 0.25\r\n\r\nnet retry backoff\t3.\r\nbig 1e2\r\n", "x");
  EXPECT_EQ(d.format, DurationFormat::name_seconds);
  EXPECT_DOUBLE_EQ(seconds(d, "parser.empty"), 0.25);
  EXPECT_DOUBLE_EQ(seconds(d, "net retry backoff"), 3);
  EXPECT_DOUBLE_EQ(seconds(d, "big"), 100);
  EXPECT_EQ(d.history.size(), 3u);
}

TEST(Durations, LitTimesWithNegativeMeaningFailed) {
  auto d = parse_durations("0.11 basic/hello.ml\n-0.30 basic/broken.ml\n", "x");
  EXPECT_EQ(d.format, DurationFormat::seconds_name);
  EXPECT_DOUBLE_EQ(seconds(d, "basic/hello.ml"), 0.11);
  EXPECT_DOUBLE_EQ(seconds(d, "basic/broken.ml"), 0.30);
  EXPECT_EQ(d.history.find("basic/broken.ml")->last, Outcome::failed);
  EXPECT_EQ(d.history.find("basic/hello.ml")->last, Outcome::unknown);
}

TEST(Durations, CTestCostDataWithFailuresAndNamesCTestItselfMangles) {
  auto d =
      parse_durations("a b;c 1 0.111291\nsetup 2 0.0056\nnever 0 0\n---\nsetup\n", "Testing/Temporary/x");
  EXPECT_EQ(d.format, DurationFormat::ctest_cost_data);
  EXPECT_DOUBLE_EQ(seconds(d, "a b;c"), 0.111291);
  EXPECT_EQ(d.history.find("setup")->runs, 2u);
  EXPECT_EQ(d.history.find("setup")->last, Outcome::failed);
  EXPECT_EQ(d.history.find("a b;c")->last, Outcome::passed);
  EXPECT_EQ(d.history.find("never"), nullptr) << "0 runs is no history";
}

TEST(Durations, CTestCostDataIsRecognisedByItsNameEvenWithoutFailures) {
  auto d = parse_durations("alpha 3 1.5\n", "build/Testing/Temporary/CTestCostData.txt");
  EXPECT_EQ(d.format, DurationFormat::ctest_cost_data);
  EXPECT_EQ(d.history.find("alpha")->runs, 3u);
}

TEST(Durations, EmptyFileIsNoHistory) {
  EXPECT_TRUE(parse_durations("", "x").history.empty());
  EXPECT_TRUE(parse_durations("\n  \n", "x").history.empty());
}

TEST(Durations, ErrorsNameTheFileAndLine) {
  EXPECT_EQ(error_of("a 1.0\nb 2.0\nc 1,5\n"),
            "durations.txt:3: not a durations line: expected '<test name> <seconds>', got 'c 1,5' "
            "(seconds are written like 1.5, not 1,5)");
  EXPECT_EQ(error_of("a 1.0\nb -2.0\n"), "durations.txt:2: negative duration for 'b'");
  EXPECT_EQ(error_of("a 1.0\njust-a-name\n").substr(0, 16), "durations.txt:2:");
  EXPECT_EQ(error_of("{\n  \"a\": 1,\n  \"b\": \"slow\"\n}"),
            "durations.txt:3: duration of 'b' is not a number: \"slow\"");
  EXPECT_EQ(error_of("{\n  \"a\": 1,\n  \"b\": -4\n}"), "durations.txt:3: duration of 'b' is negative: -4");
  EXPECT_EQ(error_of("{\n  \"a\": 1,\n  \"b\" 4\n}").substr(0, 30), "durations.txt:3: not valid JSO");
  EXPECT_EQ(error_of("[1, 2]"), "durations.txt:1: expected a JSON object of test name to seconds");
  // The line is the value's, even where the key's text appears earlier in the file.
  EXPECT_EQ(error_of("{\n  \"note\": 1,\n  \"b\": 2,\n  \"x\": \"b\"\n}"),
            "durations.txt:4: duration of 'x' is not a number: \"b\"");
  EXPECT_EQ(error_of("{\"a\": 1e999}"), "durations.txt:1: duration of 'a' is not a number: 1e999");
  EXPECT_EQ(error_of("x 1 0.5\ny one 0.5\n---\n", "c.txt"),
            "c.txt:2: expected '<test name> <runs> <mean seconds>' as CTest writes, got 'y one 0.5'");
}

TEST(Numbers, NeverThroughTheLocale) {
  EXPECT_EQ(parse_number("1.5"), 1.5);
  EXPECT_EQ(parse_number("0."), 0.0);
  EXPECT_EQ(parse_number("2e-3"), 0.002);
  EXPECT_EQ(parse_number("-4"), -4.0);
  EXPECT_EQ(parse_number("1,5"), std::nullopt);
  EXPECT_EQ(parse_number("abc"), std::nullopt);
  EXPECT_EQ(parse_number("nan"), std::nullopt);
  EXPECT_EQ(parse_number("inf"), std::nullopt);
  EXPECT_EQ(parse_number(" 1"), std::nullopt);
  EXPECT_EQ(parse_number("+1"), std::nullopt);
  EXPECT_EQ(parse_int("12"), 12);
  EXPECT_EQ(parse_int("1.0"), std::nullopt);
  EXPECT_EQ(parse_int("-1"), std::nullopt);
  EXPECT_EQ(parse_int("99999999999"), std::nullopt);
}

}  // namespace
}  // namespace tlb::io
