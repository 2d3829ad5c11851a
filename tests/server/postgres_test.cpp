// The server on PostgreSQL (--database postgresql://...), beyond the route tests that ctest runs on both
// backends: what only a shared database shows (two servers writing at once, two migrating at once),
// PostgreSQL killed under load, the schema's version and a password kept out of every message. The
// PostgresTest cases run in ctest's postgres.* run, on the fixture's cluster
// (tests/support/postgres_cluster.hpp).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/db_backend.hpp"
#include "support/postgres_cluster.hpp"
#include "support/scratch_dir.hpp"
#include "support/server_process.hpp"

namespace tlb {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using testing::PostgresCluster;
using testing::ServerProcess;

TEST(PostgresUrl, ThePasswordIsMaskedInWhatMessagesName) {
  using server::db::mask_password;
  EXPECT_EQ(mask_password("postgresql://tlb:s3cret@db.example:5432/tlb"),
            "postgresql://tlb:***@db.example:5432/tlb");
  EXPECT_EQ(mask_password("postgres://tlb@db/tlb?sslmode=require&password=s3cret&x=1"),
            "postgres://tlb@db/tlb?sslmode=require&password=***&x=1");
  EXPECT_EQ(mask_password("postgresql://tlb:p@ss@db/tlb"), "postgresql://tlb:***@db/tlb");
  EXPECT_EQ(mask_password("postgresql://db/tlb"), "postgresql://db/tlb");
  EXPECT_TRUE(server::db::is_postgres_url("postgres://db/x"));
  EXPECT_FALSE(server::db::is_postgres_url("/var/lib/tlb/postgresql://x"));
}

// A results body of one observation of `name`, `seconds` long (a new body, so applied once more).
std::string one_result(const std::string& name, double seconds) {
  return ordered_json{
      {"kind", "tlb-run-report"},
      {"version", 1},
      {"partition", 0},
      {"total", 0},
      {"date", "2023-11-14"},
      {"observations", ordered_json::array({{{"name", name}, {"seconds", seconds}, {"outcome", "passed"}}})}}
      .dump();
}

class PostgresTest : public testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    const char* dir = std::getenv("TLB_TEST_POSTGRES_DIR");
    if (dir == nullptr) GTEST_SKIP() << "runs in ctest's postgres.* run (TLB_TEST_POSTGRES_DIR unset)";
    if (!testing::postgres_bin_dir())
      GTEST_SKIP() << "no PostgreSQL in /usr/lib/postgresql (apt-get install postgresql)";
    url_ = *testing::test_postgres_database(dir_.string());
  }

  // A server on this test's database (`url`, else its own).
  std::unique_ptr<ServerProcess> server(const std::string& url = "") {
    // Loopback, the default; no data directory with --database; no cap on connections per address.
    const std::vector<std::string> argv{TLB_EXECUTABLE,
                                        "server",
                                        "--port",
                                        "0",
                                        "--database",
                                        url.empty() ? url_ : url,
                                        "--exit-after",
                                        "600",
                                        "--max-client-connections",
                                        "0"};
    return std::make_unique<ServerProcess>(
        argv, testing::kTlbServerListening,
        std::map<std::string, std::string>{{"SOURCE_DATE_EPOCH", "1700000000"}});
  }

  std::string url_;
};

int runs_of(const ServerProcess& server, const std::string& job, const std::string& name) {
  httplib::Client client(server.host(), server.port());
  const auto history = client.Get(("/api/v1/jobs/" + job + "/history").c_str());
  if (!history || history->status != 200) return -1;
  const json listed = json::parse(history->body);
  for (const json& test : listed.at("tests")) {
    if (test.at("name") == name) return test.at("runs");
  }
  return 0;
}

