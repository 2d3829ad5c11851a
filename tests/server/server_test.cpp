// `tlb server` as users run it: the real `tlb` binary as a child process on loopback, driven over HTTP with
// cpp-httplib's client. Every route of the JSON API, the original TLB API byte for byte, bad and hostile
// requests, many partitions at once, and restarts on the same data directory.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "io/record.hpp"
#include "server/names.hpp"
#include "server/original.hpp"
#include "server/partition_records.hpp"
#include "support/process.hpp"
#include "support/scratch_dir.hpp"
#include "support/server_process.hpp"

namespace tlb {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using testing::make_record;
using testing::ServerProcess;

// 2023-11-14: the date the original API's writes give as last seen (tlb server honours SOURCE_DATE_EPOCH).
constexpr const char* kEpoch = "1700000000";
constexpr const char* kToday = "2023-11-14";

struct Observed {
  std::string name;
  std::optional<double> seconds;
  std::string outcome = "passed";
};

std::string results_body(int partition, int total, const std::string& date,
                         const std::vector<Observed>& observed, double alpha = 0.5,
                         int forget_after_days = 30) {
  ordered_json observations = ordered_json::array();
  for (const Observed& o : observed) {
    observations.push_back(
        ordered_json{{"name", o.name},
                     {"seconds", o.seconds ? ordered_json(*o.seconds) : ordered_json(nullptr)},
                     {"outcome", o.outcome}});
  }
  return ordered_json{{"kind", "tlb-run-report"},
                      {"version", 1},
                      {"partition", partition},
                      {"total", total},
                      {"date", date},
                      {"test_list_hash", ""},
                      {"smoothing_factor", alpha},
                      {"forget_after_days", forget_after_days},
                      {"observations", observations}}
      .dump();
}

std::string record_text(const io::PartitionRecord& record) {
  return io::format_record(record, "test");
}

class ServerTest : public testing::ScratchDirTest {
 protected:
  void TearDown() override {
    server_.reset();
    ScratchDirTest::TearDown();
  }

  ServerProcess& start(std::vector<std::string> extra = {}, std::map<std::string, std::string> env = {}) {
    env.emplace("SOURCE_DATE_EPOCH", kEpoch);
    server_ = std::make_unique<ServerProcess>(testing::tlb_server_command(TLB_EXECUTABLE, data_dir(), extra),
                                              testing::kTlbServerListening, env);
    return *server_;
  }

  std::string data_dir() const { return (dir_ / "data").string(); }

  httplib::Client client() const {
    httplib::Client client(server_->host(), server_->port());
    client.set_connection_timeout(10);
    client.set_read_timeout(30);
    client.set_write_timeout(30);
    return client;
  }

  httplib::Result get(const std::string& path) { return client().Get(path.c_str()); }
  httplib::Result post(const std::string& path, const std::string& body,
                       const std::string& type = "text/plain", httplib::Headers headers = {}) {
    return client().Post(path.c_str(), headers, body, type.c_str());
  }
  httplib::Result put(const std::string& path, const std::string& body, httplib::Headers headers = {}) {
    return client().Put(path.c_str(), headers, body, "text/plain");
  }
  httplib::Result post_json(const std::string& path, const std::string& body) {
    return post(path, body, "application/json");
  }

  // Status and body, for one-line assertions.
  static std::pair<int, std::string> answer(const httplib::Result& result) {
    if (!result) return {-1, "no answer: " + httplib::to_string(result.error())};
    return {result->status, result->body};
  }

  // Registers a CI job of test list "h" as an agent (key `key`, benchmark `bench`); returns its route, and
  // keeps the secret its later calls carry (call_as).
  std::string enroll_job(const std::string& key, const std::string& name, double bench) {
    const auto joined = post_json(
        "/api/v1/swarm/agents",
        json{{"key", key},
             {"name", name},
             {"test_list_hash", "h"},
             {"attributes",
              {{"os", "Linux"}, {"arch", "x86_64"}, {"cores", 2}, {"ram_mb", 4000}, {"bench", bench}}}}
            .dump());
    EXPECT_TRUE(joined && joined->status == 200);
    if (!joined) return std::string();
    const json registered = json::parse(joined->body);
    const std::string agent = "/api/v1/swarm/agents/" + registered.at("agent").get<std::string>();
    secrets_[agent] = registered.value("secret", "");
    return agent;
  }

  // An agent's call of `route`: `body` with its secret, if it has one.
  httplib::Result call_as(const std::string& agent, const std::string& route, json body) {
    const std::string& secret = secrets_[agent];
    if (!secret.empty()) body["secret"] = secret;
    return post_json(agent + "/" + route, body.dump());
  }

  // The assignments of one pull of an agent, request id "r<request>".
  json pull_as(const std::string& agent, int request) {
    const auto pulled = call_as(agent, "pull", json{{"request_id", "r" + std::to_string(request)}});
    EXPECT_TRUE(pulled && pulled->status == 200);
    return pulled ? json::parse(pulled->body).at("assignments") : json::array();
  }

  std::unique_ptr<ServerProcess> server_;
  std::map<std::string, std::string> secrets_;  // By agent route.
};

// --- The process ---

TEST_F(ServerTest, PrintsExactlyTheListeningLine) {
  ServerProcess& server = start();
  EXPECT_EQ(server.listening_line(),
            "tlb server: listening on http://127.0.0.1:" + std::to_string(server.port()) + " (data " +
                data_dir() + "/tlb.sqlite3, writes open)");
  EXPECT_TRUE(std::filesystem::exists(data_dir() + "/tlb.sqlite3"));
  server_.reset();
  ServerProcess& with_token = start({}, {{"TLB_TOKEN", "s3cret"}});
  EXPECT_TRUE(with_token.listening_line().ends_with(", writes need a token)")) << with_token.listening_line();
}

TEST_F(ServerTest, StopsCleanlyOnSigtermSigintAndExitAfter) {
  ServerProcess& server = start();
  EXPECT_EQ(server.stop(), 0) << server.err();
  EXPECT_NE(server.err().find("tlb server: stopping (SIGTERM)"), std::string::npos) << server.err();
  server.restart();
  kill(server.pid(), SIGINT);
  EXPECT_EQ(server.wait_exit(std::chrono::seconds(10)), 0) << server.err();
  EXPECT_NE(server.err().find("tlb server: stopping (SIGINT)"), std::string::npos) << server.err();

  ServerProcess quick({TLB_EXECUTABLE, "server", "--bind", "127.0.0.1", "--port", "0", "--data-dir",
                       data_dir(), "--exit-after", "1"},
                      testing::kTlbServerListening);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(quick.wait_exit(std::chrono::seconds(10)), 0) << quick.err();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_NE(quick.err().find("tlb server: stopping (--exit-after 1)"), std::string::npos) << quick.err();
}

TEST_F(ServerTest, RefusesBadSettings) {
  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{{"--port", "abc"},
                                                        {"--port", "70000"},
                                                        {"--max-request-bytes", "0"},
                                                        {"--version-life-days", "-2"}}) {
    EXPECT_THROW(ServerProcess({TLB_EXECUTABLE, "server", "--data-dir", data_dir(), flag, value},
                               testing::kTlbServerListening, {}, std::chrono::seconds(5)),
                 std::runtime_error)
        << flag << " " << value;
  }
  try {
    ServerProcess({TLB_EXECUTABLE, "server", "--data-dir", data_dir(), "--port", "abc"},
                  testing::kTlbServerListening);
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exit status 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--port=abc: not a whole number from 0 to 65535"), std::string::npos)
        << e.what();
  }
}

TEST_F(ServerTest, RefusesADatabaseOfANewerSchemaAndAFileThatIsNoDatabase) {
  start();
  put("/job/suite_time", "a: 5\n");
  EXPECT_EQ(server_->stop(), 0);
  // PRAGMA user_version is the big-endian 32-bit number at offset 60 of the file (the clean stop checkpointed
  // the WAL into it).
  const std::string file = data_dir() + "/tlb.sqlite3";
  ASSERT_FALSE(std::filesystem::exists(file + "-wal"));
  {
    std::fstream db(file, std::ios::in | std::ios::out | std::ios::binary);
    db.seekp(60);
    const char version[4] = {0, 0, 0, 99};
    db.write(version, 4);
  }
  try {
    server_->restart();
    FAIL() << "a newer schema was opened";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(
        std::string(e.what()).find("database schema version 99 was written by a newer tlb; this one reads "
                                   "version 4"),
        std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("exit status 1"), std::string::npos) << e.what();
  }

  std::filesystem::remove(file);
  write("data/tlb.sqlite3", "this is not a database, but a text file long enough to have a header .........");
  EXPECT_THROW(start(), std::runtime_error);
}

// --- JSON API ---

