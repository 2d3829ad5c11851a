#include "cli/agent_command.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "cli/app.hpp"
#include "cli/child_process.hpp"
#include "cli/swarm_client.hpp"
#include "io/record.hpp"
#include "io/text.hpp"
#include "platform/platform.hpp"

namespace tlb::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct AgentArgs {
  std::optional<std::string> server;
  std::string build_dir = ".";
  std::optional<std::string> name;
  std::optional<std::string> config;
  std::string ctest = "ctest";
  bool exit_when_idle = false;
};

std::string default_name() {
  const std::string host = platform::host_name();
  return (host.empty() ? "agent" : host) + "-" + std::to_string(platform::process_id());
}

std::string seconds_text(double seconds) {
  std::ostringstream text;
  text.imbue(std::locale::classic());
  text.setf(std::ios::fixed);
  text.precision(2);
  text << seconds << " s";
  return text.str();
}

// Runs one test with ctest in the tree and reads its result from ctest's JUnit file. A test ctest could not
// run (no result for it) failed, taking the wall time.
TestOutcome run_test(const BuildTree& tree, const std::string& test, double timeout_seconds,
                     const fs::path& junit, std::ostream& err) {
  std::error_code ignored;
  fs::remove(junit, ignored);
  std::vector<std::string> argv{tree.ctest, "--test-dir", tree.dir};
  if (tree.config) argv.insert(argv.end(), {"-C", *tree.config});
  argv.insert(argv.end(), {"-R", exactly({test}), "--output-junit", junit.string(), "--no-tests=error"});
  // ctest's default timeout, for tests without a TIMEOUT of their own: a hung test must not hold the agent.
  if (timeout_seconds > 0)
    argv.insert(argv.end(), {"--timeout", std::to_string(std::lround(std::ceil(timeout_seconds)))});
  const auto start = Clock::now();
  const ChildResult ran = run_child(argv);
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();

  const std::map<std::string, TestOutcome> found =
      junit_outcomes(junit.string(), {test}, wall, err, "tlb agent");
  if (found.contains(test)) return found.at(test);
  const std::string why(io::trim(ran.err.substr(0, ran.err.find('\n'))));
  err << "tlb agent: " << test << ": ctest did not run it (exit status " << ran.status << ")"
      << (why.empty() ? "" : ": " + why) << "\n";
  return TestOutcome{"failed", wall};
}

int run_agent(const AgentArgs& args, std::ostream& out, std::ostream& err, const Environment& env) {
  const SwarmServer server = resolve_swarm_server(args.server, env);
  check_build_tree(args.build_dir);
  const BuildTree tree{args.build_dir, args.config, args.ctest};
  const std::string name =
      pick(args.name, "--name", env, "TLB_AGENT_NAME").value_or(Setting{default_name(), ""}).value;

  const std::vector<std::string> names = sorted_names(list_tests(tree));
  json registration{{"key", random_key()},
                    {"name", name},
                    {"test_list_hash", io::hash_names(names)},
                    {"attributes", machine_attributes()}};

  Lifetime lifetime;  // Before the heartbeat thread starts, so that it inherits the blocked signals.
  Session session(SwarmClient(server), lifetime, err, "tlb agent");
  const json joined = session.join(registration);
  out << "tlb agent: " << name << " (agent " << session.id() << ") joined " << server.url << ", "
      << names.size() << " test" << (names.size() == 1 ? "" : "s") << " in " << args.build_dir << std::endl;

  const ScratchDir scratch{fs::temp_directory_path() /
                           ("tlb-agent-" + std::to_string(platform::process_id()))};
  fs::create_directories(scratch.path);
  const fs::path junit = scratch.path / "junit.xml";

  session.start_heartbeat(std::max(0.1, joined.value("heartbeat_seconds", 10.0)));
  try {
    long long pulls = 0;
    double backoff = kFirstBackoffSeconds;
    while (!lifetime.stopping()) {
      // The same request id until it is answered: a retried pull gets the answer the lost one had.
      const std::optional<json> pulled =
          session.call("/pull", {{"request_id", session.id() + "-" + std::to_string(++pulls)}}, "pull tests");
      if (!pulled) break;
      const json assignments = pulled->value("assignments", json::array());
      if (assignments.empty()) {
        if (args.exit_when_idle && pulled->value("idle", false)) break;
        const double suggested = pulled->value("retry_after_seconds", 0.0);
        lifetime.sleep(suggested > 0 ? suggested : backoff);
        backoff = std::min(backoff * 2, kLastBackoffSeconds);
        continue;
      }
      backoff = kFirstBackoffSeconds;
      for (const json& assignment : assignments) {
        if (lifetime.stopping()) break;
        const std::string test = assignment.at("test").get<std::string>();
        const TestOutcome outcome =
            run_test(tree, test, assignment.value("timeout_seconds", 0.0), junit, err);
        // Stopped while it ran: the test may have been interrupted too, so its result is not reported;
        // leaving hands it back.
        if (lifetime.stopping()) break;
        const std::optional<json> reported = session.report(assignment, outcome);
        if (!reported) break;
        out << "tlb agent: " << test << ": " << outcome.status << " in " << seconds_text(outcome.seconds)
            << (reported->value("authoritative", true) ? ""
                                                       : " (a second opinion: its lease had been taken back)")
            << std::endl;
      }
    }
  } catch (const Evicted& e) {
    session.set_evicted(e.what());
  } catch (const json::exception& e) {
    throw io::InputError(server.url, 0, std::string("not an answer of the swarm protocol: ") + e.what());
  }
  session.stop_heartbeat();
  if (const std::optional<std::string> why = session.evicted()) {
    err << "tlb agent: evicted by the coordinator: " << *why << "\n";
    return kInputError;
  }
  session.leave();
  return kSuccess;
}

}  // namespace

