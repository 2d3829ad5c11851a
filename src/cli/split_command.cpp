#include "cli/split_command.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <sstream>

#include "cli/hook_script.hpp"
#include "io/atomic_file.hpp"
#include "io/durations.hpp"
#include "io/record.hpp"
#include "io/test_list.hpp"
#include "io/text.hpp"
#include "store/store.hpp"
#include "tlb/order.hpp"
#include "tlb/split.hpp"

namespace tlb::cli {
namespace {

struct SplitArgs : SplitFlags {
  std::string tests;
  std::string durations;
  std::string store;
  std::string cmake_script;
  std::string record_dir;
  bool all = false;
  bool json = false;
  bool explain = false;
  bool strict = false;
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

// Where the history of a split came from: a store (--store, TLB_STORE), a durations file (--durations), or
// nothing.
struct HistorySource {
  store::LoadedHistory loaded;
  bool given = false;                   // A store or durations file was named.
  bool from_store = false;              // The history came from a store, which `tlb record` may update.
  std::string origin;                   // In a phrase, for --explain.
  std::unique_ptr<store::Store> store;  // The store it came from, kept for reporting the partition.
  store::ServerOptions server;          // With a server store: its job and run.
};

bool is_server_url(std::string_view location) {
  return location.starts_with("http://") || location.starts_with("https://");
}

HistorySource load_history(const SplitArgs& args, const Environment& env, bool strict,
                           std::vector<std::string>& warnings) {
  HistorySource source;
  const std::optional<Setting> store_url = resolve_store(args.flag("--store", args.store), env);
  const bool durations_given = args.command->count("--durations") > 0;
  if (store_url && durations_given) {
    throw UsageError("--durations and " + store_url->name + " both name a history; give one");
  }
  if (store_url) {
    source.given = true;
    source.from_store = true;
    source.server = resolve_server_options(env);
    source.store = open_store(*store_url, resolve_history_policy(env), source.server);
    source.loaded = source.store->load();
    if (source.loaded.status != store::HistoryStatus::ok) {
      if (strict) {
        // The warning names its source already.
        std::string why = source.loaded.warning;
        if (why.starts_with(source.loaded.source + ": ")) why.erase(0, source.loaded.source.size() + 2);
        throw io::InputError(source.loaded.source, 0,
                             why + " (TLB_STRICT is set, so tlb does not split without it)");
      }
      warnings.push_back(source.loaded.warning);
      source.origin = "none (" + source.loaded.warning + ")";
    } else {
      const std::size_t count = source.loaded.history.size();
      source.origin =
          std::to_string(count) + " test" + (count == 1 ? "" : "s") + " from " + source.loaded.source;
    }
    return source;
  }
  source.loaded.status = store::HistoryStatus::missing;
  source.origin = "none (no --durations given)";
  if (!durations_given) return source;
  source.given = true;
  source.loaded.source = io::display_name(args.durations);
  if (args.durations != "-" && !std::filesystem::exists(args.durations)) {
    if (strict) throw io::InputError(args.durations, 0, "no such durations file (TLB_STRICT is set)");
    warnings.push_back(args.durations + ": no such durations file yet; splitting without history");
    source.origin = "none (" + args.durations + " does not exist yet)";
    return source;
  }
  io::Durations durations = io::read_durations(args.durations);
  source.loaded.history = std::move(durations.history);
  source.loaded.status = store::HistoryStatus::ok;
  source.loaded.hash = store::history_hash(source.loaded.history);
  source.origin = std::to_string(source.loaded.history.size()) + " test" +
                  (source.loaded.history.size() == 1 ? "" : "s") + " from " + source.loaded.source + " (" +
                  std::string(io::to_string(durations.format)) + ")";
  return source;
}

// The line the hook prints under ctest's "Test project" line.
std::string hook_summary(const Plan& plan, const PartitionChoice& choice) {
  const Partition& mine = plan.partitions[static_cast<std::size_t>(choice.number - 1)];
  std::size_t all = 0;
  for (const Partition& p : plan.partitions) {
    all += static_cast<std::size_t>(
        std::count_if(p.tests.begin(), p.tests.end(), [](const PlannedTest& t) { return !t.fixture; }));
  }
  std::set<std::string_view> fixtures;
  for (const Partition& p : plan.partitions) {
    for (const PlannedTest& t : p.tests) {
      if (t.fixture) fixtures.insert(t.name);
    }
  }
  all += fixtures.size();
  std::ostringstream line;
  line.imbue(std::locale::classic());
  line << "TLB: partition " << choice.number << "/" << choice.total << " (" << choice.source << ") runs "
       << mine.tests.size() << " of " << all << " tests, predicted " << seconds_text(mine.predicted_seconds)
       << "; slowest partition " << seconds_text(plan.predicted_makespan_seconds) << ", bound "
       << seconds_text(plan.lower_bound_seconds) << " (" << to_string(plan.splitter) << " splitter)";
  return line.str();
}

// `<dir>/partition-K-of-N.json`, the partition's record before the run; records of other partitions left in
// `dir` by earlier runs of this build tree are removed, so `tlb record <build>` finds only this one.
io::PartitionRecord write_partition_record(const std::string& dir, const Plan& plan,
                                           const PartitionChoice& choice, const HistorySource& source) {
  io::PartitionRecord record;
  record.partition = choice.number;
  record.total = choice.total;
  record.splitter = std::string(to_string(plan.splitter));
  std::set<std::string> all;
  for (const Partition& p : plan.partitions) {
    for (const PlannedTest& t : p.tests) all.insert(t.name);
  }
  record.all_tests.assign(all.begin(), all.end());
  record.test_list_hash = io::hash_names(record.all_tests);
  // A durations file is no store: `tlb record` must not take it for the timing file to update.
  record.history_source = source.from_store ? source.loaded.source : std::string();
  record.history_status = std::string(store::to_string(source.loaded.status));
  record.history_hash = source.loaded.hash;
  if (source.from_store && is_server_url(source.loaded.source)) {
    record.job = source.server.job;
    record.job_version = source.server.job_version;
  }
  for (const PlannedTest& t : plan.partitions[static_cast<std::size_t>(choice.number - 1)].tests) {
    record.tests.push_back(t.name);
    if (t.fixture) record.attachments.push_back(t.name);
    record.estimates.push_back(io::RecordedEstimate{t.name, t.seconds, t.estimate});
  }
  io::RecordedPlan predicted;
  for (const Partition& p : plan.partitions) predicted.predicted_seconds.push_back(p.predicted_seconds);
  predicted.lower_bound_seconds = plan.lower_bound_seconds;
  predicted.makespan_seconds = plan.predicted_makespan_seconds;
  record.plan = std::move(predicted);
  const std::string name =
      "partition-" + std::to_string(choice.number) + "-of-" + std::to_string(choice.total) + ".json";
  if (std::filesystem::is_directory(dir)) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string file = entry.path().filename().string();
      if (file != name && file.starts_with("partition-") && file.ends_with(".json")) {
        std::filesystem::remove(entry.path());
      }
    }
  }
  io::write_record((std::filesystem::path(dir) / name).string(), record);
  return record;
}

// Tells a server which tests this partition was given, so it checks the run's partitions as they report.
// A server that cannot be reached only warns (unless strict): the run goes on, and the server's verification
// will find the partition missing. A conflict with the other partitions stops the split.
void report_partition(const HistorySource& source, const io::PartitionRecord& record, bool strict,
                      std::vector<std::string>& warnings) {
  store::RunLedger* ledger = source.store ? source.store->run_ledger() : nullptr;
  // A server that did not answer the read has had its warning (and its timeout); one is enough.
  if (ledger == nullptr || source.loaded.status == store::HistoryStatus::unavailable) return;
  try {
    ledger->report_partition(record);
  } catch (const io::InputError& error) {
    if (strict) throw;
    warnings.push_back(std::string(error.what()) + " (the run's verification on the server will miss it)");
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

  const SplitOptions options = resolve_split_options(args, choice.total, env);
  const std::vector<Orderer> orderers = resolve_orderers(args.flag("--orderer", args.orderer), env);
  const bool strict = resolve_strict(args.strict, env);

  std::string tests_path = args.command->count("--tests") ? args.tests : "-";
  if (tests_path == "-" && stdin_is_terminal()) {
    throw UsageError(
        "no test list: pass --tests FILE, or pipe one in: ctest --show-only=json-v1 | tlb split ...");
  }
  std::vector<Test> tests = io::read_test_list(tests_path);
  if (tests.empty()) warnings.push_back(io::display_name(tests_path) + ": the test list is empty");

  HistorySource source = load_history(args, env, strict, warnings);
  const History& history = source.loaded.history;
  const std::string& history_origin = source.origin;

  Plan plan = split(std::move(tests), history, options);
  // Only when the history was read: an unreadable one has had its warning, and one is enough.
  if (source.given && source.loaded.status == store::HistoryStatus::ok && !plan.declined.empty()) {
    warnings.push_back("no test in the list has a recorded duration; split by " +
                       std::string(to_string(plan.splitter)));
  }
  warn_all();

  if (!args.record_dir.empty()) {
    report_partition(source, write_partition_record(args.record_dir, plan, choice, source), strict, warnings);
    warn_all();
  }
  if (!args.cmake_script.empty()) {
    const Partition& mine = plan.partitions[static_cast<std::size_t>(choice.number - 1)];
    io::write_file_atomically(args.cmake_script, hook_script(order_tests(mine.tests, history, orderers),
                                                             hook_summary(plan, choice)));
    return;
  }

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
  cmd->add_option("--store", args->store, "History: a timing file or server URL [TLB_STORE]")
      ->type_name("URL");
  cmd->add_option("--cmake-script", args->cmake_script,
                  "Write this partition's selection as a CMake script for the include(TLB) hook")
      ->type_name("FILE");
  cmd->add_option("--record-dir", args->record_dir,
                  "Write this partition's record to DIR/partition-K-of-N.json (for tlb record, tlb verify)")
      ->type_name("DIR");
  add_split_flags(cmd, *args);
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