TEST_F(ServerTest, StatusAndHelp) {
  start();
  const auto status = get("/api/v1/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  EXPECT_EQ(status->get_header_value("Content-Type"), "application/json");
  const json document = json::parse(status->body);
  EXPECT_EQ(document.at("service"), "tlb");
  EXPECT_FALSE(document.at("version").get<std::string>().empty());

  const auto help = get("/api/v1/routes");
  ASSERT_TRUE(help);
  EXPECT_EQ(help->status, 200);
  EXPECT_EQ(help->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_TRUE(help->body.starts_with("tlb server ")) << help->body;
  for (const char* route :
       {"POST /api/v1/jobs/{job}/versions/{version}/partitions", "GET,PUT /{job}/suite_time",
        "POST /{job}/correctness_check/{version}/{total}/{partition}/sub_set/{module}", "GET /api/v1/routes",
        "GET /  the dashboard (HTML)", "POST /api/v1/swarm/agents/{agent}/pull"}) {
    EXPECT_NE(help->body.find(route), std::string::npos) << route;
  }
  // A title line and one line per route.
  EXPECT_EQ(std::count(help->body.begin(), help->body.end(), '\n'), 26);
  // GET / is the dashboard, for browsers and curl alike (one representation per URL): HTML.
  const auto home = get("/");
  ASSERT_TRUE(home);
  EXPECT_EQ(home->status, 200);
  EXPECT_EQ(home->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(home->body.find("href=\"/api/v1/routes\""), std::string::npos) << home->body;
}

// The swarm routes over HTTP: bad bodies get a 400 naming what is wrong, and nothing counts; a batch of
// reports counts in one call, and sent again gives the same answers.
TEST_F(ServerTest, SwarmRoutesRefuseBadBodiesAndTakeABatchOfReports) {
  start();
  const std::string swarm = "/api/v1/swarm";
  auto error_of = [](const httplib::Result& result) -> std::pair<int, std::string> {
    if (!result) return {-1, "no answer"};
    return {result->status, json::parse(result->body).value("error", "")};
  };
  EXPECT_EQ(error_of(post_json(swarm + "/runs", "{not json")).first, 400);
  EXPECT_EQ(error_of(post_json(swarm + "/runs", "[1]")),
            (std::pair<int, std::string>{400, "request body is not a JSON object"}));
  EXPECT_EQ(error_of(post_json(swarm + "/agents", R"({"name": "box"})")),
            (std::pair<int, std::string>{400, "request body has no \"key\""}));

  const auto submitted = post_json(swarm + "/runs", R"({"job": "j", "version": "1", "test_list_hash": "h",
      "mode": "queue", "tests": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})");
  ASSERT_TRUE(submitted);
  ASSERT_EQ(submitted->status, 201) << submitted->body;
  const auto joined = post_json(swarm + "/agents", R"({"key": "k1", "name": "box", "test_list_hash": "h",
      "attributes": {"os": "Linux", "arch": "x86_64", "cores": 2, "ram_mb": 4000, "bench": 1}})");
  ASSERT_TRUE(joined);
  ASSERT_EQ(joined->status, 200) << joined->body;
  const std::string agent = swarm + "/agents/" + json::parse(joined->body).at("agent").get<std::string>();
  // Every call of the agent carries the secret its registration answered.
  const std::string secret = json::parse(joined->body).at("secret");
  auto signed_body = [&](json body) {
    body["secret"] = secret;
    return body.dump();
  };

  // Tests without history go out one at a time: pull all three.
  std::vector<json> assignments;
  for (int pull = 1; pull <= 3; ++pull) {
    const auto pulled = post_json(agent + "/pull", signed_body({{"request_id", "r" + std::to_string(pull)}}));
    ASSERT_TRUE(pulled);
    ASSERT_EQ(pulled->status, 200) << pulled->body;
    const json answer = json::parse(pulled->body);
    for (const json& a : answer.at("assignments")) assignments.push_back(a);
  }
  ASSERT_EQ(assignments.size(), 3u);
  auto report = [&](std::size_t i, const std::string& status, double seconds) {
    return json{{"lease", assignments[i].at("lease")},
                {"test", assignments[i].at("test")},
                {"status", status},
                {"seconds", seconds}};
  };

  EXPECT_EQ(error_of(post_json(agent + "/report", signed_body({{"reports", json::array()}}))),
            (std::pair<int, std::string>{400, "\"reports\" must be a list of reports"}));
  // One bad report refuses the whole batch: the good one before it does not count.
  EXPECT_EQ(
      error_of(post_json(agent + "/report",
                         signed_body({{"reports", {report(0, "passed", 1), report(1, "exploded", 1)}}}))),
      (std::pair<int, std::string>{
          400, "reports[1]: \"status\" must be passed, failed or skipped, not 'exploded'"}));
  EXPECT_EQ(error_of(post_json(agent + "/report", signed_body({{"reports", {report(0, "passed", -1)}}}))),
            (std::pair<int, std::string>{400, "reports[0]: \"seconds\" must be a duration of 0 or more"}));
  json foreign = report(2, "passed", 1);
  foreign["lease"] = 999;
  EXPECT_EQ(error_of(post_json(agent + "/report", signed_body(foreign))).first, 409);
  const auto before = get(swarm + "/runs/1");
  ASSERT_TRUE(before);
  EXPECT_EQ(json::parse(before->body).at("done"), 0) << before->body;

  // The batch counts, in order; sent again, the same answers.
  const std::string batch = signed_body({{"reports", {report(0, "passed", 1.5), report(1, "failed", 0.5)}}});
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto reported = post_json(agent + "/report", batch);
    ASSERT_TRUE(reported);
    ASSERT_EQ(reported->status, 200) << reported->body;
    const json results = json::parse(reported->body).at("results");
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].at("test"), assignments[0].at("test"));
    EXPECT_EQ(results[1].at("test"), assignments[1].at("test"));
    EXPECT_TRUE(results[0].at("authoritative").get<bool>());
    EXPECT_TRUE(results[1].at("authoritative").get<bool>());
  }
  const auto single = post_json(agent + "/report", signed_body(report(2, "passed", 2)));
  ASSERT_TRUE(single);
  EXPECT_EQ(single->status, 200) << single->body;
  const auto results = get(swarm + "/runs/1/results");
  ASSERT_TRUE(results);
  const json outcome = json::parse(results->body);
  EXPECT_EQ(outcome.at("state"), "done") << results->body;
  std::map<std::string, std::string> status;
  for (const json& t : outcome.at("tests")) status[t.at("name")] = t.at("status");
  EXPECT_EQ(status, (std::map<std::string, std::string>{{assignments[0].at("test"), "passed"},
                                                        {assignments[1].at("test"), "failed"},
                                                        {assignments[2].at("test"), "passed"}}));
}

// Issue 21 over HTTP, on the server's wall clock: a fast CI job (bench 300) takes the 4 s test of a queue run
// and runs past its expected end; the slow job (bench 100) must get the twenty 0.01 s tests in batches of at
// least the minimum batch (1 s of its time), not one per pull, while the four 3 s tests wait.
TEST_F(ServerTest, AQueueJobPastItsExpectedEndIsBusyAndTheOtherGetsBatches) {
  start();
  std::vector<Observed> history = {{"long", 4.0}};
  for (int i = 0; i < 4; ++i) history.push_back({"mid-" + std::to_string(i), 3.0});
  for (int i = 10; i < 30; ++i) history.push_back({"tiny-" + std::to_string(i), 0.01});
  ASSERT_EQ(
      answer(post_json("/api/v1/jobs/app/versions/old/results", results_body(0, 0, kToday, history))).first,
      200);
  json tests = json::array();
  for (const Observed& o : history) tests.push_back({{"name", o.name}});
  const std::string swarm = "/api/v1/swarm";
  const auto submitted = post_json(
      swarm + "/runs",
      json{{"job", "app"}, {"version", "ci-21"}, {"test_list_hash", "h"}, {"mode", "queue"}, {"tests", tests}}
          .dump());
  ASSERT_TRUE(submitted);
  ASSERT_EQ(submitted->status, 201) << submitted->body;
  const std::string fast = enroll_job("app/ci-21/fast", "fast", 300);
  const std::string slow = enroll_job("app/ci-21/slow", "slow", 100);
  const json held = pull_as(fast, 1);
  ASSERT_EQ(held.size(), 1u);
  ASSERT_EQ(held[0].at("test"), "long");
  // Past the expected end (4 s at 1.5x), the fast job still running and heard from.
  std::this_thread::sleep_for(
      std::chrono::milliseconds(static_cast<int>(1000 * held[0].at("expected_seconds").get<double>()) + 300));
  ASSERT_EQ(answer(call_as(fast, "heartbeat", json::object())).first, 200);

  int left = 24, calls = 0;
  while (left > 0 && calls < 30) {
    const json batch = pull_as(slow, ++calls);
    ASSERT_FALSE(batch.empty()) << "call " << calls;
    double own = 0;
    json reports = json::array();
    for (const json& a : batch) {
      own += a.at("expected_seconds").get<double>() + 0.05;
      reports.push_back({{"lease", a.at("lease")},
                         {"test", a.at("test")},
                         {"status", "passed"},
                         {"seconds", a.at("expected_seconds")}});
    }
    left -= static_cast<int>(batch.size());
    EXPECT_TRUE(own >= 1 || left == 0) << "call " << calls << ": " << batch.dump();
    ASSERT_EQ(answer(call_as(slow, "report", json{{"reports", reports}})).first, 200);
  }
  EXPECT_EQ(left, 0);
  // Twenty 0.07 s tests take at most two batches; each 3 s test one.
  EXPECT_LE(calls, 6);
  const json done =
      json{{"lease", held[0].at("lease")}, {"test", "long"}, {"status", "passed"}, {"seconds", 5}};
  ASSERT_EQ(answer(call_as(fast, "report", done)).first, 200);
  EXPECT_EQ(json::parse(get(swarm + "/runs/1")->body).at("state"), "done");
}

