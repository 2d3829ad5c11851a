#include "io/results.hpp"

#include <tinyxml2.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>

#include "io/text.hpp"

namespace tlb::io {

std::string_view to_string(ResultStatus status) {
  switch (status) {
    case ResultStatus::passed:
      return "passed";
    case ResultStatus::failed:
      return "failed";
    case ResultStatus::error:
      return "error";
    case ResultStatus::skipped:
      return "skipped";
  }
  return "unknown";
}

std::optional<ResultStatus> result_status_named(std::string_view name) {
  for (ResultStatus status :
       {ResultStatus::passed, ResultStatus::failed, ResultStatus::error, ResultStatus::skipped}) {
    if (to_string(status) == name) return status;
  }
  return std::nullopt;
}

std::string_view to_string(ResultFormat format) {
  switch (format) {
    case ResultFormat::junit:
      return "JUnit XML";
    case ResultFormat::ctest_junit:
      return "ctest --output-junit";
    case ResultFormat::ctest_test_xml:
      return "ctest -T Test (Test.xml)";
    case ResultFormat::gtest:
      return "GoogleTest XML";
  }
  return "unknown";
}

namespace {

// ---------------------------------------------------------------------------------------------------------
// Encodings. tinyxml2 reads UTF-8 only and ignores the declaration, so other encodings become UTF-8 first.
// Every conversion keeps each line break, so tinyxml2's line numbers stay those of the file.

constexpr std::uint32_t kReplacement = 0xFFFD;

// The length of the valid UTF-8 sequence at the start of `text`, or 0 when it is not one (overlong forms,
// surrogates and code points past U+10FFFF are not).
std::size_t utf8_sequence(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // Allowed range of the second byte.
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

// `text` with every byte that does not start a valid UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t run = 0;  // Start of the valid bytes not yet copied.
  std::size_t i = 0;
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = utf8_sequence(text.substr(i));
    if (length > 0) {
      i += length;
      continue;
    }
    out.append(text.substr(run, i - run));
    append_utf8(out, kReplacement);
    run = ++i;
  }
  out.append(text.substr(run));
  return out;
}

// Windows-1252's 0x80-0x9F; the five bytes it leaves undefined map to the C1 controls, as browsers do.
constexpr std::array<std::uint16_t, 32> kWindows1252 = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

enum class Charset { utf8, latin1, latin9, windows1252 };

std::uint32_t code_point(unsigned char byte, Charset charset) {
  if (charset == Charset::windows1252 && byte >= 0x80 && byte <= 0x9F) return kWindows1252[byte - 0x80u];
  if (charset == Charset::latin9) {
    switch (byte) {
      case 0xA4:
        return 0x20AC;
      case 0xA6:
        return 0x0160;
      case 0xA8:
        return 0x0161;
      case 0xB4:
        return 0x017D;
      case 0xB8:
        return 0x017E;
      case 0xBC:
        return 0x0152;
      case 0xBD:
        return 0x0153;
      case 0xBE:
        return 0x0178;
      default:
        break;
    }
  }
  return byte;
}

std::string single_byte_to_utf8(std::string_view text, Charset charset) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) append_utf8(out, code_point(static_cast<unsigned char>(c), charset));
  return out;
}

std::string utf16_to_utf8(std::string_view text, bool big_endian, const std::string& source) {
  if (text.size() % 2 != 0)
    throw InputError(source, 0, "UTF-16 file with an odd number of bytes (truncated?)");
  std::string out;
  out.reserve(text.size() / 2);
  const auto unit = [&](std::size_t i) -> std::uint32_t {
    const auto first = static_cast<unsigned char>(text[i]), second = static_cast<unsigned char>(text[i + 1]);
    return big_endian ? (static_cast<std::uint32_t>(first) << 8 | second)
                      : (static_cast<std::uint32_t>(second) << 8 | first);
  };
  for (std::size_t i = 0; i < text.size(); i += 2) {
    std::uint32_t code = unit(i);
    if (code >= 0xD800 && code <= 0xDBFF && i + 2 < text.size()) {
      const std::uint32_t low = unit(i + 2);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        i += 2;
      }
    }
    append_utf8(out, code >= 0xD800 && code <= 0xDFFF ? kReplacement : code);
  }
  return out;
}

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The encoding named by the XML declaration (`<?xml ... encoding="..."?>`), or "" when none is declared.
std::string_view declared_encoding(std::string_view text) {
  const std::size_t end = text.find("?>");
  if (!text.starts_with("<?xml") || end == std::string_view::npos) return {};
  text = text.substr(0, end);
  const std::size_t key = text.find("encoding");
  if (key == std::string_view::npos) return {};
  text = trim(text.substr(key + 8));
  if (text.empty() || text.front() != '=') return {};
  text = trim(text.substr(1));
  if (text.empty() || (text.front() != '"' && text.front() != '\'')) return {};
  const char quote = text.front();
  text.remove_prefix(1);
  return text.substr(0, text.find(quote));
}

