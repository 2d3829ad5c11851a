// Several `tlb server` processes (replicas) sharing one store, as behind a load balancer: real processes on
// loopback, each request sent to one replica or the other. What one replica answered, the other must stand
// by: a queue run finishes through the survivor when a replica is killed, acknowledged writes are found
// through the other, a run's snapshot and ledger are one across replicas, and two replicas given the same
// call at the same moment act on it once. A replica's memory is only a cache.
//
// How the replicas share the store is one function, shared_store(): SQLite is one data directory (WAL serves
// several processes on one host; BEGIN IMMEDIATE serializes their writers). Another store (PostgreSQL) is
// one more case of it and one more instantiation of the suite at the bottom.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "io/fingerprint.hpp"
#include "io/record.hpp"
#include "server/database.hpp"
#include "server/partition_records.hpp"
#include "support/postgres_cluster.hpp"
#include "support/process.hpp"
#include "support/scratch_dir.hpp"
#include "support/server_process.hpp"

namespace tlb {
namespace {

using nlohmann::json;
using testing::ServerProcess;

const std::string kSwarm = "/api/v1/swarm";

// The `tlb server` flags that put a replica on the store named `kind`, made in `dir` (which outlives the
// replicas): one SQLite file, or one database of `cluster`, a private PostgreSQL. Every replica of one test
// gets the same flags.
std::vector<std::string> shared_store(const std::string& kind, const std::filesystem::path& dir,
                                      const testing::PostgresCluster* cluster) {
  if (kind == "sqlite") return {"--data-dir", (dir / "shared-data").string()};
  if (kind == "postgresql" && cluster != nullptr)
    return {"--data-dir", (dir / "shared-data").string(), "--database", cluster->url()};
  throw std::invalid_argument("no shared store '" + kind + "'");
}

// A replica: `tlb server` on loopback, port 0, on the shared store.
std::unique_ptr<ServerProcess> start_replica(const std::vector<std::string>& store,
                                             const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{TLB_EXECUTABLE,
                                "server",
                                "--bind",
                                "127.0.0.1",
                                "--port",
                                "0",
                                "--exit-after",
                                "600",
                                "--max-client-connections",
                                "0"};
  argv.insert(argv.end(), store.begin(), store.end());
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<ServerProcess>(
      argv, testing::kTlbServerListening,
      std::map<std::string, std::string>{{"SOURCE_DATE_EPOCH", "1700000000"}});
}

// Status and JSON answer of a request to `server` (-1 when it did not answer).
std::pair<int, json> call(const ServerProcess& server, const std::string& method, const std::string& path,
                          const std::string& body = "") {
  httplib::Client client(server.host(), server.port());
  client.set_connection_timeout(5);
  client.set_read_timeout(30);
  const httplib::Result result =
      method == "GET" ? client.Get(path.c_str()) : client.Post(path.c_str(), body, "application/json");
  if (!result) return {-1, json::object()};
  return {result->status, json::parse(result->body, nullptr, false)};
}

std::pair<int, json> post(const ServerProcess& server, const std::string& path, const json& body) {
  return call(server, "POST", path, body.dump());
}

// Results of `names` (1.5 s each, passed) as `tlb record` posts them outside a partition.
json results_body(const std::vector<std::string>& names, int partition = 0, int total = 0) {
  json observations = json::array();
  for (const std::string& name : names) {
    observations.push_back(json{{"name", name}, {"seconds", 1.5}, {"outcome", "passed"}});
  }
  return json{{"kind", "tlb-run-report"}, {"version", 1},         {"partition", partition},
              {"total", total},           {"date", "2023-11-14"}, {"observations", observations}};
}

// A queue run's submission (`tlb run --queue` sends it) of `names`, whose test list hashes to "h".
json queue_run(const std::string& job, const std::string& version, const std::vector<std::string>& names) {
  json tests = json::array();
  for (const std::string& name : names) tests.push_back(json{{"name", name}});
  return json{
      {"job", job}, {"version", version}, {"test_list_hash", "h"}, {"mode", "queue"}, {"tests", tests}};
}

// The history's tests, by name, as `server` serves them (live, or the version's snapshot).
std::map<std::string, json> history_of(const ServerProcess& server, const std::string& path) {
  const auto [status, answer] = call(server, "GET", path);
  EXPECT_EQ(status, 200) << path << ": " << answer;
  std::map<std::string, json> tests;
  for (const json& test : answer.value("tests", json::array())) tests[test.value("name", "")] = test;
  return tests;
}

// `send(0)` and `send(1)` (one call to each replica) started at the same moment on two threads; their
// answers.
template <class Send>
auto at_once(const Send& send) {
  std::promise<void> go;
  std::shared_future<void> start = go.get_future().share();
  auto on = [&](int i) {
    start.wait();
    return send(i);
  };
  auto first = std::async(std::launch::async, on, 0);
  auto second = std::async(std::launch::async, on, 1);
  go.set_value();
  auto one = first.get();
  return std::make_pair(std::move(one), second.get());
}

// A partition record (testing::make_record) with the fingerprint of a split on the history `history_hash`.
io::PartitionRecord partition_record(int partition, int total, std::vector<std::string> all,
                                     std::vector<std::string> tests, const std::string& history_hash) {
  io::PartitionRecord record = testing::make_record(partition, total, all, std::move(tests));
  record.history_hash = history_hash;
  // What decided the split: the server refuses a partition whose fingerprint differs from the first's.
  io::SplitFingerprint fingerprint;
  fingerprint.tests = record.all_tests.size();
  fingerprint.test_list = record.test_list_hash;
  fingerprint.history = history_hash;
  fingerprint.total = total;
  fingerprint.splitters = "time";
  fingerprint.hash = io::fingerprint_hash(fingerprint);
  record.fingerprint = fingerprint;
  return record;
}

class ReplicasTest : public testing::ScratchDirTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    if (GetParam() == "postgresql") {
      const auto bin = testing::postgres_bin_dir();
      if (!bin) GTEST_SKIP() << "no PostgreSQL in /usr/lib/postgresql (scripts/setup.sh installs it)";
      // A cluster of its own (initdb, 1 to 3 s): EveryWriteAcknowledged... kills it.
      cluster_ = std::make_unique<testing::PostgresCluster>(
          std::filesystem::temp_directory_path() / ("tlb-pg-replicas-" + std::to_string(getpid())), *bin);
      cluster_->create(getpid(), TLB_TEST_POSTGRES);
    }
    store_ = shared_store(GetParam(), dir_, cluster_.get());
    for (int i = 0; i < 2; ++i) replicas_.push_back(start_replica(store_));
  }
  void TearDown() override {
    for (const auto& replica : replicas_) {
      if (HasFailure() && replica) std::cerr << "replica stderr:\n" << replica->err() << "\n";
    }
    replicas_.clear();  // Before the store's directory goes.
    if (cluster_) cluster_->remove();
    ScratchDirTest::TearDown();
  }
  // Both replicas again, with `extra` flags.
  void restart_replicas(const std::vector<std::string>& extra) {
    replicas_.clear();
    for (int i = 0; i < 2; ++i) replicas_.push_back(start_replica(store_, extra));
  }
  ServerProcess& replica(int i) { return *replicas_.at(static_cast<std::size_t>(i)); }

