#include "cli/split_command.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <sstream>

#include "cli/ctest_invocation.hpp"
#include "cli/hook_script.hpp"
#include "cli/plan_file.hpp"
#include "cli/plan_view.hpp"
#include "cli/run_key.hpp"
#include "cli/split_inputs.hpp"
#include "io/atomic_file.hpp"
#include "io/fingerprint.hpp"
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
  std::string plan;
  std::string ctest_command_line;  // Hex of the ctest's NUL-separated arguments (the hook's).
  std::string rerun_failed;        // ctest's Testing/Temporary, when ctest runs with --rerun-failed.
  std::string source_dir;          // The project's top source directory (the hook's).
  std::string run_key;             // --run-key: TLB_RUN_KEY.
  bool all = false;
  bool json = false;
  bool explain = false;
  bool strict = false;
};

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

// `<dir>/partition-K-of-N.json`, the partition's record before the run. It replaces only this partition's
// record: others' (another job in the same tree, an earlier run) stay, and `tlb record` picks its own.
io::PartitionRecord write_partition_record(const std::string& dir, const Plan& plan,
                                           const PartitionChoice& choice, const HistorySource& source,
                                           const io::SplitFingerprint& fingerprint, int ctest_parallel_level,
                                           const std::string& source_dir, const std::string& run_key) {
  io::PartitionRecord record;
  record.run_key = run_key;
  record.fingerprint = fingerprint;
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
  if (source.from_store && store::is_server_url(source.loaded.source)) {
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
  record.split_at = io::utc_timestamp();
  record.ctest_parallel_level = ctest_parallel_level;
  record.source_dir = source_dir;
  io::write_record((std::filesystem::path(dir) / name).string(), record);
  return record;
}

// The ctest that runs the hook, as its command line says (nothing when the hook could not read it).
CtestInvocation invocation_of(const SplitArgs& args) {
  if (args.ctest_command_line.empty()) return {};
  std::optional<std::string> arguments = from_hex(args.ctest_command_line);
  if (!arguments) throw UsageError("--ctest-command-line " + args.ctest_command_line + ": not hex");
  return parse_ctest_invocation(*arguments);
}

// The -j the partition runs with, for its record: ctest's own flag, else CTEST_PARALLEL_LEVEL, else 1; 0 when
// ctest's command line is not known.
int ctest_parallel_level(const SplitArgs& args, const CtestInvocation& invocation, const Environment& env) {
  if (args.ctest_command_line.empty()) return 0;
  if (invocation.parallel_level) return *invocation.parallel_level;
  if (auto level = env("CTEST_PARALLEL_LEVEL")) {
    if (auto j = io::parse_int(io::trim(*level)); j && *j > 0) return *j;
  }
  return 1;
}

// "; -R parser leaves 7 of its 269 tests": ctest applies -R, -E, -L and -LE after the hook, to the
// partition's tests. Nothing when there are none, or a pattern is not one std::regex reads.
std::string filter_note(const CtestInvocation& invocation, const std::vector<Test>& listed,
                        const Partition& mine) {
  if (!invocation.filtered()) return "";
  std::set<std::string_view> left_to_count;
  for (const PlannedTest& t : mine.tests) left_to_count.insert(t.name);
  std::size_t left = 0;
  for (const Test& test : listed) {
    if (left_to_count.erase(test.name) == 0) continue;
    const std::optional<bool> passes = passes_filters(invocation, test);
    if (!passes) return "";
    left += *passes;
  }
  return "; " + invocation.filters + " leave" + (left == 1 ? "s " : " ") + std::to_string(left) + " of its " +
         std::to_string(mine.tests.size()) + " tests";
}

// The newest LastTestsFailed*.log of ctest's Testing/Temporary, the one ctest --rerun-failed reads ("" when
// there is none).
std::string failed_tests_log(const std::string& dir) {
  std::string newest;
  std::filesystem::file_time_type newest_time;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string file = entry.path().filename().string();
    if (!file.starts_with("LastTestsFailed") || !entry.is_regular_file(error)) continue;
    const auto time = entry.last_write_time(error);
    if (newest.empty() || time > newest_time) {
      newest = entry.path().string();
      newest_time = time;
    }
  }
  return newest;
}

struct Rerun {
  std::vector<PlannedTest> selected;
  std::string summary;
};