Charset charset_named(std::string_view declared, const std::string& source) {
  const std::string name = lower_ascii(trim(declared));
  // A declaration of UTF-16 on a file read as bytes is wrong about itself; the bytes are what counts.
  if (name.empty() || name == "utf-8" || name == "utf8" || name == "us-ascii" || name == "ascii" ||
      name == "utf-16" || name == "utf-16le" || name == "utf-16be") {
    return Charset::utf8;
  }
  if (name == "iso-8859-1" || name == "iso8859-1" || name == "iso_8859-1" || name == "latin1" ||
      name == "latin-1" || name == "l1" || name == "cp819" || name == "ibm819") {
    return Charset::latin1;
  }
  if (name == "iso-8859-15" || name == "iso8859-15" || name == "iso_8859-15" || name == "latin-9" ||
      name == "latin9") {
    return Charset::latin9;
  }
  if (name == "windows-1252" || name == "cp1252" || name == "x-cp1252") return Charset::windows1252;
  throw InputError(source, 1,
                   "unsupported encoding '" + std::string(declared) +
                       "' (UTF-8, UTF-16, ISO-8859-1, ISO-8859-15 and windows-1252 are read); convert the "
                       "file to UTF-8, e.g. with iconv");
}

// The document as UTF-8, in `storage` when it had to be converted, else a view of `text` itself.
std::string_view as_utf8(std::string_view text, std::string& storage, const std::string& source) {
  const auto starts = [&](std::string_view prefix) { return text.starts_with(prefix); };
  using namespace std::string_view_literals;
  if (starts("\xFF\xFE"sv) || starts("\xFE\xFF"sv)) {
    const bool big_endian = starts("\xFE\xFF"sv);
    storage = utf16_to_utf8(text.substr(2), big_endian, source);
    return storage;
  }
  // UTF-16 without a byte order mark, recognised by its "<?" (XML 1.0, appendix F).
  if (starts("<\0?\0"sv) || starts("\0<\0?"sv)) {
    storage = utf16_to_utf8(text, text.front() == '\0', source);
    return storage;
  }
  if (starts("\xEF\xBB\xBF"sv)) return strip_bom(text);  // The byte order mark outranks a declaration.
  const Charset charset = charset_named(declared_encoding(text), source);
  if (charset == Charset::utf8) return text;
  storage = single_byte_to_utf8(text, charset);
  return storage;
}

// ---------------------------------------------------------------------------------------------------------
// Reading values.

using tinyxml2::XMLElement;

std::size_t line_of(const tinyxml2::XMLNode& node) {
  return static_cast<std::size_t>(std::max(node.GetLineNum(), 0));
}

std::string_view attribute(const XMLElement& element, const char* name) {
  const char* value = element.Attribute(name);
  return value ? std::string_view(value) : std::string_view();
}

std::string_view text_of(const XMLElement* element) {
  const char* text = element ? element->GetText() : nullptr;
  return text ? std::string_view(text) : std::string_view();
}

bool is_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Surefire formats times over 999 s with an English thousands separator ("1,234.5"). Only that exact shape
// is read as one: groups of three digits after the first comma, and a point, if any, after the last group.
// "1,5" (a decimal comma) matches no such shape and stays an error.
std::optional<std::string> without_thousands_separators(std::string_view text) {
  const std::size_t point = text.find('.');
  std::string_view whole = text.substr(0, point);
  const std::size_t first = whole.find(',');
  if (first == 0 || first > 3 || !is_digits(whole.substr(0, first))) return std::nullopt;
  std::string digits(whole.substr(0, first));
  whole.remove_prefix(first);
  while (!whole.empty()) {
    if (whole.size() < 4 || whole.front() != ',' || !is_digits(whole.substr(1, 3))) return std::nullopt;
    digits.append(whole.substr(1, 3));
    whole.remove_prefix(4);
  }
  if (point != std::string_view::npos) digits.append(text.substr(point));
  return digits;
}