// Each post reads the test's history and writes it back one run more: two servers doing so at once on one
// database lose no update only if a write transaction locks out the other server's (SQLite's BEGIN IMMEDIATE,
// an advisory lock on PostgreSQL).
TEST_F(PostgresTest, TwoServersWritingOneHistoryAtOnceLoseNoUpdate) {
  const auto first = server();
  const auto second = server();
  constexpr int kPostsPerThread = 15;
  std::atomic<int> acknowledged{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const ServerProcess& target = t % 2 == 0 ? *first : *second;
      httplib::Client client(target.host(), target.port());
      for (int i = 0; i < kPostsPerThread; ++i) {
        const auto answer = client.Post("/api/v1/jobs/shared/versions/v/results",
                                        one_result("one-test", 1.0 + t * 100 + i), "application/json");
        if (answer && answer->status == 200) {
          ++acknowledged;
        } else {
          ADD_FAILURE() << (answer ? answer->body : "no answer");
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(acknowledged, 4 * kPostsPerThread);
  // A third server, whose memory holds nothing of the history yet.
  EXPECT_EQ(runs_of(*server(), "shared", "one-test"), 4 * kPostsPerThread);
}

// Two servers started at once on an empty database: one migrates it, the other waits for the lock and finds
// it done (without the lock one of them fails, creating a table that exists). run_process in two threads: its
// pipes are closed on exec, so neither server holds the other's.
TEST_F(PostgresTest, TwoServersStartingOnAnEmptyDatabaseMigrateItOnce) {
  testing::ProcessResult results[2];
  std::thread starting[2];
  for (int i = 0; i < 2; ++i) {
    starting[i] = std::thread([&, i] {
      results[i] = testing::run_process(
          {TLB_EXECUTABLE, "server", "--port", "0", "--database", url_, "--exit-after", "1"});
    });
  }
  for (std::thread& thread : starting) thread.join();
  for (const testing::ProcessResult& result : results) {
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_TRUE(result.out.starts_with(testing::kTlbServerListening)) << result.out;
  }
  const PostgresCluster cluster =
      PostgresCluster::attach(std::getenv("TLB_TEST_POSTGRES_DIR"), *testing::postgres_bin_dir());
  const std::string schema = url_.substr(url_.rfind("%3D") + 3);
  EXPECT_EQ(cluster.sql("SELECT count(*), max(version) FROM " + schema + ".tlb_schema"), "1|4\n");
}

TEST_F(PostgresTest, ANewerSchemaOrAnotherProgramsTablesAreRefusedAndNoPasswordIsPrinted) {
  const PostgresCluster cluster =
      PostgresCluster::attach(std::getenv("TLB_TEST_POSTGRES_DIR"), *testing::postgres_bin_dir());
  // Trust authentication takes any password: the server connects, and must not print it. The URL from
  // TLB_DATABASE, as from --database.
  std::string with_password = url_;
  with_password.insert(with_password.find("tlb@") + 3, ":hunter2");
  {
    const auto served = std::make_unique<ServerProcess>(
        std::vector<std::string>{TLB_EXECUTABLE, "server", "--port", "0", "--exit-after", "600"},
        testing::kTlbServerListening, std::map<std::string, std::string>{{"TLB_DATABASE", with_password}});
    EXPECT_EQ(served->listening_line().find("hunter2"), std::string::npos) << served->listening_line();
    EXPECT_NE(served->listening_line().find("postgresql://tlb:***@127.0.0.1"), std::string::npos)
        << served->listening_line();
  }
  const std::string schema = url_.substr(url_.rfind("%3D") + 3);
  cluster.sql("UPDATE " + schema + ".tlb_schema SET version = 99");
  try {
    server(with_password);
    FAIL() << "a newer schema was opened";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("database schema version 99 was written by a newer tlb"), std::string::npos)
        << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  }
  cluster.sql("CREATE SCHEMA other_program; CREATE TABLE other_program.accounts (id BIGINT)");
  try {
    server(cluster.url() + "?options=-csearch_path%3Dother_program");
    FAIL() << "another program's tables were taken";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a tlb database"), std::string::npos) << e.what();
  }
  // A database that cannot be reached: the message names it, password masked.
  try {
    server("postgresql://tlb:hunter2@127.0.0.1:1/none");
    FAIL() << "started without its database";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("postgresql://tlb:***@127.0.0.1:1/none: cannot connect"), std::string::npos)
        << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  }
}

// PostgreSQL killed (SIGKILL to every one of its processes) while writers post: every write the server
// acknowledged is there after PostgreSQL restarts; meanwhile the server answers 503, never hangs or dies, and
// answers again once PostgreSQL is back, without a restart of its own (and at once when PostgreSQL restarted
// while it was idle). On a cluster of its own, to kill.
TEST_F(PostgresTest, KillingPostgresLosesNoAcknowledgedWriteAndTheServerAnswersAgain) {
  PostgresCluster cluster(
      std::filesystem::temp_directory_path() / ("tlb-pg-kill-" + std::to_string(getpid())),
      *testing::postgres_bin_dir());
  cluster.create(getpid(), TLB_TEST_POSTGRES);
  const auto served = server(cluster.url());
  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::map<int, int> refusals;  // status -> count
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client client(served->host(), served->port());
      client.set_read_timeout(60);
      for (int i = 0; !stop; ++i) {
        const std::string name = "w" + std::to_string(t) + "-" + std::to_string(i);
        const auto answer =
            client.Post("/api/v1/jobs/kill/versions/v/results", one_result(name, 2.0), "application/json");
        std::lock_guard lock(mutex);
        if (answer && answer->status == 200) {
          acknowledged.insert(name);
        } else {
          ++refusals[answer ? answer->status : -1];
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    });
  }
  const auto join = [&] {
    stop = true;
    for (std::thread& thread : threads) thread.join();
  };
  try {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    cluster.kill9();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    cluster.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  } catch (...) {
    join();
    throw;
  }
  join();

  ASSERT_GT(acknowledged.size(), 10u) << "too few writes to tell anything";
  EXPECT_GT(refusals[503], 0) << "no request met PostgreSQL down";
  for (const auto& [status, count] : refusals)
    EXPECT_EQ(status, 503) << count << " answers of status " << status;
  httplib::Client client(served->host(), served->port());
  const auto history = client.Get("/api/v1/jobs/kill/history");
  ASSERT_TRUE(history);
  ASSERT_EQ(history->status, 200) << history->body;
  std::set<std::string> stored;
  const json listed = json::parse(history->body);
  for (const json& test : listed.at("tests")) stored.insert(test.at("name"));
  for (const std::string& name : acknowledged)
    EXPECT_TRUE(stored.contains(name)) << "acknowledged but lost: " << name;
  // PostgreSQL restarted while the server is idle: its next request connects again and succeeds.
  cluster.kill9();
  cluster.start();
  const auto after_restart = client.Post("/api/v1/jobs/kill/versions/v/results",
                                         one_result("after-restart", 2.0), "application/json");
  ASSERT_TRUE(after_restart);
  EXPECT_EQ(after_restart->status, 200) << after_restart->body;
  std::cout << "[ postgres ] " << acknowledged.size() << " acknowledged writes, " << refusals[503]
            << " answered 503 while PostgreSQL was down, none lost\n";
  cluster.remove();
}

