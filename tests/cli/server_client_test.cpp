// The `tlb` command against a TLB server (TLB_STORE=http://...), run as a CI job runs it: the settings that
// reach the server, a token the server asks for, a server that never answers, and the messages for each.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/process.hpp"
#include "support/scratch_dir.hpp"
#include "support/server_process.hpp"

namespace {

namespace fs = std::filesystem;
using tlb::testing::ProcessResult;
using tlb::testing::run_process;
using Env = std::map<std::string, std::string>;

class ServerClient : public tlb::testing::ScratchDirTest {
 protected:
  std::unique_ptr<tlb::testing::ServerProcess> start_server(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {TLB_EXECUTABLE, "server", "--bind",     "127.0.0.1",
                                     "--port",       "0",      "--data-dir", (dir_ / "data").string(),
                                     "--exit-after", "300"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<tlb::testing::ServerProcess>(argv, "tlb server: listening on");
  }

  // `tlb split` of partition k of 2 over four tests, writing its record into `records`.
  ProcessResult split(int k, const Env& env) {
    const std::string tests = write("tests.txt", "alpha\nbeta\ngamma\ndelta\n");
    return run_process({TLB_EXECUTABLE, "split", "--tests", tests, "--partition", std::to_string(k) + "/2",
                        "--record-dir", (dir_ / "records").string()},
                       env);
  }

  nlohmann::json record(int k) {
    std::ifstream in(dir_ / "records" / ("partition-" + std::to_string(k) + "-of-2.json"));
    return nlohmann::json::parse(in);
  }

  // A ctest --output-junit file in which every test of partition k's record passed in 1.5 s.
  std::string junit_for(int k) {
    std::string xml = "<?xml version=\"1.0\"?>\n<testsuite name=\"x\" tests=\"1\">\n";
    const nlohmann::json given = record(k);
    for (const auto& name : given["tests"]) {
      xml += "<testcase name=\"" + name.get<std::string>() + "\" classname=\"" + name.get<std::string>() +
             "\" time=\"1.5\" status=\"run\"/>\n";
    }
    return write("junit-" + std::to_string(k) + ".xml", xml + "</testsuite>\n");
  }

  std::string record_path(int k) {
    return (dir_ / "records" / ("partition-" + std::to_string(k) + "-of-2.json")).string();
  }
};

TEST_F(ServerClient, TlbBaseUrlNamesTheServerAsInTheOriginalTlb) {
  const auto server = start_server();
  const Env env{{"TLB_BASE_URL", server->url()}, {"TLB_JOB_NAME", "app"}, {"TLB_JOB_VERSION", "41"}};
  const ProcessResult first = split(1, env);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(record(1)["history_source"], server->url());
  EXPECT_EQ(record(1)["job"], "app");
  EXPECT_EQ(record(1)["job_version"], "41");
  // TLB_STORE wins over it.
  Env both = env;
  both["TLB_STORE"] = (dir_ / "timings.txt").string();
  ASSERT_EQ(split(1, both).exit_code, 0);
  EXPECT_EQ(record(1)["history_source"], (dir_ / "timings.txt").string());
}

TEST_F(ServerClient, TheCiRunIdIsTheDefaultJobVersion) {
  const auto server = start_server();
  const Env env{{"TLB_STORE", server->url()}, {"TLB_JOB_NAME", "app"}, {"GITHUB_RUN_ID", "9001"}};
  ASSERT_EQ(split(2, env).exit_code, 0);
  EXPECT_EQ(record(2)["job_version"], "9001");
  // The server now holds partition 2's record of run 9001, and only that.
  const ProcessResult verify = run_process({TLB_EXECUTABLE, "verify", "--json"}, env);
  EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
  const nlohmann::json verdict = nlohmann::json::parse(verify.out);
  EXPECT_EQ(verdict["records"], 1);
  EXPECT_EQ(verdict["total"], 2);
  EXPECT_NE(verify.out.find("partition 1/2: no record"), std::string::npos) << verify.out;
}

TEST_F(ServerClient, WritesNeedTheServersToken) {
  const auto server = start_server({"--token", "s3cret"});
  Env env{{"TLB_STORE", server->url()}, {"TLB_JOB_NAME", "app"}, {"TLB_JOB_VERSION", "7"}};
  // Reading needs no token; reporting the partition does, and its refusal is a warning, not a failed run.
  const ProcessResult split_without = split(1, env);
  EXPECT_EQ(split_without.exit_code, 0) << split_without.err;
  EXPECT_NE(split_without.err.find("401"), std::string::npos) << split_without.err;
  // Recording without it fails, naming the server's reason, and leaves the local record as it was.
  const std::string before = [&] {
    std::ifstream in(record_path(1));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  const ProcessResult record_without =
      run_process({TLB_EXECUTABLE, "record", junit_for(1), record_path(1)}, env);
  EXPECT_EQ(record_without.exit_code, 1) << record_without.err;
  EXPECT_NE(record_without.err.find("token"), std::string::npos) << record_without.err;
  std::ifstream after(record_path(1));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(after), {}), before);

