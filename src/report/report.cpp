#include "report/report.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "io/text.hpp"
#include "io/verification.hpp"

namespace tlb::report {
namespace {

// At most this many rows in the "top" tables, and in the lists that can be as long as the suite.
constexpr std::size_t kTopRows = 15;
constexpr std::size_t kListRows = 100;
constexpr std::size_t kProblemRows = 20;

// ---------------------------------------------------------------------------------------------------------
// Numbers, always through std::to_chars: the same text whatever the locale.

std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) value = 0;
  std::array<char, 400> buffer{};
  const auto [end, error] =
      std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed, decimals);
  if (error != std::errc()) return "0";
  std::string text(buffer.data(), end);
  if (text.starts_with('-') && text.find_first_not_of("-0.") == std::string::npos) text.erase(0, 1);
  return text;
}

// As `tlb split` writes times: "0.42 s", "12.3 s", "2.5 min", "1.2 h".
std::string seconds_text(double seconds) {
  if (seconds >= 3600) return fixed(seconds / 3600, 1) + " h";
  if (seconds >= 60) return fixed(seconds / 60, 1) + " min";
  return fixed(seconds, seconds < 10 ? 2 : 1) + " s";
}

// A signed change: "+1.20 s", "−0.35 s" (a minus sign, not a hyphen).
std::string change_text(double seconds) {
  std::string magnitude = seconds_text(std::fabs(seconds));
  if (magnitude.find_first_of("123456789") == std::string::npos) return magnitude;
  return (seconds < 0 ? "\u2212" : "+") + magnitude;
}

// Seconds in data- attributes, for tests and scripts.
std::string data_seconds(double seconds) {
  return fixed(seconds, 3);
}

std::string counted(std::size_t n, const std::string& singular, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

// "1", "1 and 2", "1, 2 and 4".
std::string listed_numbers(const std::vector<int>& numbers) {
  std::string text;
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    if (i > 0) text += (i + 1 == numbers.size()) ? " and " : ", ";
    text += std::to_string(numbers[i]);
  }
  return text;
}

std::string partitions_text(const std::vector<int>& numbers) {
  return (numbers.size() == 1 ? "Partition " : "Partitions ") + listed_numbers(numbers);
}

std::string estimate_text(Estimate estimate) {
  switch (estimate) {
    case Estimate::history:
      return "history";
    case Estimate::cost:
      return "COST property";
    case Estimate::fallback:
      return "mean of known tests";
    case Estimate::disabled:
      return "disabled";
  }
  return "history";
}

bool did_not_pass(io::ResultStatus status) {
  return status == io::ResultStatus::failed || status == io::ResultStatus::error;
}

// "1.20 s", or "1.20 s (COST property)" for an estimate that is not from history.
std::string estimate_value(double seconds, Estimate source) {
  std::string text = seconds_text(seconds);
  if (source != Estimate::history) text += " (" + estimate_text(source) + ")";
  return text;
}

// One test of a partition as the page lists it: its estimate and its result, each when the record has it.
struct PartitionTest {
  std::string_view name;
  const io::RecordedEstimate* estimate = nullptr;
  const io::RecordedResult* result = nullptr;
};

// The partition's tests in name order: those it was given, and any it has an estimate or a result for.
std::vector<PartitionTest> partition_tests(const io::PartitionRecord& record) {
  std::map<std::string_view, PartitionTest> tests;
  for (const std::string& name : record.tests) tests[name].name = name;
  for (const io::RecordedEstimate& estimate : record.estimates) {
    PartitionTest& test = tests[estimate.name];
    test.name = estimate.name;
    test.estimate = &estimate;
  }
  if (record.has_results) {
    for (const io::RecordedResult& result : record.results) {
      PartitionTest& test = tests[result.name];
      test.name = result.name;
      test.result = &result;
    }
  }
  std::vector<PartitionTest> listed;
  listed.reserve(tests.size());
  for (const auto& [name, test] : tests) listed.push_back(test);
  return listed;
}

// ---------------------------------------------------------------------------------------------------------
// What the page shows, computed from the records before any HTML is written.

struct Row {
  int partition = 0;
  const io::PartitionRecord* record = nullptr;  // nullptr: no record of this partition.
  std::optional<double> predicted;
  std::optional<double> actual;  // The sum of its results' seconds, once it has results.
};

struct TestRow {
  std::string name;
  int partition = 0;
  io::ResultStatus status = io::ResultStatus::passed;
  std::optional<double> seconds;
  std::optional<double> estimate;
  Estimate source = Estimate::history;
};

struct NoHistoryRow {
  std::vector<int> partitions;
  Estimate source = Estimate::fallback;
  double estimate = 0;
  std::optional<double> actual;  // The longest measured, when it ran.
};

struct FlakyRow {
  std::size_t passed = 0;
  std::size_t failed = 0;
  std::string now;  // Its results in this run: "failed (partition 2)".
};

struct Model {
  int total = 0;
  std::vector<Row> rows;  // Partitions 1..total.
  std::optional<io::RecordedPlan> plan;
  std::size_t tests = 0;
  std::size_t passed = 0, failed = 0, skipped = 0;
  std::size_t with_results = 0;  // Partitions with results.
  std::optional<double> actual_makespan;
  std::optional<double>
      actual_bound;           // The lower bound on the measured times, once every partition has them.
  int slowest_actual = 0;     // The partition whose tests took longest.
  int slowest_predicted = 0;  // The partition predicted to finish last.
  std::string splitter;
  std::optional<io::Verification> verification;
  std::vector<std::string> notes;
  bool any_estimates = false;
  std::vector<TestRow> slowest, failures, changed;
  std::map<std::string, NoHistoryRow> no_history;
  std::map<std::string, FlakyRow> flaky;
  std::size_t flaky_records = 0;
};

// The record shown for a partition given twice: the one with results, then the one recorded later, then the
// one given last.
bool preferred(const io::PartitionRecord& candidate, const io::PartitionRecord& current) {
  return std::tie(candidate.has_results, candidate.recorded_on) >=
         std::tie(current.has_results, current.recorded_on);
}

bool by_name_then_partition(const TestRow& a, const TestRow& b) {
  return std::tie(a.name, a.partition) < std::tie(b.name, b.partition);
}