// Issue 21's drift over HTTP: a queue run's directory whose first result took 3x its history gets its other
// pending test raised and sent ahead of the tests history ranked above it; the rest keep history's estimates.
TEST_F(ServerTest, AQueueRunSendsAheadTheTestsOfADirectoryThatRunsSlowerThanHistory) {
  start();
  const std::vector<Observed> history = {
      {"slow/a.feature", 4.0}, {"slow/b.feature", 2.0}, {"fast/x.feature", 3.0}, {"fast/y.feature", 3.0}};
  ASSERT_EQ(
      answer(post_json("/api/v1/jobs/app/versions/old/results", results_body(0, 0, kToday, history))).first,
      200);
  json tests = json::array();
  for (const Observed& o : history) tests.push_back({{"name", o.name}});
  const auto submitted = post_json("/api/v1/swarm/runs", json{{"job", "app"},
                                                              {"version", "ci-drift"},
                                                              {"test_list_hash", "h"},
                                                              {"mode", "queue"},
                                                              {"tests", tests}}
                                                             .dump());
  ASSERT_TRUE(submitted);
  ASSERT_EQ(submitted->status, 201) << submitted->body;
  const std::string job = enroll_job("app/ci-drift/1", "job", 100);
  auto run = [&](const json& batch, double seconds) {
    json reports = json::array();
    for (const json& a : batch)
      reports.push_back(
          {{"lease", a.at("lease")}, {"test", a.at("test")}, {"status", "passed"}, {"seconds", seconds}});
    return answer(call_as(job, "report", json{{"reports", reports}})).first;
  };
  const json first = pull_as(job, 1);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(first[0].at("test"), "slow/a.feature");
  ASSERT_EQ(run(first, 12), 200);  // 3x its history.

  const json second = pull_as(job, 2);
  ASSERT_EQ(second.size(), 1u) << second.dump();
  EXPECT_EQ(second[0].at("test"), "slow/b.feature");
  EXPECT_GT(second[0].at("expected_seconds").get<double>(), 3) << second.dump();
  ASSERT_EQ(run(second, 4), 200);
  for (int request = 3; request < 6; ++request) {
    const json batch = pull_as(job, request);
    for (const json& a : batch) EXPECT_DOUBLE_EQ(a.at("expected_seconds").get<double>(), 3) << batch.dump();
    if (!batch.empty()) {
      ASSERT_EQ(run(batch, 3), 200);
    }
  }
  EXPECT_EQ(json::parse(get("/api/v1/swarm/runs/1")->body).at("state"), "done");
}

TEST_F(ServerTest, AnUnknownJobHasAnEmptyHistory) {
  start();
  EXPECT_EQ(
      answer(get("/api/v1/jobs/nobody/history")),
      std::make_pair(
          200, std::string(R"({"kind":"tlb-history","version":1,"job":"nobody","snapshot":null,"tests":[]})"
                           "\n")));
}

TEST_F(ServerTest, ResultsAreFoldedIntoTheLiveHistoryByTheHistoryRules) {
  start();
  auto first = post_json("/api/v1/jobs/app/versions/run1/results",
                         results_body(1, 2, "2024-05-01",
                                      {{"b", 2.0}, {"a", 1.0}, {"c", 4.0, "failed"}, {"s", 9.0, "skipped"}}));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(first->body, R"({"observed":4,"added":4,"forgotten":0,"stored":4,"duplicate":false})"
                         "\n");
  // A passed run is smoothed in (alpha 0.5); a failed run shorter than the estimate is not; a skipped run
  // only while the test has no other duration (s: 9 s skipped, then 1 s passed).
  auto second =
      post_json("/api/v1/jobs/app/versions/run2/results",
                results_body(1, 2, "2024-05-02", {{"a", 3.0}, {"c", 1.0, "failed"}, {"s", 1.0, "passed"}}));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body, R"({"observed":3,"added":0,"forgotten":0,"stored":4,"duplicate":false})"
                          "\n");
  EXPECT_EQ(answer(get("/api/v1/jobs/app/history")).second,
            R"({"kind":"tlb-history","version":1,"job":"app","snapshot":null,"tests":[)"
            R"({"name":"a","seconds":2.0,"runs":2,"last_result":"passed","last_seen":"2024-05-02"},)"
            R"({"name":"b","seconds":2.0,"runs":1,"last_result":"passed","last_seen":"2024-05-01"},)"
            R"({"name":"c","seconds":4.0,"runs":1,"last_result":"failed","last_seen":"2024-05-02"},)"
            R"({"name":"s","seconds":5.0,"runs":2,"last_result":"passed","last_seen":"2024-05-02"}]})"
            "\n");
  // The aging rule, counted back from the newest last-seen date.
  auto later = post_json("/api/v1/jobs/app/versions/run3/results",
                         results_body(0, 0, "2024-06-15", {{"a", 2.0}}, 0.5, 30));
  ASSERT_TRUE(later);
  EXPECT_EQ(later->body, R"({"observed":1,"added":0,"forgotten":3,"stored":1,"duplicate":false})"
                         "\n");
}

TEST_F(ServerTest, ResultsAreAppliedOnceHoweverOftenTheyArePosted) {
  start();
  const std::string body = results_body(2, 4, "2024-05-01", {{"x", 1.0}, {"y", 2.0}});
  auto first = post_json("/api/v1/jobs/app/versions/v1/results", body);
  auto again = post_json("/api/v1/jobs/app/versions/v1/results", body);
  ASSERT_TRUE(first && again);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(again->body, R"({"observed":0,"added":0,"forgotten":0,"stored":2,"duplicate":true})"
                         "\n");
  const json history = json::parse(get("/api/v1/jobs/app/history")->body);
  for (const json& test : history.at("tests")) EXPECT_EQ(test.at("runs"), 1) << test.dump();
  // Another version, or another body, is applied.
  auto other_version = post_json("/api/v1/jobs/app/versions/v2/results", body);
  ASSERT_TRUE(other_version);
  EXPECT_NE(other_version->body.find("\"duplicate\":false"), std::string::npos);
}

TEST_F(ServerTest, AVersionSnapshotIsFrozenOnItsFirstRead) {
  start();
  ASSERT_EQ(post_json("/api/v1/jobs/app/versions/old/results", results_body(0, 0, "2024-05-01", {{"a", 1.0}}))
                ->status,
            200);
  const auto first = get("/api/v1/jobs/app/versions/run7/history");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body,
            R"({"kind":"tlb-history","version":1,"job":"app","snapshot":"run7","tests":[)"
            R"({"name":"a","seconds":1.0,"runs":1,"last_result":"passed","last_seen":"2024-05-01"}]})"
            "\n");
  // Recorded after the first read: the live history changes, the snapshot does not.
  ASSERT_EQ(post_json("/api/v1/jobs/app/versions/run7/results",
                      results_body(1, 2, "2024-05-02", {{"a", 3.0}, {"b", 5.0}}))
                ->status,
            200);
  EXPECT_EQ(get("/api/v1/jobs/app/versions/run7/history")->body, first->body);
  EXPECT_EQ(get("/app/suite_time/run7")->body, "a: 1000\n");
  const json live = json::parse(get("/api/v1/jobs/app/history")->body);
  EXPECT_EQ(live.at("tests").size(), 2u);
  EXPECT_EQ(live.at("tests").at(0).at("seconds"), 2.0);
  // A new version freezes the history as it is now; the original path freezes the same snapshot.
  EXPECT_EQ(get("/app/suite_time/run8")->body, "a: 2000\nb: 5000\n");
  EXPECT_EQ(json::parse(get("/api/v1/jobs/app/versions/run8/history")->body).at("tests").size(), 2u);
}

// Issue 17 item 9: a partition post checks the new record against what the server kept of the version's
// records, and the dashboard shows each run's verdict kept since its last record: neither parses the records
// stored again (each post parsed all of its version's, each dashboard hit every run's). The server counts
// what each request parsed (TLB_SERVER_COUNT_PARSES).
TEST_F(ServerTest, PostsAndDashboardHitsParseOnlyWhatChanged) {
  start({}, {{"TLB_SERVER_COUNT_PARSES", "1"}});
  std::vector<std::string> all;
  for (int t = 0; t < 40; ++t) all.push_back("t" + std::to_string(10 + t));
  const auto tests_of = [&](int k) {
    return std::vector<std::string>(all.begin() + 5 * (k - 1), all.begin() + 5 * k);
  };
  const auto parsed = [](const httplib::Result& result) {
    return result ? result->get_header_value("X-TLB-Records-Parsed") : std::string("no answer");
  };
  for (const std::string version : {"1", "2", "3"}) {
    for (int k = 1; k <= 8; ++k) {
      const auto posted = post_json("/api/v1/jobs/app/versions/" + version + "/partitions",
                                    record_text(make_record(k, 8, all, tests_of(k))));
      ASSERT_TRUE(posted);
      EXPECT_EQ(posted->status, k == 1 ? 201 : 200) << posted->body;
      EXPECT_EQ(parsed(posted), "0") << "version " << version << ", partition " << k;
    }
  }
  // A conflict is still found, without parsing.
  const auto conflict = post_json("/api/v1/jobs/app/versions/3/partitions",
                                  record_text(make_record(2, 8, all, {"t10", "t16"})));
  EXPECT_EQ(answer(conflict).first, 409);
  EXPECT_EQ(parsed(conflict), "0");
  EXPECT_EQ(parsed(get("/")), "24");  // Three runs of 8 records, verified once...
  EXPECT_EQ(parsed(get("/")), "0");   // ... and kept.
  EXPECT_EQ(parsed(get("/?job=app")), "0");
  // Results fold into their partition's record (the one parsed); only that run is verified again.
  const std::string results =
      R"({"kind":"tlb-run-report","version":1,"partition":1,"total":8,"date":"2023-11-14","observations":[)"
      R"({"name":"t10","seconds":1,"outcome":"passed"}]})";
  EXPECT_EQ(parsed(post_json("/api/v1/jobs/app/versions/3/results", results)), "1");
  EXPECT_EQ(parsed(get("/")), "8");
  EXPECT_EQ(parsed(get("/")), "0");
  // A restarted server reads a version's records once, at its first post, then keeps them.
  server_->restart();
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto retried =
        post_json("/api/v1/jobs/app/versions/3/partitions", record_text(make_record(2, 8, all, tests_of(2))));
    EXPECT_EQ(answer(retried).first, 200);
    EXPECT_EQ(parsed(retried), attempt == 0 ? "8" : "0");
  }
}

