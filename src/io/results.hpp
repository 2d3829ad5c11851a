// Reading test results: JUnit XML from the common producers, ctest's own --output-junit and Test.xml, and
// GoogleTest's XML. Results are then matched to CTest test names.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tlb::io {

enum class ResultStatus { passed, failed, error, skipped };

std::string_view to_string(ResultStatus status);
// The status to_string names "passed", "failed", "error" or "skipped"; nullopt for any other text.
std::optional<ResultStatus> result_status_named(std::string_view name);

// One executed test case as a file reports it.
struct TestResult {
  std::string name;       // The testcase's name ("" when the file gives none).
  std::string classname;  // Its classname ("" when absent).
  ResultStatus status = ResultStatus::passed;
  std::optional<double> seconds;  // Absent when the file gives no time.
  std::size_t line = 0;           // 1-based line of the element in its file.
};

enum class ResultFormat {
  junit,        // JUnit XML as written by Catch2, pytest, Surefire, jest-junit, go-junit-report, gotestsum...
  ctest_junit,  // ctest --output-junit: testcase names are CTest test names.
  ctest_test_xml,  // ctest -T Test: Testing/<tag>/Test.xml; names are CTest test names.
  gtest,           // GoogleTest's --gtest_output=xml.
};

std::string_view to_string(ResultFormat format);

struct ResultFile {
  std::string source;
  ResultFormat format = ResultFormat::junit;
  std::vector<TestResult> results;  // In document order.
};

// Parses `text` (the whole file) and detects its format. Throws InputError naming `source` and the line when
// the XML is malformed or is not a results document, or when a time is not a non-negative number.
// The file may be UTF-8 (with or without a byte order mark), UTF-16 with a byte order mark, or declare
// ISO-8859-1, ISO-8859-15 or windows-1252; names come out as UTF-8 (invalid bytes become U+FFFD).
// Status: the most severe of what the testcase says wins, error > failed > passed > skipped; a disabled or
// not-run test is skipped. README.md ("Matching results to CTest names") has the whole rule.
ResultFile parse_results(std::string_view text, const std::string& source);

// The file at `path` ("-" for standard input).
ResultFile read_results(const std::string& path);

// Results matched to CTest test names.
struct MatchedResult {
  std::string ctest_name;
  ResultStatus status = ResultStatus::passed;
  std::optional<double> seconds;
};

struct Matching {
  std::vector<MatchedResult> matched;
  std::vector<TestResult> unmatched;  // Results no CTest name fits, for a message listing them.
};

// Maps each result of `file` to a CTest test name. `known` holds the CTest names known to the caller, sorted
// (empty when none are known). The rule is documented in README.md ("Matching results to CTest names").
// Results that map to the same CTest name (Catch2 writes one testcase per section) become one entry, in the
// place of the first: the most severe status, the sum of the known times. A result without a name is never
// matched.
Matching match_to_ctest(const ResultFile& file, const std::vector<std::string>& known);

// The CTest name of `result` when no list of known names is at hand ("" for a result without a name):
// ctest's formats: the name; GoogleTest: "classname.name"; other JUnit: "classname.name", or the name alone
// when the classname is empty, equals the name, is Catch2's "<executable>.global" or is a C/C++ source file
// (doctest).
std::string ctest_name(const TestResult& result, ResultFormat format);

}  // namespace tlb::io
