#include "cli/run_command.hpp"

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <string_view>

#include "cli/app.hpp"
#include "cli/child_process.hpp"
#include "cli/plan_view.hpp"
#include "cli/run_key.hpp"
#include "cli/split_inputs.hpp"
#include "cli/swarm_client.hpp"
#include "io/atomic_file.hpp"
#include "io/record.hpp"
#include "io/results.hpp"
#include "io/text.hpp"
#include "platform/platform.hpp"
#include "swarm/policy.hpp"
#include "tlb/split.hpp"

namespace tlb::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ctest's regular expressions compile to at most 64 KiB; a longer -R fails to compile, and ctest then runs
// nothing and says only "No tests were found". A batch whose names do not fit runs as several ctest commands.
constexpr std::size_t kMaxRegex = 30000;

// The key a job registers with is at most this long (the protocol's limit).
constexpr std::size_t kMaxKey = 128;

// ctest options that choose tests, or run none: in queue mode the server chooses. --preset may choose them
// too, and name the build tree, which queue mode must know.
constexpr std::array<std::string_view, 18> kSelecting = {"-R",
                                                         "--tests-regex",
                                                         "-E",
                                                         "--exclude-regex",
                                                         "-L",
                                                         "-LE",
                                                         "--label-regex",
                                                         "--label-exclude",
                                                         "-I",
                                                         "--tests-information",
                                                         "-U",
                                                         "--union",
                                                         "--rerun-failed",
                                                         "--tests-from-file",
                                                         "--exclude-from-file",
                                                         "-N",
                                                         "--show-only",
                                                         "--preset"};

struct RunArgs {
  bool queue = false;
  std::optional<std::string> server;
  std::vector<std::string> command;  // The ctest command line: the program, then its arguments.
  std::string run_key;               // --run-key: TLB_RUN_KEY, for the hook too.
};

// The ctest command line as queue mode reads it.
struct CtestCommand {
  BuildTree tree;
  bool test_dir_given = false;
  std::optional<std::string> output_junit;  // As given; relative to the build tree, as ctest takes it.
  std::vector<std::string> batch_argv;      // The program and the arguments every batch gets.
};

// `arg` is `flag` with a value joined by '=' (--test-dir=build): the value; else nullopt.
std::optional<std::string> joined_value(std::string_view arg, std::string_view flag) {
  if (arg.size() > flag.size() && arg.starts_with(flag) && arg[flag.size()] == '=')
    return std::string(arg.substr(flag.size() + 1));
  return std::nullopt;
}

// When command[i] is one of `flags` and its value (the next argument, or joined to a long flag by '='): the
// value, with `i` moved past it. A flag without its value is a UsageError.
std::optional<std::string> flag_value(const std::vector<std::string>& command, std::size_t& i,
                                      std::initializer_list<std::string_view> flags) {
  for (std::string_view flag : flags) {
    if (command[i] == flag) {
      if (i + 1 == command.size()) throw UsageError("ctest " + command[i] + " needs a value");
      return command[++i];
    }
    if (flag.starts_with("--")) {
      if (std::optional<std::string> value = joined_value(command[i], flag)) return value;
    }
  }
  return std::nullopt;
}

// Takes --test-dir, -C/--build-config and --output-junit out of the arguments (each batch gets its own), and
// refuses the options that choose tests. A UsageError names the argument.
CtestCommand parse_ctest_command(const std::vector<std::string>& command) {
  CtestCommand parsed;
  parsed.tree.ctest = command.front();
  parsed.tree.dir = ".";
  parsed.batch_argv.push_back(command.front());
  for (std::size_t i = 1; i < command.size(); ++i) {
    const std::string& arg = command[i];
    for (std::string_view flag : kSelecting) {
      if (arg == flag || (flag.starts_with("--") && joined_value(arg, flag))) {
        throw UsageError("ctest " + arg +
                         ": queue mode chooses and runs the tests itself; drop it, or run without --queue");
      }
    }
    if (std::optional<std::string> dir = flag_value(command, i, {"--test-dir"})) {
      parsed.tree.dir = *dir;
      parsed.test_dir_given = true;
    } else if (std::optional<std::string> config = flag_value(command, i, {"-C", "--build-config"})) {
      parsed.tree.config = config;
    } else if (std::optional<std::string> junit = flag_value(command, i, {"--output-junit"})) {
      parsed.output_junit = junit;
    } else {
      parsed.batch_argv.push_back(arg);
    }
  }
  return parsed;
}