TEST_F(ServerTest, PartitionRecordsAreCheckedAgainstEachOther) {
  start();
  const std::vector<std::string> all{"a", "b", "c", "d", "e", "f", "fixture"};
  const std::string path = "/api/v1/jobs/app/versions/42/partitions";
  EXPECT_EQ(answer(post_json(path, record_text(make_record(1, 4, all, {"a", "b", "fixture"}, {"fixture"})))),
            std::make_pair(201, std::string(R"({"partition":1,"total":4,"records":1,"complete":false})"
                                            "\n")));
  EXPECT_EQ(answer(post_json(path, record_text(make_record(2, 4, all, {"c", "fixture"}, {"fixture"})))),
            std::make_pair(200, std::string(R"({"partition":2,"total":4,"records":2,"complete":false})"
                                            "\n")));
  // A retried job posts the same record again.
  EXPECT_EQ(answer(post_json(path, record_text(make_record(2, 4, all, {"c", "fixture"}, {"fixture"})))),
            std::make_pair(200, std::string(R"({"partition":2,"total":4,"records":2,"complete":false})"
                                            "\n")));
  // ... but not other tests under the same partition.
  EXPECT_EQ(
      answer(post_json(path, record_text(make_record(2, 4, all, {"c", "d"})))),
      std::make_pair(
          409,
          std::string(
              R"j({"error":"partition 2/4 was already recorded with other tests (a retried job must be given the same tests)"})j"
              "\n")));
  // Another test list.
  const std::vector<std::string> other_list{"a", "b", "c", "d", "e", "f", "g"};
  EXPECT_EQ(
      answer(post_json(path, record_text(make_record(3, 4, other_list, {"d"})))),
      std::make_pair(409, "{\"error\":\"partition 3/4 saw another test list than partition 1/4 (" +
                              io::hash_names(other_list) + " against " + io::hash_names(all) + ")\"}\n"));
  // Another total.
  EXPECT_EQ(
      answer(post_json(path, record_text(make_record(3, 5, all, {"d"})))),
      std::make_pair(
          409, std::string(R"j({"error":"partition 3/5 saw another total than partition 1/4 (5 against 4)"})j"
                           "\n")));
  // A test another partition already has (attachments may be in several).
  EXPECT_EQ(
      answer(post_json(path, record_text(make_record(3, 4, all, {"b", "c", "d", "fixture"}, {"fixture"})))),
      std::make_pair(
          409, std::string(R"({"error":"partition 3/4 was given 1 test that partition 1/4 already has: 'b'"})"
                           "\n")));
  // A record whose list does not hash to its hash.
  io::PartitionRecord forged = make_record(3, 4, all, {"d"});
  forged.all_tests.pop_back();
  const auto bad = post_json(path, record_text(forged));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_TRUE(bad->body.starts_with(R"({"error":"partition record: its all_tests hash to fnv1a64:)"))
      << bad->body;

  EXPECT_EQ(answer(post_json(path, record_text(make_record(3, 4, all, {"d", "e"})))).first, 200);
  EXPECT_EQ(answer(post_json(path, record_text(make_record(4, 4, all, {"f", "fixture"}, {"fixture"})))),
            std::make_pair(200, std::string(R"({"partition":4,"total":4,"records":4,"complete":true})"
                                            "\n")));

  const auto records = get("/api/v1/jobs/app/versions/42/records");
  ASSERT_TRUE(records);
  EXPECT_EQ(records->status, 200);
  const json listed = json::parse(records->body);
  ASSERT_EQ(listed.at("records").size(), 4u);
  for (std::size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(listed.at("records").at(k).at("partition"), k + 1);
    EXPECT_EQ(io::parse_record(listed.at("records").at(k).dump(), "listed").tests,
              (std::vector<std::vector<std::string>>{
                  {"a", "b", "fixture"}, {"c", "fixture"}, {"d", "e"}, {"f", "fixture"}}[k]));
  }
}

TEST_F(ServerTest, VerifyProvesARunOnlyWhenEveryPartitionReported) {
  start();
  const std::vector<std::string> all{"t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"};
  EXPECT_EQ(answer(get("/api/v1/jobs/app/versions/9/verify")),
            std::make_pair(404, std::string(R"({"error":"no partition of app version 9 has reported"})"
                                            "\n")));
  for (int k = 1; k <= 4; ++k) {
    const auto first = static_cast<std::size_t>(2 * (k - 1));
    const std::vector<std::string> mine{all[first], all[first + 1]};
    for (const char* version : {"complete", "partial"}) {
      if (k == 3 && std::string(version) == "partial") continue;  // Partition 3 of "partial" never ran.
      const std::string base = std::string("/api/v1/jobs/app/versions/") + version;
      ASSERT_LT(answer(post_json(base + "/partitions", record_text(make_record(k, 4, all, mine)))).first,
                300);
      ASSERT_EQ(answer(post_json(base + "/results", results_body(k, 4, "2024-05-01",
                                                                 {{mine[0], 1.0}, {mine[1], 2.0, "failed"}})))
                    .first,
                200);
    }
  }
  const auto proven = get("/api/v1/jobs/app/versions/complete/verify");
  ASSERT_TRUE(proven);
  EXPECT_EQ(proven->status, 200);
  const json yes = json::parse(proven->body);
  EXPECT_EQ(yes.at("proven"), true) << proven->body;
  EXPECT_EQ(yes.at("records"), 4);
  EXPECT_EQ(yes.at("tests"), 8);

  const auto unproven = get("/api/v1/jobs/app/versions/partial/verify?strict=1");
  ASSERT_TRUE(unproven);
  EXPECT_EQ(unproven->status, 200);
  const json no = json::parse(unproven->body);
  EXPECT_EQ(no.at("proven"), false) << unproven->body;
  std::vector<std::string> kinds;
  for (const json& problem : no.at("problems")) kinds.push_back(problem.at("kind"));
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "missing partition"), kinds.end()) << unproven->body;

  // The results completed the stored records.
  const json records = json::parse(get("/api/v1/jobs/app/versions/complete/records")->body);
  const io::PartitionRecord first = io::parse_record(records.at("records").at(0).dump(), "listed");
  EXPECT_TRUE(first.has_results);
  EXPECT_EQ(first.recorded_on, "2024-05-01");
  ASSERT_EQ(first.results.size(), 2u);
  EXPECT_EQ(first.results[1].status, io::ResultStatus::failed);
}

// --- The original TLB API, byte for byte ---

TEST_F(ServerTest, OriginalSuiteTimesAndResults) {
  start();
  EXPECT_EQ(answer(put("/job-a/suite_time",
                       "com/foo/BarTest.class: 1500\nspec/x_spec.rb:200\r\nx: y: 7\n\nz:   3\n")),
            std::make_pair(200, std::string()));
  EXPECT_EQ(
      answer(get("/job-a/suite_time")),
      std::make_pair(200, std::string("com/foo/BarTest.class: 1500\nspec/x_spec.rb: 200\nx: y: 7\nz: 3\n")));
  // Merged by name: a later PUT replaces the times it names and keeps the others.
  EXPECT_EQ(answer(put("/job-a/suite_time", "z: 40\n")).first, 200);
  EXPECT_EQ(get("/job-a/suite_time")->body,
            "com/foo/BarTest.class: 1500\nspec/x_spec.rb: 200\nx: y: 7\nz: 40\n");
  const ordered_json history = ordered_json::parse(get("/api/v1/jobs/job-a/history")->body);
  EXPECT_EQ(history.at("tests").at(3).dump(),
            std::string(R"({"name":"z","seconds":0.04,"runs":2,"last_result":"unknown","last_seen":")") +
                kToday + "\"}");

  EXPECT_EQ(
      answer(put("/job-a/suite_result", "z: true\ncom/foo/BarTest.class: false\nnew/Test: true\n")).first,
      200);
  EXPECT_EQ(get("/job-a/suite_result")->body, "com/foo/BarTest.class: false\nnew/Test: true\nz: true\n");
  // A test known only by its result has no time to give.
  EXPECT_EQ(get("/job-a/suite_time")->body,
            "com/foo/BarTest.class: 1500\nspec/x_spec.rb: 200\nx: y: 7\nz: 40\n");
  // Unknown jobs: empty bodies.
  EXPECT_EQ(answer(get("/nobody/suite_time")), std::make_pair(200, std::string()));
  EXPECT_EQ(answer(get("/nobody/suite_result")), std::make_pair(200, std::string()));
}

TEST_F(ServerTest, OriginalSubsetSizes) {
  start();
  EXPECT_EQ(answer(get("/job-1/subset_size")), std::make_pair(200, std::string()));
  EXPECT_EQ(answer(post("/job-1/subset_size", "5")).first, 200);
  EXPECT_EQ(answer(post("/job-1/subset_size", "7\n")).first, 200);
  EXPECT_EQ(answer(post("/job-2/subset_size", "1")).first, 200);
  EXPECT_EQ(answer(get("/job-1/subset_size")), std::make_pair(200, std::string("5\n7\n")));
  EXPECT_EQ(answer(post("/job-1/subset_size", "many")),
            std::make_pair(400, std::string("subset size 'many' is not a whole number\n")));
  EXPECT_EQ(answer(put("/job-1/subset_size", "5")).first, 405);
}