// A time in seconds as results files write it: "1.5", "0.", "2", "1e-3", Surefire's "1,234.5". Empty, and
// JavaScript's "NaN" for an unknown duration, mean no time. Anything else is an error, as is a negative time.
std::optional<double> parse_seconds(std::string_view written, const std::string& source, std::size_t line,
                                    std::string_view what) {
  const std::string_view text = trim(written);
  if (text.empty() || text == "NaN") return std::nullopt;
  std::optional<double> seconds = parse_number(text);
  if (!seconds && text.find(',') != std::string_view::npos) {
    if (auto plain = without_thousands_separators(text)) seconds = parse_number(*plain);
  }
  if (!seconds) {
    throw InputError(source, line,
                     std::string(what) + " is not a number of seconds: '" + std::string(written) +
                         "' (seconds are written like 1.5, not 1,5)");
  }
  if (*seconds < 0) {
    throw InputError(source, line, std::string(what) + " is negative: '" + std::string(written) + "'");
  }
  return *seconds == 0 ? 0.0 : *seconds;  // No "-0".
}

// Severity, for combining several outcomes of one test: error > failed > passed > skipped.
int severity(ResultStatus status) {
  switch (status) {
    case ResultStatus::skipped:
      return 0;
    case ResultStatus::passed:
      return 1;
    case ResultStatus::failed:
      return 2;
    case ResultStatus::error:
      return 3;
  }
  return 0;
}

ResultStatus worse(ResultStatus a, ResultStatus b) {
  return severity(a) >= severity(b) ? a : b;
}

// What a child element of <testcase> says about the outcome, if anything. Surefire writes rerunFailure and
// rerunError beside the final failure or error when every rerun failed too, and flakyFailure and flakyError
// for a test that failed and then passed on a rerun: that test passed.
std::optional<ResultStatus> status_of_child(std::string_view element) {
  if (element == "failure" || element == "rerunFailure") return ResultStatus::failed;
  if (element == "error" || element == "rerunError") return ResultStatus::error;
  if (element == "skipped") return ResultStatus::skipped;
  return std::nullopt;
}

// What a testcase's `status` attribute says, and how it combines with the child elements. The one table of
// the values producers write, in README.md ("How a testcase is read"); keep the two alike.
enum class StatusMeaning {
  not_run,  // The test did not run: skipped, whatever <failure>, <error> or <skipped> say (leftovers).
  failed,   // Failed, or error when an <error> says so (the most severe wins).
  error,    // Error.
  ran,      // Says nothing the children would not: they decide, passed when they say nothing.
};

struct StatusValue {
  std::string_view value;  // Lower case; the attribute is compared trimmed and case-insensitively.
  StatusMeaning meaning;
};

constexpr std::array<StatusValue, 14> kStatusValues = {{
    {"run", StatusMeaning::ran},     // ctest, GoogleTest, Catch2, doctest.
    {"passed", StatusMeaning::ran},  // tst.
    {"pass", StatusMeaning::ran},
    {"success", StatusMeaning::ran},
    {"fail", StatusMeaning::failed},    // ctest.
    {"failed", StatusMeaning::failed},  // tst.
    {"failure", StatusMeaning::failed},
    {"error", StatusMeaning::error},
    {"errored", StatusMeaning::error},     // tst.
    {"notrun", StatusMeaning::not_run},    // ctest (a missing executable...), GoogleTest (DISABLED_).
    {"disabled", StatusMeaning::not_run},  // ctest (DISABLED property), tst.
    {"ignored", StatusMeaning::not_run},   // Older GoogleTest.
    {"skipped", StatusMeaning::not_run},
    {"skip", StatusMeaning::not_run},
}};

// The meaning of a `status` value; an empty, whitespace or unknown value says nothing, as "run".
StatusMeaning status_meaning(std::string_view value) {
  const std::string status = lower_ascii(trim(value));
  for (const StatusValue& known : kStatusValues) {
    if (known.value == status) return known.meaning;
  }
  return StatusMeaning::ran;
}

