// Queue mode end to end: a real `tlb server`, and `tlb run --queue` jobs as real processes on loopback, each
// the job of one CI run (same TLB_JOB_NAME and TLB_JOB_VERSION, partition k of TLB_TOTAL_PARTITIONS), running
// the fixture in tests/queue/project with the real ctest. Its tests sleep longer when SWARM_SLOWDOWN says so,
// so a job started with SWARM_SLOWDOWN=3 really is three times slower; the fixture includes TLB, whose hook
// makes the static split when the server is down. Every job runs in a process group of its own, killed when
// the test ends, so no job, ctest or test process outlives it.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "io/record.hpp"
#include "io/results.hpp"
#include "io/text.hpp"
#include "support/child_process.hpp"
#include "support/process.hpp"
#include "support/scratch_dir.hpp"
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

// A port nothing listens on: the server is down.
constexpr const char* kDeadServer = "http://127.0.0.1:1";

// The statuses in a JUnit file, ctest's own or `tlb run`'s, read as tlb reads results.
Statuses junit_statuses(const fs::path& path) {
  Statuses statuses;
  if (!fs::exists(path)) return statuses;
  const tlb::io::ResultFile file = tlb::io::read_results(path.string());
  for (const tlb::io::TestResult& result : file.results)
    statuses[tlb::io::ctest_name(result, file.format)] = std::string(tlb::io::to_string(result.status));
  return statuses;
}

// What a job's fixture tests logged: "start <test>" before each, "end <test>" after.
struct RanLog {
  std::vector<std::string> started;  // In order.
  std::multiset<std::string> ended;

  explicit RanLog(const fs::path& path) {
    std::istringstream text(read_text(path));
    for (std::string line; std::getline(text, line);) {
      if (line.starts_with("start ")) started.push_back(line.substr(6));
      if (line.starts_with("end ")) ended.insert(line.substr(4));
    }
  }
  // A test it is in the middle of, if any.
  std::optional<std::string> running() const {
    for (const std::string& name : started) {
      if (std::count(started.begin(), started.end(), name) > static_cast<long>(ended.count(name)))
        return name;
    }
    return std::nullopt;
  }
};

// The fixture project, configured once per test program.
fs::path* fixture_build = nullptr;

const std::regex kJoined(R"(\(agent ([a-z0-9]+)\) joined run )");

class QueueTest : public tlb::testing::ScratchDirTest {
 protected:
  static void SetUpTestSuite() {
    const fs::path dir = fs::path(TLB_QUEUE_SCRATCH) / ("fixture-" + std::to_string(getpid()));
    fs::remove_all(dir);
    fixture_build = new fs::path(dir / "build");
    const auto configured =
        run_process({CMAKE_COMMAND, "-S", TLB_QUEUE_PROJECT, "-B", fixture_build->string(), "-G", "Ninja",
                     "-DCMAKE_MODULE_PATH=" TLB_SOURCE_DIR "/cmake", "-DTLB_EXECUTABLE=" TLB_EXECUTABLE,
                     "-DTLB_STORE=" + (dir / "no-history.txt").string()});
    ASSERT_EQ(configured.exit_code, 0) << configured.out << configured.err;
  }

