#include "cli/plan_view.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <locale>
#include <ostream>
#include <sstream>

namespace tlb::cli {
namespace {

// ANSI SGR codes; `text` is padded before it is painted, so the codes never shift a column.
constexpr const char* kBold = "1";
constexpr const char* kRed = "31";
constexpr const char* kGreen = "32";
constexpr const char* kYellow = "33";
constexpr const char* kCyan = "36";

std::string paint(bool color, const char* code, const std::string& text) {
  if (!color || text.empty() || *code == '\0') return text;
  return std::string("\x1b[") + code + "m" + text + "\x1b[0m";
}

std::ostringstream classic_stream() {
  std::ostringstream text;
  text.imbue(std::locale::classic());
  return text;
}

std::string left(const std::string& text, int width) {
  std::ostringstream cell = classic_stream();
  cell << std::left << std::setw(width) << text;
  return cell.str();
}

std::string right(const std::string& text, int width) {
  std::ostringstream cell = classic_stream();
  cell << std::right << std::setw(width) << text;
  return cell.str();
}

std::string fixed(double value, int decimals) {
  std::ostringstream text = classic_stream();
  text << std::fixed << std::setprecision(decimals) << value;
  return text.str();
}

// Green within 5% of the bound, yellow within 25%, red beyond.
const char* ratio_color(double ratio) {
  if (ratio <= 1.05) return kGreen;
  if (ratio <= 1.25) return kYellow;
  return kRed;
}

}  // namespace

double rounded(double seconds) {
  return std::round(seconds * 1e6) / 1e6;
}

std::string seconds_text(double seconds) {
  std::ostringstream text = classic_stream();
  if (seconds >= 3600) {
    text << std::fixed << std::setprecision(1) << seconds / 3600 << " h";
  } else if (seconds >= 60) {
    text << std::fixed << std::setprecision(1) << seconds / 60 << " min";
  } else {
    text << std::fixed << std::setprecision(seconds < 10 ? 2 : 1) << seconds << " s";
  }
  return text.str();
}

std::vector<PartitionFigures> partition_figures(const Plan& plan) {
  std::vector<PartitionFigures> rows;
  for (const Partition& p : plan.partitions) {
    PartitionFigures row;
    row.number = p.number;
    row.weight = p.weight;
    row.tests = p.tests.size();
    row.predicted_seconds = p.predicted_seconds;
    row.without_history =
        static_cast<std::size_t>(std::count_if(p.tests.begin(), p.tests.end(), [](const PlannedTest& t) {
          return t.estimate == Estimate::cost || t.estimate == Estimate::fallback;
        }));
    row.bound_ratio =
        plan.lower_bound_seconds > 0 ? p.predicted_seconds / p.weight / plan.lower_bound_seconds : 0;
    rows.push_back(row);
  }
  return rows;
}

double bound_ratio(const Plan& plan) {
  return plan.lower_bound_seconds > 0 ? plan.predicted_makespan_seconds / plan.lower_bound_seconds : 1;
}

void print_plan(std::ostream& out, const Plan& plan, const PlanContext& context) {
  const int total = context.total, mine = context.mine;
  const bool color = context.color;
  std::size_t fixture_placements = 0;
  for (const Partition& p : plan.partitions) {
    fixture_placements += static_cast<std::size_t>(
        std::count_if(p.tests.begin(), p.tests.end(), [](const PlannedTest& t) { return t.fixture; }));
  }
  out << "Split with the " << to_string(plan.splitter) << " splitter into " << total << " partition"
      << (total == 1 ? "" : "s")
      << (mine > 0
              ? " (this is partition " + std::to_string(mine) + ", from " + context.partition_source + ")"
              : std::string())
      << ".\n";
  out << "  history: " << context.history << "\n";
  for (const std::string& reason : plan.declined) out << "  declined: " << reason << "\n";
  if (plan.tests_without_history > 0) {
    out << "  "
        << paint(color, kYellow,
                 std::to_string(plan.tests_without_history) + " test" +
                     (plan.tests_without_history == 1 ? "" : "s") + " without history")
        << ", estimated from COST or as " << seconds_text(plan.fallback_seconds) << " each.\n";
  }
  out << "\n";

  const std::vector<PartitionFigures> rows = partition_figures(plan);
  const bool weighted =
      std::any_of(rows.begin(), rows.end(), [](const PartitionFigures& row) { return row.weight != 1.0; });
  double longest = 0;
  for (const PartitionFigures& row : rows) longest = std::max(longest, row.predicted_seconds / row.weight);
  constexpr int kBarWidth = 30;
  const auto weight_text = [](double weight) {
    std::ostringstream text = classic_stream();
    text << std::setprecision(3) << weight;
    return text.str();
  };

  std::string header = "  " + left("partition", 9) + right("tests", 7) + "  ";
  if (weighted) header += right("weight", 6) + "  ";
  header += right("predicted", 9) + "  " + right("no history", 10) + "  " + right("vs bound", 8);
  out << paint(color, kBold, header) << "\n";

  std::size_t all_tests = 0, all_without_history = 0;
  double all_seconds = 0;
  for (const PartitionFigures& row : rows) {
    all_tests += row.tests;
    all_without_history += row.without_history;
    all_seconds += row.predicted_seconds;
    // The partitions that finish last set the makespan.
    const bool slowest = plan.predicted_makespan_seconds > 0 &&
                         row.predicted_seconds / row.weight >= plan.predicted_makespan_seconds * (1 - 1e-9);
    std::string line = row.number == mine ? paint(color, kBold, "*") + " " : "  ";
    line += paint(color, slowest ? kBold : "",
                  left(std::to_string(row.number) + "/" + std::to_string(total), 9)) +
            right(std::to_string(row.tests), 7) + "  ";
    if (weighted) line += right(weight_text(row.weight), 6) + "  ";
    line += paint(color, slowest ? kBold : "", right(seconds_text(row.predicted_seconds), 9)) + "  ";
    line +=
        paint(color, row.without_history > 0 ? kYellow : "", right(std::to_string(row.without_history), 10)) +
        "  ";
    line += right(fixed(row.bound_ratio, 3), 8);
    const int bar =
        longest > 0
            ? static_cast<int>(std::lround(kBarWidth * (row.predicted_seconds / row.weight) / longest))
            : 0;
    if (bar > 0) line += "  " + paint(color, kCyan, std::string(static_cast<std::size_t>(bar), '#'));
    out << line << "\n";
  }
  std::string sum = "  " + left("total", 9) + right(std::to_string(all_tests), 7) + "  ";
  if (weighted) sum += std::string(8, ' ');
  sum += right(seconds_text(all_seconds), 9) + "  " + right(std::to_string(all_without_history), 10);
  out << paint(color, kBold, sum) << "\n\n";

  const double ratio = bound_ratio(plan);
  out << "Predicted makespan " << paint(color, kBold, seconds_text(plan.predicted_makespan_seconds))
      << ", lower bound " << seconds_text(plan.lower_bound_seconds) << " ("
      << paint(color, ratio_color(ratio), fixed(ratio, 3) + "x the bound") << ").\n";
  if (fixture_placements > 0) {
    out << fixture_placements << " fixture setup/cleanup placement" << (fixture_placements == 1 ? "" : "s")
        << " counted above, in each partition that runs them.\n";
  }
}

}  // namespace tlb::cli