// Runs the command as given, in place of this process: same environment, same standard streams, and its
// exit status is this process's. Returns only when it cannot start (an InputError).
[[noreturn]] void run_as_given(const std::vector<std::string>& command, std::ostream& out,
                               std::ostream& err) {
  out.flush();
  err.flush();
  throw io::InputError(command.front(), 0, "cannot run it: " + platform::run_in_place(command));
}

// Runs `names` with ctest in the tree, its output streamed as ctest prints it, and reads each test's result
// from ctest's JUnit file: one ctest command, or a few when the names make too long a regular expression. A
// test the file does not name failed, in 0 s. Stops early, with what it has, when `lifetime` stops; a
// SIGINT or SIGTERM is passed on to ctest.
std::map<std::string, TestOutcome> run_batch(const CtestCommand& ctest, const std::vector<std::string>& names,
                                             const fs::path& junit, Lifetime& lifetime, std::ostream& out,
                                             std::ostream& err) {
  std::map<std::string, TestOutcome> outcomes;
  for (std::size_t begin = 0; begin < names.size() && !lifetime.stopping();) {
    // exactly({name}) is "^(name)$"; each further name adds "|name".
    std::size_t end = begin + 1;
    for (std::size_t size = exactly({names[begin]}).size(); end < names.size(); ++end) {
      size += exactly({names[end]}).size() - 3;
      if (size > kMaxRegex) break;
    }
    const std::vector<std::string> chunk(names.begin() + static_cast<std::ptrdiff_t>(begin),
                                         names.begin() + static_cast<std::ptrdiff_t>(end));
    begin = end;

    std::error_code ignored;
    fs::remove(junit, ignored);
    std::vector<std::string> argv = ctest.batch_argv;
    argv.insert(argv.end(), {"--test-dir", ctest.tree.dir});
    if (ctest.tree.config) argv.insert(argv.end(), {"-C", *ctest.tree.config});
    argv.insert(argv.end(), {"-R", exactly(chunk), "--output-junit", junit.string()});
    const int status = stream_child(argv, out, err, [&] { return lifetime.signal(); });

    // The batch's own tests only: ctest also runs the setup and cleanup tests of their fixtures.
    std::set<std::string> pending(chunk.begin(), chunk.end());
    for (auto& [name, outcome] : junit_outcomes(junit.string(), pending, 0, err, "tlb run")) {
      pending.erase(name);
      outcomes[name] = outcome;
    }
    if (!pending.empty() && !lifetime.stopping()) {
      err << "tlb run: " << pending.size() << " test" << (pending.size() == 1 ? "" : "s")
          << " without a result from ctest (exit status " << status
          << "), reported as failed: " << *pending.begin() << (pending.size() > 1 ? ", ..." : "") << "\n";
    }
    for (const std::string& name : pending) outcomes[name] = TestOutcome{"failed", 0};
  }
  return outcomes;
}

// The predicted makespan of this CI run's static split into `jobs`, when the server has history for it: the
// version's frozen snapshot, which every job of the run reads alike, so every job predicts the same. nullopt
// without history (estimates would be guesses) or when the server cannot be reached.
std::optional<double> predicted_share(const std::vector<Test>& tests, const RunArgs& args, int jobs,
                                      const Environment& env) {
  std::vector<std::string> warnings;
  HistorySource source = load_history(args.server, std::nullopt, env, false, warnings);
  if (source.loaded.status != store::HistoryStatus::ok || source.loaded.history.empty()) return std::nullopt;
  SplitOptions options;
  options.total = jobs;
  const Plan plan = split(tests, source.loaded.history, options);
  if (plan.splitter != Splitter::time || plan.tests_without_history != 0) return std::nullopt;
  return plan.predicted_makespan_seconds;
}