// ctest --rerun-failed runs the tests whose numbers its log holds, numbering the tests in the order they are
// added. A partition's log numbers that partition's tests, so any other run would pick other tests. This run
// adds only the failed tests (and the fixture tests, which ctest adds as they are needed), whatever partition
// is set (a split made again on a newer history could place them elsewhere), and the log is written again
// with their numbers in this run.
Rerun rerun_failed(const std::string& dir, const std::vector<Test>& listed, const Plan& plan) {
  const std::string log = failed_tests_log(dir);
  std::set<std::string> failed;
  const std::string text = log.empty() ? std::string() : io::read_file(log);
  for (std::string_view line : io::split_lines(text)) {
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) failed.emplace(line.substr(colon + 1));
  }
  Rerun rerun;
  std::set<std::string_view> added;
  for (const Partition& partition : plan.partitions) {
    for (const PlannedTest& t : partition.tests) {
      if ((t.fixture || failed.contains(t.name)) && added.insert(t.name).second) rerun.selected.push_back(t);
    }
  }
  std::string numbered;
  std::size_t number = 0, kept = 0;
  std::set<std::string_view> seen;
  for (const Test& test : listed) {
    if (!added.contains(test.name) || !seen.insert(test.name).second) continue;
    ++number;
    if (failed.contains(test.name)) {
      numbered += std::to_string(number) + ":" + test.name + "\n";
      ++kept;
    }
  }
  // Nothing to rerun, nothing runs: ctest would take an empty log for "run everything added".
  if (kept == 0) rerun.selected.clear();
  if (!log.empty()) io::write_file_atomically(log, numbered);
  rerun.summary =
      "TLB: --rerun-failed: runs the " + std::to_string(kept) + " test" + (kept == 1 ? "" : "s") +
      " that failed last time" +
      (kept == failed.size() ? std::string()
                             : " (" + std::to_string(failed.size() - kept) +
                                   " of the log are no "
                                   "longer tests)") +
      (log.empty() ? "; there is no LastTestsFailed log in " + dir
                   : "; " + std::filesystem::path(log).filename().string() + " numbered again for this run");
  return rerun;
}