  std::vector<std::string> store_;
  std::vector<std::unique_ptr<ServerProcess>> replicas_;
  std::unique_ptr<testing::PostgresCluster> cluster_;  // The store of the "postgresql" case.
};

// A GET for a null body (a run's progress), else a POST of it.
std::pair<int, json> get_or_post(const ServerProcess& server, const std::string& path, const json& body) {
  return body.is_null() ? call(server, "GET", path) : post(server, path, body);
}

// A queue job on the swarm protocol: it enrolls, pulls and reports as `tlb run --queue` does, sending each
// call to the replica whose turn it is, and on to the other when that one does not answer (the same call:
// a pull keeps its request id, a report its lease).
class QueueJob {
 public:
  QueueJob(std::vector<ServerProcess*> replicas, std::string key, std::int64_t run)
      : replicas_(std::move(replicas)), key_(std::move(key)), run_(run) {}

  // Status and answer of the call, from the first replica in turn that answers.
  std::pair<int, json> send(const std::string& path, const json& body) {
    for (std::size_t tries = 0; tries < 2 * replicas_.size(); ++tries) {
      ServerProcess* server = replicas_[turn_++ % replicas_.size()];
      if (!server->running()) continue;
      auto answer = get_or_post(*server, path, body);
      if (answer.first != -1) return answer;
    }
    return {-1, json::object()};
  }