  env["TLB_TOKEN"] = "wrong";
  const ProcessResult wrong = run_process({TLB_EXECUTABLE, "record", junit_for(1), record_path(1)}, env);
  EXPECT_EQ(wrong.exit_code, 1) << wrong.err;
  env["TLB_TOKEN"] = "s3cret";
  ASSERT_EQ(split(1, env).exit_code, 0);
  const ProcessResult recorded = run_process({TLB_EXECUTABLE, "record", junit_for(1), record_path(1)}, env);
  EXPECT_EQ(recorded.exit_code, 0) << recorded.err;
  EXPECT_NE(recorded.out.find("2 results (2 passed"), std::string::npos) << recorded.out << recorded.err;
  // What was recorded is the job's history now: the next run's split reads it.
  ASSERT_EQ(
      split(2, {{"TLB_STORE", server->url()}, {"TLB_JOB_NAME", "app"}, {"TLB_JOB_VERSION", "8"}}).exit_code,
      0);
  EXPECT_EQ(record(2)["history_status"], "ok");
  EXPECT_NE(record(2)["history_hash"], "fnv1a64:cbf29ce484222325");  // Not the empty history.
}

// A second server on a port in use must fail, not share the port (and the clients) with the first.
TEST_F(ServerClient, APortInUseIsAnError) {
  const auto server = start_server();
  const ProcessResult second =
      run_process({TLB_EXECUTABLE, "server", "--bind", "127.0.0.1", "--port", std::to_string(server->port()),
                   "--data-dir", (dir_ / "other").string(), "--exit-after", "5"});
  EXPECT_EQ(second.exit_code, 1) << second.out << second.err;
  EXPECT_NE(second.err.find("cannot listen on 127.0.0.1:" + std::to_string(server->port())),
            std::string::npos)
      << second.err;
}

// Outside a CI run (no job version) the live history is read and results go straight into it.
TEST_F(ServerClient, WithoutAJobVersionTheLiveHistoryIsUsed) {
  const auto server = start_server();
  const Env env{{"TLB_STORE", server->url()}, {"TLB_JOB_NAME", "app"}};
  ASSERT_EQ(split(1, env).exit_code, 0);
  EXPECT_FALSE(record(1).contains("job_version"));
  const ProcessResult recorded = run_process({TLB_EXECUTABLE, "record", junit_for(1), record_path(1)}, env);
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  EXPECT_NE(recorded.out.find("(2 tests, 2 new"), std::string::npos) << recorded.out;
  ASSERT_EQ(split(2, env).exit_code, 0);
  EXPECT_EQ(record(2)["history_status"], "ok");
  EXPECT_NE(record(2)["history_hash"], "fnv1a64:cbf29ce484222325");
}

// A server that accepts connections and never answers: the split goes on without history once the timeout
// passes, with one warning. A hang here would hang every CI job.
TEST_F(ServerClient, AServerThatNeverAnswersTimesOut) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 16), 0);  // The kernel completes connections; nobody reads them.
  socklen_t length = sizeof address;
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  Env env{{"TLB_STORE", url},
          {"TLB_JOB_NAME", "app"},
          {"TLB_JOB_VERSION", "1"},
          {"TLB_SERVER_TIMEOUT", "1"},
          {"TLB_SERVER_RETRY_SECONDS", "1"}};
  // A partition of a CI run cannot split on the history its run's other partitions read: it stops.
  const ProcessResult stopped = split(1, env);
  EXPECT_EQ(stopped.exit_code, 1) << stopped.err;
  EXPECT_NE(stopped.err.find(url + ": no answer, so this partition of run 1 cannot split on the history"),
            std::string::npos)
      << stopped.err;
  // Outside a run, the split goes on without history, once warned.
  env.erase("TLB_JOB_VERSION");
  const auto start = std::chrono::steady_clock::now();
  const ProcessResult result = split(1, env);
  const auto took = std::chrono::steady_clock::now() - start;
  close(listener);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_LT(took, std::chrono::seconds(20)) << "the timeout did not stop the wait";
  EXPECT_EQ(record(1)["history_status"], "unavailable");
  std::size_t warnings = 0;
  for (std::size_t at = 0; (at = result.err.find("tlb: warning:", at)) != std::string::npos; ++at) ++warnings;
  EXPECT_EQ(warnings, 1u) << result.err;
  EXPECT_NE(result.err.find(url), std::string::npos) << result.err;
}

