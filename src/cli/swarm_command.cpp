#include "cli/swarm_command.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <thread>

#include "cli/app.hpp"
#include "cli/swarm_client.hpp"
#include "io/atomic_file.hpp"
#include "io/record.hpp"
#include "io/text.hpp"
#include "store/store.hpp"

namespace tlb::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kPollEvery = std::chrono::seconds(1);

struct SwarmRunArgs {
  std::optional<std::string> server;
  std::string build_dir = ".";
  std::optional<std::string> config;
  std::optional<std::string> job;
  std::optional<std::string> job_version;
  std::optional<std::string> record_dir;
  std::optional<std::string> output_junit;
  std::optional<std::string> timeout;
  bool quiet = false;
};

std::string duration_text(double seconds) {
  const long long whole = std::llround(seconds);
  if (whole < 120) return std::to_string(whole) + " s";
  return std::to_string((whole + 30) / 60) + " min";
}

// "10/24 done, 3 running, 11 pending, 1 failed; 3 agents" (no agents once done), without the time left,
// which changes on every poll.
std::string progress_counts(const json& progress) {
  // Agents with the run's test list that are still heard from; gone ones stay listed.
  const json listed = progress.value("agents", json::array());
  const auto agents = static_cast<std::size_t>(std::count_if(
      listed.begin(), listed.end(), [](const json& agent) { return agent.value("live", true); }));
  std::ostringstream line;
  line << progress.value("done", 0) << "/" << progress.value("tests", 0) << " done, "
       << progress.value("running", 0) << " running, " << progress.value("pending", 0) << " pending, "
       << progress.value("failed", 0) << " failed";
  if (progress.value("state", "") == "done") return line.str();
  line << "; "
       << (agents == 0 ? "waiting for agents"
                       : std::to_string(agents) + (agents == 1 ? " agent" : " agents"));
  return line.str();
}

std::string progress_line(const json& progress) {
  std::string line = "tlb swarm: " + progress_counts(progress);
  const double left = progress.value("estimated_remaining_seconds", 0.0);
  if (progress.value("state", "") != "done" && left >= 0.5)
    line += "; about " + duration_text(left) + " left";
  return line;
}

void print_summary(const RunResults& results, std::ostream& out) {
  for (const FinalResult& test : results.tests) {
    if (test.status == io::ResultStatus::failed) {
      out << "tlb swarm: FAILED " << test.name << " (agent " << results.agent_name(test.agent) << ")\n";
    } else if (test.status == io::ResultStatus::error) {
      out << "tlb swarm: ERROR " << test.name << " (no result: the swarm gave up after its retries)\n";
    }
  }
  for (const FinalResult& test : results.tests) {
    if (test.flaky) out << "tlb swarm: flaky " << test.name << " (failed on one agent, passed on another)\n";
  }
  for (const Duplicate& duplicate : results.duplicates) {
    std::string where;
    for (std::size_t i = 0; i < duplicate.agents.size(); ++i) {
      where += (i == 0                             ? ""
                : i + 1 == duplicate.agents.size() ? " and "
                                                   : ", ") +
               results.agent_name(duplicate.agents[i]);
    }
    out << "tlb swarm: duplicate " << duplicate.name << " (ran on " << where << ")\n";
  }
  for (const AgentSummary& agent : results.agents) {
    if (agent.state != "evicted") continue;
    out << "tlb swarm: agent " << (agent.name.empty() ? agent.id : agent.name + " (" + agent.id + ")")
        << " was evicted" << (agent.evicted_because.empty() ? "" : ": " + agent.evicted_because) << "\n";
  }
  out << ctest_summary(results.tests) << "\n";
}

struct RecordContext {
  std::vector<std::string> all_tests;  // Sorted.
  std::string server_url;
  std::string job;
  std::string job_version;
  std::string recorded_on;
};