TEST_F(ServerTest, OriginalUniversalSet) {
  start();
  const std::string path = "/job/correctness_check/v1/universal_set/my-module";
  EXPECT_EQ(answer(post(path, "foo.bar.Baz.class\nbar.baz.Bang.class\nbaz.bang.Quux.class")),
            std::make_pair(201, std::string()));
  EXPECT_EQ(answer(post(path, "foo.bar.Baz.class\nbaz.bang.Quux.class\nbar.baz.Bang.class")),
            std::make_pair(200, std::string()));
  EXPECT_EQ(
      answer(post(path, "foo.bar.Baz.class\nbaz.bang.Quux.class")),
      std::make_pair(
          409, std::string("Expected universal set was [bar.baz.Bang.class, baz.bang.Quux.class, "
                           "foo.bar.Baz.class] but given [baz.bang.Quux.class, foo.bar.Baz.class].\n")));
  // Modules are separate; so are versions.
  EXPECT_EQ(answer(post("/job/correctness_check/v1/universal_set/other", "x")).first, 201);
  EXPECT_EQ(answer(post("/job/correctness_check/v2/universal_set/my-module", "x")).first, 201);
}

class OriginalSubsetTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    start();
  }
  std::pair<int, std::string> universal(const std::string& module, const std::string& names) {
    return answer(post("/job/correctness_check/v1/universal_set/" + module, names));
  }
  std::pair<int, std::string> subset(const std::string& module, int partition, int total,
                                     const std::string& names) {
    return answer(post("/job/correctness_check/v1/" + std::to_string(total) + "/" +
                           std::to_string(partition) + "/sub_set/" + module,
                       names));
  }
  std::pair<int, std::string> completeness(const std::string& module) {
    return answer(get("/job/correctness_check/v1/verify_partition_completeness/" + module));
  }
};

TEST_F(OriginalSubsetTest, NeedsAUniversalSet) {
  EXPECT_EQ(subset("m", 1, 2, "a"),
            std::make_pair(406, std::string("Universal set for given job-name, job-version and module-name "
                                            "combination doesn't exist.\n")));
}

TEST_F(OriginalSubsetTest, MutualExclusion) {
  ASSERT_EQ(universal("my-module", "foo/bar/Baz\nbar/baz/Quux\nfoo/Quux\nhello/World").first, 201);
  EXPECT_EQ(subset("my-module", 2, 3, "foo/bar/Baz\nbar/baz/Quux"), std::make_pair(200, std::string()));
  EXPECT_EQ(subset("my-module", 3, 3, "foo/Quux"), std::make_pair(200, std::string()));
  EXPECT_EQ(subset("my-module", 1, 3, "bar/baz/Quux\nhello/World\nfoo/Quux"),
            std::make_pair(
                409, std::string(
                         "- Mutual exclusion of test-suites across splits violated by partition 1/3. Suites "
                         "[bar/baz/Quux: 2/3, foo/Quux: 3/3] have already been selected for running by "
                         "other partitions.\nHad total of 3 suites named [bar/baz/Quux, foo/Quux, "
                         "hello/World] in partition 1 of 3(for module my-module). Corresponding universal "
                         "set had a total of 4 suites named [bar/baz/Quux: 2/3, foo/Quux: 3/3, "
                         "foo/bar/Baz: 2/3, hello/World: 1/3].\n")));
  EXPECT_EQ(completeness("my-module"), std::make_pair(200, std::string("All partitions executed.\n")));
}

TEST_F(OriginalSubsetTest, CollectiveExhaustion) {
  ASSERT_EQ(universal("some-module", "foo/bar/Baz\nbar/baz/Quux\nfoo/Quux\nhello/World\nbaz/bar/Foo").first,
            201);
  EXPECT_EQ(subset("some-module", 2, 3, "bar/baz/Quux").first, 200);
  EXPECT_EQ(
      completeness("some-module"),
      std::make_pair(417, std::string("- [1, 3] of total 3 partition(s)(for module some-module) were not "
                                      "executed. This violates collective exhaustion. Please check your "
                                      "partition configuration for potential mismatch in total-partitions "
                                      "value and actual 'number of partitions' configured and check your "
                                      "build process triggering mechanism for failures.\n")));
  EXPECT_EQ(subset("some-module", 3, 3, "foo/Quux").first, 200);
  EXPECT_EQ(
      subset("some-module", 1, 3, "hello/World"),
      std::make_pair(
          409, std::string("- Collective exhaustion of tests violated as none of the 3 partition picked up "
                           "suites: [baz/bar/Foo, foo/bar/Baz](of module some-module). Failing partition 1 "
                           "as this is the last partition to execute.\nHad total of 1 suites named "
                           "[hello/World] in partition 1 of 3(for module some-module). Corresponding "
                           "universal set had a total of 5 suites named [bar/baz/Quux: 2/3, baz/bar/Foo, "
                           "foo/Quux: 3/3, foo/bar/Baz, hello/World: 1/3].\n")));
}

TEST_F(OriginalSubsetTest, UnknownAndRepeatedSuites) {
  ASSERT_EQ(universal("yeah-baby", "foo/bar/Baz\nbar/baz/Quux\nfoo/Quux\nhello/World").first, 201);
  EXPECT_EQ(subset("yeah-baby", 1, 2, "foo/bar/Baz\nfoo/Bar\nhell/Yeah\nhell/o/World\nfoo/Quux"),
            std::make_pair(
                409, std::string("- Found 3 unknown(not present in universal set) suite(s) named: [foo/Bar, "
                                 "hell/Yeah, hell/o/World].\nHad total of 5 suites named [foo/Bar, foo/Quux, "
                                 "foo/bar/Baz, hell/Yeah, hell/o/World] in partition 1 of 2(for module "
                                 "yeah-baby). Corresponding universal set had a total of 4 suites named "
                                 "[bar/baz/Quux, foo/Quux: 1/2, foo/bar/Baz: 1/2, hello/World].\n")));

  ASSERT_EQ(universal("hello-world", "foo/bar/Baz\nbar/baz/Quux\nfoo/Quux\nhello/World").first, 201);
  EXPECT_EQ(subset("hello-world", 2, 3, "foo/Quux\nfoo/bar/Baz\nfoo/Quux\nfoo/bar/Baz\nfoo/Quux"),
            std::make_pair(
                409, std::string("- Found more than one occurrence of 2 suite(s) named: {foo/bar/Baz=2, "
                                 "foo/Quux=3}.\nHad total of 5 suites named [foo/Quux, foo/Quux, foo/Quux, "
                                 "foo/bar/Baz, foo/bar/Baz] in partition 2 of 3(for module hello-world). "
                                 "Corresponding universal set had a total of 4 suites named [bar/baz/Quux, "
                                 "foo/Quux: 2/3, foo/bar/Baz: 2/3, hello/World].\n")));
}

TEST_F(OriginalSubsetTest, ASubsetPostedTwiceAndInconsistentTotals) {
  ASSERT_EQ(universal("m", "a\nb\nc\nd").first, 201);
  EXPECT_EQ(subset("m", 2, 3, "a\nb").first, 200);
  EXPECT_EQ(subset("m", 2, 3, "a\nc").first, 200);  // Same partition again: allowed.
  EXPECT_EQ(
      subset("m", 3, 4, "d"),
      std::make_pair(
          409, std::string("- Partitions [2/3, 3/4](for module m) are being run with inconsistent "
                           "total-partitions configuration. This may lead to violation of mutual-exclusion "
                           "or collective-exhaustion or both. Total partitions value should be the same "
                           "across all partitions of a job-name and job-version combination.\nHad total of "
                           "1 suites named [d] in partition 3 of 4(for module m). Corresponding universal "
                           "set had a total of 4 suites named [a: 2/3, b: 2/3, c: 2/3, d: 3/4].\n")));
  EXPECT_EQ(completeness("m").first, 417);
  EXPECT_EQ(
      completeness("never"),
      std::make_pair(417, std::string("- No record found for partition execution. Please verify correctness "
                                      "check was enabled on this build.\n")));
  EXPECT_EQ(subset("m", 4, 3, "d").first, 400);
  EXPECT_EQ(subset("m", 0, 3, "d").first, 400);
}

TEST_F(ServerTest, WhatOneApiWritesTheOtherReads) {
  start();
  ASSERT_EQ(answer(put("/shared/suite_time", "Legacy: 2500\n")).first, 200);
  ASSERT_EQ(answer(put("/shared/suite_result", "Legacy: true\n")).first, 200);
  const ordered_json legacy = ordered_json::parse(get("/api/v1/jobs/shared/history")->body);
  EXPECT_EQ(legacy.at("tests").at(0).dump(),
            std::string(R"({"name":"Legacy","seconds":2.5,"runs":1,"last_result":"failed","last_seen":")") +
                kToday + "\"}");

  ASSERT_EQ(post_json("/api/v1/jobs/shared/versions/1/results",
                      results_body(1, 1, "2023-11-14", {{"Modern", 0.25}, {"Legacy", 1.5, "passed"}}))
                ->status,
            200);
  EXPECT_EQ(get("/shared/suite_time")->body, "Legacy: 2000\nModern: 250\n");
  EXPECT_EQ(get("/shared/suite_result")->body, "Legacy: false\nModern: false\n");
}

// --- Bad, hostile and large requests ---

