// What `tlb agent`, `tlb swarm run` and `tlb run --queue` share: where the coordinator is, JSON calls to its
// /api/v1/swarm routes (docs/swarm-protocol.md), an agent's session with it, the build tree's tests as ctest
// lists and runs them, and a run's results as the coordinator gives them (and as a JUnit file shows them).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/settings.hpp"
#include "io/results.hpp"
#include "platform/platform.hpp"
#include "tlb/test.hpp"

namespace tlb::cli {

constexpr int kTestsFailed = 8;  // ctest's exit status when a test failed.

// How long a client rides out a coordinator that does not answer (a restart, a network blip) before it gives
// up: long enough for a server to come back, short enough that a lost agent does not linger.
constexpr std::chrono::seconds kPatience{60};
constexpr double kFirstBackoffSeconds = 0.5;  // Empty pulls and retries wait 0.5 s, doubling up to 2 s.
constexpr double kLastBackoffSeconds = 2;

// The coordinator: a `tlb server`.
struct SwarmServer {
  std::string url;     // As given, without a trailing '/': for messages and records.
  std::string origin;  // scheme://host:port
  std::string prefix;  // The path the server lives under ("" at the root).
  std::string token;   // Sent as a bearer token; "" for none.
  double timeout_seconds = 5;
};

// --server, else TLB_STORE, else TLB_BASE_URL, which must then be an http(s) URL; TLB_TOKEN and
// TLB_SERVER_TIMEOUT. A missing or unusable setting is a UsageError naming it.
SwarmServer resolve_swarm_server(const std::optional<std::string>& flag, const Environment& env);

// The server did not answer: it cannot be reached, or the connection broke or timed out.
class NoAnswer : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Answer {
  int status = 0;
  nlohmann::json body;  // The JSON answer ({} when the body is not JSON).
  std::string
      reason;  // For a status other than 2xx: the server's one-line {"error": ...}, else its first line.

  bool ok() const { return status >= 200 && status < 300; }
  // "HTTP 409: <reason>".
  std::string error() const {
    return "HTTP " + std::to_string(status) + (reason.empty() ? "" : ": " + reason);
  }
};

class SwarmClient {
 public:
  explicit SwarmClient(SwarmServer server) : server_(std::move(server)) {}

  // `path` is under /api/v1/swarm ("/agents/a3/pull"). Throws NoAnswer when there is no HTTP answer.
  Answer post(const std::string& path, const nlohmann::json& body) const;
  Answer get(const std::string& path) const;

  const SwarmServer& server() const { return server_; }

 private:
  SwarmServer server_;
};

// A 410: the coordinator pushed this agent out.
class Evicted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// SIGINT and SIGTERM (platform::StopSignals: blocked in every thread on POSIX), taken by a thread of their
// own, which wakes whoever sleeps here.
class Lifetime {
 public:
  Lifetime();
  ~Lifetime();
  Lifetime(const Lifetime&) = delete;
  Lifetime& operator=(const Lifetime&) = delete;

  void stop();
  bool stopping();
  // The signal that stopped it; 0 while none came.
  int signal() const { return signal_; }
  // Sleeps for `seconds`; false when woken because the client stops.
  bool sleep(double seconds);