void place_records(const RunData& run, Model& model) {
  std::set<int> totals;
  std::map<int, std::vector<const io::PartitionRecord*>> by_partition;
  for (const io::PartitionRecord& record : run.records) {
    totals.insert(record.total);
    model.total = std::max({model.total, record.total, record.partition});
    by_partition[record.partition].push_back(&record);
  }
  if (totals.size() > 1) {
    std::vector<int> listed(totals.begin(), totals.end());
    model.notes.push_back("The records disagree on the number of partitions (" + listed_numbers(listed) +
                          "); the chart shows " + std::to_string(model.total) + ".");
  }
  std::vector<int> missing, repeated;
  for (int k = 1; k <= model.total; ++k) {
    Row row;
    row.partition = k;
    auto found = by_partition.find(k);
    if (found == by_partition.end()) {
      missing.push_back(k);
    } else {
      for (const io::PartitionRecord* record : found->second) {
        if (row.record == nullptr || preferred(*record, *row.record)) row.record = record;
      }
      if (found->second.size() > 1) repeated.push_back(k);
    }
    model.rows.push_back(row);
  }
  if (!missing.empty()) {
    model.notes.push_back("No record of " + std::string(missing.size() == 1 ? "partition " : "partitions ") +
                          listed_numbers(missing) + ".");
  }
  if (!repeated.empty()) {
    model.notes.push_back(partitions_text(repeated) + (repeated.size() == 1 ? " has" : " have") +
                          " more than one record; the one with results (recorded last) is shown.");
  }
}

void read_plan(Model& model) {
  bool differ = false;
  int shown = 0;
  for (const Row& row : model.rows) {
    if (row.record == nullptr || !row.record->plan) continue;
    const io::RecordedPlan& plan = *row.record->plan;
    if (!model.plan && plan.predicted_seconds.size() == static_cast<std::size_t>(model.total)) {
      model.plan = plan;
      shown = row.partition;
    } else if (!model.plan || plan != *model.plan) {
      differ = true;
    }
  }
  if (!model.plan) {
    model.notes.push_back(
        "No record holds the split's plan (records written by a tlb that did not keep it): there is no "
        "prediction to compare with.");
    return;
  }
  if (differ) {
    model.notes.push_back(
        "The records hold different plans (did the partitions split on different histories?); the chart "
        "shows the plan of partition " +
        std::to_string(shown) + ".");
  }
  double longest = -1;
  for (Row& row : model.rows) {
    row.predicted = model.plan->predicted_seconds[static_cast<std::size_t>(row.partition - 1)];
    if (*row.predicted > longest) {
      longest = *row.predicted;
      model.slowest_predicted = row.partition;
    }
  }
}

void read_results(Model& model) {
  std::vector<int> without_results;
  std::map<std::string, std::vector<int>> by_history_status;
  double longest = -1, total_seconds = 0, longest_test = 0;
  for (Row& row : model.rows) {
    if (row.record == nullptr) continue;
    const io::PartitionRecord& record = *row.record;
    if (record.history_status != "ok") by_history_status[record.history_status].push_back(row.partition);
    if (!record.has_results) {
      without_results.push_back(row.partition);
      continue;
    }
    ++model.with_results;
    double sum = 0;
    for (const io::RecordedResult& result : record.results) {
      sum += result.seconds.value_or(0);
      longest_test = std::max(longest_test, result.seconds.value_or(0));
      if (result.status == io::ResultStatus::passed) {
        ++model.passed;
      } else if (result.status == io::ResultStatus::skipped) {
        ++model.skipped;
      } else {
        ++model.failed;
      }
    }
    row.actual = sum;
    total_seconds += sum;
    if (sum > longest) {
      longest = sum;
      model.slowest_actual = row.partition;
      model.actual_makespan = sum;
    }
  }
  // As the split's bound, on what was measured: no split of these times ends before their mean per partition
  // or before the longest test.
  if (model.total > 0 && model.with_results == static_cast<std::size_t>(model.total))
    model.actual_bound = std::max(total_seconds / model.total, longest_test);
  if (!without_results.empty()) {
    model.notes.push_back(partitions_text(without_results) +
                          (without_results.size() == 1 ? " has" : " have") +
                          " no results yet (tlb record completes a partition's record after its run).");
  }
  for (const auto& [status, partitions] : by_history_status) {
    model.notes.push_back(partitions_text(partitions) + " split without " +
                          (partitions.size() == 1 ? "its" : "their") + " history (" +
                          (status.empty() ? std::string("unknown") : status) +
                          "): tests were estimated from their COST property or the mean of the known tests.");
  }
}

void read_tables(const RunData& run, Model& model) {
  for (const Row& row : model.rows) {
    if (row.record == nullptr) continue;
    const io::PartitionRecord& record = *row.record;
    std::map<std::string_view, const io::RecordedEstimate*> estimates;
    for (const io::RecordedEstimate& estimate : record.estimates) estimates.emplace(estimate.name, &estimate);
    std::map<std::string_view, const io::RecordedResult*> results;
    if (!record.estimates.empty()) model.any_estimates = true;
    if (record.has_results) {
      for (const io::RecordedResult& result : record.results) {
        results.emplace(result.name, &result);
        TestRow test{result.name,    row.partition, result.status,
                     result.seconds, std::nullopt,  Estimate::history};
        if (auto found = estimates.find(result.name); found != estimates.end()) {
          test.estimate = found->second->seconds;
          test.source = found->second->estimate;
        }
        if (did_not_pass(result.status)) model.failures.push_back(test);
        if (!result.seconds) continue;
        model.slowest.push_back(test);
        if (result.status != io::ResultStatus::skipped && test.estimate && test.source == Estimate::history &&
            std::fabs(*result.seconds - *test.estimate) >= 0.005) {  // Shown as at least 0.01 s.
          model.changed.push_back(test);
        }
      }
    }
    for (const io::RecordedEstimate& estimate : record.estimates) {
      if (estimate.estimate == Estimate::history) continue;
      NoHistoryRow& entry = model.no_history[estimate.name];
      entry.partitions.push_back(row.partition);
      entry.source = estimate.estimate;
      entry.estimate = estimate.seconds;
      if (auto found = results.find(estimate.name); found != results.end() && found->second->seconds) {
        entry.actual = std::max(entry.actual.value_or(0), *found->second->seconds);
      }
    }
  }
  std::sort(model.slowest.begin(), model.slowest.end(), [](const TestRow& a, const TestRow& b) {
    return std::tie(*b.seconds, a.name, a.partition) < std::tie(*a.seconds, b.name, b.partition);
  });
  if (model.slowest.size() > kTopRows) model.slowest.resize(kTopRows);
  std::sort(model.failures.begin(), model.failures.end(), by_name_then_partition);
  std::sort(model.changed.begin(), model.changed.end(), [](const TestRow& a, const TestRow& b) {
    const double da = std::fabs(*a.seconds - *a.estimate), db = std::fabs(*b.seconds - *b.estimate);
    return std::tie(db, a.name, a.partition) < std::tie(da, b.name, b.partition);
  });
  if (model.changed.size() > kTopRows) model.changed.resize(kTopRows);

  // Passed and failed across runs: every completed record given counts as one run of its tests.
  std::map<std::string, std::pair<std::size_t, std::size_t>> outcomes;
  for (const std::vector<io::PartitionRecord>* records : {&run.records, &run.earlier}) {
    for (const io::PartitionRecord& record : *records) {
      if (!record.has_results) continue;
      ++model.flaky_records;
      for (const io::RecordedResult& result : record.results) {
        if (result.status == io::ResultStatus::passed) ++outcomes[result.name].first;
        if (did_not_pass(result.status)) ++outcomes[result.name].second;
      }
    }
  }
  for (const auto& [name, counts] : outcomes) {
    if (counts.first > 0 && counts.second > 0) model.flaky[name] = FlakyRow{counts.first, counts.second, ""};
  }
  for (const Row& row : model.rows) {
    if (row.record == nullptr || !row.record->has_results) continue;
    for (const io::RecordedResult& result : row.record->results) {
      auto found = model.flaky.find(result.name);
      if (found == model.flaky.end()) continue;
      std::string& now = found->second.now;
      now += (now.empty() ? "" : ", ") + std::string(io::to_string(result.status)) + " (partition " +
             std::to_string(row.partition) + ")";
    }
  }
}

