// Hand-made partition records of a small run, shared by the report's tests: two partitions, five tests, one
// with a hostile name, a failure and an error, estimates from history, COST and the fallback.
//
//   partition 1 (predicted 4.5 s): alpha.slow  3.0 s history  -> passed 3.5 s
//                                  alpha.fast  1.0 s history  -> passed 0.9 s
//                                  kHostile    0.5 s fallback -> failed 0.25 s
//   partition 2 (predicted 4.5 s): beta.one    2.5 s history  -> passed 2.0 s
//                                  beta.two    2.0 s COST     -> error 2.75 s
//   bound 4.5 s, predicted makespan 4.5 s; actual 4.65 s and 4.75 s, makespan 4.75 s (ratio 1.056).
#pragma once

#include <algorithm>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "io/record.hpp"

namespace tlb::testing {

inline const std::string kHostile = "<script>alert('x')</script> & \"q\"";

struct PlannedResult {
  std::string name;
  double estimate = 0;
  Estimate source = Estimate::history;
  io::ResultStatus status = io::ResultStatus::passed;
  std::optional<double> seconds;
};

inline io::PartitionRecord make_record(int partition, int total, std::vector<PlannedResult> tests,
                                       std::vector<std::string> all_tests,
                                       std::optional<io::RecordedPlan> plan, bool with_results = true) {
  std::sort(tests.begin(), tests.end(),
            [](const PlannedResult& a, const PlannedResult& b) { return a.name < b.name; });
  std::sort(all_tests.begin(), all_tests.end());
  io::PartitionRecord record;
  record.partition = partition;
  record.total = total;
  record.splitter = "time";
  record.all_tests = all_tests;
  record.test_list_hash = io::hash_names(all_tests);
  record.history_source = "";
  record.history_status = "ok";
  record.history_hash = "fnv1a64:0123456789abcdef";
  for (const PlannedResult& test : tests) {
    record.tests.push_back(test.name);
    record.estimates.push_back(io::RecordedEstimate{test.name, test.estimate, test.source});
    if (with_results) record.results.push_back(io::RecordedResult{test.name, test.status, test.seconds});
  }
  record.has_results = with_results;
  if (with_results) record.recorded_on = "2026-05-02";
  record.plan = std::move(plan);
  return record;
}

inline std::vector<std::string> small_run_tests() {
  return {"alpha.fast", "alpha.slow", "beta.one", "beta.two", kHostile};
}

inline io::RecordedPlan small_run_plan() {
  return io::RecordedPlan{{4.5, 4.5}, 4.5, 4.5};
}

inline std::vector<io::PartitionRecord> small_run(bool with_plan = true, bool with_results = true) {
  const std::optional<io::RecordedPlan> plan =
      with_plan ? std::optional(small_run_plan()) : std::optional<io::RecordedPlan>();
  return {
      make_record(1, 2,
                  {{"alpha.slow", 3.0, Estimate::history, io::ResultStatus::passed, 3.5},
                   {"alpha.fast", 1.0, Estimate::history, io::ResultStatus::passed, 0.9},
                   {kHostile, 0.5, Estimate::fallback, io::ResultStatus::failed, 0.25}},
                  small_run_tests(), plan, with_results),
      make_record(2, 2,
                  {{"beta.one", 2.5, Estimate::history, io::ResultStatus::passed, 2.0},
                   {"beta.two", 2.0, Estimate::cost, io::ResultStatus::error, 2.75}},
                  small_run_tests(), plan, with_results),
  };
}

// A run of 20 tests on 3 partitions, more than the page's top tables show: suite.test_NN has an estimate of
// NN s from history and ran in NN s (NN <= 5) or NN.5 s; test_12 failed, test_03 was skipped without a time.
//   partition 1: 20 17 14 11 8 5 2  predicted 77 s, actual 79.5 s
//   partition 2: 19 16 13 10 7 4 1  predicted 70 s, actual 72.5 s
//   partition 3: 18 15 12 9 6 3     predicted 63 s, actual 62.5 s
//   predicted bound 70 s (ratio 1.100); measured 214.5 s in all, so the actual bound is 71.5 s (ratio 1.112;
//   79.5 s over the predicted bound would be 1.136).
inline std::string twenty_test_name(int n) {
  return std::string("suite.test_") + (n < 10 ? "0" : "") + std::to_string(n);
}

inline std::vector<io::PartitionRecord> twenty_test_run() {
  std::vector<std::string> all;
  for (int n = 1; n <= 20; ++n) all.push_back(twenty_test_name(n));
  const io::RecordedPlan plan{{77, 70, 63}, 70, 77};
  std::vector<io::PartitionRecord> records;
  for (int partition = 1; partition <= 3; ++partition) {
    std::vector<PlannedResult> tests;
    for (int n = 21 - partition; n >= 1; n -= 3) {
      PlannedResult test{twenty_test_name(n), static_cast<double>(n), Estimate::history,
                         io::ResultStatus::passed, n <= 5 ? n : n + 0.5};
      if (n == 12) test.status = io::ResultStatus::failed;
      if (n == 3) {
        test.status = io::ResultStatus::skipped;
        test.seconds = std::nullopt;
      }
      tests.push_back(test);
    }
    records.push_back(make_record(partition, 3, tests, all, plan));
  }
  return records;
}

// Sets the status of `name`'s results in `records`.
inline void set_status(std::vector<io::PartitionRecord>& records, const std::string& name,
                       io::ResultStatus status) {
  for (io::PartitionRecord& record : records) {
    for (io::RecordedResult& result : record.results) {
      if (result.name == name) result.status = status;
    }
  }
}

// Reading a page (as render_html wrote it, or as a browser's DOM serializes it).

struct Bar {
  int partition = 0;
  std::string predicted, actual;  // The data- attributes.
  friend bool operator==(const Bar&, const Bar&) = default;
};

// The chart's bars of one kind ("predicted" or "actual"), in document order.
inline std::vector<Bar> bars(const std::string& html, const std::string& kind) {
  const std::regex pattern("<rect class=\"bar " + kind +
                           "\"[^>]*data-partition=\"([0-9]+)\" data-predicted=\"([^\"]*)\" "
                           "data-actual=\"([^\"]*)\"");
  std::vector<Bar> found;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), pattern); it != std::sregex_iterator();
       ++it) {
    found.push_back(Bar{std::stoi((*it)[1]), (*it)[2], (*it)[3]});
  }
  return found;
}