std::function<int(std::ostream&, std::ostream&, const Environment&)> add_agent_command(CLI::App& app) {
  auto args = std::make_shared<AgentArgs>();
  CLI::App* cmd =
      app.add_subcommand("agent", "Volunteer this machine to a swarm: pull tests, run them, report.");
  cmd->description(
      "Volunteer this machine to a swarm: pull tests, run them with ctest, report each result.\n\n"
      "The agent registers with the coordinator (a tlb server), pulls tests, runs each alone with ctest in\n"
      "the build tree (`ctest --test-dir DIR -R '^name$' --output-junit FILE`) and reports its result as it\n"
      "finishes. The tree must hold the suite the submitter's `tlb swarm run` lists: the agent only gets\n"
      "runs whose test list is the same. ctest gets this process's environment less the partition\n"
      "variables (TLB_PARTITION_NUMBER, CI_NODE_INDEX...). A heartbeat keeps the agent's tests leased to\n"
      "it; a coordinator that stops answering is waited for up to 60 s.\n\n"
      "Example:\n"
      "  tlb agent --server http://tlb.ci:7019 --build-dir build --exit-when-idle");
  cmd->add_option("--server", args->server, "The coordinator: a tlb server's URL [TLB_STORE, TLB_BASE_URL]")
      ->type_name("URL");
  cmd->add_option("--build-dir", args->build_dir, "The ctest build tree to run tests in [.]")
      ->type_name("DIR");
  cmd->add_option("--name", args->name, "How the swarm shows this agent [TLB_AGENT_NAME, <hostname>-<pid>]")
      ->type_name("NAME");
  cmd->add_option("-C,--build-config", args->config, "Passed to ctest -C (multi-config generators)")
      ->type_name("CFG");
  cmd->add_flag("--exit-when-idle", args->exit_when_idle,
                "Exit 0 once no run has work pending or running (else: until SIGTERM or SIGINT)");
  cmd->add_option("--ctest", args->ctest, "The ctest to run [ctest, from PATH]")->type_name("PATH");
  cmd->footer(
      "Prints one line when it joins and one per test: 'tlb agent: NAME: passed in 1.23 s'.\n"
      "TLB_TOKEN is sent as a bearer token; TLB_SERVER_TIMEOUT bounds each request (seconds, default 5).\n"
      "SIGTERM or SIGINT: reports nothing more, leaves the swarm (its tests go back to the queue), exits 0.\n"
      "Exit status: 0 stopped or idle, 1 evicted by the coordinator or lost it, 2 bad flag or variable.");
  return [args](std::ostream& out, std::ostream& err, const Environment& env) {
    return run_agent(*args, out, err, env);
  };
}

}  // namespace tlb::cli