TEST_F(ServerTest, MalformedBodiesAreRefusedWithALineAndChangeNothing) {
  start();
  ASSERT_EQ(answer(put("/job/suite_time", "a: 100\n")).first, 200);
  EXPECT_EQ(answer(put("/job/suite_time", "b: 5\ngarbage\n")),
            std::make_pair(400, std::string("line 2: 'garbage' is not 'name: milliseconds'\n")));
  EXPECT_EQ(answer(put("/job/suite_time", "b: 5\nc: 1.5\n")),
            std::make_pair(400, std::string("line 2: 'c: 1.5' is not 'name: milliseconds'\n")));
  EXPECT_EQ(answer(put("/job/suite_time", "b: x\n")),
            std::make_pair(400, std::string("line 1: 'b: x' is not 'name: milliseconds'\n")));
  EXPECT_EQ(answer(put("/job/suite_time", "b: 5\na: -20\n")),
            std::make_pair(400, std::string("line 2: negative time -20 ms for 'a'\n")));
  EXPECT_EQ(answer(put("/job/suite_time", "b: 99999999999999999999999\n")),
            std::make_pair(400, std::string("line 1: time 99999999999999999999999 ms is out of range\n")));
  EXPECT_EQ(answer(put("/job/suite_time", ": 5\n")),
            std::make_pair(400, std::string("line 1: empty test name\n")));
  EXPECT_EQ(answer(put("/job/suite_result", "a: maybe\n")),
            std::make_pair(400, std::string("line 1: 'a: maybe' is not 'name: true|false'\n")));
  EXPECT_EQ(get("/job/suite_time")->body, "a: 100\n");

  const std::string results = "/api/v1/jobs/job/versions/1/results";
  EXPECT_EQ(
      answer(post_json(results, results_body(0, 0, "2024-01-01", {{"a", -1.0}}))),
      std::make_pair(400, std::string(R"({"error":"run report: observation 1 ('a'): negative seconds -1.0"})"
                                      "\n")));
  EXPECT_EQ(answer(post_json(results, results_body(0, 0, "yesterday", {{"a", 1.0}}))),
            std::make_pair(400, std::string(R"({"error":"run report: \"date\" should be a date YYYY-MM-DD"})"
                                            "\n")));
  const auto not_json = post_json(results, "{\"kind\": ");
  ASSERT_TRUE(not_json);
  EXPECT_EQ(not_json->status, 400);
  EXPECT_TRUE(not_json->body.starts_with(R"({"error":"request body is not JSON: )")) << not_json->body;
  EXPECT_EQ(answer(post_json(results, R"({"kind":"tlb-run-report","version":2})")).second,
            R"({"error":"run report version 2 was written by a newer tlb; this server reads version 1"})"
            "\n");
  const auto not_record = post_json("/api/v1/jobs/job/versions/1/partitions", "[1, 2]");
  ASSERT_TRUE(not_record);
  EXPECT_EQ(not_record->status, 400);
  EXPECT_EQ(not_record->body, R"({"error":"request body:1: not a tlb partition record: not a JSON object"})"
                              "\n");
  EXPECT_EQ(json::parse(get("/api/v1/jobs/job/history")->body).at("tests").size(), 1u);
}

TEST_F(ServerTest, BodiesOverTheLimitGet413) {
  start({"--max-request-bytes", "1000"});
  const std::string big(5000, 'x');
  EXPECT_EQ(answer(put("/job/suite_time", big)),
            std::make_pair(413, std::string("request body larger than the limit of 1000 bytes (tlb server "
                                            "--max-request-bytes)\n")));
  EXPECT_EQ(
      answer(post_json("/api/v1/jobs/job/versions/1/results", big)),
      std::make_pair(
          413,
          std::string(
              R"j({"error":"request body larger than the limit of 1000 bytes (tlb server --max-request-bytes)"})j"
              "\n")));
  EXPECT_EQ(answer(put("/job/suite_time", "a: 1\n")).first, 200);
}

TEST_F(ServerTest, WritesNeedTheTokenWhileReadsAreOpen) {
  start({}, {{"TLB_TOKEN", "s3cret"}});
  EXPECT_EQ(answer(put("/job/suite_time", "a: 1\n")),
            std::make_pair(401, std::string("a token is required for writes: send Authorization: Bearer "
                                            "<TLB_TOKEN>\n")));
  EXPECT_EQ(answer(put("/job/suite_time", "a: 1\n", {{"Authorization", "Bearer wrong"}})),
            std::make_pair(401, std::string("wrong token\n")));
  EXPECT_EQ(
      answer(post_json("/api/v1/jobs/job/versions/1/results", results_body(0, 0, "2024-01-01", {}))),
      std::make_pair(
          401,
          std::string(R"({"error":"a token is required for writes: send Authorization: Bearer <TLB_TOKEN>"})"
                      "\n")));
  EXPECT_EQ(answer(post("/job/correctness_check/v/universal_set/m", "a", "text/plain",
                        {{"Authorization", "Bearer s3cret2"}}))
                .first,
            401);
  EXPECT_EQ(answer(get("/job/suite_time")).first, 200);
  EXPECT_EQ(answer(get("/api/v1/jobs/job/history")).first, 200);
  EXPECT_EQ(answer(get("/api/v1/jobs/job/versions/3/history")).first, 200);
  EXPECT_EQ(answer(put("/job/suite_time", "a: 1\n", {{"Authorization", "Bearer s3cret"}})).first, 200);
  EXPECT_EQ(get("/job/suite_time")->body, "a: 1\n");
}

TEST_F(ServerTest, HostileNamesAreRefusedAndTheServerGoesOn) {
  start();
  ASSERT_EQ(answer(put("/keep/suite_time", "precious: 1\n")).first, 200);
  const std::string long_name(200, 'a');
  for (const std::string& name :
       {std::string(".."), std::string("%2e%2e"), std::string("a%2Fb"), std::string("%2E"),
        std::string("'%3B%20DROP%20TABLE%20history%3B%20--"), long_name, std::string("a%00b"),
        std::string("%00"), std::string("a%0Ab"), std::string("-rf"), std::string("a%25b"),
        std::string("%ff"), std::string("%zz"), std::string("a%20b")}) {
    SCOPED_TRACE(name);
    const auto text = answer(get("/" + name + "/suite_time"));
    EXPECT_EQ(text.first, 400) << text.second;
    EXPECT_EQ(std::count(text.second.begin(), text.second.end(), '\n'), 1) << text.second;
    const auto api = answer(get("/api/v1/jobs/" + name + "/history"));
    EXPECT_EQ(api.first, 400) << api.second;
    EXPECT_TRUE(api.second.starts_with("{\"error\":\"")) << api.second;
    EXPECT_EQ(answer(get("/api/v1/jobs/ok/versions/" + name + "/history")).first, 400);
    EXPECT_EQ(answer(post("/ok/correctness_check/v/universal_set/" + name, "a")).first, 400);
    EXPECT_EQ(answer(put("/" + name + "/suite_time", "a: 1\n")).first, 400);
  }
  EXPECT_EQ(answer(get("/api/v1/jobs/" + std::string(128, 'b') + "/history")).first, 200);
  EXPECT_EQ(answer(get("/api/v1/jobs/" + std::string(129, 'b') + "/history")).first, 400);

  // Test names are data: anything but a line break or NUL is kept exactly.
  const std::string odd = "'; DROP TABLE history; -- \"quoted\" ü [1] a,b";
  ASSERT_EQ(answer(put("/keep/suite_time", odd + ": 5\n")).first, 200);
  EXPECT_EQ(answer(put("/keep/suite_time", std::string("nul\0name: 5\n", 12))).first, 400);
  EXPECT_EQ(answer(put("/keep/suite_time", "bad\xff utf8: 5\n")).first, 400);
  EXPECT_EQ(answer(post_json("/api/v1/jobs/keep/versions/1/results",
                             results_body(0, 0, "2024-01-01", {{std::string(4097, 'n'), 1.0}})))
                .first,
            400);
  EXPECT_EQ(get("/keep/suite_time")->body, odd + ": 5\nprecious: 1\n");
  EXPECT_EQ(answer(get("/api/v1/status")).first, 200);
  // Unknown paths and methods.
  EXPECT_EQ(answer(get("/api/v1/nothing")),
            std::make_pair(
                404, std::string(
                         R"j({"error":"no such resource: /api/v1/nothing (GET /api/v1/routes lists them)"})j"
                         "\n")));
  EXPECT_EQ(answer(get("/a/b/c/d")),
            std::make_pair(404, std::string("no such resource: /a/b/c/d (GET /api/v1/routes lists them)\n")));
  const auto wrong_method = client().Delete("/keep/suite_time");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(wrong_method->get_header_value("Allow"), "GET, PUT");
  EXPECT_EQ(wrong_method->body, "DELETE is not allowed on /{job}/suite_time (allowed: GET, PUT)\n");
  EXPECT_EQ(answer(post("/api/v1/jobs/keep/history", "")).first, 405);
}

TEST_F(ServerTest, BodiesAreTextWhateverContentTypeTheClientSays) {
  start();
  // curl --data says application/x-www-form-urlencoded; that is no reason to parse the body as a form.
  std::string lines;
  for (int i = 0; i < 2000; ++i) lines += "suite/Test" + std::to_string(i) + ": " + std::to_string(i) + "\n";
  ASSERT_GT(lines.size(), 8192u);
  EXPECT_EQ(answer(client().Put("/job/suite_time", lines, "application/x-www-form-urlencoded")).first, 200);
  const std::string stored = get("/job/suite_time")->body;
  EXPECT_EQ(std::count(stored.begin(), stored.end(), '\n'), 2000);
  httplib::MultipartFormDataItems form{{"file", "a: 1\n", "times.txt", "text/plain"}};
  const auto multipart = client().Put("/job/suite_time", form);
  ASSERT_TRUE(multipart);
  EXPECT_EQ(multipart->status, 415);
  EXPECT_EQ(multipart->body, "multipart form bodies are not read here: send the text itself\n");
}

// --- The dashboard (read-only HTML) ---

