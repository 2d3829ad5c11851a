#include "cli/plan_command.hpp"

#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/child_process.hpp"
#include "cli/plan_file.hpp"
#include "cli/plan_view.hpp"
#include "cli/run_key.hpp"
#include "cli/split_inputs.hpp"
#include "io/fingerprint.hpp"
#include "io/test_list.hpp"
#include "io/text.hpp"
#include "platform/platform.hpp"

namespace tlb::cli {
namespace {

struct PlanArgs : SplitFlags {
  std::string tests;
  std::string build_dir;
  std::string durations;
  std::string store;
  std::string color = "auto";
  std::string out;
  std::string run_key;  // --run-key: TLB_RUN_KEY.
  bool json = false;
  bool strict = false;
};

// The build tree's test list, as the CMake hook lists it: `ctest --show-only=json-v1 --test-dir DIR`, with
// TLB_HOOK_ACTIVE set so that a partition variable in the environment does not make include(TLB) split the
// listing itself.
std::vector<Test> list_build_dir(const std::string& dir) {
  if (!std::filesystem::is_directory(dir)) throw UsageError("--build-dir " + dir + ": no such directory");
  const std::vector<std::string> argv{"ctest", "--show-only=json-v1", "--test-dir", dir};
  const std::string command = "ctest --show-only=json-v1 --test-dir " + dir;
  ChildResult child;
  try {
    child = run_child(argv, ChildEnvironment{.keep_partition = true, .extra = {"TLB_HOOK_ACTIVE=1"}});
  } catch (const CannotStart&) {
    throw UsageError("--build-dir needs ctest, and there is no ctest on PATH");
  }
  if (child.status != 0) {
    // What ctest said, on one line (CMake puts the message under its "CMake Error at ..." line).
    std::string why;
    for (char c : io::trim(child.err.empty() ? child.out : child.err)) {
      const bool space = c == '\n' || c == '\r' || c == ' ' || c == '\t';
      if (!space) {
        why += c;
      } else if (!why.empty() && why.back() != ' ') {
        why += ' ';
      }
    }
    if (why.size() > 400) why = why.substr(0, 400) + "...";
    throw io::InputError(dir, 0,
                         "`" + command + "` failed (exit status " + std::to_string(child.status) + ")" +
                             (why.empty() ? ": is it a CMake build directory?" : ": " + why));
  }
  return io::parse_test_list(child.out, "`" + command + "`");
}

// The number of partitions (required) and the partition to mark, if one is set. Only a total is needed:
// --total or TLB_TOTAL_PARTITIONS alone is an overview that marks none; a whole partition setting
// (--partition k/N, TLB_PARTITION, the CI's own variables) marks its partition.
struct PlanPartitions {
  int total = 1;
  int mine = 0;        // 0: none marked.
  std::string source;  // Where `mine` came from.
};

PlanPartitions resolve_plan_partitions(const PlanArgs& args, const Environment& env,
                                       std::vector<std::string>& warnings) {
  const std::optional<std::string> partition_flag = args.flag("--partition", args.partition);
  const std::optional<std::string> total_flag = args.flag("--total", args.total);
  std::optional<PartitionChoice> choice;
  bool marked = true;
  if (total_flag && !partition_flag) {
    choice = resolve_partition(std::string("1"), total_flag, env, warnings);
    marked = false;
  } else if (!partition_flag && env("TLB_TOTAL_PARTITIONS") && env("TLB_TOTAL_PARTITIONS") != "auto" &&
             !env("TLB_PARTITION_NUMBER")) {
    const Environment first = [&env](std::string_view name) -> std::optional<std::string> {
      if (name == "TLB_PARTITION_NUMBER") return "1";
      return env(name);
    };
    choice = resolve_partition(std::nullopt, std::nullopt, first, warnings);
    marked = false;
  } else {
    choice = resolve_partition(partition_flag, total_flag, env, warnings);
  }
  if (!choice) {
    throw UsageError(
        "how many partitions? Pass --total N or set TLB_TOTAL_PARTITIONS (TLB_PARTITION=k/N and the CI's own "
        "variables give it too)");
  }
  return PlanPartitions{choice->total, marked ? choice->number : 0, choice->source};
}

// The figures of the table, for scripts.
std::string plan_json(const Plan& plan, const PlanPartitions& partitions, const std::string& history) {
  using nlohmann::ordered_json;
  ordered_json rows = ordered_json::array();
  std::size_t tests = 0, without_history = 0;
  double seconds = 0;
  for (const PartitionFigures& row : partition_figures(plan)) {
    rows.push_back(ordered_json{{"number", row.number},
                                {"weight", row.weight},
                                {"tests", row.tests},
                                {"predicted_seconds", rounded(row.predicted_seconds)},
                                {"tests_without_history", row.without_history},
                                {"bound_ratio", rounded(row.bound_ratio)}});
    tests += row.tests;
    without_history += row.without_history;
    seconds += row.predicted_seconds;
  }
  ordered_json declined = ordered_json::array();
  for (const std::string& reason : plan.declined) declined.push_back(reason);
  const ordered_json document{
      {"kind", "tlb-plan"},
      {"version", 1},
      {"total", partitions.total},
      {"partition", partitions.mine > 0 ? ordered_json(partitions.mine) : ordered_json(nullptr)},
      {"splitter", std::string(to_string(plan.splitter))},
      {"declined", std::move(declined)},
      {"history", history},
      {"fallback_seconds", rounded(plan.fallback_seconds)},
      {"partitions", std::move(rows)},
      {"totals", ordered_json{{"tests", tests},
                              {"predicted_seconds", rounded(seconds)},
                              {"tests_without_history", without_history}}},
      {"predicted_makespan_seconds", rounded(plan.predicted_makespan_seconds)},
      {"lower_bound_seconds", rounded(plan.lower_bound_seconds)},
      {"ratio", rounded(bound_ratio(plan))}};
  return document.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

// --color auto: only on a terminal, and not when NO_COLOR (https://no-color.org) is set or TERM is dumb.
bool use_color(const std::string& setting, const Environment& env) {
  if (setting == "always") return true;
  if (setting == "never") return false;
  if (!platform::stdout_is_terminal() || env("NO_COLOR")) return false;
  const std::optional<std::string> term = env("TERM");
  return !term || *term != "dumb";
}

// The plan file every partition's hook reads with TLB_PLAN: the whole split, each partition in run order.
void write_plan(const std::string& path, const Plan& plan, const io::SplitFingerprint& fingerprint,
                const HistorySource& source, const std::vector<Orderer>& orderers) {
  PlanFile file{plan,
                {},
                fingerprint,
                source.from_store ? source.loaded.source : std::string(),
                std::string(store::to_string(source.loaded.status))};
  for (const Partition& partition : plan.partitions) {
    file.run_order.emplace_back();
    for (const PlannedTest& t : order_tests(partition.tests, source.loaded.history, orderers)) {
      file.run_order.back().push_back(t.name);
    }
  }
  write_plan_file(path, file);
}

void run_plan(const PlanArgs& args, std::ostream& out, std::ostream& err, const Environment& env) {
  std::vector<std::string> warnings;
  const PlanPartitions partitions = resolve_plan_partitions(args, env, warnings);
  const SplitOptions options = resolve_split_options(args, partitions.total, env);
  const bool strict = resolve_strict(args.strict, env);

  std::vector<Test> tests;
  std::string list_name;
  if (const auto build_dir = args.flag("--build-dir", args.build_dir)) {
    tests = list_build_dir(*build_dir);
    list_name = *build_dir;
  } else {
    const std::optional<std::string> path = args.flag("--tests", args.tests);
    tests = read_tests(path,
                       "no test list: pass --build-dir DIR or --tests FILE, or pipe one in: "
                       "ctest --show-only=json-v1 | tlb plan ...");
    list_name = io::display_name(path.value_or("-"));
  }
  if (tests.empty()) warnings.push_back(list_name + ": the test list is empty");

  const HistorySource source = load_history(args.flag("--store", args.store),
                                            args.flag("--durations", args.durations), env, strict, warnings);
  const io::SplitFingerprint fingerprint = io::fingerprint_split(tests, source.loaded.hash, options);
  const Plan plan = split(std::move(tests), source.loaded.history, options);
  if (const auto out_path = args.flag("--out", args.out)) {
    write_plan(*out_path, plan, fingerprint, source, resolve_orderers(std::nullopt, env));
  }
  if (source.given && source.loaded.status == store::HistoryStatus::ok && !plan.declined.empty()) {
    warnings.push_back("no test in the list has a recorded duration; split by " +
                       std::string(to_string(plan.splitter)));
  }
  for (const std::string& warning : warnings) err << "tlb: warning: " << warning << "\n";

  if (args.json) {
    out << plan_json(plan, partitions, source.origin);
    return;
  }
  print_plan(out, plan,
             PlanContext{partitions.total, partitions.mine, partitions.source, source.origin,
                         use_color(args.color, env)});
}

}  // namespace

std::function<void(std::ostream&, std::ostream&, const Environment&)> add_plan_command(CLI::App& app) {
  auto args = std::make_shared<PlanArgs>();
  CLI::App* cmd = app.add_subcommand("plan", "Show how the suite will be split, before a run.");
  args->command = cmd;
  cmd->description(
      "Show how the suite will be split, before a run: each partition's tests and predicted time.\n\n"
      "A row per partition: its tests, its predicted time, how many of its tests have no history (estimated\n"
      "from COST or the mean of the others), and its predicted time over the lower bound; a total row; then\n"
      "the predicted makespan (the partition that finishes last) against the lower bound, the time before\n"
      "which no split can finish: the work over N partitions, or the longest test with its fixtures. When\n"
      "the longest test sets the bound, more partitions cannot make the run shorter.\n\n"
      "The inputs are tlb split's: the test list from --tests FILE or stdin, or --build-dir DIR, which runs\n"
      "`ctest --show-only=json-v1 --test-dir DIR` itself (ctest from PATH); history from --store/TLB_STORE\n"
      "or --durations; the number of partitions from --total or TLB_TOTAL_PARTITIONS (required). With a\n"
      "server store and a job version (TLB_JOB_VERSION, or the CI's run id), the plan is made on that run's\n"
      "snapshot, as its partitions will be. Colour only on a terminal, unless NO_COLOR is set.\n\n"
      "Examples:\n"
      "  tlb plan --build-dir build --store .tlb/timings.txt --total 4\n"
      "  ctest --test-dir build --show-only=json-v1 | tlb plan --durations CTestCostData.txt --total 8 "
      "--json");
  CLI::Option* tests =
      cmd->add_option("--tests", args->tests,
                      "Test list: `ctest --show-only=json-v1` output or one name a line [stdin]")
          ->type_name("FILE");
  cmd->add_option("--build-dir", args->build_dir,
                  "List the tests of this build tree with `ctest --show-only=json-v1 --test-dir DIR`")
      ->type_name("DIR")
      ->excludes(tests);
  cmd->add_option("--durations", args->durations,
                  "Known durations, as for tlb split (format detected). A missing file: no history yet")
      ->type_name("FILE");
  cmd->add_option("--store", args->store, "History: a timing file or server URL [TLB_STORE]")
      ->type_name("URL");
  add_split_flags(cmd, *args);
  cmd->add_option("--color", args->color,
                  "Colour the table: auto (on a terminal, without NO_COLOR), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->type_name("WHEN");
  cmd->add_flag(
      "--json", args->json,
      "JSON: {\"partitions\": [{number, tests, predicted_seconds, tests_without_history, bound_ratio}],"
      " \"totals\", \"predicted_makespan_seconds\", \"lower_bound_seconds\", \"ratio\"}");
  cmd->add_flag("--strict", args->strict, "Fail instead of planning without history [TLB_STRICT]");
  cmd->add_option("--out", args->out,
                  "Also write the whole plan to FILE, for every partition's hook to take its share from "
                  "(TLB_PLAN=FILE): plan once, run N times")
      ->type_name("FILE");
  add_run_key_option(cmd, args->run_key);
  cmd->footer(
      "Exit status: 0 success, 1 bad input file or ctest failed, 2 bad flag or variable. Every variable: "
      "README.md.");
  return [args](std::ostream& out, std::ostream& err, const Environment& env) {
    run_plan(*args, out, err, with_variable(env, "TLB_RUN_KEY", args->run_key));
  };
}

}  // namespace tlb::cli