// The data-value of the summary's figure `name`; nullopt when the page has no such figure.
inline std::optional<std::string> figure(const std::string& html, const std::string& name) {
  const std::string start = "data-figure=\"" + name + "\" data-value=\"";
  const std::size_t at = html.find(start);
  if (at == std::string::npos) return std::nullopt;
  const std::size_t from = at + start.size();
  return html.substr(from, html.find('"', from) - from);
}

// The page's <section id="ID">...</section>, or "" when it has none.
inline std::string section(const std::string& html, const std::string& id) {
  const std::size_t at = html.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "";
  return html.substr(at, html.find("</section>", at) - at);
}

inline std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++count;
  return count;
}

// Every test name in the page's list of every test (<section id="tests">), in order, as `<td>NAME</td>` at
// the start of a row; the names are as the page (or a browser's serializer) escaped them.
inline std::vector<std::string> listed_tests(const std::string& html) {
  const std::string list = section(html, "tests");
  const std::regex row("<tr(?: class=\"[a-z ]+\")?><td>([^<]*)</td>");
  std::vector<std::string> names;
  for (auto it = std::sregex_iterator(list.begin(), list.end(), row); it != std::sregex_iterator(); ++it)
    names.push_back((*it)[1]);
  return names;
}

}  // namespace tlb::testing