Model build(const RunData& run) {
  Model model;
  if (run.records.empty()) return model;
  place_records(run, model);
  read_plan(model);
  read_results(model);

  std::set<std::string_view> tests;
  for (const io::PartitionRecord& record : run.records)
    tests.insert(record.all_tests.begin(), record.all_tests.end());
  if (tests.empty()) {
    for (const io::PartitionRecord& record : run.records)
      tests.insert(record.tests.begin(), record.tests.end());
  }
  model.tests = tests.size();
  for (const Row& row : model.rows) {
    if (row.record != nullptr && model.splitter.empty()) model.splitter = row.record->splitter;
  }

  std::vector<io::LoadedRecord> loaded;
  for (const io::PartitionRecord& record : run.records) {
    loaded.push_back(io::LoadedRecord{
        "partition-" + std::to_string(record.partition) + "-of-" + std::to_string(record.total) + ".json",
        record});
  }
  model.verification = io::verify_records(std::move(loaded), false);

  read_tables(run, model);
  return model;
}

// ---------------------------------------------------------------------------------------------------------
// HTML.

constexpr std::string_view kStyle = R"css(
:root {
  --predicted: #4c78a8; --predicted-light: #dbe6f3; --actual: #f08c2e; --failed: #d1372f; --bound: #2f3640;
  --ink: #1d2530; --muted: #667085; --line: #e4e7ec; --panel: #ffffff; --page: #f4f6f9;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--page); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans",
    "Liberation Sans", Arial, sans-serif;
}
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 36px; }
header { margin-bottom: 18px; }
.eyebrow { margin: 0; color: var(--predicted); font-weight: 700; font-size: 12px; letter-spacing: .08em;
  text-transform: uppercase; }
h1 { margin: 2px 0 4px; font-size: 26px; font-weight: 650; letter-spacing: -.01em; overflow-wrap: anywhere; }
.meta { margin: 0; color: var(--muted); }
h2 { margin: 0 0 4px; font-size: 17px; font-weight: 650; }
.caption { margin: 0 0 12px; color: var(--muted); font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(112px, 1fr)); gap: 10px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 11px 14px 12px; }
.card .label { color: var(--muted); font-size: 11.5px; font-weight: 600; letter-spacing: .05em;
  text-transform: uppercase; }