// ---------------------------------------------------------------------------------------------------------
// Formats.

class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  void read_document(const tinyxml2::XMLDocument& document, ResultFile& file) const {
    const XMLElement* root = only_root(document);
    const std::string_view name = root->Name();
    if (name == "testsuites" || name == "testsuite") {
      read_junit(*root, file);
    } else if (name == "Site") {
      read_test_xml(*root, file);
    } else {
      throw InputError(
          source_, line_of(*root),
          "not a test results document: the root element is <" + std::string(name) +
              ">; expected <testsuites> or <testsuite> (JUnit XML) or <Site> (ctest's Test.xml)");
    }
  }

 private:
  // The single root element; text beside it is an error tinyxml2 lets through.
  const XMLElement* only_root(const tinyxml2::XMLDocument& document) const {
    const XMLElement* root = nullptr;
    for (const tinyxml2::XMLNode* node = document.FirstChild(); node; node = node->NextSibling()) {
      if (const tinyxml2::XMLText* text = node->ToText()) {
        if (!trim(text->Value()).empty())
          throw InputError(source_, line_of(*node), "malformed XML: text outside the root element");
      } else if (const XMLElement* element = node->ToElement()) {
        if (root) {
          throw InputError(source_, line_of(*node),
                           "malformed XML: a second root element <" + std::string(element->Name()) + ">");
        }
        root = element;
      }
    }
    if (!root) throw InputError(source_, 0, "not a test results document: it has no root element");
    return root;
  }

  // <testsuites> or <testsuite> at the root, suites nested in suites at any depth, <testcase> in any suite.
  void read_junit(const XMLElement& root, ResultFile& file) const {
    bool ctest_like = root.Name() == std::string_view("testsuite");
    bool gtest_like = root.Name() == std::string_view("testsuites") && attribute(root, "name") == "AllTests";
    // Depth-first in document order, without recursion: the next element to visit at each level.
    std::vector<const XMLElement*> next{root.FirstChildElement()};
    while (!next.empty()) {
      const XMLElement* element = next.back();
      if (!element) {
        next.pop_back();
        continue;
      }
      next.back() = element->NextSiblingElement();
      const std::string_view name = element->Name();
      if (name == "testcase") {
        file.results.push_back(read_testcase(*element));
        const TestResult& result = file.results.back();
        const std::string_view status = attribute(*element, "status");
        ctest_like = ctest_like && result.classname == result.name &&
                     (status == "run" || status == "fail" || status == "notrun" || status == "disabled");
        const std::string_view gtest_result = attribute(*element, "result");
        gtest_like = gtest_like || gtest_result == "completed" || gtest_result == "skipped" ||
                     gtest_result == "suppressed";
      } else if (name == "testsuite" || name == "testsuites") {
        next.push_back(element->FirstChildElement());
      }
    }
    if (gtest_like) {
      file.format = ResultFormat::gtest;
    } else if (ctest_like && !file.results.empty()) {
      file.format = ResultFormat::ctest_junit;
    } else {
      file.format = ResultFormat::junit;
    }
  }

  TestResult read_testcase(const XMLElement& testcase) const {
    TestResult result;
    result.line = line_of(testcase);
    result.name = valid_utf8(attribute(testcase, "name"));
    result.classname = valid_utf8(attribute(testcase, "classname"));
    result.seconds = parse_seconds(attribute(testcase, "time"), source_, result.line, "time");
    std::optional<ResultStatus> status;
    switch (status_meaning(attribute(testcase, "status"))) {
      case StatusMeaning::not_run:
        result.status = ResultStatus::skipped;  // A test that did not run has no failure of its own.
        return result;
      case StatusMeaning::failed:
        status = ResultStatus::failed;
        break;
      case StatusMeaning::error:
        status = ResultStatus::error;
        break;
      case StatusMeaning::ran:
        break;
    }
    const std::string_view gtest_result = attribute(testcase, "result");
    if (gtest_result == "skipped" || gtest_result == "suppressed") {
      status = worse(status.value_or(ResultStatus::skipped), ResultStatus::skipped);
    }
    for (const XMLElement* child = testcase.FirstChildElement(); child; child = child->NextSiblingElement()) {
      if (auto said = status_of_child(child->Name())) status = status ? worse(*status, *said) : *said;
    }
    result.status = status.value_or(ResultStatus::passed);
    return result;
  }

  // ctest -T Test: <Site><Testing><Test Status="passed|failed|notrun"><Name>...</Name><Results>
  // <NamedMeasurement name="Execution Time"><Value>seconds</Value>... (<TestList> holds <Test> elements too,
  // but only paths.)
  void read_test_xml(const XMLElement& site, ResultFile& file) const {
    file.format = ResultFormat::ctest_test_xml;
    const XMLElement* testing = site.FirstChildElement("Testing");
    if (!testing) {
      throw InputError(
          source_, line_of(site),
          "a CTest <Site> document without <Testing>: not a Test.xml (Build.xml, Configure.xml?)");
    }
    for (; testing; testing = testing->NextSiblingElement("Testing")) {
      for (const XMLElement* test = testing->FirstChildElement("Test"); test;
           test = test->NextSiblingElement("Test")) {
        file.results.push_back(read_ctest_test(*test));
      }
    }
  }

  TestResult read_ctest_test(const XMLElement& test) const {
    TestResult result;
    result.line = line_of(test);
    result.name = valid_utf8(text_of(test.FirstChildElement("Name")));
    const std::string_view status = attribute(test, "Status");
    if (status == "passed") {
      result.status = ResultStatus::passed;
    } else if (status == "failed") {
      result.status = ResultStatus::failed;
    } else if (status == "notrun") {
      result.status = ResultStatus::skipped;
    } else {
      throw InputError(source_, result.line,
                       "test '" + result.name + "' has Status '" + std::string(status) +
                           "'; ctest writes passed, failed or notrun");
    }
    if (const XMLElement* results = test.FirstChildElement("Results")) {
      for (const XMLElement* measurement = results->FirstChildElement("NamedMeasurement"); measurement;
           measurement = measurement->NextSiblingElement("NamedMeasurement")) {
        if (attribute(*measurement, "name") != "Execution Time") continue;
        const XMLElement* value = measurement->FirstChildElement("Value");
        result.seconds =
            parse_seconds(text_of(value), source_, value ? line_of(*value) : result.line, "Execution Time");
        break;
      }
    }
    return result;
  }

  const std::string& source_;
};