// One partition record per agent that ran tests, in the order of the results' agents: partition i of M holds
// the tests whose result came from that agent. A duplicate is in each record of the agents that ran it, and a
// test that got no result (an error) is in none, so that `tlb verify` reports both. Skipped tests no agent
// ran (the coordinator settles disabled tests itself) go to partition 1, as a split gives a disabled test to
// a partition whose ctest reports it not run.
std::vector<io::PartitionRecord> partition_records(const RunResults& results, const RecordContext& context) {
  std::map<std::string, std::vector<io::RecordedResult>> by_agent;
  std::vector<io::RecordedResult> settled;
  for (const FinalResult& test : results.tests) {
    if (!test.agent.empty()) {
      by_agent[test.agent].push_back({test.name, test.status, test.seconds});
    } else if (test.status == io::ResultStatus::skipped) {
      settled.push_back({test.name, test.status, std::nullopt});
    }
  }
  for (const Duplicate& duplicate : results.duplicates) {
    const auto test = std::find_if(results.tests.begin(), results.tests.end(),
                                   [&](const FinalResult& t) { return t.name == duplicate.name; });
    if (test == results.tests.end()) continue;
    // The other agent's result is not the one that counts; the record keeps that it ran, not its duration.
    for (const std::string& agent : duplicate.agents) {
      if (agent != test->agent) by_agent[agent].push_back({test->name, test->status, std::nullopt});
    }
  }
  std::vector<std::string> order;
  for (const AgentSummary& agent : results.agents) {
    if (by_agent.contains(agent.id) && std::find(order.begin(), order.end(), agent.id) == order.end())
      order.push_back(agent.id);
  }
  std::vector<io::PartitionRecord> records;
  for (const std::string& agent : order) {
    std::vector<io::RecordedResult>& ran = by_agent[agent];
    if (records.empty()) ran.insert(ran.end(), settled.begin(), settled.end());
    std::sort(ran.begin(), ran.end(),
              [](const io::RecordedResult& a, const io::RecordedResult& b) { return a.name < b.name; });
    io::PartitionRecord record;
    record.partition = static_cast<int>(records.size()) + 1;
    record.total = static_cast<int>(order.size());
    record.splitter = "swarm";
    record.all_tests = context.all_tests;
    record.test_list_hash = io::hash_names(context.all_tests);
    record.history_source = context.server_url;
    record.job = context.job;
    record.job_version = context.job_version;
    record.history_status = "ok";
    for (const io::RecordedResult& result : ran) record.tests.push_back(result.name);
    record.has_results = true;
    record.results = std::move(ran);
    record.recorded_on = context.recorded_on;
    records.push_back(std::move(record));
  }
  return records;
}

// Replaces the records of an earlier run in `dir` (partition-*.json, the names `tlb split --record-dir` uses
// too) with `records`, as partition-K-of-M.json.
void write_records(const std::string& dir, const std::vector<io::PartitionRecord>& records) {
  std::error_code error;
  if (fs::is_directory(dir, error)) {
    for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
      const std::string file = entry.path().filename().string();
      if (file.starts_with("partition-") && file.ends_with(".json")) fs::remove(entry.path());
    }
  }
  for (const io::PartitionRecord& record : records) {
    const std::string name =
        "partition-" + std::to_string(record.partition) + "-of-" + std::to_string(record.total) + ".json";
    io::write_record((fs::path(dir) / name).string(), record);
  }
}

double timeout_seconds(const std::optional<std::string>& flag) {
  if (!flag) return 0;
  const std::optional<double> value = io::parse_number(io::trim(*flag));
  if (!value || *value < 0)
    throw UsageError("--timeout " + *flag + ": not a number of seconds (0 or more; 0: none)");
  return *value;
}

