// The results parser against someone else's truth: the JUnit corpus in ../shared/corpus/junit (files from
// EnricoMi/publish-unit-test-result-action and dorny/test-reporter, with each tool's expected outcome of
// every test case restated in expected-normalized.json; MANIFEST.md there describes it). Skips when it is
// absent.
//
// Every file is compared: per test case, status and time; for counts-only entries, the counts; for files the
// tools reject, an InputError. Where our meaning differs from the interpreter's on purpose (README.md,
// "Matching results to CTest names"), the comparison says so on the file's line:
//   - "disabled" is a status of its own for EnricoMi; TLB reports a disabled test as skipped (it did not
//   run).
//   - dorny/test-reporter folds <error> into "failed"; TLB keeps error apart, so for dorny's entries our
//   error
//     is compared as failed.
//   - A testcase without a name: EnricoMi drops it; TLB keeps it (`tlb record` lists it as unmatched rather
//     than losing it silently), so such results are left out of the comparison and counted.
//   - A testcase without a time attribute: dorny's tester-junit parser says 0 s; TLB says no time (a 0 would
//     be stored as a measured duration). The other interpreters agree with TLB.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/results.hpp"
#include "io/text.hpp"

namespace tlb::io {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Files whose expectations follow semantics we do not share, each with the reason. Their lines are still
// printed; they do not fail the test. Empty: every file agrees under the differences listed above.
const std::map<std::string, std::string> kExcluded = {};

struct Expected {
  std::string name;
  std::string classname;
  std::string status;  // passed, failed, error, skipped, disabled
  std::optional<double> seconds;
};

struct Verdict {
  std::size_t expected = 0;  // Cases (or checks) the entry expects.
  std::size_t ours = 0;      // Results we read.
  std::size_t agreeing = 0;
  std::vector<std::string> notes;        // Deliberate differences that applied.
  std::vector<std::string> differences;  // Anything else.
};

std::string text_of(const json& value) {
  return value.is_string() ? value.get<std::string>() : std::string();
}

bool dorny(const json& entry) {
  return text_of(entry.value("interpreter", json())).starts_with("dorny/");
}

// The status the interpreter would give our result.
std::string as_interpreter_says(ResultStatus status, bool folds_error_into_failed) {
  if (folds_error_into_failed && status == ResultStatus::error) return "failed";
  return std::string(to_string(status));
}

std::string shown(const std::optional<double>& seconds) {
  if (!seconds) return "none";
  std::ostringstream text;
  text.imbue(std::locale::classic());
  text << std::setprecision(10) << *seconds;
  return text.str();
}

bool same_time(const std::optional<double>& ours, const std::optional<double>& expected) {
  if (!ours || !expected) return ours.has_value() == expected.has_value();
  return std::abs(*ours - *expected) <= 1e-6 + 1e-9 * std::abs(*expected);
}

// The entry's files: one path, or "A + .../B" where B sits beside A's parent directory.
std::vector<fs::path> files_of(const fs::path& root, const std::string& key) {
  std::vector<fs::path> files;
  const std::size_t plus = key.find(" + ");
  if (plus == std::string::npos) return {root / key};
  const fs::path first = root / key.substr(0, plus);
  std::string second = key.substr(plus + 3);
  files.push_back(first);
  if (second.starts_with(".../")) {
    files.push_back(first.parent_path().parent_path() / second.substr(4));
  } else {
    files.push_back(root / second);
  }
  return files;
}

std::vector<TestResult> read_all(const std::vector<fs::path>& files) {
  std::vector<TestResult> results;
  for (const fs::path& file : files) {
    ResultFile read = read_results(file.string());
    results.insert(results.end(), read.results.begin(), read.results.end());
  }
  return results;
}

// How an expected case finds our result. dorny/test-reporter trims names, and its tester-junit parser renames
// Nette Tester's "dir/File.phpt [method=m]" to "File.phpt::m" under the classname "dir", and
// "Title | dir/File.phpt" to "Title (File.phpt)"; none is a difference of status or time, so the cases are
// aligned through them.
std::string tester_style(std::string_view name) {
  std::string out(trim(name));
  const std::size_t method = out.find(" [method=");
  if (method != std::string::npos && out.ends_with("]")) {
    out = out.substr(0, method) + "::" + out.substr(method + 9, out.size() - method - 10);
  }
  return out;
}

bool tester_titled(std::string_view name, std::string_view want) {
  name = trim(name);
  const std::size_t bar = name.find(" | ");
  if (bar == std::string_view::npos || name.find(" [method=") != std::string_view::npos) return false;
  const std::string_view path = name.substr(bar + 3);
  const std::string_view file = path.substr(path.find_last_of('/') + 1);
  return std::string(name.substr(0, bar)) + " (" + std::string(file) + ")" == want;
}

void compare_cases(const json& entry, const std::vector<TestResult>& ours, Verdict& verdict) {
  const bool folds = dorny(entry);
  const bool zero_for_no_time =
      text_of(entry.value("interpreter", json())).find("tester-junit") != std::string::npos;
  std::vector<Expected> expected;
  for (const json& c : entry["cases"]) {
    Expected e{text_of(c["name"]), text_of(c["classname"]), text_of(c["status"]), std::nullopt};
    if (c["time_s"].is_number()) e.seconds = c["time_s"].get<double>();
    expected.push_back(e);
  }
  verdict.expected = expected.size();

  std::vector<bool> used(ours.size(), false);
  std::vector<std::optional<std::size_t>> aligned(expected.size());
  // Our results by name, in document order; an expected case takes the first unused one of its name,
  // preferring one of the same classname.
  std::map<std::string, std::vector<std::size_t>> by_name;
  for (std::size_t i = 0; i < ours.size(); ++i) by_name[ours[i].name].push_back(i);
  for (std::size_t k = 0; k < expected.size(); ++k) {
    std::optional<std::size_t> found;
    for (std::size_t i : by_name[expected[k].name]) {
      if (used[i]) continue;
      if (!found) found = i;
      if (ours[i].classname == expected[k].classname) {
        found = i;
        break;
      }
    }
    if (found) used[*found] = true;
    aligned[k] = found;
  }
  std::size_t renamed = 0;
  for (std::size_t k = 0; k < expected.size(); ++k) {
    if (aligned[k]) continue;
    const std::string want = std::string(trim(expected[k].name));
    const std::string want_path = expected[k].classname + "/" + want;
    for (std::size_t i = 0; i < ours.size() && !aligned[k]; ++i) {
      if (used[i]) continue;
      const std::string mine = tester_style(ours[i].name);
      if (mine == want || mine.ends_with(want_path) || tester_titled(ours[i].name, want)) {
        used[i] = true;
        aligned[k] = i;
        ++renamed;
      }
    }
  }

  std::size_t disabled = 0, folded = 0, zero_times = 0;
  for (std::size_t k = 0; k < expected.size(); ++k) {
    const Expected& e = expected[k];
    if (!aligned[k]) {
      verdict.differences.push_back("missing: '" + e.name + "'");
      continue;
    }
    const TestResult& r = ours[*aligned[k]];
    const std::string status = as_interpreter_says(r.status, folds);
    const std::string wanted = e.status == "disabled" ? "skipped" : e.status;
    const bool status_agrees = status == wanted;
    const bool time_agrees = same_time(r.seconds, e.seconds);
    // tester-junit reports a testcase without a time attribute as taking 0 s; TLB reports no time, since a
    // 0 would be stored as a measured duration.
    const bool time_explained = !r.seconds && e.seconds == 0.0 && zero_for_no_time;
    if (status_agrees && (time_agrees || time_explained)) {
      ++verdict.agreeing;
      disabled += e.status == "disabled";
      folded += folds && r.status == ResultStatus::error;
      zero_times += time_explained;
    } else {
      verdict.differences.push_back("'" + e.name + "' (line " + std::to_string(r.line) + "): expected " +
                                    e.status + " " + shown(e.seconds) + ", read " +
                                    std::string(to_string(r.status)) + " " + shown(r.seconds));
    }
  }
  std::size_t nameless = 0;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    if (used[i]) continue;
    if (ours[i].name.empty()) {
      ++nameless;
    } else {
      verdict.differences.push_back("extra: '" + ours[i].name + "' (line " + std::to_string(ours[i].line) +
                                    ")");
    }
  }
  if (renamed > 0) {
    verdict.notes.push_back(std::to_string(renamed) + " aligned by trimmed or tester-junit-renamed name");
  }
  if (disabled > 0) verdict.notes.push_back(std::to_string(disabled) + " disabled read as skipped");
  if (folded > 0)
    verdict.notes.push_back(std::to_string(folded) + " error compared as failed (dorny's rule)");
  if (zero_times > 0) {
    verdict.notes.push_back(std::to_string(zero_times) +
                            " without a time attribute: no time here, 0 s for tester-junit");
  }
  if (nameless > 0) {
    verdict.notes.push_back(std::to_string(nameless) +
                            " testcase(s) without a name kept (EnricoMi drops them; tlb record lists them "
                            "as unmatched)");
  }
}