std::string parse_error_message(const tinyxml2::XMLDocument& document) {
  std::string message;
  switch (document.ErrorID()) {
    case tinyxml2::XML_ERROR_EMPTY_DOCUMENT:
      return "not a test results document: the file is empty";
    case tinyxml2::XML_ERROR_PARSING_ELEMENT:
      message = "malformed element";
      break;
    case tinyxml2::XML_ERROR_PARSING_ATTRIBUTE:
      message = "malformed attribute";
      break;
    case tinyxml2::XML_ERROR_PARSING_TEXT:
      message = "text from here on is never closed by markup (a truncated file, or text after the root)";
      break;
    case tinyxml2::XML_ERROR_PARSING_CDATA:
      message = "unterminated CDATA section";
      break;
    case tinyxml2::XML_ERROR_PARSING_COMMENT:
      message = "unterminated comment";
      break;
    case tinyxml2::XML_ERROR_PARSING_DECLARATION:
      message = "malformed <?...?> declaration";
      break;
    case tinyxml2::XML_ERROR_PARSING_UNKNOWN:
      message = "malformed <!...> declaration";
      break;
    case tinyxml2::XML_ERROR_MISMATCHED_ELEMENT:
      message = "closing tag does not match the open element";
      break;
    case tinyxml2::XML_ERROR_PARSING:
      message = "unexpected end of the document: an element is not closed (truncated file?)";
      break;
    case tinyxml2::XML_ELEMENT_DEPTH_EXCEEDED:
      message = "elements nested too deep (over " + std::to_string(TINYXML2_MAX_ELEMENT_DEPTH) + " levels)";
      break;
    default:
      message = document.ErrorName();
      break;
  }
  // tinyxml2 names the element it was reading, after "Line number=N: ".
  const std::string_view detail = document.ErrorStr();
  constexpr std::string_view kElement = "XMLElement name=";
  if (const std::size_t at = detail.find(kElement); at != std::string_view::npos) {
    message += " <" + std::string(detail.substr(at + kElement.size())) + ">";
  }
  return "malformed XML: " + message;
}