  static void TearDownTestSuite() {
    if (fixture_build) fs::remove_all(fixture_build->parent_path());
    delete fixture_build;
    fixture_build = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(fixture_build, nullptr);
    ScratchDirTest::SetUp();
  }

  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "server stderr:\n" << server_->err() << "\n";
    server_.reset();  // Before its data directory goes.
    ScratchDirTest::TearDown();
  }

  void start_server() {
    server_ = std::make_unique<ServerProcess>(
        tlb::testing::tlb_server_command(TLB_EXECUTABLE, (dir_ / "data").string(),
                                         {"--swarm-heartbeat-seconds", "1", "--swarm-lease-seconds", "3"}),
        tlb::testing::kTlbServerListening);
  }

  // The environment of job `partition` of `total` in CI run 7 of job "fixture", with `store` for its server;
  // its tests run SWARM_SLOWDOWN=`slowdown` times slower and log to <dir>/<log>.ran.
  Env job_env(const std::string& store, int partition, int total, int slowdown,
              const std::string& log) const {
    return {{"TLB_STORE", store},
            {"TLB_JOB_NAME", "fixture"},
            {"TLB_JOB_VERSION", "7"},
            {"TLB_PARTITION_NUMBER", std::to_string(partition)},
            {"TLB_TOTAL_PARTITIONS", std::to_string(total)},
            {"SWARM_SLOWDOWN", std::to_string(slowdown)},
            {"SWARM_RAN_LOG", ran_log(log).string()}};
  }

  // `tlb run --queue -- ctest --test-dir <fixture> -j2 --output-junit <dir>/<log>.xml`.
  std::vector<std::string> queue_command(const std::string& log) const {
    return {TLB_EXECUTABLE,
            "run",
            "--queue",
            "--",
            CTEST_COMMAND,
            "--test-dir",
            fixture_build->string(),
            "-j2",
            "--output-junit",
            junit(log).string()};
  }

  // Job `partition` of 4 in the background, once it joined the run; its agent id in `agent`.
  // `tlb run` as a CI runner starts it; kill9() takes its process group down as a dying runner does.
  std::unique_ptr<ChildProcess> start_job(int partition, int slowdown, const std::string& log,
                                          std::string* agent) {
    auto job = std::make_unique<ChildProcess>(
        queue_command(log), job_env(server_->url(), partition, 4, slowdown, log),
        fs::path(CTEST_COMMAND).parent_path().string() + ":/usr/bin:/bin", dir_ / log);
    const std::optional<std::string> id = job->wait_for_match(kJoined, 30s);
    EXPECT_TRUE(id) << "job " << partition << " never joined the run\n" << job->describe();
    if (agent) *agent = id.value_or("");
    return job;
  }

  fs::path ran_log(const std::string& log) const { return dir_ / (log + ".ran"); }
  fs::path junit(const std::string& log) const { return dir_ / (log + ".xml"); }

  std::optional<json> get(const std::string& path) const {
    httplib::Client client(server_->host(), server_->port());
    client.set_connection_timeout(5);
    client.set_read_timeout(10);
    const httplib::Result response = client.Get("/api/v1/swarm" + path);
    if (!response || response->status != 200) return std::nullopt;
    return json::parse(response->body);
  }

  std::unique_ptr<ServerProcess> server_;
};