TEST_F(ServerClient, BadServerSettingsAreNamed) {
  const std::string url = "http://127.0.0.1:9";
  const auto expect_usage_error = [&](const Env& env, const std::string& named) {
    const ProcessResult result = split(1, env);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_NE(result.err.find(named), std::string::npos) << result.err;
  };
  expect_usage_error({{"TLB_STORE", url}}, "TLB_JOB_NAME");
  expect_usage_error({{"TLB_STORE", url}, {"TLB_JOB_NAME", "../etc"}}, "TLB_JOB_NAME=../etc");
  expect_usage_error({{"TLB_STORE", url}, {"TLB_JOB_NAME", "a"}, {"TLB_JOB_VERSION", "a b"}},
                     "TLB_JOB_VERSION=a b");
  expect_usage_error({{"TLB_STORE", url}, {"TLB_JOB_NAME", "a"}, {"TLB_SERVER_TIMEOUT", "soon"}},
                     "TLB_SERVER_TIMEOUT=soon");
  expect_usage_error({{"TLB_STORE", url}, {"TLB_JOB_NAME", "a"}, {"TLB_SERVER_RETRY_SECONDS", "-1"}},
                     "TLB_SERVER_RETRY_SECONDS=-1");
  // Verify with no records and no server says what to give it.
  const ProcessResult nothing = run_process({TLB_EXECUTABLE, "verify"});
  EXPECT_EQ(nothing.exit_code, 2) << nothing.err;
  EXPECT_NE(nothing.err.find("TLB_STORE"), std::string::npos) << nothing.err;
  const ProcessResult no_run =
      run_process({TLB_EXECUTABLE, "verify"}, {{"TLB_STORE", url}, {"TLB_JOB_NAME", "a"}});
  EXPECT_EQ(no_run.exit_code, 2) << no_run.err;
  EXPECT_NE(no_run.err.find("TLB_JOB_VERSION"), std::string::npos) << no_run.err;
}

// `tlb run --queue` that could not reach the server sets TLB_STATIC_SPLIT and runs the static split: every
// such job must split on no history, alike, even when the server answers again by the time its hook asks.
TEST_F(ServerClient, TheQueuesStaticSplitReadsNoHistoryEvenWhenTheServerIsBack) {
  const auto server = start_server();
  Env env{{"TLB_STORE", server->url()}, {"TLB_JOB_NAME", "app"}, {"TLB_JOB_VERSION", "12"}};
  ASSERT_EQ(split(1, env).exit_code, 0);
  ASSERT_EQ(run_process({TLB_EXECUTABLE, "record", junit_for(1), record_path(1)}, env).exit_code, 0);
  env["TLB_JOB_VERSION"] = "13";
  env["TLB_STATIC_SPLIT"] = "1";
  const ProcessResult fallback = split(2, env);
  ASSERT_EQ(fallback.exit_code, 0) << fallback.err;
  EXPECT_EQ(record(2)["history_status"], "unavailable") << fallback.err;
  httplib::Client client("127.0.0.1", server->port());
  const httplib::Result records = client.Get("/api/v1/jobs/app/versions/13/records");
  ASSERT_TRUE(records);
  EXPECT_EQ(nlohmann::json::parse(records->body).value("records", nlohmann::json::array()).size(), 0u)
      << "the fallback reported itself to the server: " << records->body;
}