// ---------------------------------------------------------------------------------------------------------
// Matching.

bool is_ctest_format(ResultFormat format) {
  return format == ResultFormat::ctest_junit || format == ResultFormat::ctest_test_xml;
}

bool looks_like_source_file(std::string_view classname) {
  for (std::string_view extension : {".c", ".cc", ".cpp", ".cxx", ".c++", ".h", ".hh", ".hpp", ".hxx"}) {
    if (classname.ends_with(extension)) return true;
  }
  return false;
}

// The names a result may have in CTest, most likely first (README.md, "Matching results to CTest names").
std::vector<std::string> candidate_names(const TestResult& result, ResultFormat format) {
  if (result.name.empty()) return {};
  if (is_ctest_format(format) || result.classname.empty()) return {result.name};
  std::vector<std::string> names{result.name, result.classname + "." + result.name,
                                 result.classname + "::" + result.name, result.classname + "/" + result.name};
  if (const std::size_t slash = result.name.find('/'); slash != std::string::npos && slash > 0) {
    names.push_back(result.name.substr(0, slash));  // Catch2's "Test case/Section".
  }
  return names;
}

}  // namespace

ResultFile parse_results(std::string_view text, const std::string& source) {
  std::string converted;
  const std::string_view utf8 = as_utf8(text, converted, source);
  // tinyxml2 reads up to a NUL byte; XML allows none anywhere.
  if (const std::size_t nul = utf8.find('\0'); nul != std::string_view::npos) {
    throw InputError(source, line_at(utf8, nul), "malformed XML: a NUL byte (is this a text file?)");
  }
  const std::string_view content = trim(utf8);
  if (!content.empty() && content.front() != '<') {
    throw InputError(source, line_at(utf8, static_cast<std::size_t>(content.data() - utf8.data())),
                     "not XML: the content does not start with '<'");
  }
  tinyxml2::XMLDocument document(true, tinyxml2::PRESERVE_WHITESPACE);
  if (document.Parse(utf8.data(), utf8.size()) != tinyxml2::XML_SUCCESS) {
    throw InputError(source, static_cast<std::size_t>(std::max(document.ErrorLineNum(), 0)),
                     parse_error_message(document));
  }
  ResultFile file;
  file.source = source;
  Reader(source).read_document(document, file);
  return file;
}

ResultFile read_results(const std::string& path) {
  return parse_results(read_file(path), display_name(path));
}

std::string ctest_name(const TestResult& result, ResultFormat format) {
  if (result.name.empty()) return {};
  if (is_ctest_format(format) || result.classname.empty() || result.classname == result.name) {
    return result.name;
  }
  if (format == ResultFormat::gtest) return result.classname + "." + result.name;
  // Catch2 writes "<executable>.global" for a test case outside a class; doctest writes the source file.
  if (result.classname.ends_with(".global") || looks_like_source_file(result.classname)) return result.name;
  return result.classname + "." + result.name;
}

Matching match_to_ctest(const ResultFile& file, const std::vector<std::string>& known) {
  Matching matching;
  std::map<std::string, std::size_t> index;  // CTest name -> its entry in matching.matched.
  for (const TestResult& result : file.results) {
    std::string name;
    if (known.empty()) {
      name = ctest_name(result, file.format);
    } else {
      for (std::string& candidate : candidate_names(result, file.format)) {
        if (std::binary_search(known.begin(), known.end(), candidate)) {
          name = std::move(candidate);
          break;
        }
      }
    }
    if (name.empty()) {
      matching.unmatched.push_back(result);
      continue;
    }
    auto [it, inserted] = index.try_emplace(name, matching.matched.size());
    if (inserted) {
      matching.matched.push_back(MatchedResult{std::move(name), result.status, result.seconds});
      continue;
    }
    // Another part of the same CTest test: Catch2's sections, or a name repeated in the file.
    MatchedResult& same = matching.matched[it->second];
    same.status = worse(same.status, result.status);
    if (result.seconds) same.seconds = same.seconds.value_or(0) + *result.seconds;
  }
  return matching;
}

}  // namespace tlb::io