// The attributes of every element of `html` that has `data-partition`, in document order.
std::vector<std::map<std::string, std::string>> partition_elements(const std::string& html) {
  std::vector<std::map<std::string, std::string>> elements;
  for (std::size_t at = html.find("data-partition=\""); at != std::string::npos;
       at = html.find("data-partition=\"", at + 1)) {
    const std::size_t open = html.rfind('<', at), close = html.find('>', at);
    if (open == std::string::npos || close == std::string::npos) break;
    const std::string tag = html.substr(open, close - open);
    std::map<std::string, std::string> attributes;
    for (std::size_t equals = tag.find("=\""); equals != std::string::npos;
         equals = tag.find("=\"", equals + 1)) {
      std::size_t name_start = equals;
      while (name_start > 0 && tag[name_start - 1] != ' ' && tag[name_start - 1] != '\n') --name_start;
      const std::size_t value_end = tag.find('"', equals + 2);
      if (value_end == std::string::npos) break;
      attributes[tag.substr(name_start, equals - name_start)] =
          tag.substr(equals + 2, value_end - equals - 2);
      equals = value_end;
    }
    elements.push_back(std::move(attributes));
  }
  return elements;
}

class DashboardTest : public ServerTest {
 protected:
  // Reports run `version` of `job`: 4 partitions, partition k with tests t(2k-1) and t(2k), which ran in
  // 1.0 k and 1.5 k seconds (2.5 k in all); the split predicted 2.5, 4.5, 6.5 and 8.5 s. `failed` fails t1.
  void report_run(const std::string& job, const std::string& version, bool failed = false,
                  const std::string& odd_name = "") {
    std::vector<std::string> all;
    for (int i = 1; i <= 8; ++i) all.push_back("t" + std::to_string(i));
    if (!odd_name.empty()) all.push_back(odd_name);
    const std::string base = "/api/v1/jobs/" + job + "/versions/" + version;
    for (int k = 1; k <= 4; ++k) {
      std::vector<std::string> mine{"t" + std::to_string(2 * k - 1), "t" + std::to_string(2 * k)};
      std::vector<Observed> observed{{mine[0], 1.0 * k, failed && k == 1 ? "failed" : "passed"},
                                     {mine[1], 1.5 * k}};
      if (k == 4 && !odd_name.empty()) {
        mine.push_back(odd_name);
        observed.push_back({odd_name, 0.0});
      }
      io::PartitionRecord record = make_record(k, 4, all, mine);
      record.plan = io::RecordedPlan{{2.5, 4.5, 6.5, 8.5}, 5.5, 8.5};
      for (const std::string& test : record.tests) {
        record.estimates.push_back(io::RecordedEstimate{test, 1.0, Estimate::history});
      }
      ASSERT_LT(answer(post_json(base + "/partitions", record_text(record))).first, 300);
      ASSERT_EQ(answer(post_json(base + "/results", results_body(k, 4, "2024-05-01", observed))).first, 200);
    }
  }
};

TEST_F(DashboardTest, TheIndexListsEachJobWithItsRunsNewestFirst) {
  start();
  const auto empty = get("/");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 200);
  EXPECT_NE(empty->body.find("No job yet"), std::string::npos) << empty->body;
  // The pages run no script and fetch nothing, and the policy says so to the browser.
  EXPECT_EQ(empty->get_header_value("Content-Security-Policy"),
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:");

  report_run("app", "9");
  report_run("app", "10", true);
  // A run whose partitions have not all reported is listed as not proven.
  ASSERT_LT(answer(post_json("/api/v1/jobs/app/versions/11/partitions",
                             record_text(make_record(1, 2, {"t1", "t2"}, {"t1"}))))
                .first,
            300);
  ASSERT_EQ(answer(put("/legacy/suite_time", "a: 5\n")).first, 200);  // History only, from the original API.

  const auto index = get("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_EQ(index->get_header_value("Content-Type"), "text/html; charset=utf-8");
  const std::string& html = index->body;
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>")) << html;
  const std::size_t app = html.find("data-job=\"app\""), legacy = html.find("data-job=\"legacy\"");
  ASSERT_NE(app, std::string::npos) << html;
  ASSERT_NE(legacy, std::string::npos) << html;
  EXPECT_LT(app, legacy);  // Jobs by name.
  EXPECT_NE(html.find("No CI run recorded", legacy), std::string::npos) << html;
  // Newest first: seen in the same second, run 11 comes before 10, and 10 before 9.
  const std::size_t run11 = html.find("data-version=\"11\" data-partitions=\"1\" data-proven=\"false\"");
  const std::size_t run10 = html.find("data-version=\"10\" data-partitions=\"4\" data-proven=\"true\"");
  const std::size_t run9 = html.find("data-version=\"9\" data-partitions=\"4\" data-proven=\"true\"");
  ASSERT_NE(run11, std::string::npos) << html;
  ASSERT_NE(run10, std::string::npos) << html;
  ASSERT_NE(run9, std::string::npos) << html;
  EXPECT_LT(run11, run10);
  EXPECT_LT(run10, run9);
  EXPECT_NE(html.find("<a href=\"/?job=app&amp;version=10\">10</a>"), std::string::npos) << html;
  EXPECT_NE(html.find("not proven ("), std::string::npos) << html;

  const auto job = get("/?job=app");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->status, 200);
  EXPECT_NE(job->body.find("3 runs, newest first."), std::string::npos) << job->body;
  EXPECT_EQ(job->body.find("data-job=\"legacy\""), std::string::npos);
}

TEST_F(DashboardTest, ARunsPageIsItsReportWithEveryPartitionsNumbers) {
  start();
  report_run("app", "41", true);
  report_run("app", "42");
  const auto page = get("/?job=app&version=42");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200) << page->body;
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  const std::string& html = page->body;
  EXPECT_NE(html.find("app, run 42"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"/?job=app\">app</a>"), std::string::npos) << "no way back to the job";

  std::map<std::string, std::pair<std::string, std::string>> predicted_and_actual;
  for (const auto& element : partition_elements(html)) {
    const auto partition = element.find("data-partition");
    auto& figures = predicted_and_actual[partition->second];
    if (element.contains("data-predicted") && !element.at("data-predicted").empty()) {
      figures.first = element.at("data-predicted");
    }
    if (element.contains("data-actual") && !element.at("data-actual").empty()) {
      figures.second = element.at("data-actual");
    }
  }
  EXPECT_EQ(predicted_and_actual,
            (std::map<std::string, std::pair<std::string, std::string>>{{"1", {"2.500", "2.500"}},
                                                                        {"2", {"4.500", "5.000"}},
                                                                        {"3", {"6.500", "7.500"}},
                                                                        {"4", {"8.500", "10.000"}}}))
      << html;
  // Run 41 is among the earlier runs: t1 failed there and passed here.
  const std::size_t across = html.find("id=\"flaky\"");
  ASSERT_NE(across, std::string::npos) << html;
  const std::string flaky = html.substr(across, html.find("</section>", across) - across);
  EXPECT_NE(flaky.find(">t1<"), std::string::npos) << flaky;
  EXPECT_EQ(flaky.find(">t2<"), std::string::npos) << flaky;
  // Every test of the run is on the page, in its partition's list: partition k ran t(2k-1) and t(2k).
  const std::size_t list = html.find("id=\"tests\"");
  ASSERT_NE(list, std::string::npos) << html;
  for (int k = 1; k <= 4; ++k) {
    const std::size_t own = html.find("id=\"partition-" + std::to_string(k) + "\"", list);
    ASSERT_NE(own, std::string::npos) << k;
    const std::string rows = html.substr(own, html.find("</details>", own) - own);
    for (int t : {2 * k - 1, 2 * k}) {
      EXPECT_NE(rows.find("<td>t" + std::to_string(t) + "</td><td>passed</td>"), std::string::npos) << rows;
    }
  }
}

TEST_F(DashboardTest, UnknownJobsAndRunsAre404PagesAndHostileNames400) {
  start();
  report_run("app", "1");
  for (const std::string& target : {std::string("/?job=nobody"), std::string("/?job=nobody&version=1"),
                                    std::string("/?job=app&version=2")}) {
    SCOPED_TRACE(target);
    const auto page = get(target);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 404);
    EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
    EXPECT_NE(page->body.find("404 Not Found"), std::string::npos) << page->body;
  }
  EXPECT_EQ(answer(get("/?version=1")).first, 400);

  for (const std::string& name :
       {std::string(".."), std::string("%3Cscript%3Ealert(1)%3C%2Fscript%3E"), std::string("a%2Fb"),
        std::string("'%3B%20DROP%20TABLE%20versions%3B%20--"), std::string(200, 'a'), std::string("a%00b"),
        std::string("%0A"), std::string("%ff"), std::string("")}) {
    SCOPED_TRACE(name);
    for (const std::string& target : {"/?job=" + name, "/?job=app&version=" + name}) {
      const auto page = get(target);
      ASSERT_TRUE(page);
      EXPECT_EQ(page->status, 400) << page->body;
      EXPECT_EQ(page->body.find("<script"), std::string::npos) << page->body;
    }
  }
  const auto escaped = get("/?job=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
  EXPECT_NE(escaped->body.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos) << escaped->body;
  EXPECT_EQ(answer(get("/?job=app&version=%zz")).first, 400);
  // Still serving, and nothing changed.
  EXPECT_EQ(answer(get("/api/v1/status")).first, 200);
  EXPECT_EQ(answer(get("/?job=app&version=1")).first, 200);
  EXPECT_EQ(json::parse(get("/api/v1/jobs/app/versions/1/records")->body).at("records").size(), 4u);
}

TEST_F(DashboardTest, TestNamesAreEscaped) {
  start();
  const std::string hostile = "<script>alert('x')</script> & \"q\"";
  report_run("app", "7", false, hostile);
  const auto page = get("/?job=app&version=7");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200) << page->body;
  EXPECT_EQ(page->body.find("<script"), std::string::npos) << page->body;
  EXPECT_NE(page->body.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"),
            std::string::npos)
      << page->body;
}