  void enroll() {
    const auto [status, answer] = send(
        kSwarm + "/agents", {{"key", key_}, {"name", key_}, {"test_list_hash", "h"}, {"attributes", {}}});
    ASSERT_EQ(status, 200) << answer;
    id_ = answer.value("agent", "");
    secret_ = answer.value("secret", "");
  }

  // Pulls and "runs" tests until the run has none left; `ran` counts each test it ran, `reported` each
  // report any job made (the kill waits on it).
  void work(std::map<std::string, int>& ran, std::mutex& mutex, std::atomic<int>& reported) {
    const std::string path = kSwarm + "/agents/" + id_;
    for (int pulls = 0; pulls < 2000; ++pulls) {
      const std::string request = key_ + "-" + std::to_string(pulls);
      const auto [status, answer] =
          send(path + "/pull", {{"secret", secret_}, {"request_id", request}, {"run", run_}});
      ASSERT_EQ(status, 200) << answer;
      const json assignments = answer.value("assignments", json::array());
      if (assignments.empty()) {
        const auto [known, progress] = send(kSwarm + "/runs/" + std::to_string(run_), json());
        if (progress.value("state", "") == "done") return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      for (const json& a : assignments) {
        const std::string test = a.value("test", "");
        {
          std::lock_guard lock(mutex);
          ran[test] += 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        const json report{{"secret", secret_},
                          {"lease", a.at("lease")},
                          {"test", test},
                          {"status", "passed"},
                          {"seconds", 0.01}};
        const auto [done, result] = send(path + "/report", report);
        ASSERT_EQ(done, 200) << result;
        ++reported;
      }
    }
    FAIL() << key_ << " never saw the run done";
  }

 private:
  std::vector<ServerProcess*> replicas_;
  std::string key_;
  std::int64_t run_;
  std::size_t turn_ = 0;
  std::string id_;
  std::string secret_;
};

TEST_P(ReplicasTest, AQueueRunFinishesThroughOneReplicaWhenTheOtherIsKilled) {
  std::vector<std::string> names;
  for (int i = 0; i < 60; ++i) names.push_back("suite.t" + std::to_string(100 + i));
  const auto [submitted, run] = post(replica(0), kSwarm + "/runs", queue_run("fixture", "7", names));
  ASSERT_EQ(submitted, 201) << run;
  const std::int64_t id = run.value("run", 0);

  std::map<std::string, int> ran;
  std::mutex mutex;
  std::atomic<int> reported{0};
  std::vector<std::unique_ptr<QueueJob>> jobs;
  for (int j = 0; j < 4; ++j) {
    // Jobs start on different replicas, then alternate call by call.
    std::vector<ServerProcess*> order{&replica(j % 2), &replica((j + 1) % 2)};
    jobs.push_back(std::make_unique<QueueJob>(order, "fixture/7/" + std::to_string(j + 1), id));
    jobs.back()->enroll();
  }
  std::vector<std::thread> threads;
  for (auto& job : jobs) threads.emplace_back([&, j = job.get()] { j->work(ran, mutex, reported); });
  while (reported < 20) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(replica(1).kill9(), 128 + SIGKILL);
  for (std::thread& thread : threads) thread.join();

  for (const std::string& name : names) EXPECT_EQ(ran[name], 1) << name << " ran " << ran[name] << " times";
  EXPECT_EQ(ran.size(), names.size());
  // The survivor proves the run from the records the replica that finished it kept.
  std::pair<int, std::string> verified;
  for (int tries = 0; tries < 100; ++tries) {
    const auto result = testing::run_process(
        {TLB_EXECUTABLE, "verify"},
        {{"TLB_STORE", replica(0).url()}, {"TLB_JOB_NAME", "fixture"}, {"TLB_JOB_VERSION", "7"}});
    verified = {result.exit_code, result.out + result.err};
    if (verified.first == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(verified.first, 0) << verified.second;
  EXPECT_NE(verified.second.find("60"), std::string::npos) << verified.second;
}

// 50 writers, half on each replica, post results (and a partition record now and then); one replica is
// killed with SIGKILL half-way, and its writers go on through the other. Every write either replica
// acknowledged is found through the survivor.
TEST_P(ReplicasTest, EveryWriteAcknowledgedByEitherReplicaIsFoundThroughTheOther) {
  constexpr int kWriters = 50;
  std::mutex mutex;
  std::vector<std::string> names;     // Of acknowledged results.
  std::vector<std::string> versions;  // Of acknowledged partition records.
  std::atomic<int> acknowledged{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      std::size_t turn = static_cast<std::size_t>(t);
      for (int sequence = 0; !stop && sequence < 200; ++sequence) {
        const std::string name = "w" + std::to_string(t) + ".s" + std::to_string(sequence);
        const bool record = t % 5 == 4;
        const std::string path =
            record ? "/api/v1/jobs/writers/versions/" + name + "/partitions" : "/api/v1/jobs/writers/results";
        const json body =
            record
                ? json::parse(io::format_record(partition_record(1, 1, {name}, {name}, "fnv1a64:0"), "test"))
                : results_body({name});
        ServerProcess& server = *replicas_[turn % 2];
        if (!server.running()) ++turn;  // Its load balancer sends it to the other.
        const auto [status, answer] = post(*replicas_[turn % 2], path, body);
        if (status < 200 || status > 299) continue;  // Unanswered (the kill): not acknowledged.
        std::lock_guard lock(mutex);
        (record ? versions : names).push_back(name);
        ++acknowledged;
      }
    });
  }
  // Until `count` writes were acknowledged, or a minute passed (the writers then stop, and the test fails).
  const auto await = [&](int count) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (acknowledged < count && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_GE(acknowledged, count) << "the writers stalled";
  };
  await(150);
  EXPECT_EQ(replica(1).kill9(), 128 + SIGKILL);
  const int at_kill = acknowledged;
  await(at_kill + 150);
  int at_database_kill = 0;
  if (cluster_) {  // Then PostgreSQL itself: SIGKILL, and started again on its files.
    at_database_kill = acknowledged;
    cluster_->kill9();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cluster_->start();
    await(at_database_kill + 150);
  }
  stop = true;
  for (std::thread& writer : writers) writer.join();

  const std::map<std::string, json> history = history_of(replica(0), "/api/v1/jobs/writers/history");
  for (const std::string& name : names) EXPECT_TRUE(history.contains(name)) << name << " was lost";
  for (const std::string& version : versions) {
    const auto [status, answer] =
        call(replica(0), "GET", "/api/v1/jobs/writers/versions/" + version + "/records");
    EXPECT_EQ(answer.value("records", json::array()).size(), 1u) << version << "'s record was lost";
  }
  EXPECT_GT(names.size(), 100u);
  EXPECT_GT(versions.size(), 10u);
  std::cout << "[ replicas ] " << names.size() + versions.size() << " acknowledged writes by " << kWriters
            << " writers over two replicas (" << at_kill << " before the kill -9 of one"
            << (cluster_ ? ", " + std::to_string(at_database_kill) + " before that of PostgreSQL" : "")
            << "), none lost\n";
}

// A replica keeps the bodies of heavy reads, but only as a cache: a write through the other replica is seen
// at once through this one.
TEST_P(ReplicasTest, AReplicasCachedHistoryGivesWayToAWriteThroughTheOther) {
  for (int round = 0; round < 3; ++round) {
    const std::string name = "cached.t" + std::to_string(round);
    ASSERT_EQ(post(replica(round % 2), "/api/v1/jobs/cached/results", results_body({name})).first, 200);
    // Read (and kept) by the other, then written through the first again.
    EXPECT_TRUE(history_of(replica((round + 1) % 2), "/api/v1/jobs/cached/history").contains(name));
    const std::string later = name + ".later";
    ASSERT_EQ(post(replica(round % 2), "/api/v1/jobs/cached/results", results_body({later})).first, 200);
    EXPECT_TRUE(history_of(replica((round + 1) % 2), "/api/v1/jobs/cached/history").contains(later))
        << "replica " << (round + 1) % 2 << " served its kept history, without " << later;
  }
}

// Two partitions of a run ask the two replicas for its snapshot at the same moment: the same history, frozen
// once; between the runs the history changes.
TEST_P(ReplicasTest, TwoReplicasAskedAtOnceFreezeOneSnapshot) {
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string name = "snap.t" + std::to_string(round);
    ASSERT_EQ(post(replica(round % 2), "/api/v1/jobs/snap/results", results_body({name})).first, 200);
    const std::string path = "/api/v1/jobs/snap/versions/v" + std::to_string(round) + "/history";
    const auto [a, b] = at_once([&](int i) { return history_of(replica(i), path); });
    EXPECT_EQ(a, b);
    EXPECT_EQ(a.size(), static_cast<std::size_t>(2 * round + 1));  // Each round's test and the one after.
    EXPECT_TRUE(a.contains(name));
    // A later change of the live history leaves the frozen snapshot as it is, on both.
    ASSERT_EQ(post(replica(0), "/api/v1/jobs/snap/results", results_body({name + ".after"})).first, 200);
    EXPECT_EQ(history_of(replica(1), path), a);
    EXPECT_EQ(history_of(replica(0), path), a);
  }
}

// The run ledger's checks hold across replicas: a partition posted to one replica is checked against those
// posted to the other, whichever replica kept a ledger of the version from an earlier post.
TEST_P(ReplicasTest, APartitionIsCheckedAgainstThoseAnotherReplicaTook) {
  const std::vector<std::string> all{"a", "b", "c", "d", "e", "f"};
  const std::string path = "/api/v1/jobs/ledger/versions/9/partitions";
  const auto send = [&](int i, const io::PartitionRecord& record) {
    return post(replica(i), path, json::parse(io::format_record(record, "test")));
  };
  const std::string hash = "fnv1a64:0123456789abcdef";
  EXPECT_EQ(send(0, partition_record(1, 3, all, {"a", "b"}, hash)).first, 201);
  EXPECT_EQ(send(1, partition_record(2, 3, all, {"c", "d"}, hash)).first, 200);
  // Replica 0 has a ledger of the version from partition 1; it must see partition 2 all the same.
  const auto [overlap, why] = send(0, partition_record(3, 3, all, {"d", "e", "f"}, hash));
  EXPECT_EQ(overlap, 409) << why;
  EXPECT_NE(why.value("error", "").find("partition 2/3"), std::string::npos) << why;
  // Split on another history than partition 1, which replica 1 never took.
  const auto [differs, reason] = send(1, partition_record(3, 3, all, {"e", "f"}, "fnv1a64:fedcba9876543210"));
  EXPECT_EQ(differs, 409) << reason;
  EXPECT_EQ(send(1, partition_record(3, 3, all, {"e", "f"}, hash)).first, 200);
  const auto [status, records] = call(replica(0), "GET", "/api/v1/jobs/ledger/versions/9/records");
  EXPECT_EQ(records.value("records", json::array()).size(), 3u) << records;

  // Partition 1's results, posted through both at once (a retry on the other replica): folded in once.
  const json results = results_body({"a", "b"}, 1, 3);
  const auto [one, other] =
      at_once([&](int i) { return post(replica(i), "/api/v1/jobs/ledger/versions/9/results", results); });
  EXPECT_EQ(one.first, 200) << one.second;
  EXPECT_EQ(other.first, 200) << other.second;
  EXPECT_NE(one.second.value("duplicate", false), other.second.value("duplicate", false))
      << one.second << other.second;
  EXPECT_EQ(history_of(replica(1), "/api/v1/jobs/ledger/history")["a"].value("runs", 0), 1);
}

// Two replicas given the same call at the same moment (a client that retried on the other, a load balancer
// that sent it twice) act on it once: one run for one submission, the same tests for one pull, one run's
// results in the history for its last report.
TEST_P(ReplicasTest, TheSameCallOnBothReplicasAtOnceActsOnce) {
  for (int round = 0; round < 8; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string version = "r" + std::to_string(round);
    const json submission = queue_run("once", version, {"once.a", "once.b"});
    // Both at once: the same request through each replica.
    const auto both = [&](const std::string& path, const json& body) {
      return at_once([&](int i) { return post(replica(i), path, body); });
    };
    const auto [a, b] = both(kSwarm + "/runs", submission);
    ASSERT_TRUE(a.first / 100 == 2 && b.first / 100 == 2) << a.second << b.second;
    EXPECT_EQ(a.first + b.first, 401) << "one creates the run (201), the other finds it (200)";
    EXPECT_EQ(a.second.value("run", 0), b.second.value("run", -1));
    const std::int64_t run = a.second.value("run", 0);

    const auto [enrolled, agent] =
        post(replica(0), kSwarm + "/agents", {{"key", "once/" + version}, {"test_list_hash", "h"}});
    ASSERT_EQ(enrolled, 200) << agent;
    const std::string secret = agent.value("secret", "");
    const std::string path = kSwarm + "/agents/" + agent.value("agent", "");
    // Each pull on both at once: the same answer, so that no test is held under a lease its job never saw.
    json assignments = json::array();
    for (int pulls = 0; pulls < 10 && assignments.size() < 2; ++pulls) {
      const json pull{{"secret", secret}, {"request_id", "p" + std::to_string(pulls)}, {"run", run}};
      const auto [pa, pb] = both(path + "/pull", pull);
      ASSERT_EQ(pa.first, 200) << pa.second;
      ASSERT_EQ(pb.first, 200) << pb.second;
      EXPECT_EQ(pa.second.value("assignments", json::array()), pb.second.value("assignments", json::array()));
      for (const json& given : pa.second.value("assignments", json::array())) assignments.push_back(given);
    }
    ASSERT_EQ(assignments.size(), 2u) << assignments;

    // The first report alone, the last on both at once.
    const auto report = [&](const json& given) {
      return json{{"secret", secret},
                  {"lease", given.at("lease")},
                  {"test", given.at("test")},
                  {"status", "passed"},
                  {"seconds", 1.0}};
    };
    ASSERT_EQ(post(replica(1), path + "/report", report(assignments[0])).first, 200);
    const auto [ra, rb] = both(path + "/report", report(assignments[1]));
    EXPECT_EQ(ra.first, 200) << ra.second;
    EXPECT_EQ(rb.first, 200) << rb.second;
    std::map<std::string, json> history;
    for (int tries = 0; tries < 100; ++tries) {
      history = history_of(replica(round % 2), "/api/v1/jobs/once/history");
      if (history.contains("once.b")) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(history.contains("once.b"));
    EXPECT_EQ(history["once.b"].value("runs", 0), round + 1) << "a run's results went into the history twice";
  }
}

// A run finished by a replica killed before it put the run's results into the history (the run is finished
// in the database, its results not recorded) is recorded by the next tick of any replica, once.
TEST_P(ReplicasTest, AFinishedRunLeftUnrecordedIsRecordedByAnotherReplica) {
  const auto [submitted, run] = post(replica(0), kSwarm + "/runs", queue_run("swept", "1", {"swept.a"}));
  ASSERT_EQ(submitted, 201) << run;
  QueueJob job({&replica(0)}, "swept/1/1", run.value("run", 0));
  job.enroll();
  std::map<std::string, int> ran;
  std::mutex mutex;
  std::atomic<int> reported{0};
  job.work(ran, mutex, reported);
  const auto runs_of_test = [&](int i) {
    std::map<std::string, json> history;
    for (int tries = 0; tries < 100 && !history.contains("swept.a"); ++tries) {
      if (tries > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      history = history_of(replica(i), "/api/v1/jobs/swept/history");
    }
    return history.contains("swept.a") ? history["swept.a"].value("runs", 0) : 0;
  };
  ASSERT_EQ(runs_of_test(0), 1);
  // As if the replica that finished it had been killed before recording it.
  replica(0).kill9();
  {
    server::Database database(cluster_ ? cluster_->url() : (dir_ / "shared-data" / "tlb.sqlite3").string());
    database.transaction(true, [](server::Session& s) {
      s.prepare("UPDATE swarm_runs SET recorded = 0").run();
      s.prepare("DELETE FROM records WHERE job = 'swept'").run();
    });
  }
  int runs = 0;
  for (int tries = 0; tries < 100 && runs < 2; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    runs = history_of(replica(1), "/api/v1/jobs/swept/history")["swept.a"].value("runs", 0);
  }
  EXPECT_EQ(runs, 2) << "the other replica's tick did not record the run";
  const auto [status, records] = call(replica(1), "GET", "/api/v1/jobs/swept/versions/1/records");
  EXPECT_EQ(records.value("records", json::array()).size(), 1u) << records;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // Another tick or two: recorded once.
  EXPECT_EQ(history_of(replica(1), "/api/v1/jobs/swept/history")["swept.a"].value("runs", 0), 2);
}

// Leases stay fenced across replicas: a job silent past its lease loses its test, which the other replica
// hands to another job; the late report of the first, through the first replica, does not count.
TEST_P(ReplicasTest, ALeaseTakenBackThroughOneReplicaIsFencedOnTheOther) {
  restart_replicas({"--swarm-heartbeat-seconds", "1", "--swarm-lease-seconds", "2"});
  const auto [submitted, run] = post(replica(0), kSwarm + "/runs", queue_run("fenced", "1", {"fenced.a"}));
  ASSERT_EQ(submitted, 201) << run;
  const std::int64_t id = run.value("run", 0);
  struct Job {
    std::string path, secret;
  };
  const auto enroll = [&](int i, const std::string& key) {
    const auto [status, answer] =
        post(replica(i), kSwarm + "/agents", {{"key", key}, {"test_list_hash", "h"}});
    EXPECT_EQ(status, 200) << answer;
    return Job{kSwarm + "/agents/" + answer.value("agent", ""), answer.value("secret", "")};
  };
  const auto pull = [&](int i, const Job& job) {
    const auto [status, answer] = post(replica(i), job.path + "/pull", {{"secret", job.secret}, {"run", id}});
    EXPECT_EQ(status, 200) << answer;
    return answer.value("assignments", json::array());
  };
  const auto report = [&](int i, const Job& job, const json& given) {
    return post(replica(i), job.path + "/report",
                {{"secret", job.secret},
                 {"lease", given.at("lease")},
                 {"test", given.at("test")},
                 {"status", "passed"},
                 {"seconds", 1.0}});
  };
  const Job silent = enroll(0, "fenced/1/1");
  const Job other = enroll(1, "fenced/1/2");
  const json first = pull(0, silent);
  ASSERT_EQ(first.size(), 1u);
  json second = json::array();
  for (int tries = 0; tries < 100 && second.empty(); ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    second = pull(1, other);  // Replica 1 takes the silent job's test back once its lease is over.
  }
  ASSERT_EQ(second.size(), 1u) << "the silent job's test never came back";
  EXPECT_NE(second[0].at("lease"), first[0].at("lease"));
  const auto [late, stale] = report(0, silent, first[0]);
  EXPECT_EQ(late, 200) << stale;
  EXPECT_FALSE(stale.value("authoritative", true)) << "a report under a lease taken back counted";
  const auto [on_time, counted] = report(1, other, second[0]);
  EXPECT_EQ(on_time, 200) << counted;
  EXPECT_TRUE(counted.value("authoritative", false)) << counted;
  const auto [status, results] = call(replica(0), "GET", kSwarm + "/runs/" + std::to_string(id) + "/results");
  EXPECT_EQ(results.value("state", ""), "done") << results;
  const json tests = results.value("tests", json::array());
  ASSERT_EQ(tests.size(), 1u) << results;
  EXPECT_EQ(tests[0].value("agent", ""), other.path.substr(other.path.rfind('/') + 1)) << results;
}

// --max-jobs holds for the replicas together: the jobs are counted in the database, not in each replica.
TEST_P(ReplicasTest, TheJobLimitCountsTheJobsEveryReplicaAdded) {
  restart_replicas({"--max-jobs", "2"});
  const auto results = [&](int i, const std::string& job) {
    return post(replica(i), "/api/v1/jobs/" + job + "/results", results_body({job + ".t"})).first;
  };
  EXPECT_EQ(results(0, "first"), 200);
  EXPECT_EQ(results(1, "second"), 200);
  EXPECT_EQ(results(0, "third"), 403) << "a third job was taken";
  EXPECT_EQ(results(1, "first"), 200);  // A job held already is still written.
  EXPECT_TRUE(history_of(replica(1), "/api/v1/jobs/third/history").empty());
}

INSTANTIATE_TEST_SUITE_P(SharedStores, ReplicasTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& store) { return store.param; });

}  // namespace
}  // namespace tlb