int run_swarm(const SwarmRunArgs& args, std::ostream& out, std::ostream& err, const Environment& env) {
  const SwarmServer server = resolve_swarm_server(args.server, env);
  const store::ServerOptions options = resolve_server_options(env);
  const std::optional<Setting> job = pick(args.job, "--job", env, "TLB_JOB_NAME");
  if (!job) throw UsageError("no job name: pass --job NAME or set TLB_JOB_NAME (the history the run uses)");
  const std::string version = args.job_version.value_or(options.job_version);
  const double timeout = timeout_seconds(args.timeout);
  check_build_tree(args.build_dir);
  const std::string record_dir = args.record_dir.value_or((fs::path(args.build_dir) / "tlb").string());
  const std::string recorded_on =
      store::format_date(resolve_today(env));  // A bad value must not wait for the run.

  const std::vector<Test> tests = list_tests(BuildTree{args.build_dir, args.config});
  if (tests.empty()) {
    err << "tlb swarm: no tests in " << args.build_dir << "; nothing to run\n";
    return kSuccess;
  }
  const SwarmClient client(server);
  const auto started = Clock::now();
  Answer submitted;
  try {
    submitted = client.post("/runs", submission(tests, job->value, version, "swarm"));
  } catch (const NoAnswer& e) {
    throw io::InputError(server.url, 0, std::string("cannot submit the run: ") + e.what());
  }
  if (!submitted.ok()) throw io::InputError(server.url, 0, "cannot submit the run: " + submitted.error());

  try {
    const std::string run = run_id(submitted.body.at("run"));
    const std::string run_version = submitted.body.value("version", version);
    if (!args.quiet) {
      out << "tlb swarm: run " << run << " of job " << job->value << " (version " << run_version
          << "): " << tests.size() << " test" << (tests.size() == 1 ? "" : "s") << ", about "
          << duration_text(submitted.body.value("estimated_seconds", 0.0)) << " of work, on " << server.url
          << std::endl;
    }

    std::string shown;
    std::optional<Clock::time_point> silent_since;
    for (;;) {
      std::string trouble;
      try {
        const Answer answer = client.get("/runs/" + run);
        if (answer.ok()) {
          silent_since.reset();
          const std::string counts = progress_counts(answer.body);
          if (counts != shown && !args.quiet) out << progress_line(answer.body) << std::endl;
          shown = counts;
          if (answer.body.value("state", "") == "done") break;
        } else if (answer.status < 500) {
          throw io::InputError(server.url, 0, "cannot follow run " + run + ": " + answer.error());
        } else {
          trouble = answer.error();
        }
      } catch (const NoAnswer& e) {
        trouble = e.what();
      }
      const auto now = Clock::now();
      if (!trouble.empty()) {
        if (!silent_since) silent_since = now;
        if (now - *silent_since >= kPatience) {
          throw io::InputError(server.url, 0, "lost run " + run + ": " + trouble);
        }
      }
      if (timeout > 0 && now - started >= std::chrono::duration<double>(timeout)) {
        err << "tlb swarm: gave up waiting for run " << run << " at " << server.url << " after --timeout "
            << io::trim(*args.timeout) << " s" << (shown.empty() ? "" : " (" + shown + ")") << "\n";
        return kInputError;
      }
      std::this_thread::sleep_for(kPollEvery);
    }

    Answer fetched;
    try {
      fetched = client.get("/runs/" + run + "/results");
    } catch (const NoAnswer& e) {
      throw io::InputError(server.url, 0, "cannot fetch the results of run " + run + ": " + e.what());
    }
    if (!fetched.ok()) {
      throw io::InputError(server.url, 0, "cannot fetch the results of run " + run + ": " + fetched.error());
    }
    const RunResults results = parse_run_results(fetched.body);
    print_summary(results, out);

    const RecordContext context{sorted_names(tests), server.url, job->value,
                                fetched.body.value("version", run_version), recorded_on};
    const std::vector<io::PartitionRecord> records = partition_records(results, context);
    write_records(record_dir, records);
    if (!args.quiet) {
      out << "tlb swarm: " << records.size() << " partition record" << (records.size() == 1 ? "" : "s")
          << " (one per agent) in " << record_dir << "; check them with: tlb verify " << record_dir << "\n";
    }
    if (args.output_junit) io::write_file_atomically(*args.output_junit, junit_xml(results, job->value));
    return std::any_of(results.tests.begin(), results.tests.end(), is_failure) ? kTestsFailed : kSuccess;
  } catch (const json::exception& e) {
    throw io::InputError(server.url, 0, std::string("not an answer of the swarm protocol: ") + e.what());
  }
}

}  // namespace