void compare_counts(const json& entry, const std::vector<TestResult>& ours, Verdict& verdict) {
  const bool folds = dorny(entry);
  std::map<std::string, std::size_t> counts;
  for (const TestResult& r : ours) ++counts[as_interpreter_says(r.status, folds)];
  const json& expected = entry["counts"];
  const auto check = [&](const std::string& what, std::size_t actual) {
    if (!expected.contains(what) || !expected[what].is_number()) return;
    ++verdict.expected;
    if (expected[what].get<std::size_t>() == actual) {
      ++verdict.agreeing;
    } else {
      verdict.differences.push_back(what + ": expected " + expected[what].dump() + ", read " +
                                    std::to_string(actual));
    }
  };
  check("total", ours.size());
  for (const char* status : {"passed", "failed", "error", "skipped"}) check(status, counts[status]);
  if (expected.contains("result")) {
    ++verdict.expected;
    const bool failing = counts["failed"] + counts["error"] > 0;
    const std::string result = failing ? "failed" : "success";
    if (expected["result"] == result) {
      ++verdict.agreeing;
    } else {
      verdict.differences.push_back("result: expected " + text_of(expected["result"]) + ", read " + result);
    }
  }
}

Verdict judge(const fs::path& root, const std::string& key, const json& entry) {
  Verdict verdict;
  const std::string kind = text_of(entry["truth_kind"]);
  const bool must_fail =
      kind == "parse-failure" || kind == "malformed" || entry.contains("expected_exception");
  std::vector<TestResult> ours;
  try {
    ours = read_all(files_of(root, key));
  } catch (const InputError& e) {
    if (must_fail) {
      verdict.expected = verdict.agreeing = 1;
      verdict.notes.push_back(std::string("rejected as expected: ") + e.what());
    } else {
      verdict.expected = 1;
      verdict.differences.push_back(std::string("rejected: ") + e.what());
    }
    return verdict;
  }
  verdict.ours = ours.size();
  if (must_fail) {
    verdict.expected = 1;
    verdict.differences.push_back("read " + std::to_string(ours.size()) +
                                  " results; the file should be rejected");
  } else if (kind == "per-case") {
    compare_cases(entry, ours, verdict);
  } else if (kind == "counts-only") {
    compare_counts(entry, ours, verdict);
  } else {
    verdict.notes.push_back("read; nothing to compare (truth_kind " + kind + ")");
  }
  return verdict;
}