// What NoAnswer says, without the URL it starts with.
std::string why(const NoAnswer& e, const SwarmServer& server) {
  const std::string what = e.what();
  const std::string prefix = server.url + ": ";
  return what.starts_with(prefix) ? what.substr(prefix.size()) : what;
}

int run_queue(const RunArgs& args, std::ostream& out, std::ostream& err, const Environment& given) {
  const CtestCommand ctest = parse_ctest_command(args.command);
  // The build's part of the run key, as the hook would pass it: the cells of a CI matrix are runs of their
  // own.
  const Environment env =
      given("TLB_BUILD_IDENTITY")
          ? given
          : with_variable(given, "TLB_BUILD_IDENTITY", build_identity(ctest.tree.dir, ctest.tree.config));
  const SwarmServer server = resolve_swarm_server(args.server, env);
  const std::optional<Setting> job = pick(std::nullopt, "", env, "TLB_JOB_NAME");
  if (!job) {
    throw UsageError(
        "TLB_JOB_NAME is not set: queue mode needs the job's name (the same in every job of the CI run)");
  }
  const std::string version = store::run_version(resolve_server_options(env));
  if (version.empty()) {
    throw UsageError(
        "no CI run id: set TLB_JOB_VERSION, the same in every job of the CI run (or run where GITHUB_RUN_ID, "
        "CI_PIPELINE_ID, CIRCLE_WORKFLOW_ID or BUILDKITE_BUILD_ID names it)");
  }
  std::vector<std::string> warnings;
  const std::optional<PartitionChoice> partition =
      resolve_partition(std::nullopt, std::nullopt, env, warnings);
  for (const std::string& warning : warnings) err << "tlb run: warning: " << warning << "\n";
  if (!partition) {
    throw UsageError(
        "no partition: queue mode needs this job's number, TLB_PARTITION_NUMBER and TLB_TOTAL_PARTITIONS (or "
        "TLB_PARTITION=k/N, or TLB_TOTAL_PARTITIONS=auto and the CI's own: CI_NODE_INDEX, CIRCLE_NODE_INDEX, "
        "BUILDKITE_PARALLEL_JOB)");
  }
  const bool strict = resolve_strict(false, env);
  if (ctest.test_dir_given) {
    check_build_tree(ctest.tree.dir, "ctest --test-dir");
  } else {
    check_build_tree(fs::current_path().string(), "the current directory");
  }

  const std::vector<Test> tests = list_tests(ctest.tree);
  if (tests.empty()) {
    err << "tlb run: no tests in " << ctest.tree.dir << "; nothing to run\n";
    return kSuccess;
  }
  // A share of a few seconds: the batches would cost more than pulling saves. Every job decides alike (the
  // same test list, snapshot and number of jobs), so no run is submitted that nobody pulls.
  if (const std::optional<double> share = predicted_share(tests, args, partition->total, env)) {
    if (!swarm::queue_pays(*share, swarm::PolicySettings{})) {
      out << "tlb run: each job's share is about " << seconds_text(*share)
          << ", less than queue mode's batches would cost; running this job's static split" << std::endl;
      run_as_given(args.command, out, err);
    }
  }
  const std::string slot =
      "partition " + std::to_string(partition->number) + "/" + std::to_string(partition->total);
  const std::string host = platform::host_name();
  // The same key for the same job of the same CI run: a retried job is the same agent, and gets back what it
  // held; what it reported stands.
  std::string key = job->value + "/" + version + "/partition-" + std::to_string(partition->number);
  if (key.size() > kMaxKey) key = "queue/" + io::hash_names({key});
  const json registration{{"key", key},
                          {"name", slot + (host.empty() ? "" : " (" + host + ")")},
                          {"test_list_hash", io::hash_names(sorted_names(tests))},
                          {"attributes", machine_attributes()}};

  // Joining: the first job of the CI run submits the suite; the others find the same run.
  const SwarmClient client(server);
  json run_number;
  json joined;
  try {
    const Answer submitted = client.post("/runs", submission(tests, job->value, version, "queue"));
    if (!submitted.ok()) {
      throw io::InputError(server.url, 0,
                           "cannot join run " + version + " of job " + job->value + ": " + submitted.error());
    }
    run_number = submitted.body.at("run");
    const Answer enrolled = client.post("/agents", registration);
    if (!enrolled.ok()) throw io::InputError(server.url, 0, "cannot register this job: " + enrolled.error());
    joined = enrolled.body;
  } catch (const NoAnswer& e) {
    if (strict) {
      throw io::InputError(server.url, 0,
                           "the TLB server cannot be reached (" + why(e, server) + ") and TLB_STRICT is set");
    }
    // No threads yet: the command replaces this process as it is.
    err << "tlb run: warning: the TLB server at " << server.url << " cannot be reached (" << why(e, server)
        << "); running this job's static split\n";
    // Every job that cannot reach the server makes this same split without history; the hook may.
    platform::set_environment("TLB_STATIC_SPLIT", "1");
    run_as_given(args.command, out, err);
  } catch (const json::exception& e) {
    throw io::InputError(server.url, 0, std::string("not an answer of the swarm protocol: ") + e.what());
  }
  const std::string agent = joined.value("agent", "");
  if (agent.empty())
    throw io::InputError(server.url, 0, "cannot register this job: the answer names no agent");
  const std::string run = run_id(run_number);

  Lifetime lifetime;  // Before the heartbeat thread starts, so that it inherits the blocked signals.
  Session session(client, lifetime, err, "tlb run", agent, joined.value("secret", ""));
  session.start_heartbeat(std::max(0.1, joined.value("heartbeat_seconds", 10.0)));
  out << "tlb run: " << slot << " (agent " << agent << ") joined run " << run << " of job " << job->value
      << " (version " << version << ") on " << server.url << ", " << tests.size() << " test"
      << (tests.size() == 1 ? "" : "s") << std::endl;

  const ScratchDir scratch{fs::temp_directory_path() / ("tlb-run-" + std::to_string(platform::process_id()))};
  fs::create_directories(scratch.path);
  // Request ids unique to this process: a retried job is the same agent, and must not get the answers its
  // first attempt got.
  const std::string requests = agent + "-" + random_key().substr(0, 8) + "-";
  std::optional<json> final_results;
  try {
    long long pulls = 0;
    std::size_t ran = 0;
    double backoff = kFirstBackoffSeconds;
    while (!lifetime.stopping()) {
      const std::optional<json> pulled = session.call(
          "/pull", {{"request_id", requests + std::to_string(++pulls)}, {"run", run_number}}, "pull tests");
      if (!pulled) break;
      const json assignments = pulled->value("assignments", json::array());
      if (assignments.empty()) {
        const std::optional<json> progress = session.fetch("/runs/" + run, "follow run " + run);
        if (!progress) break;
        // Done; or nothing left for a job that came too late to get anything.
        if (progress->value("state", "") == "done") break;
        if (ran == 0 && progress->value("pending", 0) == 0) break;
        lifetime.sleep(std::max(pulled->value("retry_after_seconds", 0.0), backoff));
        backoff = std::min(backoff * 2, kLastBackoffSeconds);
        continue;
      }
      backoff = kFirstBackoffSeconds;
      std::vector<std::string> names;
      for (const json& assignment : assignments) names.push_back(assignment.at("test").get<std::string>());
      const std::map<std::string, TestOutcome> outcomes =
          run_batch(ctest, names, scratch.path / "junit.xml", lifetime, out, err);
      // Stopped while the batch ran: its results may be cut short, so none is reported; leaving hands the
      // tests back.
      if (lifetime.stopping()) break;
      // The batch's reports in one call: one round trip a batch, however many tests it holds.
      const std::optional<json> reported = session.report_all(assignments, outcomes);
      if (!reported) break;
      for (const json& result : *reported) {
        if (!result.value("authoritative", true)) {
          err << "tlb run: " << result.at("test").get<std::string>()
              << " had gone to another job (this one was silent too long); "
              << "its result here is kept as a second opinion\n";
        }
      }
      ran += assignments.size();
    }
    if (!lifetime.stopping()) final_results = session.fetch("/runs/" + run + "/results", "fetch the results");
  } catch (const Evicted& e) {
    session.set_evicted(e.what());
  } catch (const json::exception& e) {
    session.stop_heartbeat();
    session.leave();
    throw io::InputError(server.url, 0, std::string("not an answer of the swarm protocol: ") + e.what());
  } catch (...) {
    session.stop_heartbeat();
    session.leave();
    throw;
  }
  session.stop_heartbeat();
  if (const std::optional<std::string> evicted = session.evicted()) {
    err << "tlb run: the server pushed this job out: " << *evicted << "\n";
    return kInputError;
  }
  session.leave();
  if (!final_results) {
    const int signal = lifetime.signal();
    err << "tlb run: stopped by " << (signal == SIGINT ? "SIGINT" : "SIGTERM")
        << "; this job's unreported tests went back to the queue\n";
    return 128 + (signal == 0 ? SIGTERM : signal);
  }

  try {
    const RunResults all = parse_run_results(*final_results);
    const bool done = final_results->value("state", "") == "done";
    // This job's tests: those whose result came from it. Partition 1 also shows the tests no job ran: the
    // disabled ones, and, once the run is over, any the server gave up on, which must fail some job.
    RunResults mine;
    mine.agents = all.agents;
    for (const FinalResult& test : all.tests) {
      const bool unrun =
          test.agent.empty() && partition->number == 1 && (test.status == io::ResultStatus::skipped || done);
      if (test.agent == agent || unrun) mine.tests.push_back(test);
    }
    if (ctest.output_junit) {
      const fs::path junit = fs::path(ctest.tree.dir) / *ctest.output_junit;  // An absolute path stays.
      io::write_file_atomically(junit.string(), junit_xml(mine, job->value + " " + slot));
    }
    for (const FinalResult& test : mine.tests) {
      if (test.status == io::ResultStatus::failed) out << "tlb run: FAILED " << test.name << "\n";
      if (test.status == io::ResultStatus::error)
        out << "tlb run: ERROR " << test.name << " (no result: the server gave up after its retries)\n";
    }
    if (mine.tests.empty()) {
      out << "tlb run: nothing for " << slot << ": the run's " << all.tests.size()
          << " tests went to other jobs" << std::endl;
    } else {
      out << "tlb run: " << slot << " ran " << mine.tests.size() << " of the run's " << all.tests.size()
          << " tests\n"
          << ctest_summary(mine.tests) << std::endl;
    }
    // Every job of a run that ended unproven fails, whatever its own tests did: the CI run is not proven.
    if (const std::string unproven = done ? unproven_because(all) : ""; !unproven.empty()) {
      err << "tlb run: run " << run << " of job " << job->value << " ended unproven: " << unproven << "\n";
      return kInputError;
    }
    return std::any_of(mine.tests.begin(), mine.tests.end(), is_failure) ? kTestsFailed : kSuccess;
  } catch (const json::exception& e) {
    throw io::InputError(server.url, 0, std::string("not an answer of the swarm protocol: ") + e.what());
  }
}

}  // namespace

