// Swarm mode end to end: a real `tlb server` as the coordinator, `tlb agent`s as real processes on loopback
// and `tlb swarm run` submitting the suite of the fixture project in tests/swarm/project, whose tests sleep
// longer when SWARM_SLOWDOWN says so: an agent started with SWARM_SLOWDOWN=4 really is four times slower.
// Each test starts its own coordinator on a fresh data directory, with short heartbeats and leases. Every
// child runs in a process group of its own, killed when the test ends, so no agent, ctest or test process
// outlives it.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.hpp"
#include "support/process.hpp"
#include "support/server_process.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using tlb::testing::ChildProcess;
using tlb::testing::read_text;
using tlb::testing::run_process;
using tlb::testing::ServerProcess;
using namespace std::chrono_literals;

namespace {

using Env = std::map<std::string, std::string>;
using Statuses = std::map<std::string, std::string>;  // Test name to passed, failed or skipped.

// A scratch directory under the build tree, emptied first and kept afterwards for a look at the logs.
fs::path scratch(const std::string& name) {
  fs::path dir = fs::path(TLB_SWARM_SCRATCH) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The search path of every child: the ctest the build found first, for `tlb swarm run` lists tests with it.
std::string child_path() {
  return fs::path(CTEST_COMMAND).parent_path().string() + ":/usr/bin:/bin";
}

std::string xml_unescaped(std::string text) {
  static const std::vector<std::pair<std::string, std::string>> entities = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&#39;", "'"}, {"&amp;", "&"}};
  for (const auto& [entity, character] : entities) {
    for (std::size_t at = 0; (at = text.find(entity, at)) != std::string::npos; at += character.size())
      text.replace(at, entity.size(), character);
  }
  return text;
}

struct JunitCase {
  std::string status;
  double seconds = 0;
};

// The test cases of a JUnit file, ctest's own or `tlb swarm run`'s, by name: failed for a <failure> or
// <error> (or ctest's status="fail"), skipped for a <skipped> (or ctest's status="notrun" or "disabled"),
// else passed.
std::map<std::string, JunitCase> junit_cases(const std::string& xml) {
  static const std::regex name_attribute(R"re(\sname="([^"]*)")re");
  static const std::regex time_attribute(R"re(\stime="([^"]*)")re");
  static const std::regex status_attribute(R"re(\sstatus="([^"]*)")re");
  std::map<std::string, JunitCase> cases;
  for (std::size_t at = 0; (at = xml.find("<testcase", at)) != std::string::npos;) {
    const std::size_t tag_end = xml.find('>', at);
    if (tag_end == std::string::npos) break;
    const std::string tag = xml.substr(at, tag_end - at);
    std::string body;
    if (xml[tag_end - 1] != '/') {
      const std::size_t close = xml.find("</testcase>", tag_end);
      body = xml.substr(tag_end, close == std::string::npos ? std::string::npos : close - tag_end);
    }
    at = tag_end;
    std::smatch found;
    if (!std::regex_search(tag, found, name_attribute)) continue;
    JunitCase test;
    const std::string name = xml_unescaped(found[1]);
    if (std::regex_search(tag, found, time_attribute)) test.seconds = std::stod(found[1]);
    const std::string status = std::regex_search(tag, found, status_attribute) ? found[1].str() : "";
    if (status == "fail" || body.find("<failure") != std::string::npos ||
        body.find("<error") != std::string::npos) {
      test.status = "failed";
    } else if (status == "notrun" || status == "disabled" || body.find("<skipped") != std::string::npos) {
      test.status = "skipped";
    } else {
      test.status = "passed";
    }
    cases[name] = test;
  }
  return cases;
}

Statuses statuses_of(const std::map<std::string, JunitCase>& cases) {
  Statuses statuses;
  for (const auto& [name, test] : cases) statuses[name] = test.status;
  return statuses;
}

// The hash of a sorted test list, as tlb computes it (io::hash_names): FNV-1a 64 over each name and a
// newline.
std::string hash_names(const std::vector<std::string>& sorted_names) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const std::string& name : sorted_names) {
    for (const char c : name + "\n") {
      hash ^= static_cast<unsigned char>(c);
      hash *= 0x100000001b3ULL;
    }
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return std::string("fnv1a64:") + text;
}

// The fixture project, configured once per test program, and what an unpartitioned ctest run of it gave.
struct Fixture {
  fs::path build;
  fs::path junit;  // The unpartitioned run's results.
  std::map<std::string, JunitCase> baseline;
  std::vector<std::string> names;  // Sorted: every test ctest lists, the disabled one included.
};

Fixture* fixture = nullptr;

// The fixture's tests and the outcomes its CMakeLists.txt gives them.
const Statuses kExpected = {
    {"db.migrate", "passed"},       {"db.query", "passed"},      {"db.setup", "passed"},
    {"io.read_large", "passed"},    {"io.read_small", "passed"}, {"io.write", "passed"},
    {"legacy.disabled", "skipped"}, {"math.add+sub", "passed"},  {"math.div_by_zero", "failed"},
    {"math.mul", "passed"},         {"net.connect", "passed"},   {"net.timeout", "passed"},
    {"util.format", "passed"},      {"util.parse", "passed"},    {"util.unsupported", "skipped"}};

std::optional<json> get_json(const ServerProcess& server, const std::string& path) {
  httplib::Client client(server.host(), server.port());
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  const httplib::Result response = client.Get(path);
  if (!response || response->status != 200) return std::nullopt;
  return json::parse(response->body);
}

// The agent's id in an answer's `agents` list, by its name ("" when absent).
std::string agent_id(const json& answer, const std::string& name) {
  for (const json& agent : answer["agents"]) {
    if (agent["name"] == name) return agent["agent"];
  }
  return "";
}

// The partition records `tlb swarm run` wrote.
std::vector<json> records_in(const fs::path& dir) {
  std::vector<json> records;
  if (!fs::is_directory(dir)) return records;
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  for (const fs::path& path : paths) records.push_back(json::parse(read_text(path)));
  return records;
}

// Lines "start <test>" and "end <test>" the fixture's tests appended to an agent's log.
std::vector<std::string> log_lines(const fs::path& log) {
  std::vector<std::string> lines;
  std::istringstream text(read_text(log));
  for (std::string line; std::getline(text, line);) lines.push_back(line);
  return lines;
}

// A test started and not ended in `log`, if any.
std::optional<std::string> test_in_progress(const fs::path& log) {
  std::map<std::string, int> open;
  for (const std::string& line : log_lines(log)) {
    if (line.starts_with("start ")) ++open[line.substr(6)];
    if (line.starts_with("end ")) --open[line.substr(4)];
  }
  for (const auto& [name, count] : open) {
    if (count > 0) return name;
  }
  return std::nullopt;
}

class SwarmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fixture = new Fixture;
    const fs::path dir = scratch("fixture-" + std::to_string(getpid()));
    fixture->build = dir / "build";
    const auto configured =
        run_process({CMAKE_COMMAND, "-S", TLB_SWARM_PROJECT, "-B", fixture->build.string(), "-G", "Ninja"});
    ASSERT_EQ(configured.exit_code, 0) << configured.out << configured.err;
    // Parallel: the tests only sleep.
    const fs::path junit = dir / "baseline.xml";
    const auto baseline = run_process(
        {CTEST_COMMAND, "--test-dir", fixture->build.string(), "-j4", "--output-junit", junit.string()});
    ASSERT_EQ(baseline.exit_code, 8) << baseline.out << baseline.err;
    fixture->junit = junit;
    fixture->baseline = junit_cases(read_text(junit));
    for (const auto& [name, test] : fixture->baseline) fixture->names.push_back(name);
  }

  static void TearDownTestSuite() {
    if (fixture) fs::remove_all(fixture->build.parent_path());
    delete fixture;
    fixture = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(fixture, nullptr);
    ASSERT_FALSE(fixture->baseline.empty()) << "the unpartitioned run of the fixture failed";
    dir_ = scratch(::testing::UnitTest::GetInstance()->current_test_info()->name());
    coordinator_ = std::make_unique<ServerProcess>(
        tlb::testing::tlb_server_command(TLB_EXECUTABLE, (dir_ / "data").string(),
                                         {"--swarm-heartbeat-seconds", "1", "--swarm-lease-seconds", "3"}),
        tlb::testing::kTlbServerListening);
  }

  void TearDown() override {
    if (HasFailure() && coordinator_) std::cerr << "coordinator stderr:\n" << coordinator_->err() << "\n";
  }

  static Statuses baseline() { return statuses_of(fixture->baseline); }

  // `tlb agent` with SWARM_SLOWDOWN=`slowdown`; its tests log what they run to <dir>/<name>.ran.
  std::unique_ptr<ChildProcess> start_agent(const std::string& name, int slowdown,
                                            bool exit_when_idle = true) {
    std::vector<std::string> argv = {
        TLB_EXECUTABLE,          "agent",  "--server", coordinator_->url(), "--build-dir",
        fixture->build.string(), "--name", name,       "--ctest",           CTEST_COMMAND};
    if (exit_when_idle) argv.push_back("--exit-when-idle");
    auto agent = std::make_unique<ChildProcess>(
        argv, Env{{"SWARM_SLOWDOWN", std::to_string(slowdown)}, {"SWARM_RAN_LOG", ran_log(name).string()}},
        child_path(), dir_ / name);
    EXPECT_TRUE(agent->wait_for_output(" joined ", 20s)) << agent->describe();
    return agent;
  }

  fs::path ran_log(const std::string& agent) const { return dir_ / (agent + ".ran"); }
  fs::path records(const std::string& version) const { return dir_ / ("records-" + version); }
  fs::path junit(const std::string& version) const { return dir_ / ("swarm-" + version + ".xml"); }

  // `tlb swarm run` of job "fixture", version `version`, in the background; returns once the coordinator has
  // the run, with its number (0 when it never came).
  std::pair<std::unique_ptr<ChildProcess>, int> submit(const std::string& version) {
    auto submitter = std::make_unique<ChildProcess>(
        std::vector<std::string>{TLB_EXECUTABLE, "swarm", "run", "--server", coordinator_->url(),
                                 "--build-dir", fixture->build.string(), "--job", "fixture", "--job-version",
                                 version, "--record-dir", records(version).string(), "--output-junit",
                                 junit(version).string(), "--timeout", "150"},
        Env{}, child_path(), dir_ / ("swarm-run-" + version));
    // Its first line: "tlb swarm: run <number> of job ...".
    static const std::regex submitted(R"(tlb swarm: run ([0-9]+) of job )");
    const int run = std::stoi(submitter->wait_for_match(submitted, 20s).value_or("0"));
    EXPECT_NE(run, 0) << "the run was never submitted\n" << submitter->describe();
    return {std::move(submitter), run};
  }

  std::optional<json> progress(int run) const {
    return get_json(*coordinator_, "/api/v1/swarm/runs/" + std::to_string(run));
  }

  json results(int run) const {
    const std::optional<json> answer =
        get_json(*coordinator_, "/api/v1/swarm/runs/" + std::to_string(run) + "/results");
    EXPECT_TRUE(answer) << "no results for run " << run;
    return answer.value_or(json::object());
  }

  // Status by test name in the coordinator's results.
  static Statuses statuses_in(const json& results) {
    Statuses statuses;
    for (const json& test : results["tests"]) statuses[test["name"]] = test["status"];
    return statuses;
  }

  // No `tlb agent` was evicted: they all ran every test they reported. `liar` is the one agent that may be.
  static void expect_no_honest_agent_evicted(const json& results, const std::string& liar = "") {
    for (const json& agent : results["agents"]) {
      if (agent["agent"] == liar) continue;
      EXPECT_NE(agent["state"], "evicted")
          << "honest agent " << agent["name"] << " was evicted: " << agent.value("evicted_because", "");
    }
  }

  // What `tlb swarm run` gave for `version`, checked against the unpartitioned run: its JUnit file, and
  // its records, which hold every test exactly once and pass `tlb verify`.
  void expect_same_as_baseline(const std::string& version) {
    EXPECT_EQ(statuses_of(junit_cases(read_text(junit(version)))), baseline()) << "swarm JUnit file";

    const std::vector<json> found = records_in(records(version));
    ASSERT_FALSE(found.empty()) << "no records in " << records(version);
    std::map<std::string, int> times;
    Statuses recorded;
    for (const json& record : found) {
      EXPECT_EQ(record["all_tests"].get<std::vector<std::string>>(), fixture->names);
      EXPECT_EQ(record["test_list_hash"], hash_names(fixture->names));
      for (const json& name : record["tests"]) ++times[name.get<std::string>()];
      for (const json& result : record["results"]) recorded[result["name"]] = result["status"];
    }
    for (const std::string& name : fixture->names)
      EXPECT_EQ(times[name], 1) << name << " is in " << times[name] << " records";
    EXPECT_EQ(recorded, baseline()) << "the records' results";

    const auto verified = run_process({TLB_EXECUTABLE, "verify", records(version).string()});
    EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  }

  fs::path dir_;
  std::unique_ptr<ServerProcess> coordinator_;
};

TEST_F(SwarmTest, TheUnpartitionedRunGivesTheFixturesOutcomes) {
  EXPECT_EQ(baseline(), kExpected);
  EXPECT_GT(fixture->baseline.at("net.timeout").seconds, 3.9);
}

TEST_F(SwarmTest, ThreeAgentsOfDifferentSpeedsGiveTheUnpartitionedResults) {
  auto [submitter, run] = submit("1");
  auto fast = start_agent("fast", 1);
  auto medium = start_agent("medium", 2);
  auto slow = start_agent("slow", 4);

  ASSERT_EQ(submitter->wait(150s), 8) << submitter->describe();
  for (ChildProcess* agent : {fast.get(), medium.get(), slow.get()})
    EXPECT_EQ(agent->wait(20s), 0) << "an agent with --exit-when-idle did not stop\n" << agent->describe();

  expect_same_as_baseline("1");
  const json outcome = results(run);
  EXPECT_EQ(outcome["state"], "done");
  EXPECT_EQ(outcome["test_list_hash"], hash_names(fixture->names));
  EXPECT_EQ(statuses_in(outcome), baseline());
  expect_no_honest_agent_evicted(outcome);
  EXPECT_TRUE(outcome["duplicates"].empty()) << outcome["duplicates"];
  // The fast agent's results count for at least as many tests as the slow one's.
  std::map<std::string, int> done;
  for (const json& test : outcome["tests"]) ++done[test["agent"].get<std::string>()];
  const int by_fast = done[agent_id(outcome, "fast")];
  EXPECT_GE(by_fast, done[agent_id(outcome, "slow")]) << outcome.dump(1);
  EXPECT_NE(submitter->out().find("FAILED math.div_by_zero"), std::string::npos) << submitter->out();
}

TEST_F(SwarmTest, AnAgentKilledMidTestLosesItToAnother) {
  auto [submitter, run] = submit("1");
  auto steady = start_agent("steady", 1);
  auto victim = start_agent("victim", 4);
  auto other = start_agent("other", 2);

  // Kill the victim while one of its tests runs and the coordinator sees it holding that test.
  std::optional<std::string> killed;
  std::vector<std::string> held;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!killed && std::chrono::steady_clock::now() < deadline) {
    const std::optional<std::string> running = test_in_progress(ran_log("victim"));
    const std::optional<json> now = progress(run);
    if (running && now) {
      for (const json& agent : (*now)["agents"]) {
        if (agent["name"] == "victim" && !agent["running"].empty()) {
          held = agent["running"].get<std::vector<std::string>>();
          victim->kill9();
          killed = running;
        }
      }
    }
    if (!killed) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(killed) << "the victim never ran a test\n" << victim->describe();
  // For a test that needs the db fixture, ctest runs db.setup first: the victim may be in it.
  const bool holds_killed = std::find(held.begin(), held.end(), *killed) != held.end();
  EXPECT_TRUE(holds_killed || *killed == "db.setup") << *killed << " ran, but the victim was not given it";
  const std::string lost = holds_killed ? *killed : held.front();
  std::cout << "killed the victim in " << *killed << ", holding " << testing::PrintToString(held) << "\n";

  ASSERT_EQ(submitter->wait(150s), 8) << submitter->describe();
  EXPECT_EQ(steady->wait(20s), 0) << steady->describe();
  EXPECT_EQ(other->wait(20s), 0) << other->describe();

  const json outcome = results(run);
  EXPECT_EQ(statuses_in(outcome), baseline());
  const std::string victim_id = agent_id(outcome, "victim");
  expect_no_honest_agent_evicted(outcome, victim_id);
  for (const json& test : outcome["tests"]) {
    if (test["name"] == lost) {
      EXPECT_NE(test["agent"], victim_id) << "the killed agent's test counts as its result";
      EXPECT_GE(test["attempts"].get<int>(), 2) << test;
    }
  }
  // It ran to its end on another agent.
  int ended_elsewhere = 0;
  for (const std::string agent : {"steady", "other"}) {
    for (const std::string& line : log_lines(ran_log(agent))) ended_elsewhere += line == "end " + lost;
  }
  EXPECT_GE(ended_elsewhere, 1) << lost << " never ran to its end on another agent";
  // Exactly once, or the duplicate reported as such: a SIGKILLed agent cannot report late, so none here.
  EXPECT_TRUE(outcome["duplicates"].empty()) << outcome["duplicates"];
  expect_same_as_baseline("1");
}

// An agent that reports every test it gets as passed in 0.01 s, without running it: a raw client of the
// protocol (docs/swarm-protocol.md), with the fixture's test list hash.
class LyingAgent {
 public:
  LyingAgent(const ServerProcess& coordinator, const std::string& test_list_hash)
      : client_(coordinator.host(), coordinator.port()) {
    client_.set_connection_timeout(5);
    client_.set_read_timeout(10);
    std::mt19937_64 random{std::random_device{}()};
    char key[33];
    std::snprintf(key, sizeof key, "%016llx%016llx", static_cast<unsigned long long>(random()),
                  static_cast<unsigned long long>(random()));
    // Ordinary attributes: nothing about it looks suspicious until it reports.
    const json registration = {
        {"key", key},
        {"name", "liar"},
        {"test_list_hash", test_list_hash},
        {"attributes",
         {{"os", "Linux"}, {"arch", "x86_64"}, {"cores", 2}, {"ram_mb", 4000}, {"bench", 0}, {"rtt_ms", 0}}}};
    const httplib::Result answer =
        client_.Post("/api/v1/swarm/agents", registration.dump(), "application/json");
    if (!answer || (answer->status != 200 && answer->status != 201))
      throw std::runtime_error("the liar could not register: " + (answer ? answer->body : "no answer"));
    id_ = json::parse(answer->body)["agent"];
    secret_ = json::parse(answer->body)["secret"];
    thread_ = std::thread([this] { lie(); });
  }

  ~LyingAgent() {
    stop_ = true;
    thread_.join();
  }

  const std::string& id() const { return id_; }
  int lies() const { return lies_; }
  bool evicted() const { return evicted_; }
  std::string eviction() const {
    std::lock_guard lock(mutex_);
    return eviction_;
  }

 private:
  // Pulls until evicted or stopped; reports each assignment as passed at once.
  void lie() {
    for (int request = 1; !stop_; ++request) {
      const json pull = {{"request_id", id_ + "-" + std::to_string(request)}, {"secret", secret_}};
      const httplib::Result pulled =
          client_.Post("/api/v1/swarm/agents/" + id_ + "/pull", pull.dump(), "application/json");
      if (gone(pulled)) return;
      if (!pulled || pulled->status != 200) {
        std::this_thread::sleep_for(200ms);
        continue;
      }
      const json answer = json::parse(pulled->body);
      for (const json& assignment : answer["assignments"]) {
        const json report = {{"lease", assignment["lease"]},
                             {"test", assignment["test"]},
                             {"status", "passed"},
                             {"seconds", 0.01},
                             {"secret", secret_}};
        const httplib::Result reported =
            client_.Post("/api/v1/swarm/agents/" + id_ + "/report", report.dump(), "application/json");
        if (gone(reported)) return;
        if (reported && reported->status == 200) ++lies_;
      }
      if (answer["assignments"].empty()) {
        std::this_thread::sleep_for(
            std::chrono::duration<double>(std::clamp(answer.value("retry_after_seconds", 0.2), 0.1, 0.5)));
      }
    }
  }

  bool gone(const httplib::Result& answer) {
    if (!answer || answer->status != 410) return false;
    std::lock_guard lock(mutex_);
    eviction_ = answer->body;
    evicted_ = true;
    return true;
  }

  httplib::Client client_;
  std::string id_;
  std::string secret_;
  std::thread thread_;
  std::atomic<bool> stop_ = false;
  std::atomic<bool> evicted_ = false;
  std::atomic<int> lies_ = 0;
  mutable std::mutex mutex_;
  std::string eviction_;
};

TEST_F(SwarmTest, ALyingAgentIsEvictedAndItsLiesNeverCount) {
  auto [submitter, run] = submit("1");
  auto honest = start_agent("honest", 1);
  auto also_honest = start_agent("also-honest", 2);
  LyingAgent liar(*coordinator_, hash_names(fixture->names));

  ASSERT_EQ(submitter->wait(150s), 8) << submitter->describe();
  EXPECT_EQ(honest->wait(20s), 0) << honest->describe();
  EXPECT_EQ(also_honest->wait(20s), 0) << also_honest->describe();

  EXPECT_GE(liar.lies(), 1) << "the liar never got a test, so this proves nothing";
  EXPECT_TRUE(liar.evicted()) << "the liar was never refused with 410";
  EXPECT_NE(liar.eviction().find("evicted"), std::string::npos) << liar.eviction();

  const json outcome = results(run);
  bool listed = false;
  for (const json& agent : outcome["agents"]) {
    if (agent["agent"] != liar.id()) continue;
    listed = true;
    EXPECT_EQ(agent["state"], "evicted") << agent;
    EXPECT_FALSE(agent.value("evicted_because", "").empty()) << agent;
  }
  EXPECT_TRUE(listed) << "the liar is missing from the results' agents\n" << outcome.dump(1);
  expect_no_honest_agent_evicted(outcome, liar.id());
  for (const json& test : outcome["tests"])
    EXPECT_NE(test["agent"], liar.id()) << test["name"] << ": the liar's result counts";
  EXPECT_EQ(statuses_in(outcome), baseline());
  expect_same_as_baseline("1");
  std::cout << "the liar told " << liar.lies() << " lies before: " << liar.eviction() << "\n";
}

TEST_F(SwarmTest, TheHistoryKeepsDurationsNormalisedByAgentSpeed) {
  // The history an unpartitioned run leaves (`tlb record` of its JUnit into the server): every test known, at
  // this machine's own pace. The swarm run learns each agent's speed against it, and what it adds to the
  // history must stay on that scale, whichever agent ran the test.
  const auto recorded = run_process({TLB_EXECUTABLE, "record", fixture->junit.string()},
                                    {{"TLB_STORE", coordinator_->url()}, {"TLB_JOB_NAME", "fixture"}});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.out << recorded.err;
  auto [submitter, run] = submit("1");
  auto fast = start_agent("fast", 1);
  auto slow = start_agent("slow", 4);
  ASSERT_EQ(submitter->wait(150s), 8) << submitter->describe();
  EXPECT_EQ(fast->wait(20s), 0) << fast->describe();
  EXPECT_EQ(slow->wait(20s), 0) << slow->describe();
  expect_same_as_baseline("1");

  const json outcome = results(run);
  const std::optional<json> history = get_json(*coordinator_, "/api/v1/jobs/fixture/history");
  ASSERT_TRUE(history);
  std::map<std::string, double> kept;
  for (const json& test : (*history)["tests"]) kept[test["name"]] = test["seconds"];

  expect_no_honest_agent_evicted(outcome);
  const std::string slow_id = agent_id(outcome, "slow");
  int checked = 0;
  for (const json& test : outcome["tests"]) {
    const std::string name = test["name"];
    if (test["agent"] != slow_id || test["status"] != "passed") continue;
    ++checked;
    // The slow agent took about 4x the unpartitioned time; what is kept is on the fast agent's scale.
    const double unpartitioned = fixture->baseline.at(name).seconds;
    std::cout << name << ": unpartitioned " << unpartitioned << " s, on the slow agent " << test["seconds"]
              << " s, reference " << test["reference_seconds"] << " s, history " << kept[name] << " s\n";
    EXPECT_GT(test["seconds"].get<double>(), 2.5 * unpartitioned)
        << name << " was not slow on the slow agent";
    EXPECT_LT(test["reference_seconds"].get<double>(), 2 * unpartitioned) << name;
    EXPECT_LT(kept[name], 2 * unpartitioned) << name;
  }
  EXPECT_GE(checked, 1) << "the slow agent ran nothing in the second run\n" << outcome.dump(1);
}

}  // namespace