std::function<int(std::ostream&, std::ostream&, const Environment&)> add_swarm_command(CLI::App& app) {
  auto args = std::make_shared<SwarmRunArgs>();
  CLI::App* group = app.add_subcommand("swarm", "Run a test suite on a swarm of volunteer agents.");
  group->description(
      "Run a test suite on a swarm of volunteer agents (tlb agent), coordinated by a tlb server.\n\n"
      "Instead of N fixed partitions, machines volunteer: each runs `tlb agent --server URL` in its copy of\n"
      "the build tree, and the coordinator hands out tests as agents pull, longest first, fastest and most\n"
      "reliable agents first (docs/swarm-protocol.md).");
  group->require_subcommand(1);
  CLI::App* cmd = group->add_subcommand(
      "run", "Run the build tree's test suite on a swarm: submit it, show progress, wait for the results.");
  cmd->description(
      "Run the build tree's test suite on a swarm: submit it to the coordinator, show progress, wait for\n"
      "the results.\n\n"
      "The tests are what `ctest --show-only=json-v1` lists in the build tree (names, COST, labels,\n"
      "DISABLED); agents whose tree lists the same tests run them. Progress is printed when it changes. At\n"
      "the end: each failed test with the agent it failed on, flaky tests, tests two agents ran, evicted\n"
      "agents, and ctest's summary line. One partition record per agent goes to --record-dir (as\n"
      "partition-K-of-M.json; earlier partition-*.json records there are removed), so `tlb verify DIR` "
      "proves\n"
      "that every test ran exactly once, and `tlb report` shows the run.\n\n"
      "Example:\n"
      "  tlb swarm run --server http://tlb.ci:7019 --job app --build-dir build --output-junit swarm.xml");
  cmd->add_option("--server", args->server, "The coordinator: a tlb server's URL [TLB_STORE, TLB_BASE_URL]")
      ->type_name("URL");
  cmd->add_option("--build-dir", args->build_dir, "The ctest build tree whose tests to run [.]")
      ->type_name("DIR");
  cmd->add_option("-C,--build-config", args->config, "Passed to ctest -C (multi-config generators)")
      ->type_name("CFG");
  cmd->add_option("--job", args->job, "The job: whose history estimates the tests [TLB_JOB_NAME; required]")
      ->type_name("NAME");
  cmd->add_option("--job-version", args->job_version,
                  "This run of the job [TLB_JOB_VERSION, else the CI's run id; none: the server makes one]")
      ->type_name("V");
  cmd->add_option("--record-dir", args->record_dir, "Where the partition records go [<build-dir>/tlb]")
      ->type_name("DIR");
  cmd->add_option("--output-junit", args->output_junit, "Write every test's result as one JUnit XML file")
      ->type_name("FILE");
  cmd->add_option("--timeout", args->timeout, "Give up waiting after this long; exit 1 [0: never]")
      ->type_name("SECONDS");
  cmd->add_flag("--quiet", args->quiet, "Print only the failures and the summary line");
  cmd->footer(
      "TLB_TOKEN is sent as a bearer token; TLB_SERVER_TIMEOUT bounds each request (seconds, default 5).\n"
      "Exit status: 0 every test passed or was skipped, 8 a test failed (as ctest), 1 the coordinator could\n"
      "not be used or --timeout ran out, 2 bad flag or variable.");
  return [args](std::ostream& out, std::ostream& err, const Environment& env) {
    return run_swarm(*args, out, err, env);
  };
}

}  // namespace tlb::cli