// Four jobs of one CI run: three at different speeds from the start, the fastest SIGKILLed while it runs a
// test and then run again as its retry, one started once the queue is empty.
TEST_F(QueueTest, FourJobsShareTheRunThroughAKillAndALateStart) {
  // The unpartitioned run the jobs' results must add up to.
  const auto baseline = run_process({CTEST_COMMAND, "--test-dir", fixture_build->string(), "-j4",
                                     "--output-junit", junit("baseline").string()});
  ASSERT_EQ(baseline.exit_code, 8) << baseline.out << baseline.err;
  const Statuses unpartitioned = junit_statuses(junit("baseline"));
  ASSERT_EQ(unpartitioned.size(), 15u);
  ASSERT_EQ(unpartitioned.at("math.div_by_zero"), "failed");

  start_server();
  std::string agent_1, victim_id, agent_3;
  auto first = start_job(1, 2, "job-1", &agent_1);
  auto victim = start_job(2, 1, "job-2", &victim_id);
  auto third = start_job(3, 3, "job-3", &agent_3);
  const std::string run = first->wait_for_match(std::regex("joined run ([0-9]+) "), 1s).value_or("?");

  // Kill the victim once it has reported a result and is in the middle of a test the server sees it hold.
  std::set<std::string> reported_before;
  std::optional<std::string> killed;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!killed && std::chrono::steady_clock::now() < deadline) {
    const std::optional<std::string> running = RanLog(ran_log("job-2")).running();
    const std::optional<json> results = get("/runs/" + run + "/results");
    const std::optional<json> progress = get("/runs/" + run);
    std::set<std::string> reported;
    bool holds = false;
    if (results && progress) {
      for (const json& test : (*results)["tests"]) {
        if (test["agent"] == victim_id && test["status"] != "error") reported.insert(test["name"]);
      }
      for (const json& agent : (*progress)["agents"]) {
        if (agent["agent"] == victim_id && running) {
          const auto held = agent["running"].get<std::vector<std::string>>();
          // With a fixture, ctest runs the setup first, which the server may have given to another job.
          holds = std::find(held.begin(), held.end(), *running) != held.end();
        }
      }
    }
    if (!reported.empty() && holds) {
      victim->kill9();
      reported_before = reported;
      killed = running;
    } else {
      std::this_thread::sleep_for(50ms);
    }
  }
  ASSERT_TRUE(killed) << "the victim never held a test after reporting one\n" << victim->describe();
  EXPECT_EQ(victim->wait(10s), 128 + SIGKILL);

  // The CI retries the job: the same partition, so the same agent, which gets back what it held.
  std::string retry_id;
  auto retry = start_job(2, 1, "job-2-retry", &retry_id);
  EXPECT_EQ(retry_id, victim_id) << "the retried job is not the same agent";

  // A job whose runner comes up once nothing is left to hand out.
  for (auto until = std::chrono::steady_clock::now() + 120s; std::chrono::steady_clock::now() < until;) {
    const std::optional<json> progress = get("/runs/" + run);
    if (progress && ((*progress)["pending"] == 0 || (*progress)["state"] == "done")) break;
    std::this_thread::sleep_for(100ms);
  }
  auto late = start_job(4, 1, "job-4", nullptr);
  EXPECT_EQ(late->wait(20s), 0) << late->describe();
  EXPECT_LT(late->lasted().count(), 15) << "the late job waited for the others\n" << late->describe();
  EXPECT_TRUE(RanLog(ran_log("job-4")).started.empty()) << "the late job ran tests\n" << late->describe();

  // Each job exits with ctest's convention for its own tests.
  Statuses all;
  std::map<std::string, int> times;
  for (auto [job, log] : {std::pair{first.get(), "job-1"}, std::pair{retry.get(), "job-2-retry"},
                          std::pair{third.get(), "job-3"}, std::pair{late.get(), "job-4"}}) {
    const std::optional<int> status = job->wait(150s);
    const Statuses own = junit_statuses(junit(log));
    const bool failed =
        std::any_of(own.begin(), own.end(), [](const auto& t) { return t.second == "failed"; });
    EXPECT_EQ(status, failed ? 8 : 0) << job->describe();
    for (const auto& [name, status_of] : own) {
      all[name] = status_of;
      ++times[name];
    }
  }
  // Together, the jobs' JUnit files are the unpartitioned run, each test once.
  EXPECT_EQ(all, unpartitioned);
  for (const auto& [name, count] : times) EXPECT_EQ(count, 1) << name << " is in " << count << " JUnit files";

  // The retry ran nothing its first attempt had reported; what was killed mid-test ran to its end elsewhere.
  for (const std::string& name : RanLog(ran_log("job-2-retry")).started)
    EXPECT_FALSE(reported_before.contains(name)) << name << " ran again in the retried job";
  std::string killed_test_ended;
  for (const char* log : {"job-1", "job-2-retry", "job-3"}) {
    if (RanLog(ran_log(log)).ended.contains(*killed)) killed_test_ended = log;
  }
  EXPECT_FALSE(killed_test_ended.empty()) << *killed << ", killed mid-test, never ran to its end";

  const std::optional<json> results = get("/runs/" + run + "/results");
  ASSERT_TRUE(results);
  EXPECT_EQ((*results)["state"], "done");
  EXPECT_TRUE((*results)["duplicates"].empty()) << (*results)["duplicates"];
  std::set<std::string> agents;
  for (const json& test : (*results)["tests"]) agents.insert(test["agent"].get<std::string>());
  for (const std::string& agent : {agent_1, victim_id, agent_3})
    EXPECT_TRUE(agents.contains(agent)) << agent << " ran nothing\n" << results->dump(1);

  // The server proves the run from the records it kept.
  const auto verified =
      run_process({TLB_EXECUTABLE, "verify"},
                  {{"TLB_STORE", server_->url()}, {"TLB_JOB_NAME", "fixture"}, {"TLB_JOB_VERSION", "7"}});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_NE(verified.out.find("proven"), std::string::npos) << verified.out;
}