 private:
  platform::StopSignals signals_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<int> signal_{0};
  std::atomic<bool> finished_{false};
  std::thread watcher_;
};

// A test's result as an agent reports it.
struct TestOutcome {
  std::string status;  // passed, failed or skipped: what the protocol takes.
  double seconds = 0;
};

// An agent's calls to the coordinator: its own under /agents/<id>, each carrying the secret its registration
// answered, and the run it serves. `who` starts its warnings ("tlb agent").
class Session {
 public:
  Session(SwarmClient client, Lifetime& lifetime, std::ostream& err, std::string who, std::string id = "",
          std::string secret = "")
      : client_(std::move(client)),
        lifetime_(lifetime),
        err_(err),
        who_(std::move(who)),
        id_(std::move(id)),
        secret_(std::move(secret)) {}
  ~Session() { stop_heartbeat(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string& url() const { return client_.server().url; }
  const std::string& id() const { return id_; }

  // Registers (the answer's agent id and secret become this session's); returns the answer. Throws InputError
  // when the coordinator does not answer or refuses.
  nlohmann::json join(const nlohmann::json& registration);

  // Posts every `seconds` until stopped; an eviction it hears of stops the agent.
  void start_heartbeat(double seconds);
  void stop_heartbeat();

  // POSTs to /agents/<id><route>, retried with the same body (every call is safe to repeat) while the
  // coordinator does not answer or answers 5xx, for up to kPatience. nullopt when the agent stops meanwhile.
  // Throws Evicted on 410 and InputError on another refusal or when patience runs out.
  std::optional<nlohmann::json> call(const std::string& route, const nlohmann::json& body,
                                     const std::string& what);
  // Reports `outcome` for `assignment` (one of a pull's), as call() does.
  std::optional<nlohmann::json> report(const nlohmann::json& assignment, const TestOutcome& outcome);
  // Reports a whole pull's `assignments` in one call, each with its outcome in `outcomes` (by test name);
  // answers the list of results, in order, each with its "test".
  std::optional<nlohmann::json> report_all(const nlohmann::json& assignments,
                                           const std::map<std::string, TestOutcome>& outcomes);
  // GETs `path` (under /api/v1/swarm), retried as call() retries.
  std::optional<nlohmann::json> fetch(const std::string& path, const std::string& what);

  // Tells the coordinator this agent is gone, so that its unreported tests go back to the queue now rather
  // than when its lease runs out. Once, without retries: the agent is on its way out.
  void leave();

  std::optional<std::string> evicted();
  void set_evicted(std::string why);

 private:
  std::optional<nlohmann::json> retried(const std::function<Answer()>& send, const std::string& what);
  // `body` with this agent's secret, which every call of its carries.
  nlohmann::json with_secret(nlohmann::json body) const;

  SwarmClient client_;
  Lifetime& lifetime_;
  std::ostream& err_;
  std::string who_;
  std::string id_;
  std::string secret_;
  std::thread heartbeat_;
  std::mutex mutex_;
  std::optional<std::string> evicted_;
};

// 128 random bits in hex.
std::string random_key();

// What an agent registers with (docs/swarm-protocol.md): OS, architecture, cores, RAM, and a short benchmark
// whose score compares across machines.
nlohmann::json machine_attributes();

// A scratch directory (for ctest's JUnit files), removed however the client ends.
struct ScratchDir {
  std::filesystem::path path;
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// A build tree and how to run ctest in it.
struct BuildTree {
  std::string dir;
  std::optional<std::string> config;  // -C, for multi-config generators.
  std::string ctest = "ctest";        // Looked up on PATH when it has no '/'.
};

// A UsageError naming `setting` (the flag that gave `dir`) when `dir` holds no CTestTestfile.cmake.
void check_build_tree(const std::string& dir, std::string_view setting = "--build-dir");

// `ctest --show-only=json-v1` in the tree. Throws InputError when ctest fails or its answer is not a test
// list.
std::vector<Test> list_tests(const BuildTree& tree);

// The sorted names of `tests`.
std::vector<std::string> sorted_names(const std::vector<Test>& tests);

// The outcomes of `names` in the JUnit file ctest wrote to `path`, as the protocol takes them: an error is a
// failure, a missing time is `untimed`. Names the file does not give are left out; a file that is missing or
// cannot be read gives none (the latter with a warning to `err`, started by `who`).
std::map<std::string, TestOutcome> junit_outcomes(const std::string& path, const std::set<std::string>& names,
                                                  double untimed, std::ostream& err, std::string_view who);

// A regular expression for ctest -R (CMake's syntax) that matches exactly `names`: "^(a|b\.c)$".
std::string exactly(const std::vector<std::string>& names);

// The body of POST /runs: the tree's tests for `job`; `version` "" lets the server make one; `mode` swarm or
// queue.
nlohmann::json submission(const std::vector<Test>& tests, const std::string& job, const std::string& version,
                          std::string_view mode);

// A run's id as text, from the number (or string) the coordinator gives.
std::string run_id(const nlohmann::json& run);

// One test's final result, as GET /runs/{run}/results gives it.
struct FinalResult {
  std::string name;
  io::ResultStatus status = io::ResultStatus::passed;
  std::optional<double> seconds;
  std::string agent;  // Whose result counts; "" when no agent produced one.
  bool flaky = false;
};

struct AgentSummary {
  std::string id;
  std::string name;
  std::string state;
  std::string evicted_because;
};

struct Duplicate {
  std::string name;
  std::vector<std::string> agents;
};

struct RunResults {
  std::vector<FinalResult> tests;  // Sorted by name.
  std::vector<AgentSummary> agents;
  std::vector<Duplicate> duplicates;

  // How the agent `id` is shown: its name, else its id.
  std::string agent_name(const std::string& id) const;
};

// The answer of GET /runs/{run}/results. A status the coordinator made up is an error: it must not pass for a
// pass. Throws nlohmann::json::exception when the answer is not the protocol's.
RunResults parse_run_results(const nlohmann::json& body);

// Failed, or no result at all.
bool is_failure(const FinalResult& result);

// Why a finished run's results do not prove it, as `tlb verify` against the server would say: tests that ran
// as their own run on two agents, tests without a result. "" when they prove it.
std::string unproven_because(const RunResults& results);

// ctest's last line: "100% tests passed, 0 tests failed out of 24". Skipped tests count as passed, as ctest
// counts disabled ones.
std::string ctest_summary(const std::vector<FinalResult>& tests);

// `results.tests` as one JUnit testsuite named `suite`, for a CI's test view.
std::string junit_xml(const RunResults& results, const std::string& suite);

}  // namespace tlb::cli