// One `tlb record` sends one run's results: records of two cells of a CI matrix (two run keys) given together
// would all go to one cell's run, so it refuses them, saying why, and sends nothing.
TEST_F(ServerClient, RecordRefusesRecordsOfTwoRunsAtOnce) {
  const auto server = start_server();
  Env env{{"TLB_STORE", server->url()}, {"TLB_JOB_NAME", "app"}, {"TLB_JOB_VERSION", "21"}};
  // A build directory per cell, as the hook leaves it: the partition's record in tlb/, ctest's JUnit beside.
  const auto cell = [&](const std::string& key) {
    env["TLB_RUN_KEY"] = key;
    EXPECT_EQ(split(1, env).exit_code, 0);
    const fs::path build = dir_ / ("build-" + key);
    fs::create_directories(build / "tlb");
    fs::copy_file(junit_for(1), build / "results.xml");
    fs::copy_file(record_path(1), build / "tlb" / "partition-1-of-2.json");
    return build.string();
  };
  const std::string gcc = cell("gcc");
  const std::string clang = cell("clang");
  env.erase("TLB_RUN_KEY");
  const ProcessResult both = run_process({TLB_EXECUTABLE, "record", gcc, clang}, env);
  EXPECT_EQ(both.exit_code, 2) << both.out << both.err;
  EXPECT_NE(both.err.find("different runs"), std::string::npos) << both.err;
  // Each on its own is taken.
  EXPECT_EQ(run_process({TLB_EXECUTABLE, "record", gcc}, env).exit_code, 0);
  EXPECT_EQ(run_process({TLB_EXECUTABLE, "record", clang}, env).exit_code, 0);
}

// What a reverse proxy in front of replicas answers while one of them restarts: 502 for the first
// `failures` requests, after which it forwards each request to `upstream`; with `lose_answers`, those
// failures are of requests it did forward (the write happened; its answer was lost on the way back).
class FlakyProxy {
 public:
  FlakyProxy(int upstream, int failures, bool lose_answers) : upstream_(upstream), failures_(failures) {
    server_.set_keep_alive_max_count(1);
    const auto handle = [this, lose_answers](const httplib::Request& request, httplib::Response& response) {
      const bool fail = seen_++ < failures_;
      if (fail && !lose_answers) {
        response.status = 502;
        return;
      }
      httplib::Client client("127.0.0.1", upstream_);
      const httplib::Result result =
          request.method == "GET"
              ? client.Get(request.target)
              : client.Post(request.target, request.body, request.get_header_value("Content-Type"));
      response.status = fail || !result ? 502 : result->status;
      if (result && !fail) response.set_content(result->body, result->get_header_value("Content-Type"));
    };
    server_.Get(".*", handle);
    server_.Post(".*", handle);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FlakyProxy() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return seen_; }

 private:
  httplib::Server server_;
  int upstream_, failures_, port_ = 0;
  std::atomic<int> seen_{0};
  std::thread thread_;
};

// Behind a proxy whose replica is restarting, the split and the record send their requests again: the
// partition splits on its run's snapshot, and results whose answer was lost count once.
TEST_F(ServerClient, RequestsAreSentAgainWhileAReplicaRestarts) {
  const auto server = start_server();
  const Env direct{{"TLB_STORE", server->url()}, {"TLB_JOB_NAME", "app"}, {"TLB_JOB_VERSION", "8"}};
  {
    FlakyProxy proxy(server->port(), 3, false);
    Env env = direct;
    env["TLB_STORE"] = proxy.url();
    const ProcessResult split1 = split(1, env);
    ASSERT_EQ(split1.exit_code, 0) << split1.err;
    EXPECT_EQ(record(1)["history_status"], "ok") << split1.err;
    EXPECT_GE(proxy.requests(), 5);  // Three 502s, the snapshot, the partition's record.
    // Sent once, the same split stops before any test: a partition of a run must split on its snapshot.
    FlakyProxy once(server->port(), 1, false);
    env["TLB_STORE"] = once.url();
    env["TLB_SERVER_RETRY_SECONDS"] = "0";
    EXPECT_EQ(split(2, env).exit_code, 1);
  }
  // The record's results reach the server, but the first two answers are lost: sent three times, counted
  // once.
  FlakyProxy lossy(server->port(), 2, true);
  Env env = direct;
  env["TLB_STORE"] = lossy.url();
  const ProcessResult recorded = run_process({TLB_EXECUTABLE, "record", junit_for(1), record_path(1)}, env);
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  EXPECT_EQ(lossy.requests(), 3);
  httplib::Client client("127.0.0.1", server->port());
  const httplib::Result history = client.Get("/api/v1/jobs/app/history");
  ASSERT_TRUE(history && history->status == 200);
  const nlohmann::json tests = nlohmann::json::parse(history->body)["tests"];
  ASSERT_EQ(tests.size(), record(1)["tests"].size());
  for (const auto& test : tests) EXPECT_EQ(test["runs"], 1) << test.dump();
}

}  // namespace