// With the server down, each job runs the hook's static split: the split `tlb split` makes without history,
// its record marked "history unavailable", and ctest's exit status.
TEST_F(QueueTest, WithTheServerDownEachJobRunsTheStaticSplit) {
  const fs::path records = *fixture_build / "tlb";
  fs::remove_all(records);
  const fs::path listing = dir_ / "tests.json";
  const auto listed =
      run_process({CTEST_COMMAND, "--test-dir", fixture_build->string(), "--show-only=json-v1"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  std::ofstream(listing) << listed.out;

  std::set<std::string> everything;
  for (int partition : {1, 2}) {
    const std::string log = "job-" + std::to_string(partition);
    const auto ran = run_process(queue_command(log), job_env(kDeadServer, partition, 2, 1, log));
    EXPECT_NE(ran.err.find("tlb run: warning: the TLB server at " + std::string(kDeadServer) +
                           " cannot be reached"),
              std::string::npos)
        << ran.err;

    const auto expected = run_process({TLB_EXECUTABLE, "split", "--tests", listing.string(), "--partition",
                                       std::to_string(partition) + "/2"},
                                      {{"TLB_STORE", (dir_ / "no-history.txt").string()}});
    ASSERT_EQ(expected.exit_code, 0) << expected.err;
    std::set<std::string> split;
    std::istringstream names(expected.out);
    for (std::string name; std::getline(names, name);) split.insert(name);

    const json record =
        json::parse(read_text(records / ("partition-" + std::to_string(partition) + "-of-2.json")));
    EXPECT_EQ(record["history_status"], "unavailable");
    EXPECT_EQ(record["tests"].get<std::set<std::string>>(), split);
    const Statuses own = junit_statuses(junit(log));
    std::set<std::string> run_here;
    for (const auto& [name, status] : own) {
      run_here.insert(name);
      EXPECT_TRUE(everything.insert(name).second) << name << " ran in both jobs";
    }
    EXPECT_EQ(run_here, split);
    EXPECT_EQ(ran.exit_code, own.contains("math.div_by_zero") ? 8 : 0) << ran.out << ran.err;
  }
  EXPECT_EQ(everything.size(), 15u) << "the two jobs did not run the whole suite";
}

// A suite whose share per job is a few seconds on the server's history: every job predicts the same share
// from the same snapshot, says in one line that batches would cost more, and runs the static split. No swarm
// run is submitted, so none stays open; together the jobs run the suite once.
TEST_F(QueueTest, WithASmallShareEachJobChoosesTheStaticSplit) {
  start_server();
  const auto listed =
      run_process({CTEST_COMMAND, "--test-dir", fixture_build->string(), "--show-only=json-v1"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const json listing = json::parse(listed.out);
  json observations = json::array();
  for (const json& test : listing.at("tests"))
    observations.push_back({{"name", test.at("name")}, {"seconds", 0.2}, {"outcome", "passed"}});
  const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  const std::chrono::year_month_day day{today};
  char date[16];
  std::snprintf(date, sizeof date, "%04d-%02u-%02u", static_cast<int>(day.year()),
                static_cast<unsigned>(day.month()), static_cast<unsigned>(day.day()));
  const json report{{"kind", "tlb-run-report"},
                    {"version", 1},
                    {"partition", 0},
                    {"total", 0},
                    {"date", date},
                    {"test_list_hash", ""},
                    {"smoothing_factor", 0.5},
                    {"forget_after_days", 30},
                    {"observations", observations}};
  httplib::Client client(server_->host(), server_->port());
  const auto posted =
      client.Post("/api/v1/jobs/fixture/versions/6/results", report.dump(), "application/json");
  ASSERT_TRUE(posted && posted->status == 200) << (posted ? posted->body : "no answer");

  std::map<std::string, int> times;
  for (int partition : {1, 2}) {
    const std::string log = "job-" + std::to_string(partition);
    const auto ran = run_process(queue_command(log), job_env(server_->url(), partition, 2, 1, log));
    EXPECT_NE(ran.out.find("less than queue mode's batches would cost; running this job's static split"),
              std::string::npos)
        << ran.out << ran.err;
    const Statuses own = junit_statuses(junit(log));
    for (const auto& [name, status] : own) ++times[name];
    EXPECT_EQ(ran.exit_code, own.contains("math.div_by_zero") ? 8 : 0) << ran.out << ran.err;
  }
  EXPECT_EQ(times.size(), 15u) << "the two jobs did not run the whole suite";
  for (const auto& [name, count] : times) EXPECT_EQ(count, 1) << name << " ran in " << count << " jobs";
  EXPECT_FALSE(get("/runs/1")) << "a swarm run was submitted";
}

TEST_F(QueueTest, WithTheServerDownAndTlbStrictTheJobFails) {
  Env env = job_env(kDeadServer, 1, 2, 1, "job-1");
  env["TLB_STRICT"] = "1";
  const auto ran = run_process(queue_command("job-1"), env);
  EXPECT_EQ(ran.exit_code, 1) << ran.out << ran.err;
  EXPECT_NE(ran.err.find("cannot be reached"), std::string::npos) << ran.err;
  EXPECT_NE(ran.err.find("TLB_STRICT"), std::string::npos) << ran.err;
  EXPECT_TRUE(RanLog(ran_log("job-1")).started.empty()) << "tests ran";
}

TEST_F(QueueTest, WithoutQueueTheCommandRunsAsIs) {
  const auto failing = run_process({TLB_EXECUTABLE, "run", "--", CTEST_COMMAND, "--test-dir",
                                    fixture_build->string(), "-R", "^math\\.", "-j4"});
  EXPECT_EQ(failing.exit_code, 8) << failing.out << failing.err;
  EXPECT_NE(failing.out.find("tests failed out of 3"), std::string::npos) << failing.out;
  const auto passing = run_process(
      {TLB_EXECUTABLE, "run", "--", CTEST_COMMAND, "--test-dir", fixture_build->string(), "-R", "^util\\.f"});
  EXPECT_EQ(passing.exit_code, 0) << passing.out << passing.err;
}

TEST_F(QueueTest, QueueModeRefusesWhatItCannotHonour) {
  const Env env = job_env(kDeadServer, 1, 2, 1, "job");
  for (const char* selecting : {"-R", "-E", "-L", "-LE", "-I", "--tests-regex=x"}) {
    std::vector<std::string> command = queue_command("job");
    command.push_back(selecting);
    if (std::string(selecting).find('=') == std::string::npos) command.push_back("x");
    const auto refused = run_process(command, env);
    EXPECT_EQ(refused.exit_code, 2) << selecting << ": " << refused.err;
    EXPECT_NE(refused.err.find(std::string("ctest ") + selecting), std::string::npos) << refused.err;
  }
  for (const char* variable : {"TLB_JOB_NAME", "TLB_JOB_VERSION", "TLB_PARTITION_NUMBER"}) {
    Env without = env;
    without.erase(variable);
    if (std::string(variable) == "TLB_PARTITION_NUMBER") without.erase("TLB_TOTAL_PARTITIONS");
    const auto refused = run_process(queue_command("job"), without);
    EXPECT_EQ(refused.exit_code, 2) << variable << ": " << refused.err;
    EXPECT_NE(refused.err.find(variable), std::string::npos) << refused.err;
  }
  EXPECT_TRUE(RanLog(ran_log("job")).started.empty()) << "tests ran";
}

}  // namespace