class JunitCorpus : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(TLB_SHARED_DIR) / "corpus" / "junit";
    if (!fs::exists(root_ / "expected-normalized.json"))
      GTEST_SKIP() << "skipped: " << root_ << " is absent (it sits beside the project in CI)";
  }
  fs::path root_;
};

TEST_F(JunitCorpus, AgreesWithTheExpectedStatusAndTimeOfEveryTest) {
  std::ifstream in(root_ / "expected-normalized.json", std::ios::binary);
  const json expectations = json::parse(in);
  ASSERT_TRUE(expectations.is_object());
  std::size_t files = 0, cases = 0, agreeing = 0;
  std::cout << "file | expected | read | agreeing | notes\n";
  for (const auto& [key, entry] : expectations.items()) {
    const Verdict verdict = judge(root_, key, entry);
    ++files;
    cases += verdict.expected;
    agreeing += verdict.agreeing;
    std::cout << key << " | " << verdict.expected << " | " << verdict.ours << " | " << verdict.agreeing;
    for (const std::string& note : verdict.notes) std::cout << " | " << note;
    std::cout << "\n";
    for (const std::string& difference : verdict.differences)
      std::cout << "    DIFFERENT: " << difference << "\n";
    if (auto excluded = kExcluded.find(key); excluded != kExcluded.end()) {
      std::cout << "    excluded: " << excluded->second << "\n";
      continue;
    }
    EXPECT_TRUE(verdict.differences.empty()) << key << ": " << verdict.differences.front();
    EXPECT_EQ(verdict.agreeing, verdict.expected) << key;
  }
  std::cout << files << " files, " << agreeing << " of " << cases << " expectations agree\n";
  EXPECT_GT(files, 0u);
}

}  // namespace
}  // namespace tlb::io