// The selection the hook includes, and its summary line.
void write_hook_script(const SplitArgs& args, const Plan& plan, const PartitionChoice& choice,
                       const std::vector<Test>& listed, const HistorySource& source,
                       const std::vector<PlannedTest>& ordered, const std::vector<Orderer>& orderers) {
  const CtestInvocation invocation = invocation_of(args);
  const Partition& mine = plan.partitions[static_cast<std::size_t>(choice.number - 1)];
  const History& history = source.loaded.history;
  if (!args.rerun_failed.empty()) {
    const Rerun rerun = rerun_failed(args.rerun_failed, listed, plan);
    io::write_file_atomically(args.cmake_script,
                              hook_script(order_tests(rerun.selected, history, orderers), rerun.summary));
    return;
  }
  std::string summary = hook_summary(plan, choice) + filter_note(invocation, listed, mine);
  // A store the hook cannot read is in the summary, not only in a warning above it.
  if (source.given && source.loaded.status != store::HistoryStatus::ok) {
    summary += "; split WITHOUT history (" + std::string(store::to_string(source.loaded.status)) + ": " +
               (source.loaded.source.empty() ? std::string("no store") : source.loaded.source) + ")";
  }
  io::write_file_atomically(args.cmake_script, hook_script(ordered, summary));
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

// A partition of a CI run kept on a server that did not answer would split without the history the others
// read, and could not tell the server: it would lose or repeat tests unseen. It stops instead, before any
// test.
// `tlb run --queue` with the server down sets TLB_STATIC_SPLIT: every job of its run then splits without it.
void refuse_to_split_alone(const HistorySource& source, const std::string& record_dir,
                           const Environment& env) {
  if (record_dir.empty() || env("TLB_STATIC_SPLIT") || !source.store ||
      source.store->run_ledger() == nullptr || source.loaded.status != store::HistoryStatus::unavailable) {
    return;
  }
  throw io::InputError(source.loaded.source, 0,
                       "no answer, so this partition of run " + source.server.job_version +
                           " cannot split on the history the other partitions read; it stops before any "
                           "test (to run without the server, unset TLB_STORE; " +
                           source.loaded.warning + ")");
}

// The history a plan file was made on, as far as the record needs it: where it came from, its status and
// hash.
HistorySource planned_history(const PlanFile& file, const std::string& path) {
  HistorySource source;
  source.given = true;
  source.from_store = !file.history_source.empty();
  source.loaded.source = file.history_source;
  source.loaded.hash = file.fingerprint.history;
  for (auto status : {store::HistoryStatus::ok, store::HistoryStatus::missing, store::HistoryStatus::corrupt,
                      store::HistoryStatus::unavailable}) {
    if (store::to_string(status) == file.history_status) source.loaded.status = status;
  }
  source.origin = "the plan " + io::display_name(path);
  return source;
}

// A partition's tests in the plan's run order.
std::vector<PlannedTest> in_run_order(const std::vector<PlannedTest>& tests,
                                      const std::vector<std::string>& order) {
  std::map<std::string_view, const PlannedTest*> by_name;
  for (const PlannedTest& t : tests) by_name.emplace(t.name, &t);
  std::vector<PlannedTest> ordered;
  for (const std::string& name : order) {
    if (auto it = by_name.find(name); it != by_name.end()) ordered.push_back(*it->second);
  }
  return ordered;
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

  const std::optional<std::string> tests_path = args.flag("--tests", args.tests);
  std::vector<Test> tests = read_tests(
      tests_path,
      "no test list: pass --tests FILE, or pipe one in: ctest --show-only=json-v1 | tlb split ...");
  if (tests.empty())
    warnings.push_back(io::display_name(tests_path.value_or("-")) + ": the test list is empty");

  // With a plan file (TLB_PLAN), the split was made once for every partition: this job only checks that the
  // plan is for its test list and takes its share.
  const std::optional<Setting> plan_path = pick(args.flag("--plan", args.plan), "--plan", env, "TLB_PLAN");
  std::optional<PlanFile> planned;
  if (plan_path) {
    planned = read_plan_file(plan_path->value);
    check_plan_file(*planned, plan_path->value, tests, choice.total);
  }
  HistorySource source = planned
                             ? planned_history(*planned, plan_path->value)
                             : load_history(args.flag("--store", args.store),
                                            args.flag("--durations", args.durations), env, strict, warnings);
  const History& history = source.loaded.history;
  const std::string& history_origin = source.origin;

  refuse_to_split_alone(source, args.record_dir, env);
  const io::SplitFingerprint fingerprint =
      planned ? planned->fingerprint : io::fingerprint_split(tests, source.loaded.hash, options);
  // The hook needs the list in ctest's order, which the split does not keep.
  const std::vector<Test> listed = args.cmake_script.empty() ? std::vector<Test>() : tests;
  Plan plan = planned ? std::move(planned->plan) : split(std::move(tests), history, options);
  // Only when the history was read: an unreadable one has had its warning, and one is enough.
  if (source.given && source.loaded.status == store::HistoryStatus::ok && !plan.declined.empty()) {
    warnings.push_back("no test in the list has a recorded duration; split by " +
                       std::string(to_string(plan.splitter)));
  }
  warn_all();

  if (!args.record_dir.empty()) {
    report_partition(source,
                     write_partition_record(args.record_dir, plan, choice, source, fingerprint,
                                            ctest_parallel_level(args, invocation_of(args), env),
                                            args.source_dir, resolve_run_key(env)),
                     strict, warnings);
    warn_all();
  }
  if (!args.cmake_script.empty()) {
    const Partition& mine = plan.partitions[static_cast<std::size_t>(choice.number - 1)];
    const std::vector<PlannedTest> ordered =
        planned ? in_run_order(mine.tests, planned->run_order[static_cast<std::size_t>(choice.number - 1)])
                : order_tests(mine.tests, history, orderers);
    write_hook_script(args, plan, choice, listed, source, ordered, orderers);
    return;
  }

  if (args.explain) {
    print_plan(out, plan,
               PlanContext{choice.total, overview_without_partition || !resolved ? 0 : choice.number,
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
      "TLB_PARTITION_NUMBER and TLB_TOTAL_PARTITIONS (or TLB_PARTITION=k/N), else, with\n"
      "TLB_TOTAL_PARTITIONS=auto only, from GitLab's CI_NODE_INDEX/CI_NODE_TOTAL, CircleCI's\n"
      "CIRCLE_NODE_INDEX/CIRCLE_NODE_TOTAL or Buildkite's "
      "BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT.\n"
      "With none set, the one partition holds every test.\n\n"
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
  cmd->add_option("--plan", args->plan,
                  "Take this partition from a plan file (tlb plan --out) instead of splitting [TLB_PLAN]")
      ->type_name("FILE");
  cmd->add_option("--record-dir", args->record_dir,
                  "Write this partition's record to DIR/partition-K-of-N.json (for tlb record, tlb verify)")
      ->type_name("DIR");
  cmd->add_option("--ctest-command-line", args->ctest_command_line,
                  "For the include(TLB) hook: ctest's NUL-separated arguments in hex, for its filters and -j")
      ->type_name("HEX");
  cmd->add_option("--rerun-failed", args->rerun_failed,
                  "For the include(TLB) hook under ctest --rerun-failed: select the failed tests of ctest's "
                  "LastTestsFailed log in DIR (Testing/Temporary) and number them again for this run")
      ->type_name("DIR");
  add_run_key_option(cmd, args->run_key);
  cmd->add_option("--source-dir", args->source_dir,
                  "For the include(TLB) hook: the project's top source directory, kept in the record")
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
    run_split(*args, out, err, with_variable(env, "TLB_RUN_KEY", args->run_key));
  };
}

}  // namespace tlb::cli