std::function<int(std::ostream&, std::ostream&, const Environment&)> add_run_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run ctest for this CI job: as is, or pulling tests from the TLB server as the job goes (--queue).");
  cmd->description(
      "Run ctest for this CI job: as is, or pulling tests from the TLB server as the job goes (--queue).\n\n"
      "`tlb run -- ctest ARGS` runs the command unchanged: include(TLB)'s hook makes the static split.\n\n"
      "`tlb run --queue -- ctest ARGS` joins the CI run on a TLB server (TLB_JOB_NAME, and TLB_JOB_VERSION "
      "or\n"
      "the CI's run id): the first job submits the build tree's tests, longest first by history, and every\n"
      "job pulls batches from that queue, runs each as one ctest command (ARGS plus -R for the batch's\n"
      "tests, without the partition variables), and reports each test, until the queue is empty. Jobs of\n"
      "different speeds finish together, whatever the history predicted. A job that dies loses its tests to\n"
      "the others when its lease runs out; run again with the same partition number, it rejoins and does "
      "not\n"
      "run again what it reported. A job that comes after the queue is empty exits 0 at once. The server\n"
      "then holds the run's records: `tlb verify` proves it. ctest's --output-junit FILE gets this job's\n"
      "tests; options that choose tests (-R, -E, -L, -I...) are refused.\n\n"
      "When the server's history predicts each job a share of a few seconds (the static split's makespan,\n"
      "below what its batches would cost: about 12 s), --queue says so in one line and runs the static\n"
      "split instead; every job of the run predicts the same from the run's frozen history.\n\n"
      "When the server cannot be reached, --queue warns and runs the command as given: the hook's static\n"
      "split, its record marked history unavailable. With TLB_STRICT=1 it fails instead.\n\n"
      "Example (job 2 of 4):\n"
      "  TLB_STORE=http://tlb.ci:7019 TLB_JOB_NAME=app TLB_PARTITION=2/4 \\\n"
      "    tlb run --queue -- ctest --test-dir build -j 2 --output-junit junit.xml");
  cmd->add_flag("--queue", args->queue, "Pull tests from the TLB server as the job goes");
  cmd->add_option("--server", args->server, "With --queue: the TLB server's URL [TLB_STORE, TLB_BASE_URL]")
      ->type_name("URL");
  add_run_key_option(cmd, args->run_key);
  cmd->add_option("command", args->command, "The ctest command line, after --: ctest and its arguments")
      ->required()
      ->type_name("CTEST");
  cmd->footer(
      "Queue mode reads TLB_JOB_NAME (required), TLB_JOB_VERSION (else GITHUB_RUN_ID, CI_PIPELINE_ID,\n"
      "CIRCLE_WORKFLOW_ID, BUILDKITE_BUILD_ID; required), this job's partition (TLB_PARTITION_NUMBER and\n"
      "TLB_TOTAL_PARTITIONS, TLB_PARTITION, or =auto and the CI's own variables; required), TLB_TOKEN, "
      "TLB_SERVER_TIMEOUT\n"
      "and TLB_STRICT.\n"
      "Exit status: as is, ctest's. With --queue: 0 every test of this job passed or was skipped, 8 one "
      "failed\n"
      "(as ctest), 1 the server failed it or the run ended unproven (a test ran on two jobs, or got no\n"
      "result), 2 bad flag or variable, 130 or 143 stopped by SIGINT or SIGTERM\n"
      "(its tests go back to the queue at once).");
  return [args](std::ostream& out, std::ostream& err, const Environment& env) {
    // The hook of the ctest run here reads the key from the environment.
    if (!args->run_key.empty()) platform::set_environment("TLB_RUN_KEY", args->run_key);
    if (!args->queue) run_as_given(args->command, out, err);
    return run_queue(*args, out, err, with_variable(env, "TLB_RUN_KEY", args->run_key));
  };
}

}  // namespace tlb::cli
