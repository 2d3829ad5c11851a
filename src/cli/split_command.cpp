#include "cli/split_command.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "io/durations.hpp"
#include "io/test_list.hpp"
#include "io/text.hpp"
#include "tlb/order.hpp"
#include "tlb/split.hpp"

namespace tlb::cli {
namespace {

struct SplitArgs {
  std::string tests;
  std::string durations;
  std::string partition;
  std::string total;
  std::string weights;
  std::string splitter;
  std::string preferred;
  std::string orderer;
  bool all = false;
  bool json = false;
  bool explain = false;
  bool strict = false;
  CLI::App* command = nullptr;

  std::optional<std::string> flag(const std::string& name, const std::string& value) const {
    if (command->count(name) == 0) return std::nullopt;
    return value;
  }
};

std::string seconds_text(double seconds) {
  std::ostringstream text;
  text.imbue(std::locale::classic());
  if (seconds >= 3600) {
    text << std::fixed << std::setprecision(1) << seconds / 3600 << " h";
  } else if (seconds >= 60) {
    text << std::fixed << std::setprecision(1) << seconds / 60 << " min";
  } else {
    text << std::fixed << std::setprecision(seconds < 10 ? 2 : 1) << seconds << " s";
  }
  return text.str();
}

double rounded(double seconds) {
  return std::round(seconds * 1e6) / 1e6;
}

std::string dump(const nlohmann::ordered_json& document) {
  return document.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

nlohmann::ordered_json partition_json(const Partition& partition, const History& history,
                                      const std::vector<Orderer>& orderers) {
  nlohmann::ordered_json names = nlohmann::ordered_json::array();
  for (const PlannedTest& test : order_tests(partition.tests, history, orderers)) names.push_back(test.name);
  return {{"number", partition.number},
          {"weight", partition.weight},
          {"predicted_seconds", rounded(partition.predicted_seconds)},
          {"tests", std::move(names)}};
}

void print_json(std::ostream& out, const Plan& plan, const PartitionChoice& choice, bool all,
                const History& history, const std::vector<Orderer>& orderers) {
  nlohmann::ordered_json document;
  document["total"] = choice.total;
  if (!all) document["partition"] = choice.number;
  document["splitter"] = std::string(to_string(plan.splitter));
  document["lower_bound_seconds"] = rounded(plan.lower_bound_seconds);
  document["predicted_makespan_seconds"] = rounded(plan.predicted_makespan_seconds);
  document["tests_without_history"] = plan.tests_without_history;
  document["partitions"] = nlohmann::ordered_json::array();
  for (const Partition& partition : plan.partitions) {
    if (all || partition.number == choice.number) {
      document["partitions"].push_back(partition_json(partition, history, orderers));
    }
  }
  out << dump(document) << "\n";
}

// What --explain says about the inputs, besides the plan.
struct ExplainContext {
  int total = 1;
  int mine = 0;                  // This job's partition, or 0 for an overview that marks none.
  std::string partition_source;  // Where `mine` came from: "--partition", "TLB_PARTITION_NUMBER"...
  std::string history;           // Where the durations came from, in a phrase.
};

void print_explain(std::ostream& out, const Plan& plan, const ExplainContext& context) {
  const int total = context.total, mine = context.mine;
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
    out << "  " << plan.tests_without_history << " test" << (plan.tests_without_history == 1 ? "" : "s")
        << " without history, estimated from COST or as " << seconds_text(plan.fallback_seconds)
        << " each.\n";
  }
  out << "\n";

  const bool weighted = std::any_of(plan.partitions.begin(), plan.partitions.end(),
                                    [](const Partition& p) { return p.weight != 1.0; });
  double longest = 0;
  for (const Partition& p : plan.partitions) longest = std::max(longest, p.predicted_seconds / p.weight);
  constexpr int kBarWidth = 30;

  out << "  partition  tests  " << (weighted ? "weight  " : "") << "predicted\n";
  for (const Partition& p : plan.partitions) {
    std::ostringstream row;
    row.imbue(std::locale::classic());
    row << (p.number == mine ? "* " : "  ") << std::setw(9) << std::left
        << (std::to_string(p.number) + "/" + std::to_string(total)) << std::right << std::setw(7)
        << p.tests.size() << "  ";
    if (weighted) row << std::setw(6) << std::setprecision(3) << p.weight << "  ";
    row << std::setw(9) << seconds_text(p.predicted_seconds) << "  ";
    const int bar =
        longest > 0 ? static_cast<int>(std::lround(kBarWidth * (p.predicted_seconds / p.weight) / longest))
                    : 0;
    row << std::string(static_cast<std::size_t>(bar), '#');
    out << row.str() << "\n";
  }
  out << "\n";
  const double ratio =
      plan.lower_bound_seconds > 0 ? plan.predicted_makespan_seconds / plan.lower_bound_seconds : 1;
  std::ostringstream summary;
  summary.imbue(std::locale::classic());
  summary << "Predicted makespan " << seconds_text(plan.predicted_makespan_seconds)
          << "; no split can finish before " << seconds_text(plan.lower_bound_seconds) << " (" << std::fixed
          << std::setprecision(3) << ratio << "x the bound).\n";
  out << summary.str();
  if (fixture_placements > 0) {
    out << fixture_placements << " fixture setup/cleanup placement(s) included above.\n";
  }
}

bool stdin_is_terminal() {
  return isatty(STDIN_FILENO) != 0;
}

void run_split(const SplitArgs& args, std::ostream& out, std::ostream& err, const Environment& env) {
  std::vector<std::string> warnings;
  auto warn_all = [&] {
    for (const std::string& w : warnings) err << "tlb: warning: " << w << "\n";
    warnings.clear();
  };

  auto partition_flag = args.flag("--partition", args.partition);
  auto total_flag = args.flag("--total", args.total);
  // An overview (--all, --explain) needs only the total; it then marks no partition as this job's.
  const bool overview_without_partition = (args.all || args.explain) && total_flag && !partition_flag;
  if (overview_without_partition) partition_flag = "1";
  std::optional<PartitionChoice> resolved = resolve_partition(partition_flag, total_flag, env, warnings);
  const PartitionChoice choice = resolved.value_or(PartitionChoice{1, 1, "default"});

  SplitOptions options;
  options.total = choice.total;
  options.weights = resolve_weights(args.flag("--weights", args.weights), choice.total, env);
  options.splitters = resolve_splitters(args.flag("--splitter", args.splitter),
                                        args.flag("--preferred-splitters", args.preferred), env);
  const std::vector<Orderer> orderers = resolve_orderers(args.flag("--orderer", args.orderer), env);
  const bool strict = resolve_strict(args.strict, env);

  std::string tests_path = args.command->count("--tests") ? args.tests : "-";
  if (tests_path == "-" && stdin_is_terminal()) {
    throw UsageError(
        "no test list: pass --tests FILE, or pipe one in: ctest --show-only=json-v1 | tlb split ...");
  }
  std::vector<Test> tests = io::read_test_list(tests_path);
  if (tests.empty()) warnings.push_back(io::display_name(tests_path) + ": the test list is empty");

  History history;
  std::string history_origin = "none (no --durations given)";
  const bool durations_given = args.command->count("--durations") > 0;
  if (durations_given) {
    if (args.durations != "-" && !std::filesystem::exists(args.durations)) {
      if (strict) throw io::InputError(args.durations, 0, "no such durations file (TLB_STRICT is set)");
      warnings.push_back(args.durations + ": no such durations file yet; splitting without history");
      history_origin = "none (" + args.durations + " does not exist yet)";
    } else {
      io::Durations durations = io::read_durations(args.durations);
      history = std::move(durations.history);
      history_origin = std::to_string(history.size()) + " test" + (history.size() == 1 ? "" : "s") +
                       " from " + io::display_name(args.durations) + " (" +
                       std::string(io::to_string(durations.format)) + ")";
    }
  }

  Plan plan = split(std::move(tests), history, options);
  if (durations_given && !plan.declined.empty()) {
    warnings.push_back("no test in the list has a recorded duration; split by " +
                       std::string(to_string(plan.splitter)));
  }
  warn_all();

  if (args.explain) {
    print_explain(out, plan,
                  ExplainContext{choice.total, overview_without_partition || !resolved ? 0 : choice.number,
                                 choice.source, history_origin});
  } else if (args.json) {
    print_json(out, plan, choice, args.all, history, orderers);
  } else if (args.all) {
    for (const Partition& partition : plan.partitions) {
      for (const PlannedTest& test : order_tests(partition.tests, history, orderers)) {
        out << partition.number << '\t' << test.name << '\n';
      }
    }
  } else {
    const Partition& mine = plan.partitions[static_cast<std::size_t>(choice.number - 1)];
    for (const PlannedTest& test : order_tests(mine.tests, history, orderers)) out << test.name << '\n';
  }
}

}  // namespace

std::function<void(std::ostream&, std::ostream&, const Environment&)> add_split_command(CLI::App& app) {
  auto args = std::make_shared<SplitArgs>();
  CLI::App* cmd = app.add_subcommand("split", "Print the tests of this partition, one name a line.");
  args->command = cmd;
  cmd->description(
      "Print the tests of this partition, one name a line, in the order to run them.\n\n"
      "Every partition computes the same split from the same inputs, so N CI jobs each run `tlb split` and\n"
      "together run every test exactly once. The partition comes from --partition/--total, else from\n"
      "TLB_PARTITION_NUMBER and TLB_TOTAL_PARTITIONS (or TLB_PARTITION=k/N), else from GitLab's "
      "CI_NODE_INDEX/\n"
      "CI_NODE_TOTAL, CircleCI's CIRCLE_NODE_INDEX/CIRCLE_NODE_TOTAL or Buildkite's BUILDKITE_PARALLEL_JOB/\n"
      "BUILDKITE_PARALLEL_JOB_COUNT. With none set, the one partition holds every test.\n\n"
      "Example:\n"
      "  ctest --test-dir build --show-only=json-v1 > tests.json\n"
      "  tlb split --tests tests.json --durations CTestCostData.txt --partition 2/4");
  cmd->add_option("--tests", args->tests,
                  "Test list: `ctest --show-only=json-v1` output or one name a line [stdin]")
      ->type_name("FILE");
  cmd->add_option("--durations", args->durations,
                  "Known durations; the format is detected (see below). A missing file: no history yet")
      ->type_name("FILE");
  cmd->add_option("--partition", args->partition, "This partition, 1-based: k or k/N [TLB_PARTITION_NUMBER]")
      ->type_name("K");
  cmd->add_option("--total", args->total, "Number of partitions [TLB_TOTAL_PARTITIONS]")->type_name("N");
  cmd->add_option("--weights", args->weights,
                  "Relative work per partition, e.g. 1,1,2 [TLB_PARTITION_WEIGHTS]")
      ->type_name("W,...");
  cmd->add_option("--splitter", args->splitter, "time, count, round-robin, or default [TLB_SPLITTER]")
      ->type_name("NAME");
  cmd->add_option("--preferred-splitters", args->preferred,
                  "Chain tried in order by 'default' [TLB_PREFERRED_SPLITTERS: time:count]")
      ->type_name("A:B");
  cmd->add_option("--orderer", args->orderer,
                  "failed-first, longest-first or none [TLB_ORDERER: failed-first:longest-first]")
      ->type_name("A:B");
  cmd->add_flag("--all", args->all, "Every partition: 'k<TAB>name' lines, or all partitions with --json");
  cmd->add_flag("--json", args->json, "JSON: {\"partitions\": [{number, weight, predicted_seconds, tests}]}");
  cmd->add_flag("--explain", args->explain, "A table of predicted time per partition instead of names");
  cmd->add_flag("--strict", args->strict, "Fail instead of splitting without history [TLB_STRICT]");
  cmd->footer(
      "Durations files: a JSON object of name to seconds (pytest-split's .test_durations, knapsack's "
      "report),\n"
      "'<name> <seconds>' lines, LLVM lit's '<seconds> <name>' lines, or CTest's CTestCostData.txt.\n"
      "Exit status: 0 success, 1 bad input file, 2 bad flag or variable. Every variable: README.md.");

  return [args](std::ostream& out, std::ostream& err, const Environment& env) {
    run_split(*args, out, err, env);
  };
}

}  // namespace tlb::cli