.card .value { margin-top: 2px; font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
.card .sub { color: var(--muted); font-size: 12px; }
.card.predicted .value { color: var(--predicted); }
.card.actual .value { color: #c76a12; }
.card.good .value { color: #1f7a45; }
.card.bad .value { color: var(--failed); font-size: 20px; line-height: 1.2; white-space: normal; }
.notes { margin: 14px 0 0; padding: 10px 14px 10px 30px; background: #fff8e6; border: 1px solid #f5dfa6;
  border-radius: 10px; color: #5c4813; font-size: 13.5px; }
.notes li + li { margin-top: 3px; }
.panel { margin-top: 16px; background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 20px 18px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 20px; margin: 0 0 6px; color: var(--muted); font-size: 13px; }
.legend span { display: inline-flex; align-items: center; gap: 7px; }
.swatch { display: inline-block; width: 22px; height: 11px; border-radius: 2px; }
.swatch.predicted { background: var(--predicted); }
.swatch.actual { background: var(--actual); }
.swatch.failed { background: var(--failed); }
.swatch.bound { height: 0; border-top: 2px dashed var(--bound); border-radius: 0; }
svg.chart { display: block; width: 100%; height: auto; font-family: inherit; }
svg.chart .stripe { fill: #f7f8fa; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .axis { stroke: #c9ced6; stroke-width: 1; }
svg.chart .tick { fill: var(--muted); font-size: 12px; }
svg.chart .plabel { fill: var(--ink); font-size: 14px; font-weight: 650; }
svg.chart .psub { fill: var(--muted); font-size: 11.5px; }
svg.chart .bar.predicted { fill: var(--predicted); }
svg.chart .bar.actual { fill: var(--actual); }
svg.chart .seg { fill: transparent; }
svg.chart .seg.failed { fill: var(--failed); }
svg.chart .seg:hover { fill: #ffffff; fill-opacity: .35; }
svg.chart .sep { stroke: #ffffff; stroke-width: 1; stroke-opacity: .85; }
svg.chart .value { fill: var(--ink); font-size: 12.5px; font-variant-numeric: tabular-nums;
  paint-order: stroke; stroke: #ffffff; stroke-width: 4px; stroke-linejoin: round; }
svg.chart .value.predicted { fill: #365b86; }
svg.chart .value.actual { fill: #a2550b; }
svg.chart .missing { fill: var(--muted); font-size: 12px; font-style: italic; }
svg.chart .bound { stroke: var(--bound); stroke-width: 1.5; stroke-dasharray: 6 4; }
svg.chart .bound-label { fill: var(--bound); font-size: 12px; font-weight: 600; }
table { width: 100%; border-collapse: collapse; font-size: 13.5px; }
th { padding: 6px 10px; border-bottom: 1px solid var(--line); color: var(--muted); font-size: 11.5px;
  font-weight: 600; letter-spacing: .04em; text-align: left; text-transform: uppercase; white-space: nowrap; }
td { padding: 5px 10px; border-bottom: 1px solid #f0f2f5; vertical-align: top; }
tbody tr:nth-child(even) td { background: #fafbfc; }
th:first-child { width: 46%; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono",
  monospace; font-size: 12.5px; overflow-wrap: anywhere; }
td.up { color: #b4261e; }
td.down { color: #1f7a45; }
.status { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600;
  line-height: 18px; }
.status.passed { background: #e3f4e8; color: #1f7a45; }
.status.failed, .status.error { background: #fde5e3; color: #b4261e; }
.status.skipped { background: #eef0f3; color: var(--muted); }
.empty { margin: 0; color: var(--muted); font-style: italic; }
.more { margin: 8px 0 0; color: var(--muted); font-size: 13px; }
.problems { margin: 0; padding-left: 20px; font-size: 13.5px; overflow-wrap: anywhere; }
details.tests { border-top: 1px solid var(--line); }
details.tests summary { padding: 7px 2px; cursor: pointer; font-weight: 600; }
details.tests table { margin-bottom: 10px; }
table.tests td:first-child { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono",
  "Liberation Mono", monospace; font-size: 12.5px; overflow-wrap: anywhere; }
table.tests th:nth-child(n+3), table.tests td:nth-child(n+3) { text-align: right; white-space: nowrap;
  font-variant-numeric: tabular-nums; }
table.tests tr.failed td:nth-child(2), table.tests tr.error td:nth-child(2) { color: #b4261e;
  font-weight: 600; }
table.tests tr.skipped td:nth-child(2) { color: var(--muted); }
footer { margin-top: 22px; color: var(--muted); font-size: 12.5px; }
)css";

class Page {
 public:
  Page& operator<<(std::string_view text) {
    html_ += text;
    return *this;
  }
  // Escaped text.
  Page& text(std::string_view text) {
    html_ += escape_html(text);
    return *this;
  }
  std::string take() { return std::move(html_); }

 private:
  std::string html_;
};

// One figure of the summary: its value for people, and data-value for tests ("" when unknown).
void card(Page& page, std::string_view figure, std::string_view classes, std::string_view label,
          const std::optional<std::string>& value, const std::string& data_value, const std::string& sub) {
  page << "<div class=\"card" << (classes.empty() ? "" : " ") << classes << "\" data-figure=\"" << figure
       << "\" data-value=\"" << (value ? data_value : "") << "\"><div class=\"label\">";
  page.text(label) << "</div><div class=\"value\">";
  page.text(value ? *value : "\u2014") << "</div>";
  if (!sub.empty()) {
    page << "<div class=\"sub\">";
    page.text(sub) << "</div>";
  }
  page << "</div>\n";
}

void open_panel(Page& page, std::string_view id, std::string_view heading, const std::string& caption) {
  page << "<section class=\"panel\" id=\"" << id << "\">\n<h2>";
  page.text(heading) << "</h2>\n";
  if (!caption.empty()) {
    page << "<p class=\"caption\">";
    page.text(caption) << "</p>\n";
  }
}

void close_panel(Page& page) {
  page << "</section>\n";
}

struct Column {
  std::string_view heading;
  bool numeric = false;
};

void open_table(Page& page, std::initializer_list<Column> columns) {
  page << "<table>\n<thead><tr>";
  for (const Column& column : columns) {
    page << (column.numeric ? "<th class=\"num\">" : "<th>");
    page.text(column.heading) << "</th>";
  }
  page << "</tr></thead>\n<tbody>\n";
}

void close_table(Page& page, std::size_t shown, std::size_t all) {
  page << "</tbody>\n</table>\n";
  if (all > shown) {
    page << "<p class=\"more\">\u2026 and " << std::to_string(all - shown) << " more, not shown.</p>\n";
  }
}

void empty(Page& page, std::string_view text) {
  page << "<p class=\"empty\">";
  page.text(text) << "</p>\n";
}

void name_cell(Page& page, std::string_view name) {
  page << "<td class=\"name\">";
  page.text(name) << "</td>";
}

void cell(Page& page, std::string_view text, std::string_view classes = "") {
  if (classes.empty()) {
    page << "<td>";
  } else {
    page << "<td class=\"" << classes << "\">";
  }
  page.text(text) << "</td>";
}

void status_cell(Page& page, io::ResultStatus status) {
  const std::string_view name = io::to_string(status);
  page << "<td><span class=\"status " << name << "\">" << name << "</span></td>";
}

std::string optional_seconds(const std::optional<double>& seconds) {
  return seconds ? seconds_text(*seconds) : "\u2014";
}

// ---------------------------------------------------------------------------------------------------------
// The summary.

// A makespan over its bound: "1.011", "1.1% over the bound".
void ratio_card(Page& page, std::string_view figure, std::string_view label, std::optional<double> ratio) {
  if (!ratio) {
    card(page, figure, "", label, std::nullopt, "", "");
    return;
  }
  const double percent = (*ratio - 1) * 100;
  const std::string sub =
      std::fabs(percent) < 0.05
          ? std::string("at the bound")
          : fixed(std::fabs(percent), 1) + (percent > 0 ? "% over the bound" : "% under the bound");
  card(page, figure, "", label, fixed(*ratio, 3), fixed(*ratio, 3), sub);
}

void summary(Page& page, const Model& model) {
  page << "<section class=\"cards\" id=\"summary\">\n";
  card(page, "partitions", "", "Partitions", std::to_string(model.total), std::to_string(model.total),
       model.splitter.empty() ? "" : model.splitter + " splitter");
  std::string outcome = "no results yet";
  if (model.with_results > 0) {
    outcome = std::to_string(model.passed) + " passed";
    if (model.failed > 0) outcome += " \u00b7 " + std::to_string(model.failed) + " failed";
    if (model.skipped > 0) outcome += " \u00b7 " + std::to_string(model.skipped) + " skipped";
  }
  card(page, "tests", "", "Tests", std::to_string(model.tests), std::to_string(model.tests), outcome);

  const io::RecordedPlan* plan = model.plan ? &*model.plan : nullptr;
  const bool bound = plan != nullptr && plan->lower_bound_seconds > 0;
  card(page, "predicted-makespan", "predicted", "Predicted makespan",
       plan ? std::optional(seconds_text(plan->makespan_seconds)) : std::nullopt,
       plan ? data_seconds(plan->makespan_seconds) : "",
       plan ? "partition " + std::to_string(model.slowest_predicted) + " ends last"
            : "no plan in the records");
  card(page, "lower-bound", "", "Predicted bound",
       plan ? std::optional(seconds_text(plan->lower_bound_seconds)) : std::nullopt,
       plan ? data_seconds(plan->lower_bound_seconds) : "", plan ? "no split ends sooner" : "");
  ratio_card(page, "predicted-ratio", "Predicted / predicted bound",
             bound ? std::optional(plan->makespan_seconds / plan->lower_bound_seconds) : std::nullopt);
  std::string actual_sub;
  if (model.actual_makespan) {
    actual_sub = "partition " + std::to_string(model.slowest_actual) + ", sum of its tests";
    if (model.with_results < static_cast<std::size_t>(model.total)) {
      actual_sub = std::to_string(model.with_results) + " of " + std::to_string(model.total) +
                   " partitions have results";
    }
  } else {
    actual_sub = "no results yet";
  }
  card(page, "actual-makespan", "actual", "Actual makespan",
       model.actual_makespan ? std::optional(seconds_text(*model.actual_makespan)) : std::nullopt,
       model.actual_makespan ? data_seconds(*model.actual_makespan) : "", actual_sub);
  // The actual makespan against the bound of the actual times: against the predicted bound it would mix how
  // well the split balanced with how far the estimates were off.
  card(page, "actual-bound", "", "Actual bound",
       model.actual_bound ? std::optional(seconds_text(*model.actual_bound)) : std::nullopt,
       model.actual_bound ? data_seconds(*model.actual_bound) : "",
       model.actual_bound ? "on the measured times" : "once every partition has results");
  ratio_card(page, "actual-ratio", "Actual / actual bound",
             model.actual_bound && *model.actual_bound > 0
                 ? std::optional(*model.actual_makespan / *model.actual_bound)
                 : std::nullopt);
  if (model.verification) {
    const io::Verification& verification = *model.verification;
    const bool proven = verification.proven();
    card(page, "verified", proven ? "good" : "bad", "Each test once",
         std::string(proven ? "proven" : "not proven"), proven ? "proven" : "not proven",
         proven ? "as tlb verify checks it"
                : counted(verification.problems.size(), "problem", "problems") + ", listed below");
  }
  page << "</section>\n";
}

void notes(Page& page, const RunData& run, const Model& model) {
  if (run.notes.empty() && model.notes.empty()) return;
  page << "<ul class=\"notes\" id=\"notes\">\n";
  for (const std::vector<std::string>* list : {&run.notes, &model.notes}) {
    for (const std::string& note : *list) {
      page << "<li>";
      page.text(note) << "</li>\n";
    }
  }
  page << "</ul>\n";
}

// ---------------------------------------------------------------------------------------------------------
// The chart: one row per partition, the predicted bar above the actual one, on a common time axis, with the
// lower bound as a dashed line.

struct Axis {
  double max_seconds = 1;   // The right end of the axis.
  double step_seconds = 1;  // Between ticks.
  double unit = 1;          // Seconds per unit of the tick labels.
  std::string suffix = " s";
  int decimals = 0;
};

Axis axis_for(double longest) {
  Axis axis;
  if (!(longest > 0)) longest = 1;
  if (longest >= 5 * 3600) {
    axis.unit = 3600;
    axis.suffix = " h";
  } else if (longest >= 300) {
    axis.unit = 60;
    axis.suffix = " min";
  }
  const double top = longest / axis.unit;
  const double raw = top / 6;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * magnitude;
  for (const double multiple : {1.0, 2.0, 2.5, 5.0}) {
    if (multiple * magnitude >= raw * (1 - 1e-9)) {
      step = multiple * magnitude;
      break;
    }
  }
  const double ticks = std::max(1.0, std::ceil(top / step - 1e-9));
  axis.max_seconds = ticks * step * axis.unit;
  axis.step_seconds = step * axis.unit;
  while (axis.decimals < 3) {
    const double scaled = step * std::pow(10.0, axis.decimals);
    if (std::fabs(scaled - std::round(scaled)) < 1e-6) break;
    ++axis.decimals;
  }
  return axis;
}

std::string coordinate(double value) {
  return fixed(value, 1);
}

// A bar drawn as its tests, longest first (as TLB orders a partition), with white separators and failed tests
// in red: each test a segment whose <title> names it when hovered. Tests narrower than kMinSegment (chart
// units, about a pixel each) share one last segment that counts them and their failures; the list under the
// chart has them all.
// So a bar holds at most about kWidth / kMinSegment segments however many tests the partition ran.
struct Segment {
  std::string name;
  double seconds = 0;
  bool failed = false;
  std::string detail;  // After the name in its title: "passed, 1.20 s (estimate 1.00 s)".
};

constexpr double kMinSegment = 2;

void segment(Page& page, bool failed, double x, double y, double width, double height,
             std::string_view title) {
  page << "<rect class=\"seg" << (failed ? " failed" : "") << "\" x=\"" << coordinate(x) << "\" y=\""
       << coordinate(y) << "\" width=\"" << coordinate(width) << "\" height=\"" << coordinate(height)
       << "\"><title>";
  page.text(title) << "</title></rect>";
}

void segments(Page& page, std::vector<Segment> parts, double x, double y, double width, double height) {
  std::sort(parts.begin(), parts.end(), [](const Segment& a, const Segment& b) {
    return std::tie(b.seconds, a.name) < std::tie(a.seconds, b.name);
  });
  double sum = 0;
  for (const Segment& part : parts) sum += part.seconds;
  if (!(sum > 0)) return;
  double at = 0, last_separator = x;
  std::size_t i = 0;
  for (; i < parts.size(); ++i) {
    const double start = x + width * at / sum, end = x + width * (at + parts[i].seconds) / sum;
    if (end - start < kMinSegment) break;
    at += parts[i].seconds;
    segment(page, parts[i].failed, start, y, end - start, height, parts[i].name + ": " + parts[i].detail);
    if (i + 1 < parts.size() && end - last_separator >= 3 && x + width - end >= 2) {
      page << "<line class=\"sep\" x1=\"" << coordinate(end) << "\" x2=\"" << coordinate(end) << "\" y1=\""
           << coordinate(y) << "\" y2=\"" << coordinate(y + height) << "\"/>";
      last_separator = end;
    }
  }
  if (i == parts.size()) return;
  std::size_t failed = 0;
  double seconds = 0;
  for (std::size_t k = i; k < parts.size(); ++k) {
    if (parts[k].failed) ++failed;
    seconds += parts[k].seconds;
  }
  const double start = x + width * at / sum;
  std::string title = counted(parts.size() - i, "more test", "more tests") + ", " + seconds_text(seconds) +
                      " in all" + (failed > 0 ? " (" + std::to_string(failed) + " failed)" : "") +
                      ": each too short to show here; every test is listed under the chart";
  // Never red as a whole: a failure among thousands of short tests would colour most of the bar.
  if (x + width - start > 0) segment(page, false, start, y, x + width - start, height, title);
}

std::vector<Segment> predicted_segments(const io::PartitionRecord& record) {
  std::vector<Segment> parts;
  for (const io::RecordedEstimate& estimate : record.estimates) {
    parts.push_back(Segment{estimate.name, estimate.seconds, false,
                            "estimate " + estimate_value(estimate.seconds, estimate.estimate)});
  }
  return parts;
}

// "failed, 1.20 s (estimate 1.00 s)".
std::string result_detail(const PartitionTest& test) {
  std::string text = std::string(io::to_string(test.result->status)) + ", ";
  text += test.result->seconds ? seconds_text(*test.result->seconds) : std::string("no time");
  if (test.estimate)
    text += " (estimate " + estimate_value(test.estimate->seconds, test.estimate->estimate) + ")";
  return text;
}

std::vector<Segment> actual_segments(const io::PartitionRecord& record) {
  std::vector<Segment> parts;
  for (const PartitionTest& test : partition_tests(record)) {
    if (test.result == nullptr) continue;
    parts.push_back(Segment{std::string(test.name), test.result->seconds.value_or(0),
                            did_not_pass(test.result->status), result_detail(test)});
  }
  return parts;
}

void chart(Page& page, const Model& model) {
  constexpr double kWidth = 1080, kLeft = 104, kRight = 140, kTop = 40, kRowHeight = 54, kBottom = 36;
  constexpr double kBar = 16, kGap = 4, kBarTop = 8;
  const double plot = kWidth - kLeft - kRight;
  const double height = kTop + kRowHeight * static_cast<double>(model.rows.size()) + kBottom;
  double longest = 0;
  for (const Row& row : model.rows)
    longest = std::max({longest, row.predicted.value_or(0), row.actual.value_or(0)});
  if (model.plan)
    longest = std::max({longest, model.plan->lower_bound_seconds, model.plan->makespan_seconds});
  const Axis axis = axis_for(longest);
  auto x_of = [&](double seconds) { return kLeft + plot * seconds / axis.max_seconds; };
  const double bottom = height - kBottom;

  open_panel(page, "chart", "Predicted and actual time per partition",
             "Each partition's tests as the split predicted them and as they ran, longest first; the dashed "
             "line is the lower bound, which no split can beat.");
  page << "<div class=\"legend\"><span><i class=\"swatch predicted\"></i>predicted</span>"
          "<span><i class=\"swatch actual\"></i>actual</span>"
          "<span><i class=\"swatch failed\"></i>failed test</span>"
          "<span><i class=\"swatch bound\"></i>lower bound</span></div>\n";
  page << "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << coordinate(kWidth)
       << " " << coordinate(height) << "\" width=\"" << coordinate(kWidth) << "\" height=\""
       << coordinate(height) << "\" role=\"img\" aria-label=\"Predicted and actual time per partition\">\n";
  for (std::size_t i = 0; i < model.rows.size(); ++i) {
    if (i % 2 == 1) {
      page << "<rect class=\"stripe\" x=\"0\" y=\"" << coordinate(kTop + kRowHeight * static_cast<double>(i))
           << "\" width=\"" << coordinate(kWidth) << "\" height=\"" << coordinate(kRowHeight) << "\"/>\n";
    }
  }
  const long ticks = std::lround(axis.max_seconds / axis.step_seconds);
  for (long i = 0; i <= ticks; ++i) {
    const double tick = static_cast<double>(i) * axis.step_seconds;
    const std::string x = coordinate(x_of(tick));
    page << "<line class=\"" << (i == 0 ? "axis" : "grid") << "\" x1=\"" << x << "\" x2=\"" << x << "\" y1=\""
         << coordinate(kTop - 6) << "\" y2=\"" << coordinate(bottom) << "\"/>"
         << "<text class=\"tick\" x=\"" << x << "\" y=\"" << coordinate(bottom + 20)
         << "\" text-anchor=\"middle\">" << fixed(tick / axis.unit, axis.decimals) << axis.suffix
         << "</text>\n";
  }

  const std::string total = std::to_string(model.total);
  Page labels;  // Drawn last, over the bound line.
  for (std::size_t i = 0; i < model.rows.size(); ++i) {
    const Row& row = model.rows[i];
    const double top = kTop + kRowHeight * static_cast<double>(i);
    const std::string number = std::to_string(row.partition);
    const std::string data = " data-partition=\"" + number + "\" data-predicted=\"" +
                             (row.predicted ? data_seconds(*row.predicted) : "") + "\" data-actual=\"" +
                             (row.actual ? data_seconds(*row.actual) : "") + "\"";
    page << "<g class=\"partition\" data-partition=\"" << number << "\">\n";
    page << "<text class=\"plabel\" x=\"" << coordinate(kLeft - 14) << "\" y=\"" << coordinate(top + 23)
         << "\" text-anchor=\"end\">" << number << "/" << total << "</text>";
    const std::string tests =
        row.record ? counted(row.record->tests.size(), "test", "tests") : std::string("missing");
    page << "<text class=\"psub\" x=\"" << coordinate(kLeft - 14) << "\" y=\"" << coordinate(top + 40)
         << "\" text-anchor=\"end\">" << tests << "</text>\n";

    const double predicted_y = top + kBarTop, actual_y = predicted_y + kBar + kGap;
    if (row.predicted) {
      const double width = std::max(x_of(*row.predicted) - kLeft, *row.predicted > 0 ? 1.0 : 0.0);
      page << "<rect class=\"bar predicted\" x=\"" << coordinate(kLeft) << "\" y=\""
           << coordinate(predicted_y) << "\" width=\"" << coordinate(width) << "\" height=\""
           << coordinate(kBar) << "\"" << data << "><title>partition " << number << "/" << total
           << ": predicted " << seconds_text(*row.predicted) << "</title></rect>";
      if (row.record != nullptr)
        segments(page, predicted_segments(*row.record), kLeft, predicted_y, width, kBar);
      labels << "<text class=\"value predicted\" x=\"" << coordinate(kLeft + width + 7) << "\" y=\""
             << coordinate(predicted_y + 12.5) << "\">" << seconds_text(*row.predicted) << "</text>\n";
    } else {
      page << "<text class=\"missing\" x=\"" << coordinate(kLeft + 7) << "\" y=\""
           << coordinate(predicted_y + 12.5) << "\">no prediction</text>\n";
    }
    if (row.actual) {
      const double width = std::max(x_of(*row.actual) - kLeft, *row.actual > 0 ? 1.0 : 0.0);
      page << "<rect class=\"bar actual\" x=\"" << coordinate(kLeft) << "\" y=\"" << coordinate(actual_y)
           << "\" width=\"" << coordinate(width) << "\" height=\"" << coordinate(kBar) << "\"" << data
           << "><title>partition " << number << "/" << total << ": actual " << seconds_text(*row.actual)
           << "</title></rect>";
      std::vector<Segment> parts = actual_segments(*row.record);
      const auto failed = static_cast<std::size_t>(
          std::count_if(parts.begin(), parts.end(), [](const Segment& part) { return part.failed; }));
      segments(page, std::move(parts), kLeft, actual_y, width, kBar);
      labels << "<text class=\"value actual\" x=\"" << coordinate(kLeft + width + 7) << "\" y=\""
             << coordinate(actual_y + 12.5) << "\">" << seconds_text(*row.actual)
             << (failed > 0 ? " \u00b7 " + std::to_string(failed) + " failed" : "") << "</text>\n";
    } else {
      page << "<text class=\"missing\" x=\"" << coordinate(kLeft + 7) << "\" y=\""
           << coordinate(actual_y + 12.5) << "\">" << (row.record ? "no results" : "no record")
           << "</text>\n";
    }
    page << "</g>\n";
  }

  if (model.plan && model.plan->lower_bound_seconds > 0) {
    const double x = x_of(model.plan->lower_bound_seconds);
    page << "<line class=\"bound\" x1=\"" << coordinate(x) << "\" x2=\"" << coordinate(x) << "\" y1=\""
         << coordinate(kTop - 10) << "\" y2=\"" << coordinate(bottom) << "\" data-bound=\""
         << data_seconds(model.plan->lower_bound_seconds) << "\"/>"
         << "<text class=\"bound-label\" x=\"" << coordinate(std::min(x, kWidth - kRight + 60)) << "\" y=\""
         << coordinate(kTop - 16) << "\" text-anchor=\"middle\">lower bound "
         << seconds_text(model.plan->lower_bound_seconds) << "</text>\n";
  }
  page << labels.take() << "</svg>\n";
  close_panel(page);
}

void problems(Page& page, const Model& model) {
  if (!model.verification || model.verification->proven()) return;
  const std::vector<io::Problem>& found = model.verification->problems;
  open_panel(page, "verification", "Not proven",
             "What tlb verify finds in these records: " + counted(found.size(), "problem.", "problems."));
  page << "<ul class=\"problems\">\n";
  for (std::size_t i = 0; i < found.size() && i < kProblemRows; ++i) {
    page << "<li>";
    page.text(found[i].message) << "</li>\n";
  }
  page << "</ul>\n";
  if (found.size() > kProblemRows) {
    page << "<p class=\"more\">\u2026 and " << std::to_string(found.size() - kProblemRows)
         << " more, not shown.</p>\n";
  }
  close_panel(page);
}

// ---------------------------------------------------------------------------------------------------------
// Every test of the run: which partition ran it, its result and time, and what the split expected.

// "7 tests · 2 failed · 1 skipped" of one partition.
std::string partition_outcome(const io::PartitionRecord& record, std::size_t tests) {
  std::string text = counted(tests, "test", "tests");
  if (!record.has_results) return text + " \u00b7 no results yet";
  std::size_t failed = 0, skipped = 0;
  for (const io::RecordedResult& result : record.results) {
    if (did_not_pass(result.status)) ++failed;
    if (result.status == io::ResultStatus::skipped) ++skipped;
  }
  if (failed > 0) text += " \u00b7 " + std::to_string(failed) + " failed";
  if (skipped > 0) text += " \u00b7 " + std::to_string(skipped) + " skipped";
  return text;
}

void partition_list(Page& page, const Row& row, int total, bool open) {
  page << "<details class=\"tests\" id=\"partition-" << std::to_string(row.partition) << "\""
       << (open ? " open" : "") << "><summary>Partition " << std::to_string(row.partition) << "/"
       << std::to_string(total) << " \u00b7 ";
  if (row.record == nullptr) {
    page << "no record</summary></details>\n";
    return;
  }
  const std::vector<PartitionTest> tests = partition_tests(*row.record);
  page.text(partition_outcome(*row.record, tests.size())) << "</summary>\n";
  page << "<table class=\"tests\">\n<thead><tr><th>Test</th><th>Result</th><th>Time</th><th>Estimate</th>"
          "</tr></thead>\n<tbody>\n";
  // Compact rows (a page of 100,000 tests holds 100,000 of them): the status is a class only when it is not
  // "passed", and the cells have none.
  for (const PartitionTest& test : tests) {
    const std::string_view status = test.result
                                        ? io::to_string(test.result->status)
                                        : std::string_view(row.record->has_results ? "no result" : "\u2014");
    page << (test.result && test.result->status != io::ResultStatus::passed
                 ? "<tr class=\"" + std::string(status) + "\">"
                 : std::string("<tr>"))
         << "<td>";
    page.text(test.name) << "</td><td>" << status << "</td><td>"
                         << optional_seconds(test.result ? test.result->seconds : std::nullopt) << "</td><td>"
                         << (test.estimate ? estimate_value(test.estimate->seconds, test.estimate->estimate)
                                           : "\u2014")
                         << "</td></tr>\n";
  }
  page << "</tbody>\n</table>\n</details>\n";
}

void every_test(Page& page, const Model& model) {
  open_panel(page, "tests", "Every test, by partition",
             "Each partition's tests in name order: the result, the measured time and the estimate the split "
             "used. A browser's find in page (Ctrl+F) looks into the closed lists too.");
  const bool open = model.tests <= kListRows;
  for (const Row& row : model.rows) partition_list(page, row, model.total, open);
  close_panel(page);
}

// ---------------------------------------------------------------------------------------------------------
// The tables.

std::string estimate_cell(const TestRow& test) {
  return test.estimate ? estimate_value(*test.estimate, test.source) : "\u2014";
}

void slowest_table(Page& page, const Model& model) {
  open_panel(page, "slowest", "Slowest tests",
             "The longest results of this run, with the estimate the split used for each.");
  if (model.slowest.empty()) {
    empty(page, model.with_results > 0 ? "No result has a time." : "No results yet.");
  } else {
    open_table(page, {{"Test"}, {"Partition", true}, {"Result"}, {"Time", true}, {"Estimate", true}});
    for (const TestRow& test : model.slowest) {
      page << "<tr>";
      name_cell(page, test.name);
      cell(page, std::to_string(test.partition), "num");
      status_cell(page, test.status);
      cell(page, optional_seconds(test.seconds), "num");
      cell(page, estimate_cell(test), "num");
      page << "</tr>\n";
    }
    close_table(page, model.slowest.size(), model.slowest.size());
  }
  close_panel(page);
}

void no_history_table(Page& page, const RunData& run, const Model& model) {
  open_panel(page, "no-history", "Tests with no history",
             "The split had no measured time for these: it took their COST property, else the mean of the "
             "tests with history (a disabled test costs nothing).");
  if (!model.any_estimates) {
    empty(page, "The records hold no estimates (written by a tlb that did not keep them).");
  } else if (model.no_history.empty()) {
    empty(page, "None: every test was estimated from its history.");
  } else {
    if (run.history) {
      open_table(page, {{"Test"},
                        {"Partition", true},
                        {"Estimated from"},
                        {"Estimate", true},
                        {"Actual", true},
                        {"History now", true}});
    } else {
      open_table(page,
                 {{"Test"}, {"Partition", true}, {"Estimated from"}, {"Estimate", true}, {"Actual", true}});
    }
    std::size_t shown = 0;
    for (const auto& [name, entry] : model.no_history) {
      if (shown == kListRows) break;
      ++shown;
      page << "<tr>";
      name_cell(page, name);
      std::string partitions;
      for (const int k : entry.partitions) partitions += (partitions.empty() ? "" : ", ") + std::to_string(k);
      cell(page, partitions, "num");
      cell(page, estimate_text(entry.source));
      cell(page, seconds_text(entry.estimate), "num");
      cell(page, optional_seconds(entry.actual), "num");
      if (run.history) {
        const TestRecord* known = run.history->find(name);
        cell(page,
             known ? seconds_text(known->seconds) + " (" + counted(known->runs, "run", "runs") + ")"
                   : "\u2014",
             "num");
      }
      page << "</tr>\n";
    }
    close_table(page, shown, model.no_history.size());
  }
  close_panel(page);
}

void failures_table(Page& page, const Model& model) {
  open_panel(page, "failures", "Failures", "Tests that failed or ended in an error in this run.");
  if (model.failures.empty()) {
    empty(page, model.with_results > 0 ? "None: no test failed." : "No results yet.");
  } else {
    open_table(page, {{"Test"}, {"Partition", true}, {"Result"}, {"Time", true}});
    const std::size_t shown = std::min(model.failures.size(), kListRows);
    for (std::size_t i = 0; i < shown; ++i) {
      const TestRow& test = model.failures[i];
      page << "<tr>";
      name_cell(page, test.name);
      cell(page, std::to_string(test.partition), "num");
      status_cell(page, test.status);
      cell(page, optional_seconds(test.seconds), "num");
      page << "</tr>\n";
    }
    close_table(page, shown, model.failures.size());
  }
  close_panel(page);
}

void flaky_table(Page& page, const RunData& run, const Model& model) {
  std::size_t this_run = 0;
  for (const io::PartitionRecord& record : run.records) this_run += record.has_results ? 1 : 0;
  const std::size_t earlier = model.flaky_records - this_run;
  open_panel(page, "flaky", "Passed and failed across runs",
             "Tests with at least one pass and one failure or error in the " +
                 counted(model.flaky_records, "completed record", "completed records") + " given (" +
                 std::to_string(this_run) + " of this run, " + std::to_string(earlier) + " earlier).");
  if (model.flaky.empty()) {
    empty(page, earlier == 0 && model.failures.empty() ? "None (give earlier runs' records to compare with)."
                                                       : "None.");
  } else {
    open_table(page, {{"Test"}, {"Passed", true}, {"Failed", true}, {"This run"}});
    std::size_t shown = 0;
    for (const auto& [name, entry] : model.flaky) {
      if (shown == kListRows) break;
      ++shown;
      page << "<tr>";
      name_cell(page, name);
      cell(page, std::to_string(entry.passed), "num");
      cell(page, std::to_string(entry.failed), "num");
      cell(page, entry.now.empty() ? "did not run" : entry.now);
      page << "</tr>\n";
    }
    close_table(page, shown, model.flaky.size());
  }
  close_panel(page);
}

void changed_table(Page& page, const Model& model) {
  open_panel(page, "changed", "Time changed most",
             "Measured time against the history the split used, by absolute difference (tests without "
             "history are listed above).");
  if (model.changed.empty()) {
    empty(page, model.with_results > 0 ? "None." : "No results yet.");
  } else {
    open_table(page, {{"Test"}, {"Partition", true}, {"Estimate", true}, {"Actual", true}, {"Change", true}});
    for (const TestRow& test : model.changed) {
      const double change = *test.seconds - *test.estimate;
      std::string text = change_text(change);
      if (*test.estimate > 0) {
        const double percent = 100 * change / *test.estimate;
        const std::string magnitude = fixed(std::fabs(percent), std::fabs(percent) < 10 ? 1 : 0);
        if (magnitude != "0.0") text += " (" + std::string(percent < 0 ? "\u2212" : "+") + magnitude + "%)";
      }
      page << "<tr>";
      name_cell(page, test.name);
      cell(page, std::to_string(test.partition), "num");
      cell(page, seconds_text(*test.estimate), "num");
      cell(page, seconds_text(*test.seconds), "num");
      cell(page, text, change > 0 ? "num up" : "num down");
      page << "</tr>\n";
    }
    close_table(page, model.changed.size(), model.changed.size());
  }
  close_panel(page);
}

}  // namespace

std::string escape_html(std::string_view text) {
  return io::escape_markup(text);
}

std::string_view style_sheet() {
  return kStyle;
}

std::string render_html(const RunData& run) {
  const Model model = build(run);
  const std::string title = run.title.empty() ? std::string("a test run") : run.title;
  Page page;
  page << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       << "<meta name=\"generator\" content=\"tlb report\">\n<title>";
  page.text("TLB report: " + title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<main>\n";
  page << "<header>\n<p class=\"eyebrow\">TLB report</p>\n<h1>";
  page.text(title) << "</h1>\n<p class=\"meta\">";
  std::string meta = counted(run.records.size(), "partition record", "partition records");
  if (!run.earlier.empty())
    meta += " \u00b7 " + counted(run.earlier.size(), "earlier record", "earlier records");
  if (run.history) meta += " \u00b7 history now holds " + counted(run.history->size(), "test", "tests");
  page.text(meta) << "</p>\n</header>\n";

  if (run.records.empty()) {
    notes(page, run, model);
    page << "<section class=\"panel\" id=\"empty\">\n";
    empty(page, "No partition records were given: nothing to report.");
    page << "</section>\n";
  } else {
    summary(page, model);
    notes(page, run, model);
    chart(page, model);
    problems(page, model);
    every_test(page, model);
    slowest_table(page, model);
    no_history_table(page, run, model);
    failures_table(page, model);
    flaky_table(page, run, model);
    changed_table(page, model);
  }
  page << "<footer>Generated by tlb report";
  if (!run.generated.empty()) page.text(" on " + run.generated);
  page << ". Predicted: the split's estimates summed per partition. Actual: the sum of the partition's "
          "measured test times (under ctest -j the wall time is "
          "shorter).</footer>\n</main>\n</body>\n</html>\n";
  return page.take();
}

}  // namespace tlb::report