TEST_F(DashboardTest, ChromiumRendersARunsPage) {
  const std::string chromium = "/usr/bin/chromium";
  if (!std::filesystem::exists(chromium)) {
    GTEST_SKIP() << "chromium is not installed (" << chromium << "); scripts/setup.sh installs it";
  }
  start();
  report_run("app", "3");
  const std::string url = server_->url() + "/?job=app&version=3";
  const testing::ProcessResult dom = testing::run_process(
      {"/usr/bin/timeout", "120", chromium, "--headless", "--no-sandbox", "--disable-gpu",
       "--user-data-dir=" + (dir_ / "chromium").string(), "--dump-dom", url},
      {{"HOME", dir_.string()}});
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  std::set<std::string> partitions;
  for (const auto& element : partition_elements(dom.out)) partitions.insert(element.at("data-partition"));
  EXPECT_EQ(partitions, (std::set<std::string>{"1", "2", "3", "4"})) << dom.out;
  EXPECT_NE(dom.out.find("data-predicted=\"8.500\""), std::string::npos) << dom.out;
  EXPECT_NE(dom.out.find("data-actual=\"10.000\""), std::string::npos) << dom.out;
}

// --- Load and restarts ---

TEST_F(ServerTest, SixteenPartitionsPostingAtOnceAreAllStored) {
  start();
  constexpr int kTotal = 16;
  std::vector<std::string> all;
  for (int i = 0; i < kTotal * 3; ++i) all.push_back("test" + std::to_string(i));
  std::vector<int> record_status(kTotal), results_status(kTotal);
  std::vector<std::thread> threads;
  for (int k = 1; k <= kTotal; ++k) {
    threads.emplace_back([&, k] {
      const auto first = static_cast<std::size_t>(3 * (k - 1));
      const std::vector<std::string> mine{all[first], all[first + 1], all[first + 2]};
      record_status[static_cast<std::size_t>(k - 1)] =
          answer(post_json("/api/v1/jobs/big/versions/7/partitions",
                           record_text(make_record(k, kTotal, all, mine))))
              .first;
      results_status[static_cast<std::size_t>(k - 1)] =
          answer(post_json(
                     "/api/v1/jobs/big/versions/7/results",
                     results_body(k, kTotal, "2024-05-01", {{mine[0], 1.0}, {mine[1], 2.0}, {mine[2], 3.0}})))
              .first;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(std::count(record_status.begin(), record_status.end(), 201), 1);
  EXPECT_EQ(std::count(record_status.begin(), record_status.end(), 200), kTotal - 1);
  EXPECT_EQ(std::count(results_status.begin(), results_status.end(), 200), kTotal);
  EXPECT_EQ(json::parse(get("/api/v1/jobs/big/versions/7/records")->body).at("records").size(),
            static_cast<std::size_t>(kTotal));
  EXPECT_EQ(json::parse(get("/api/v1/jobs/big/history")->body).at("tests").size(), all.size());
  EXPECT_EQ(json::parse(get("/api/v1/jobs/big/versions/7/verify")->body).at("proven"), true);
}

TEST_F(ServerTest, ARestartKeepsEverything) {
  start();
  ASSERT_EQ(put("/job/suite_time", "a: 100\nb: 200\n")->status, 200);
  ASSERT_EQ(put("/job/suite_result", "a: true\n")->status, 200);
  ASSERT_EQ(post("/job-1/subset_size", "2")->status, 200);
  ASSERT_EQ(post("/job/correctness_check/v/universal_set/m", "a\nb")->status, 201);
  ASSERT_EQ(post("/job/correctness_check/v/2/1/sub_set/m", "a")->status, 200);
  const std::vector<std::string> all{"a", "b"};
  ASSERT_EQ(
      post_json("/api/v1/jobs/job/versions/v/partitions", record_text(make_record(1, 2, all, {"a"})))->status,
      201);
  const std::vector<std::string> paths{"/job/suite_time",
                                       "/job/suite_result",
                                       "/job-1/subset_size",
                                       "/api/v1/jobs/job/history",
                                       "/api/v1/jobs/job/versions/v/history",
                                       "/api/v1/jobs/job/versions/v/records",
                                       "/job/correctness_check/v/verify_partition_completeness/m"};
  std::vector<std::pair<int, std::string>> before;
  for (const std::string& path : paths) before.push_back(answer(get(path)));
  ASSERT_EQ(put("/job/suite_time", "a: 999\n")->status, 200);  // After the snapshot: not in it.
  before[0].second = "a: 999\nb: 200\n";
  before[3] = answer(get("/api/v1/jobs/job/history"));

  EXPECT_EQ(server_->stop(), 0);
  server_->restart();
  for (std::size_t i = 0; i < paths.size(); ++i) EXPECT_EQ(answer(get(paths[i])), before[i]) << paths[i];
  EXPECT_EQ(answer(post("/job/correctness_check/v/2/2/sub_set/m", "b")).first, 200);
  EXPECT_EQ(answer(post("/job/correctness_check/v/universal_set/m", "b\na")).first, 200);
}

TEST_F(ServerTest, OldVersionsArePurgedAtStart) {
  start();
  ASSERT_EQ(put("/job/suite_time", "a: 100\n")->status, 200);
  ASSERT_EQ(get("/job/suite_time/v1")->body, "a: 100\n");
  ASSERT_EQ(post("/job/correctness_check/v1/universal_set/m", "a")->status, 201);
  ASSERT_EQ(put("/job/suite_time", "a: 300\n")->status, 200);
  EXPECT_EQ(server_->stop(), 0);

  // Kept while younger than the version life.
  server_->restart();
  EXPECT_EQ(get("/job/suite_time/v1")->body, "a: 100\n");
  server_.reset();

  // Versions first seen more than 0 days (a second) ago: gone, so the snapshot is frozen anew; the live
  // history stays.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  start({"--version-life-days", "0"});
  EXPECT_EQ(server_->stop(), 0);  // Then all it wrote to stderr is in.
  EXPECT_NE(server_->err().find("tlb server: purged 1 version older than 0 days"), std::string::npos)
      << server_->err();
  server_->restart();
  EXPECT_EQ(get("/job/suite_time")->body, "a: 300\n");
  EXPECT_EQ(get("/job/suite_time/v1")->body, "a: 300\n");
  EXPECT_EQ(answer(post("/job/correctness_check/v1/universal_set/m", "b")).first, 201);
}

// --- In process: the name rules and the original's Java orders ---

TEST(ServerNames, JobVersionAndModuleNames) {
  for (const char* good : {"a", "job-1", "A.b_c-9", "123456789", "0"}) {
    EXPECT_EQ(server::check_name("job", good), std::nullopt) << good;
  }
  for (const std::string& bad :
       {std::string(), std::string(".."), std::string("."), std::string("-a"), std::string("_a"),
        std::string("a/b"), std::string("a b"), std::string("a%b"), std::string("a\0b", 3),
        std::string(129, 'x'), std::string("ü")}) {
    EXPECT_NE(server::check_name("job", bad), std::nullopt) << bad;
  }
  EXPECT_EQ(
      server::check_name("version", "a/b").value(),
      "version name 'a/b' is not valid: use 1 to 128 of A-Z a-z 0-9 . _ - starting with a letter or digit");
  EXPECT_EQ(
      server::check_name("job", "a\nb").value(),
      "job name 'a\\x0ab' is not valid: use 1 to 128 of A-Z a-z 0-9 . _ - starting with a letter or digit");
}

TEST(ServerNames, TestNames) {
  for (const std::string& good : {std::string("a"), std::string("Suite.Case/1 \"x\" ; : ü 日本"),
                                  std::string(4096, 't'), std::string("\xf0\x9f\x98\x80")}) {
    EXPECT_EQ(server::check_test_name(good), std::nullopt) << good;
  }
  for (const std::string& bad :
       {std::string(), std::string(4097, 't'), std::string("a\nb"), std::string("a\rb"),
        std::string("a\0b", 3), std::string("\xff"), std::string("\xc3"), std::string("\xed\xa0\x80")}) {
    EXPECT_NE(server::check_test_name(bad), std::nullopt) << server::printable(bad);
  }
}

TEST(ServerOriginal, JavaHashCodesAndMapOrders) {
  EXPECT_EQ(server::original::java_hash_code("hello"), 99162322);
  EXPECT_EQ(server::original::java_hash_code("ü"), 252);
  EXPECT_EQ(server::original::java_hash_code("\xf0\x9f\x98\x80"), 55357 * 31 + 56832);  // U+1F600, two units.
  // The original's own test expects {foo/bar/Baz=2, foo/Quux=3}: Java 6's HashMap order.
  EXPECT_EQ(server::original::java6_hash_map_order({"foo/Quux", "foo/bar/Baz"}),
            (std::vector<std::string>{"foo/bar/Baz", "foo/Quux"}));
  // ... and [1/3, 3/4] from its ConcurrentHashMap of partitions.
  EXPECT_EQ(server::original::java6_concurrent_hash_map_order({"1/3", "3/4"}),
            (std::vector<std::string>{"1/3", "3/4"}));
  // Whatever the puts, each key once; a HashMap past its threshold (12) still lists every key.
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) keys.push_back("k" + std::to_string(i));
  std::vector<std::string> order = server::original::java6_hash_map_order(keys);
  std::sort(order.begin(), order.end());
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(order, sorted);
  const std::vector<std::string> again = keys;
  keys.insert(keys.end(), again.begin(), again.end());
  order = server::original::java6_concurrent_hash_map_order(keys);
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order, sorted);
}

}  // namespace
}  // namespace tlb
