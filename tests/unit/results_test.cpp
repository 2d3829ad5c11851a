// Reading test results: every producer's shape, every quirk real files have, malformed files rejected with
// file and line, and matching results to CTest names.
#include "io/results.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/app.hpp"
#include "cli/record_command.hpp"
#include "io/record.hpp"
#include "io/text.hpp"
#include "platform/platform.hpp"
#include "store/store.hpp"

namespace tlb::io {
namespace {

namespace fs = std::filesystem;
using S = ResultStatus;

ResultFile sample(const std::string& name) {
  return read_results((fs::path(TLB_RESULTS_DATA_DIR) / name).string());
}

ResultFile parse(std::string_view text) {
  return parse_results(text, "r.xml");
}

// The InputError that parsing `text` throws, as "message@line", or "" when it does not throw.
std::string error_of(std::string_view text) {
  try {
    parse_results(text, "r.xml");
  } catch (const InputError& e) {
    EXPECT_EQ(e.source(), "r.xml");
    return std::string(e.what()) + "@" + std::to_string(e.line());
  }
  return "";
}

// "name|classname|status|seconds" per result, for compact expectations.
std::vector<std::string> rows(const ResultFile& file) {
  std::vector<std::string> out;
  for (const TestResult& r : file.results) {
    std::ostringstream row;
    row.imbue(std::locale::classic());
    row << r.name << "|" << r.classname << "|" << to_string(r.status) << "|";
    if (r.seconds) {
      row << *r.seconds;
    } else {
      row << "-";
    }
    out.push_back(row.str());
  }
  return out;
}

std::string junit_case(const std::string& attributes, const std::string& body = "") {
  return "<testsuite>\n<testcase name=\"t\" " + attributes + ">" + body + "</testcase>\n</testsuite>\n";
}

ResultStatus status_of(const std::string& attributes, const std::string& body = "") {
  ResultFile file = parse(junit_case(attributes, body));
  EXPECT_EQ(file.results.size(), 1u);
  return file.results.empty() ? S::passed : file.results[0].status;
}

std::optional<double> seconds_of(const std::string& time) {
  ResultFile file = parse(junit_case("time=\"" + time + "\""));
  return file.results.at(0).seconds;
}

// ----------------------------------------------------------------------------------------------------------
// The producers.

TEST(Results, CtestOutputJunit) {
  ResultFile file = sample("ctest-junit.xml");
  EXPECT_EQ(file.format, ResultFormat::ctest_junit);
  EXPECT_EQ(rows(file), (std::vector<std::string>{
                            "passes|passes|passed|0.0136842",
                            "fails|fails|failed|0.0140672",
                            "with space & <angle>|with space & <angle>|passed|0.0135628",
                            "disabled_one|disabled_one|skipped|0",  // status="disabled", no <skipped>.
                            "not_run|not_run|skipped|0",
                            "skipped_rc|skipped_rc|passed|0.213239",
                            "skip_code|skip_code|skipped|0.00212258",
                            "times_out|times_out|failed|0.502961",
                            "suite.case/0|suite.case/0|passed|0.0140537",
                        }));
  EXPECT_EQ(file.results[0].line, 11u);
  EXPECT_EQ(file.results[8].line, 40u);
}

TEST(Results, CtestTestXml) {
  ResultFile file = sample("ctest-Test.xml");
  EXPECT_EQ(file.format, ResultFormat::ctest_test_xml);
  // <TestList> holds <Test> elements too, paths only: they are not results.
  EXPECT_EQ(rows(file), (std::vector<std::string>{
                            "passes||passed|0.0130319",
                            "fails||failed|0.0136736",
                            "with space & <angle>||passed|0.014158",
                            "disabled_one||skipped|-",
                            "not_run||skipped|-",
                            "skipped_rc||passed|0.213239",
                            "skip_code||skipped|-",
                            "times_out||failed|0.502207",
                            "suite.case/0||passed|0.00939735",
                        }));
  EXPECT_EQ(file.results[0].line, 40u);
}

TEST(Results, GoogleTest) {
  ResultFile file = sample("gtest.xml");
  EXPECT_EQ(file.format, ResultFormat::gtest);
  EXPECT_EQ(rows(file), (std::vector<std::string>{
                            "Adds|Math|passed|0",
                            "Fails|Math|failed|0",
                            "Skips|Math|skipped|0",           // status="run" result="skipped" and <skipped>.
                            "DISABLED_Later|Math|skipped|0",  // status="notrun" result="suppressed".
                            "Case|DISABLED_Whole|skipped|0",
                            "Works|Typed/0|passed|0",
                            "Works|Typed/1|passed|0",
                            "Prints|Output|passed|0",
                            "Even/0|Prefix/Param|passed|0",
                            "Even/1|Prefix/Param|failed|0",
                        }));
}

TEST(Results, Catch2) {
  ResultFile file = sample("catch2.xml");
  EXPECT_EQ(file.format, ResultFormat::junit);
  EXPECT_EQ(rows(file), (std::vector<std::string>{
                            "Adds numbers|unit_tests.global|passed|0.001",
                            "Vector/grows|unit_tests.global|passed|0.002",
                            "Vector/shrinks|unit_tests.global|failed|0.003",
                            "Needs network|unit_tests.global|skipped|0",
                            "Uses the fixture|unit_tests.Fixture|passed|0.001",
                        }));
}

TEST(Results, Doctest) {
  EXPECT_EQ(rows(sample("doctest.xml")), (std::vector<std::string>{
                                             "adds|tests/math.cpp|passed|1.23e-05",
                                             "divides by zero|tests/math.cpp|failed|0.0001",
                                         }));
}

// The samples below were written by the producers themselves, here (tests/data/results/README.md).

TEST(Results, Catch2WrittenByCatch2) {
  // Catch2 2.13 `--reporter junit`: status="run" on every testcase, a testcase per section, a thrown
  // exception as <error>, and a [!mayfail] test that failed as <skipped> beside its <failure> (the most
  // severe wins).
  ResultFile file = sample("catch2-2.13.xml");
  EXPECT_EQ(file.format, ResultFormat::junit);
  EXPECT_EQ(rows(file), (std::vector<std::string>{
                            "adds numbers|catch2_sample.global|passed|0",
                            "fails a check|catch2_sample.global|failed|0",
                            "vector/grows|catch2_sample.global|passed|0",
                            "vector/shrinks|catch2_sample.global|failed|0",
                            "throws|catch2_sample.global|error|0",
                            "may fail|catch2_sample.global|failed|0",
                            "uses the fixture|catch2_sample.Fixture|passed|0",
                        }));
  const Matching matching = match_to_ctest(file, {"adds numbers", "vector"});
  ASSERT_EQ(matching.matched.size(), 2u);
  EXPECT_EQ(matching.matched[1].ctest_name, "vector");
  EXPECT_EQ(matching.matched[1].status, S::failed);  // One section failed.
}

TEST(Results, DoctestWrittenByDoctest) {
  // doctest 2.4.9 `--reporters=junit`: the source file as classname, subcases as "case/subcase", and a test
  // with doctest::skip() left out of the file altogether.
  ResultFile file = sample("doctest-2.4.9.xml");
  EXPECT_EQ(file.format, ResultFormat::junit);
  EXPECT_EQ(rows(file), (std::vector<std::string>{
                            "adds|doctest_sample.cpp|passed|0",
                            "divides by zero|doctest_sample.cpp|failed|0.0002",
                            "subcases/first|doctest_sample.cpp|passed|0",
                            "subcases/second|doctest_sample.cpp|failed|0",
                            "throws|doctest_sample.cpp|error|0.024449",
                            "may fail|doctest_sample.cpp|failed|0.000172",
                            "in a suite|doctest_sample.cpp|passed|0",
                        }));
  EXPECT_EQ(ctest_name(file.results[1], file.format), "divides by zero");
}

TEST(Results, BoostTestWrittenByBoostTest) {
  // Boost.Test 1.74 `--logger=JUNIT,all,FILE`: a <testsuite> root, no status attribute, <skipped/> for a
  // disabled test and for one whose dependency failed, the suite as classname below the top level.
  ResultFile file = sample("boost-test-1.74.xml");
  EXPECT_EQ(file.format, ResultFormat::junit);
  EXPECT_EQ(rows(file), (std::vector<std::string>{
                            "adds||passed|0.022982",
                            "fails||failed|0.000316",
                            "disabled_test||skipped|0",
                            "throws||error|0.000372",
                            "in_a_suite|math_suite|passed|0.000182",
                            "depends_on_failing|math_suite|skipped|0",
                        }));
  EXPECT_EQ(ctest_name(file.results[4], file.format), "math_suite.in_a_suite");
}

TEST(Results, CtestOutputJunitOfCMake43) {
  // CTest 4.3 adds <properties/> to each testcase and a message to <failure>; the statuses are 3.25's.
  ResultFile file = sample("ctest-4.3-junit.xml");
  EXPECT_EQ(file.format, ResultFormat::ctest_junit);
  EXPECT_EQ(rows(file), (std::vector<std::string>{
                            "passes|passes|passed|0.364614",
                            "fails|fails|failed|0.287733",
                            "with space & <angle>|with space & <angle>|passed|0.215044",
                            "disabled_one|disabled_one|skipped|0",
                            "not_run|not_run|skipped|0",
                            "skipped_rc|skipped_rc|passed|0.42326",
                            "skip_code|skip_code|skipped|0.119437",
                            "times_out|times_out|failed|0.607485",
                            "suite.case/0|suite.case/0|passed|0.316399",
                        }));
}

TEST(Results, PytestOnOneLineWithXfailAndATeardownError) {
  ResultFile file = sample("pytest.xml");
  EXPECT_EQ(rows(file), (std::vector<std::string>{
                            "test_add|tests.test_math|passed|0.001",
                            "test_div[0-1]|tests.test_math|failed|0.002",
                            "test_skip|tests.test_math|skipped|0",
                            "test_xfail|tests.test_math|skipped|0.001",
                            "test_setup_fails|tests.test_db|error|0.01",
                            "test_fails_then_teardown_fails|tests.test_db|error|0.02",
                        }));
  EXPECT_EQ(file.results[0].line, 1u);
  EXPECT_EQ(file.results[2].line, 5u);  // After the failure's four-line text.
}

TEST(Results, SurefireWithRerunsFlakesAndAThousandsSeparator) {
  EXPECT_EQ(rows(sample("surefire.xml")), (std::vector<std::string>{
                                              "adds|com.example.CalculatorTest|passed|0.012",
                                              "slowIntegration|com.example.CalculatorTest|passed|1200.5",
                                              "flaky|com.example.CalculatorTest|passed|0.3",
                                              "alwaysFails|com.example.CalculatorTest|failed|0.05",
                                              "npe|com.example.CalculatorTest|error|0.001",
                                              "ignored|com.example.CalculatorTest|skipped|0",
                                          }));
}

TEST(Results, JestJunitWithATitleOnTwoLines) {
  EXPECT_EQ(rows(sample("jest-junit.xml")),
            (std::vector<std::string>{
                "math adds|math adds|passed|0.003",
                "math divides|math divides|failed|0.004",
                "math todo|math todo|skipped|0",
                "math prints a\ntwo-line title|math prints a\ntwo-line title|passed|0.001",
            }));
}

TEST(Results, GoJunitReportAndGotestsum) {
  EXPECT_EQ(rows(sample("go-junit-report.xml")), (std::vector<std::string>{
                                                     "TestAdd|example.com/pkg/math|passed|0",
                                                     "TestDiv/by_zero|example.com/pkg/math|failed|0.01",
                                                     "TestSkip|example.com/pkg/math|skipped|0",
                                                 }));
  EXPECT_EQ(rows(sample("gotestsum.xml")), (std::vector<std::string>{
                                               "TestGet|example.com/pkg/api|passed|0.1",
                                               "TestPost|example.com/pkg/api|failed|0.2",
                                               "TestSkipped|example.com/pkg/api|skipped|0",
                                           }));
}

TEST(Results, MochaWithATestsuiteRoot) {
  ResultFile file = sample("mocha.xml");
  EXPECT_EQ(file.format, ResultFormat::junit);
  EXPECT_EQ(rows(file), (std::vector<std::string>{
                            "should return -1 when the value is not present|Array #indexOf()|passed|0.001",
                            "should find the value|Array #indexOf()|failed|0.02",
                            "is pending|Array #push()|skipped|0",
                        }));
}

TEST(Results, XunitWithByteOrderMarkAndCrlf) {
  ResultFile file = sample("xunit-bom-crlf.xml");
  EXPECT_EQ(rows(file),
            (std::vector<std::string>{
                "MyApp.Tests.ParserTests.ParsesEmpty|MyApp.Tests.ParserTests|passed|0.454035",
                "MyApp.Tests.ParserTests.Rejects(input: \"x\")|MyApp.Tests.ParserTests|failed|0.0039778",
                "MyApp.Tests.ParserTests.Later|MyApp.Tests.ParserTests|skipped|0",
            }));
  EXPECT_EQ(file.results[1].line, 9u);
}

TEST(Results, BazelWithOutputBesideTheTestcase) {
  EXPECT_EQ(rows(sample("bazel.xml")), (std::vector<std::string>{"//lib:parser_test||error|3"}));
}

TEST(Results, Latin1AndUtf16BecomeUtf8) {
  EXPECT_EQ(rows(sample("latin1.xml")), (std::vector<std::string>{
                                            "cr\u00e8me br\u00fbl\u00e9e|caf\u00e9|passed|0.5",
                                            "na\u00efve \u00e9|caf\u00e9|passed|1",
                                        }));
  ResultFile utf16 = sample("utf16le.xml");
  EXPECT_EQ(rows(utf16), (std::vector<std::string>{"\u00fcber \U0001F600|Win|passed|0.25"}));
  EXPECT_EQ(utf16.results[0].line, 3u);
}

// ----------------------------------------------------------------------------------------------------------
// Quirks of real files.

TEST(Results, SuitesNestedAtAnyDepthInDocumentOrder) {
  ResultFile file = parse(
      "<testsuites>\n"
      " <testsuite name='a'>\n"
      "  <testcase name='1'/>\n"
      "  <testsuite name='b'><testsuite name='c'><testsuites><testsuite name='d'>\n"
      "   <testcase name='2'/>\n"
      "  </testsuite></testsuites></testsuite></testsuite>\n"
      "  <testcase name='3'/>\n"
      " </testsuite>\n"
      " <testcase name='4'/>\n"
      "</testsuites>\n");
  ASSERT_EQ(file.results.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(file.results[i].name, std::to_string(i + 1));
  EXPECT_EQ(file.results[1].line, 5u);
  EXPECT_EQ(file.results[3].line, 9u);
}

TEST(Results, EmptySuitesAreZeroResults) {
  EXPECT_TRUE(parse("<testsuites/>").results.empty());
  EXPECT_TRUE(parse("<testsuite name='x' tests='6'></testsuite>").results.empty());
  EXPECT_TRUE(parse("<testsuites><testsuite><properties/></testsuite></testsuites>").results.empty());
}

TEST(Results, TimesAsProducersWriteThem) {
  EXPECT_EQ(seconds_of("1.5"), 1.5);
  EXPECT_EQ(seconds_of("0."), 0.0);
  EXPECT_EQ(seconds_of(".25"), 0.25);
  EXPECT_EQ(seconds_of("2"), 2.0);
  EXPECT_EQ(seconds_of("1e-3"), 0.001);
  EXPECT_EQ(seconds_of("1.5E+2"), 150.0);
  EXPECT_EQ(seconds_of(" 3 "), 3.0);
  EXPECT_EQ(seconds_of("1,234.5"), 1234.5);  // Surefire over 999 s.
  EXPECT_EQ(seconds_of("12,345,678"), 12345678.0);
  EXPECT_EQ(seconds_of("-0"), 0.0);
  EXPECT_EQ(seconds_of(""), std::nullopt);
  EXPECT_EQ(seconds_of("NaN"), std::nullopt);  // JavaScript's unknown duration.
  EXPECT_EQ(parse(junit_case("")).results[0].seconds, std::nullopt);
}

TEST(Results, TimesThatAreNotSecondsAreErrorsWithTheLine) {
  for (const char* time : {"1,5", "1,23.4", "1,2345", ",123", "abc", "1.5s", "inf", "0x10", "+1", "1 2"}) {
    EXPECT_NE(
        error_of(junit_case(std::string("time=\"") + time + "\"")).find("r.xml:2: time is not a number"),
        std::string::npos)
        << time << ": " << error_of(junit_case(std::string("time=\"") + time + "\""));
  }
  EXPECT_EQ(error_of(junit_case("time=\"-1\"")), "r.xml:2: time is negative: '-1'@2");
}

TEST(Results, TheMostSevereOutcomeWins) {
  EXPECT_EQ(status_of(""), S::passed);
  EXPECT_EQ(status_of("", "<skipped/>"), S::skipped);
  EXPECT_EQ(status_of("", "<failure/>"), S::failed);
  EXPECT_EQ(status_of("", "<error/>"), S::error);
  EXPECT_EQ(status_of("", "<skipped/><failure/>"), S::failed);
  EXPECT_EQ(status_of("", "<skipped/><failure/><error/>"), S::error);
  EXPECT_EQ(status_of("", "<error/><failure/><skipped/>"), S::error);
  EXPECT_EQ(status_of("", "<failure/><failure/>"), S::failed);
  // Output, properties and unknown elements say nothing.
  EXPECT_EQ(status_of("", "<system-out>FAILED</system-out><properties/><weird/>"), S::passed);
}

TEST(Results, SurefireRerunsAndFlakes) {
  EXPECT_EQ(status_of("", "<flakyFailure/><flakyFailure/>"), S::passed);
  EXPECT_EQ(status_of("", "<flakyError/>"), S::passed);
  EXPECT_EQ(status_of("", "<failure/><rerunFailure/><rerunFailure/>"), S::failed);
  EXPECT_EQ(status_of("", "<error/><rerunError/>"), S::error);
  EXPECT_EQ(status_of("", "<rerunFailure/>"), S::failed);
}

std::string upper_ascii(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

// One row per value of the status table (README.md, "How a testcase is read"): what the value says alone,
// beside each child element, in any case and with surrounding spaces.
struct StatusRow {
  std::string value;
  S alone, with_skipped, with_failure, with_error;
};

TEST(Results, StatusAttributeTable) {
  const std::vector<StatusRow> table = {
      // Ran: the children decide.
      {"run", S::passed, S::skipped, S::failed, S::error},
      {"passed", S::passed, S::skipped, S::failed, S::error},
      {"pass", S::passed, S::skipped, S::failed, S::error},
      {"success", S::passed, S::skipped, S::failed, S::error},
      // Failed: at least failed.
      {"fail", S::failed, S::failed, S::failed, S::error},
      {"failed", S::failed, S::failed, S::failed, S::error},
      {"failure", S::failed, S::failed, S::failed, S::error},
      // Error.
      {"error", S::error, S::error, S::error, S::error},
      {"errored", S::error, S::error, S::error, S::error},
      // Did not run: skipped, whatever the children say.
      {"notrun", S::skipped, S::skipped, S::skipped, S::skipped},
      {"disabled", S::skipped, S::skipped, S::skipped, S::skipped},
      {"ignored", S::skipped, S::skipped, S::skipped, S::skipped},
      {"skipped", S::skipped, S::skipped, S::skipped, S::skipped},
      {"skip", S::skipped, S::skipped, S::skipped, S::skipped},
      // Empty, whitespace, unknown: the children decide, as without the attribute.
      {"", S::passed, S::skipped, S::failed, S::error},
      {" \t ", S::passed, S::skipped, S::failed, S::error},
      {"whatever", S::passed, S::skipped, S::failed, S::error},
      {"completed", S::passed, S::skipped, S::failed, S::error},
  };
  for (const StatusRow& row : table) {
    for (const std::string& written : {row.value, " " + row.value + " ", upper_ascii(row.value)}) {
      const std::string attribute = "status=\"" + written + "\"";
      EXPECT_EQ(status_of(attribute), row.alone) << attribute;
      EXPECT_EQ(status_of(attribute, "<skipped/>"), row.with_skipped) << attribute;
      EXPECT_EQ(status_of(attribute, "<failure/>"), row.with_failure) << attribute;
      EXPECT_EQ(status_of(attribute, "<error/>"), row.with_error) << attribute;
    }
  }
}

TEST(Results, NotRunOutranksTheLeftoverFailure) {
  // The two cases other readers count as skipped: an ignored test with no children, and a disabled one whose
  // producer left a <failure> in it. Their time stays what the file says; the store does not learn from it.
  ResultFile file = parse(
      "<testsuite><testcase name='a' status='ignored' time='2'/>"
      "<testcase name='b' status='disabled' time='0.5'><failure message='leftover'/></testcase>"
      "<testcase name='c' status='notrun'><error/><failure/></testcase></testsuite>");
  EXPECT_EQ(rows(file), (std::vector<std::string>{"a||skipped|2", "b||skipped|0.5", "c||skipped|-"}));
}

// A test that did not run teaches the history nothing about its duration, whatever time its file gives: the
// reading above, through `tlb record`'s observation, folded into a test's record as the store does.
TEST(Results, ATestThatDidNotRunLeavesItsDurationAlone) {
  const ResultFile file = parse(
      "<testsuite><testcase name='ignored' status='ignored' time='7'/>"
      "<testcase name='leftover' status='disabled' time='3'><failure/></testcase></testsuite>");
  for (const MatchedResult& matched : match_to_ctest(file, {}).matched) {
    TestRecord record{2.0, 4, Outcome::passed};
    store::fold(record,
                cli::observation_of(RecordedResult{matched.ctest_name, matched.status, matched.seconds}),
                0.5);
    EXPECT_EQ(record, (TestRecord{2.0, 4, Outcome::skipped})) << matched.ctest_name;
  }
}

TEST(Results, GoogleTestResultAttribute) {
  EXPECT_EQ(status_of("status=\"run\" result=\"skipped\""), S::skipped);
  EXPECT_EQ(status_of("status=\"notrun\" result=\"suppressed\""), S::skipped);
  EXPECT_EQ(status_of("status=\"run\" result=\"completed\"", "<failure/>"), S::failed);
  EXPECT_EQ(status_of("status=\"run\" result=\"skipped\"", "<failure/>"), S::failed);
}

TEST(Results, EntitiesAndCharacterReferences) {
  ResultFile file = parse(
      "<testsuite><testcase classname='&lt;a&gt;' name='&quot;q&quot; &amp; &apos;s&apos; "
      "&#233;&#x1F600;&#10;x'/>"
      "</testsuite>");
  EXPECT_EQ(file.results[0].name, "\"q\" & 's' \u00e9\U0001F600\nx");
  EXPECT_EQ(file.results[0].classname, "<a>");
}

TEST(Results, NamesKeepTheirLineBreaksAsLineFeeds) {
  ResultFile file = parse("<testsuite>\r\n<testcase name='one\r\ntwo\nthree' time='1'/>\r\n</testsuite>\r\n");
  EXPECT_EQ(file.results[0].name, "one\ntwo\nthree");
  EXPECT_EQ(file.results[0].line, 2u);
}

TEST(Results, InvalidUtf8InNamesBecomesReplacementCharacters) {
  ResultFile file = parse(
      "<testsuite><testcase name='a\xFF"
      "b\xC3' classname='\xE2\x82'/></testsuite>");
  EXPECT_EQ(file.results[0].name, "a\uFFFDb\uFFFD");
  EXPECT_EQ(file.results[0].classname, "\uFFFD\uFFFD");
  // Valid multi-byte text stays as it is.
  EXPECT_EQ(parse("<testsuite><testcase name='\u00e9\u20ac\U0001F600'/></testsuite>").results[0].name,
            "\u00e9\u20ac\U0001F600");
}

TEST(Results, DeclaredSingleByteEncodings) {
  const auto name_in = [](const std::string& encoding, const std::string& bytes) {
    return parse("<?xml version='1.0' encoding='" + encoding + "'?>\n<testsuite><testcase name='" + bytes +
                 "'/></testsuite>")
        .results.at(0)
        .name;
  };
  EXPECT_EQ(name_in("ISO-8859-1", "\xE9\xA4"), "\u00e9\u00a4");
  EXPECT_EQ(name_in("latin1", "\xFC"), "\u00fc");
  EXPECT_EQ(name_in("iso-8859-15", "\xE9\xA4"), "\u00e9\u20ac");
  EXPECT_EQ(name_in("windows-1252", "\x80\x93"), "\u20ac\u201c");
  EXPECT_EQ(name_in("UTF-8", "\xC3\xA9"), "\u00e9");
  EXPECT_EQ(name_in("us-ascii", "a"), "a");
  // Only the declaration names the encoding; a name that says "encoding" does not.
  EXPECT_EQ(
      parse("<?xml version='1.0'?><testsuite><testcase name='encoding=\"latin1\" \xC3\xA9'/></testsuite>")
          .results.at(0)
          .name,
      "encoding=\"latin1\" \u00e9");
  EXPECT_EQ(error_of("<?xml version='1.0' encoding='Shift_JIS'?>\n<testsuite/>").substr(0, 45),
            "r.xml:1: unsupported encoding 'Shift_JIS' (UT");
}

TEST(Results, Utf16WithAndWithoutByteOrderMark) {
  const auto utf16 = [](std::string_view text, bool big_endian) {
    std::string out;
    for (char c : text) {
      out += big_endian ? '\0' : c;
      out += big_endian ? c : '\0';
    }
    return out;
  };
  const std::string doc =
      "<?xml version='1.0' encoding='UTF-16'?>\n<testsuite>\n<testcase name='x'/></testsuite>";
  ResultFile be = parse("\xFE\xFF" + utf16(doc, true));
  ASSERT_EQ(be.results.size(), 1u);
  EXPECT_EQ(be.results[0].name, "x");
  EXPECT_EQ(be.results[0].line, 3u);
  EXPECT_EQ(parse(utf16(doc, false)).results.at(0).name, "x");
  EXPECT_EQ(parse(utf16(doc, true)).results.at(0).name, "x");
  EXPECT_NE(error_of("\xFF\xFE" + utf16(doc, false) + "x").find("odd number of bytes"), std::string::npos);
}

TEST(Results, AByteOrderMarkOutranksTheDeclaration) {
  EXPECT_EQ(
      parse("\xEF\xBB\xBF<?xml version='1.0' encoding='ISO-8859-1'?><testsuite><testcase name='\xC3\xA9'/>"
            "</testsuite>")
          .results.at(0)
          .name,
      "\u00e9");
}

TEST(Results, LargeOutputIsSkippedNotCopied) {
  std::string big = "<testsuites><testsuite>\n<testcase name='a' time='1'><system-out><![CDATA[";
  big.append(20'000'000, 'x');
  big += "]]></system-out><system-err>";
  for (int i = 0; i < 100'000; ++i) big += "line &amp; &lt;tag&gt;\n";
  big +=
      "</system-err></testcase>\n<testcase name='b' time='2'><failure/></testcase></testsuite></testsuites>";
  ResultFile file = parse(big);
  EXPECT_EQ(rows(file), (std::vector<std::string>{"a||passed|1", "b||failed|2"}));
  EXPECT_EQ(file.results[1].line, 100'003u);
}

TEST(Results, NamelessTestcasesAreKept) {
  EXPECT_EQ(rows(parse("<testsuite><testcase/><testcase><failure/></testcase></testsuite>")),
            (std::vector<std::string>{"||passed|-", "||failed|-"}));
}

TEST(Results, FormatDetection) {
  // ctest: a <testsuite> root whose testcases have classname == name and ctest's status values.
  EXPECT_EQ(parse("<testsuite><testcase name='a' classname='a' status='run'/></testsuite>").format,
            ResultFormat::ctest_junit);
  EXPECT_EQ(parse("<testsuite><testcase name='a' classname='b' status='run'/></testsuite>").format,
            ResultFormat::junit);
  EXPECT_EQ(parse("<testsuite><testcase name='a' classname='a'/></testsuite>").format, ResultFormat::junit);
  EXPECT_EQ(parse("<testsuites><testsuite><testcase name='a' classname='a' status='run'/></testsuite>"
                  "</testsuites>")
                .format,
            ResultFormat::junit);
  EXPECT_EQ(parse("<testsuite/>").format, ResultFormat::junit);
  // GoogleTest: its root's name, or the result attribute it writes since 1.10.
  EXPECT_EQ(parse("<testsuites name='AllTests'/>").format, ResultFormat::gtest);
  EXPECT_EQ(
      parse("<testsuites><testsuite><testcase name='a' result='completed'/></testsuite></testsuites>").format,
      ResultFormat::gtest);
  EXPECT_EQ(parse("<Site><Testing/></Site>").format, ResultFormat::ctest_test_xml);
}

TEST(Results, CtestTestXmlVariants) {
  ResultFile file = parse(
      "<Site><Testing>\n"
      "<TestList><Test>./a</Test></TestList>\n"
      "<Test Status=\"passed\"><Name>a</Name><Results>"
      "<NamedMeasurement name=\"Completion Status\"><Value>Completed</Value></NamedMeasurement>"
      "<NamedMeasurement type=\"numeric/double\" name=\"Execution "
      "Time\"><Value>1.5e-1</Value></NamedMeasurement>"
      "</Results></Test>\n"
      "<Test Status=\"notrun\"><Name>b &amp; c</Name><Results/></Test>\n"
      "<Test Status=\"failed\"><Name>d</Name></Test>\n"
      "</Testing></Site>");
  EXPECT_EQ(rows(file), (std::vector<std::string>{"a||passed|0.15", "b & c||skipped|-", "d||failed|-"}));
  EXPECT_EQ(file.results[2].line, 5u);
  EXPECT_EQ(error_of("<Site>\n<Testing>\n<Test Status='odd'><Name>x</Name></Test></Testing></Site>"),
            "r.xml:3: test 'x' has Status 'odd'; ctest writes passed, failed or notrun@3");
  EXPECT_EQ(
      error_of("<Site><Testing><Test Status='passed'><Name>x</Name><Results><NamedMeasurement "
               "name='Execution Time'>\n<Value>soon</Value></NamedMeasurement></Results></Test></Testing>"
               "</Site>")
          .substr(0, 50),
      "r.xml:2: Execution Time is not a number of seconds");
}

// ----------------------------------------------------------------------------------------------------------
// Malformed files and files that are not results.

TEST(Results, MalformedXmlNamesTheLine) {
  EXPECT_EQ(error_of("<testsuite>\n<testcase name='a'>\n<failure>\n"),
            "r.xml:3: malformed XML: unexpected end of the document: an element is not closed (truncated "
            "file?)@3");
  EXPECT_EQ(error_of("<testsuite>\n<testcase name='a'>\n</testsuite>\n"),
            "r.xml:2: malformed XML: closing tag does not match the open element <testcase>@2");
  EXPECT_EQ(error_of("<testsuite>\n\n<testcase name=a/>\n</testsuite>"),
            "r.xml:3: malformed XML: malformed attribute <testcase>@3");
  EXPECT_EQ(error_of("<testsuite>\n<testcase><![CDATA[x</testcase></testsuite>"),
            "r.xml:2: malformed XML: unterminated CDATA section@2");
  EXPECT_EQ(error_of("<testsuite>\n<!-- no end"), "r.xml:2: malformed XML: unterminated comment@2");
  EXPECT_EQ(error_of("<testsuite/>\n<testsuite/>"),
            "r.xml:2: malformed XML: a second root element <testsuite>@2");
  EXPECT_EQ(error_of("<!-- c -->\nstray<testsuite/>"),
            "r.xml:2: malformed XML: text outside the root element@2");
  EXPECT_EQ(error_of("<testsuite/>\ntext"),
            "r.xml:2: malformed XML: text from here on is never closed by markup (a truncated file, or text "
            "after the root)@2");
  EXPECT_EQ(error_of("<testsuite>\n<testcase>\n<skipped>to be contin"),
            "r.xml:3: malformed XML: text from here on is never closed by markup (a truncated file, or text "
            "after the root)@3");
  using namespace std::string_view_literals;
  EXPECT_EQ(error_of("<testsuite>\n<testcase name='a\0b'/></testsuite>"sv),
            "r.xml:2: malformed XML: a NUL byte (is this a text file?)@2");
  std::string deep;
  for (int i = 0; i < 150; ++i) deep += "<testsuite>\n";
  EXPECT_NE(error_of(deep).find("nested too deep"), std::string::npos) << error_of(deep);
}

TEST(Results, DocumentsThatAreNotResults) {
  EXPECT_EQ(error_of(""), "r.xml: not a test results document: the file is empty@0");
  EXPECT_EQ(error_of(" \n\t\n"), "r.xml: not a test results document: the file is empty@0");
  EXPECT_EQ(error_of("\n this is not an xml file\n"),
            "r.xml:2: not XML: the content does not start with '<'@2");
  EXPECT_EQ(error_of("{\"tests\": []}"), "r.xml:1: not XML: the content does not start with '<'@1");
  EXPECT_EQ(error_of("<?xml version='1.0'?>\n"),
            "r.xml: not a test results document: it has no root element@0");
  EXPECT_EQ(error_of("<?xml version='1.0'?>\n<suites>\n<suite/></suites>"),
            "r.xml:2: not a test results document: the root element is <suites>; expected <testsuites> or "
            "<testsuite> (JUnit XML) or <Site> (ctest's Test.xml)@2");
  EXPECT_EQ(error_of("<testcase name='a'/>").substr(0, 69),
            "r.xml:1: not a test results document: the root element is <testcase>;");
  EXPECT_EQ(
      error_of("<Site>\n<Build/></Site>"),
      "r.xml:1: a CTest <Site> document without <Testing>: not a Test.xml (Build.xml, Configure.xml?)@1");
}

TEST(Results, ReadingAMissingFileIsAnInputError) {
  EXPECT_THROW(read_results("/nonexistent/results.xml"), InputError);
}

// ----------------------------------------------------------------------------------------------------------
// Matching to CTest names.

std::vector<std::string> matched_rows(const Matching& m) {
  std::vector<std::string> out;
  for (const MatchedResult& r : m.matched) {
    std::ostringstream row;
    row.imbue(std::locale::classic());
    row << r.ctest_name << "|" << to_string(r.status) << "|";
    if (r.seconds) {
      row << *r.seconds;
    } else {
      row << "-";
    }
    out.push_back(row.str());
  }
  return out;
}

std::vector<std::string> unmatched_names(const Matching& m) {
  std::vector<std::string> out;
  for (const TestResult& r : m.unmatched) out.push_back(r.classname + "|" + r.name);
  return out;
}

TEST(Matching, CtestFormatsUseTheNameAsIs) {
  ResultFile file = sample("ctest-junit.xml");
  Matching all = match_to_ctest(file, {});
  EXPECT_EQ(all.matched.size(), 9u);
  EXPECT_TRUE(all.unmatched.empty());
  EXPECT_EQ(all.matched[2].ctest_name, "with space & <angle>");

  Matching some = match_to_ctest(file, {"fails", "passes", "suite.case/0"});
  EXPECT_EQ(matched_rows(some), (std::vector<std::string>{"passes|passed|0.0136842", "fails|failed|0.0140672",
                                                          "suite.case/0|passed|0.0140537"}));
  EXPECT_EQ(some.unmatched.size(), 6u);
  // A ctest name is never rewritten: "suite" + "." + "case/0" is not tried for ctest's own files.
  EXPECT_EQ(match_to_ctest(sample("ctest-Test.xml"), {"passes"}).matched.size(), 1u);
}

TEST(Matching, GoogleTestAsGtestDiscoverTestsNamesIt) {
  ResultFile file = sample("gtest.xml");
  const std::vector<std::string> known = {"Math.Adds", "Math.Fails", "Prefix/Param.Even/0",
                                          "Prefix/Param.Even/1", "Typed/0.Works"};
  Matching m = match_to_ctest(file, known);
  EXPECT_EQ(matched_rows(m),
            (std::vector<std::string>{"Math.Adds|passed|0", "Math.Fails|failed|0", "Typed/0.Works|passed|0",
                                      "Prefix/Param.Even/0|passed|0", "Prefix/Param.Even/1|failed|0"}));
  EXPECT_EQ(unmatched_names(m),
            (std::vector<std::string>{"Math|Skips", "Math|DISABLED_Later", "DISABLED_Whole|Case",
                                      "Typed/1|Works", "Output|Prints"}));
  // Without a list: Suite.Case for every test.
  Matching unknown = match_to_ctest(file, {});
  EXPECT_EQ(unknown.matched.size(), 10u);
  EXPECT_EQ(unknown.matched[8].ctest_name, "Prefix/Param.Even/0");
}

TEST(Matching, Catch2SectionsJoinTheirTestCase) {
  ResultFile file = sample("catch2.xml");
  Matching m = match_to_ctest(file, {"Adds numbers", "Needs network", "Uses the fixture", "Vector"});
  EXPECT_EQ(matched_rows(m),
            (std::vector<std::string>{"Adds numbers|passed|0.001", "Vector|failed|0.005",
                                      "Needs network|skipped|0", "Uses the fixture|passed|0.001"}));
  EXPECT_TRUE(m.unmatched.empty());
  // Without a list, Catch2's "<executable>.global" is no part of the name; a fixture class is.
  Matching unknown = match_to_ctest(file, {});
  EXPECT_EQ(unknown.matched[0].ctest_name, "Adds numbers");
  EXPECT_EQ(unknown.matched[1].ctest_name, "Vector/grows");
  EXPECT_EQ(unknown.matched[4].ctest_name, "unit_tests.Fixture.Uses the fixture");
}

TEST(Matching, TheOrderOfCandidates) {
  ResultFile file = parse(
      "<testsuites><testsuite>"
      "<testcase classname='ns' name='exact'/>"
      "<testcase classname='ns' name='dotted'/>"
      "<testcase classname='ns' name='colons'/>"
      "<testcase classname='ns' name='slash'/>"
      "<testcase classname='ns' name='both'/>"
      "<testcase classname='ns' name='nowhere'/>"
      "<testcase classname='ns' name='/lead'/>"
      "</testsuite></testsuites>");
  std::vector<std::string> known = {"exact", "ns.dotted", "ns::colons", "ns/slash",
                                    "both",  "ns.both",   "/lead"};
  std::sort(known.begin(), known.end());
  Matching m = match_to_ctest(file, known);
  EXPECT_EQ(matched_rows(m),
            (std::vector<std::string>{"exact|passed|-", "ns.dotted|passed|-", "ns::colons|passed|-",
                                      "ns/slash|passed|-", "both|passed|-", "/lead|passed|-"}));
  EXPECT_EQ(unmatched_names(m), (std::vector<std::string>{"ns|nowhere"}));
}

TEST(Matching, WithoutAListOfNames) {
  const auto name_of = [](const std::string& classname, const std::string& name) {
    ResultFile file = parse("<testsuites><testsuite><testcase classname='" + classname + "' name='" + name +
                            "'/></testsuite></testsuites>");
    Matching m = match_to_ctest(file, {});
    return m.matched.empty() ? std::string("(unmatched)") : m.matched[0].ctest_name;
  };
  EXPECT_EQ(name_of("tests.test_math", "test_add"), "tests.test_math.test_add");  // pytest
  EXPECT_EQ(name_of("com.example.FooTest", "bar"), "com.example.FooTest.bar");    // Surefire
  EXPECT_EQ(name_of("math adds", "math adds"), "math adds");                      // jest-junit
  EXPECT_EQ(name_of("", "TestAdd"), "TestAdd");
  EXPECT_EQ(name_of("exe.global", "Adds"), "Adds");      // Catch2
  EXPECT_EQ(name_of("tests/math.cpp", "adds"), "adds");  // doctest
  EXPECT_EQ(name_of("src/a.cc", "adds"), "adds");
  EXPECT_EQ(name_of("Suite", ""), "(unmatched)");
  EXPECT_EQ(name_of("", ""), "(unmatched)");
}

TEST(Matching, NamelessResultsAreNeverMatched) {
  ResultFile file = parse("<testsuite><testcase/><testcase classname='c'><error/></testcase></testsuite>");
  EXPECT_EQ(match_to_ctest(file, {}).unmatched.size(), 2u);
  EXPECT_EQ(match_to_ctest(file, {"c", "c."}).unmatched.size(), 2u);
}

TEST(Matching, RepeatedNamesCombine) {
  ResultFile file = parse(
      "<testsuite>"
      "<testcase name='a' time='1'><skipped/></testcase>"
      "<testcase name='b' time='5'/>"
      "<testcase name='a' time='2'/>"
      "<testcase name='a'><failure/></testcase>"
      "</testsuite>");
  EXPECT_EQ(matched_rows(match_to_ctest(file, {})), (std::vector<std::string>{"a|failed|3", "b|passed|5"}));
  ResultFile untimed = parse("<testsuite><testcase name='a'/><testcase name='a'/></testsuite>");
  EXPECT_EQ(matched_rows(match_to_ctest(untimed, {})), (std::vector<std::string>{"a|passed|-"}));
}

// ----------------------------------------------------------------------------------------------------------
// `tlb parse`.

struct CommandRun {
  int status;
  std::string out, err;
};

CommandRun tlb(std::vector<std::string> args) {
  args.insert(args.begin(), "tlb");
  std::vector<const char*> argv;
  argv.reserve(args.size());
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  const int status = cli::run(static_cast<int>(argv.size()), argv.data(), out, err,
                              [](std::string_view) { return std::optional<std::string>(); });
  return {status, out.str(), err.str()};
}

std::string data(const std::string& name) {
  return (fs::path(TLB_RESULTS_DATA_DIR) / name).string();
}

TEST(ParseCommand, JsonOverEveryFileInOrder) {
  CommandRun run = tlb({"parse", data("ctest-junit.xml"), data("gtest.xml"), "--json"});
  ASSERT_EQ(run.status, 0) << run.err;
  const nlohmann::json doc = nlohmann::json::parse(run.out);
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), 19u);
  EXPECT_EQ(doc[0]["name"], "passes");
  EXPECT_EQ(doc[0]["classname"], "passes");
  EXPECT_EQ(doc[0]["status"], "passed");
  EXPECT_DOUBLE_EQ(doc[0]["seconds"].get<double>(), 0.0136842);
  EXPECT_EQ(doc[0]["file"], data("ctest-junit.xml"));
  EXPECT_EQ(doc[0]["line"], 11);
  EXPECT_EQ(doc[1]["status"], "failed");
  EXPECT_EQ(doc[10]["ctest_name"], "Math.Fails");
  EXPECT_EQ(doc[10]["file"], data("gtest.xml"));
  const nlohmann::json untimed = nlohmann::json::parse(tlb({"parse", "--json", data("ctest-Test.xml")}).out);
  EXPECT_TRUE(untimed[3]["seconds"].is_null());
  EXPECT_EQ(untimed[3]["status"], "skipped");
}

TEST(ParseCommand, TextOneLinePerTestAndASummary) {
  CommandRun run = tlb({"parse", data("surefire.xml"), data("jest-junit.xml")});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find(data("surefire.xml") + ": JUnit XML, 6 tests\n"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("  passed    1200.500  com.example.CalculatorTest.slowIntegration\n"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("  passed       0.001  math prints a\\ntwo-line title\n"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("10 tests in 2 files: 5 passed, 2 failed, 1 error, 2 skipped; 1200.871 s in all.\n"),
            std::string::npos)
      << run.out;
}

TEST(ParseCommand, MalformedInputIsExitOneWithFileAndLine) {
  const fs::path path =
      fs::temp_directory_path() / ("tlb-parse-" + std::to_string(platform::process_id()) + ".xml");
  { std::ofstream(path) << "<testsuite>\n<testcase name='a'>\n</testsuite>\n"; }
  CommandRun run = tlb({"parse", data("gtest.xml"), path.string()});
  fs::remove(path);
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.out, "");  // Nothing is printed before every file has been read.
  EXPECT_EQ(run.err, "tlb: error: " + path.string() +
                         ":2: malformed XML: closing tag does not match the open element <testcase>\n");
  EXPECT_EQ(tlb({"parse", "/nonexistent.xml"}).status, 1);
  EXPECT_EQ(tlb({"parse"}).status, 2);
}

}  // namespace
}  // namespace tlb::io