// What a SQLite store holds (a history, a run's snapshot, records and checks, subset sizes, a swarm run with
// an agent and a lease) is copied by --copy-from into an empty PostgreSQL database, and the server on it
// answers every read as the SQLite one did, and takes new writes (the identity keys go on after the copied
// ones). A second copy into the now non-empty database is refused.
TEST_F(PostgresTest, CopyFromASqliteStoreServesTheSameAnswers) {
  const std::string store = (dir_ / "data" / "tlb.sqlite3").string();
  const std::vector<std::string> reads{"/api/v1/jobs/j/history",
                                       "/api/v1/jobs/j/versions/v1/history",
                                       "/api/v1/jobs/j/versions/v1/records",
                                       "/api/v1/jobs/j/versions/v1/verify",
                                       "/api/v1/swarm/runs/1",
                                       "/j/suite_time",
                                       "/j/subset_size",
                                       "/"};
  const auto read_all = [&](const ServerProcess& served) {
    httplib::Client client(served.host(), served.port());
    std::vector<std::string> bodies;
    for (const std::string& path : reads) {
      const auto answer = client.Get(path.c_str());
      std::string body = answer ? answer->body : "no answer";
      if (path.starts_with("/api/v1/swarm/runs/") && answer) {
        json run = json::parse(body);
        run.erase("elapsed_seconds");  // Since the run was created: later on the second server.
        body = run.dump();
      }
      bodies.push_back(std::to_string(answer ? answer->status : -1) + " " + body);
    }
    return bodies;
  };
  std::vector<std::string> before;
  {
    ServerProcess sqlite({TLB_EXECUTABLE, "server", "--port", "0", "--data-dir", (dir_ / "data").string(),
                          "--exit-after", "600"},
                         testing::kTlbServerListening, {{"SOURCE_DATE_EPOCH", "1700000000"}});
    httplib::Client client(sqlite.host(), sqlite.port());
    const auto ok = [](const httplib::Result& answer) { return answer && answer->status / 100 == 2; };
    ASSERT_TRUE(ok(client.Put("/j/suite_time", "a: 5000\nb: 7000\n", "text/plain")));
    ASSERT_TRUE(
        ok(client.Post("/api/v1/jobs/j/versions/v1/results", one_result("c", 3.25), "application/json")));
    ASSERT_TRUE(ok(client.Get("/api/v1/jobs/j/versions/v1/history")));  // Freezes the snapshot.
    ASSERT_TRUE(ok(client.Post("/j/subset_size", "5", "text/plain")));
    ASSERT_TRUE(ok(client.Post("/j/subset_size", "7", "text/plain")));
    const json run{{"job", "j"},
                   {"version", "1"},
                   {"test_list_hash", "h"},
                   {"tests", {{{"name", "x"}}, {{"name", "y"}}}}};
    ASSERT_TRUE(ok(client.Post("/api/v1/swarm/runs", run.dump(), "application/json")));
    const auto agent =
        client.Post("/api/v1/swarm/agents",
                    json{{"key", "k"}, {"name", "k"}, {"test_list_hash", "h"}, {"attributes", {}}}.dump(),
                    "application/json");
    ASSERT_TRUE(ok(agent));
    const json enrolled = json::parse(agent->body);
    ASSERT_TRUE(
        ok(client.Post(("/api/v1/swarm/agents/" + enrolled.at("agent").get<std::string>() + "/pull").c_str(),
                       json{{"secret", enrolled.at("secret")}}.dump(), "application/json")));
    before = read_all(sqlite);
  }
  const std::vector<std::string> copy{TLB_EXECUTABLE, "server", "--port",       "0",  "--database", url_,
                                      "--copy-from",  store,    "--exit-after", "600"};
  {
    ServerProcess copied(copy, testing::kTlbServerListening, {{"SOURCE_DATE_EPOCH", "1700000000"}});
    EXPECT_EQ(read_all(copied), before);
    EXPECT_NE(copied.err().find("tlb server: copied "), std::string::npos) << copied.err();
    EXPECT_NE(
        copied.err().find(
            "(applied_results 1, generations 3, history 3, snapshots 6, subset_sizes 2, swarm_agents 1, "
            "swarm_leases 1, swarm_runs 1, swarm_tests 2, versions 2)"),
        std::string::npos)
        << copied.err();
    httplib::Client client(copied.host(), copied.port());
    const auto more = client.Post("/j/subset_size", "9", "text/plain");
    ASSERT_TRUE(more);
    EXPECT_EQ(more->status, 200) << more->body;
    const auto sizes = client.Get("/j/subset_size");
    ASSERT_TRUE(sizes);
    EXPECT_EQ(sizes->body, "5\n7\n9\n");
  }
  try {
    ServerProcess again(copy, testing::kTlbServerListening);
    FAIL() << "copied into a database that is not empty";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(
        std::string(e.what()).find("not empty (applied_results has 1 rows): --copy-from copies into an empty "
                                   "database only"),
        std::string::npos)
        << e.what();
  }
}

// Names come back in byte order, as from SQLite, whatever the database's collation (the fixture's cluster is
// German where that locale exists: there "a" sorts before "B").
TEST_F(PostgresTest, NamesAreOrderedByTheirBytesWhateverTheDatabasesCollation) {
  const auto served = server();
  httplib::Client client(served->host(), served->port());
  for (const char* job : {"b", "B", "a", "A", "a-b", "a_b", "aB"}) {
    const auto put = client.Put(("/" + std::string(job) + "/suite_time").c_str(), "t: 1000\n", "text/plain");
    ASSERT_TRUE(put);
    ASSERT_EQ(put->status, 200) << put->body;
  }
  const auto page = client.Get("/");
  ASSERT_TRUE(page);
  std::vector<std::string> listed;
  for (std::size_t at = page->body.find("data-job=\""); at != std::string::npos;
       at = page->body.find("data-job=\"", at + 1)) {
    const std::size_t start = at + 10;
    listed.push_back(page->body.substr(start, page->body.find('"', start) - start));
  }
  EXPECT_EQ(listed, (std::vector<std::string>{"A", "B", "a", "a-b", "aB", "a_b", "b"}));
}

}  // namespace
}  // namespace tlb
