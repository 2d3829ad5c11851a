// `tlb server` against one hostile or unlucky request (issue 17): the real `tlb` on loopback, driven with
// cpp-httplib's client and with raw sockets where a client must misbehave in ways httplib's would not. Each
// test names the rule it holds: src/server/request_limits.cpp (JSON depth, durations, the token),
// src/server/http_server.cpp (framing, compression, the token before the body) and
// src/server/limited_stream.cpp (bodies counted as they arrive, the request deadline, connections per
// address).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/process.hpp"
#include "support/scratch_dir.hpp"
#include "support/server_process.hpp"

namespace tlb {
namespace {

using nlohmann::json;
using testing::ServerProcess;

// A TCP connection made by hand, from `source` (any 127.x address reaches a server on 127.0.0.1).
class RawClient {
 public:
  RawClient(int port, const char* source = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, source, &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    connected_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0 &&
                 ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  // False once the server stopped taking bytes (it answered and closed).
  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // Everything the server sends until it closes, or until `timeout` passes.
  std::string receive(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return text;
      pollfd waiting{fd_, POLLIN, 0};
      if (::poll(&waiting, 1, static_cast<int>(left.count())) <= 0) return text;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return text;
      text.append(buffer, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string status_line(const std::string& answer) {
  return answer.substr(0, answer.find("\r\n"));
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// A process's resident memory from /proc/PID/status, in MiB: "VmHWM" its peak, "VmRSS" now.
double memory_mib(pid_t pid, std::string_view field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with(field) && line.size() > field.size() && line[field.size()] == ':') {
      return std::stod(line.substr(field.size() + 1)) / 1024.0;
    }
  }
  return -1;
}

// Lowers the process's peak (VmHWM) to what it holds now, so that the next peak is the next work's.
void reset_peak(pid_t pid) {
  std::ofstream("/proc/" + std::to_string(pid) + "/clear_refs") << "5";
}

// A run report of `tests` tests named "<prefix>NNNNNN" after `pad` bytes of padding.
std::string large_report(int tests, std::size_t pad) {
  std::string body = R"({"kind":"tlb-run-report","version":1,"date":"2023-11-14","observations":[)";
  const std::string padding(pad, 'x');
  for (int i = 0; i < tests; ++i) {
    body += (i == 0 ? "" : ",") + std::string(R"({"name":"suite.)") + padding + "." + std::to_string(i) +
            R"(","seconds":1.5,"outcome":"passed"})";
  }
  return body + "]}";
}

class LimitsTest : public testing::ScratchDirTest {
 protected:
  void TearDown() override {
    server_.reset();
    ScratchDirTest::TearDown();
  }

  ServerProcess& start(std::vector<std::string> extra = {}, std::map<std::string, std::string> env = {}) {
    server_ = std::make_unique<ServerProcess>(
        testing::tlb_server_command(TLB_EXECUTABLE, (dir_ / "data").string(), extra),
        testing::kTlbServerListening, env);
    return *server_;
  }

  httplib::Client client() const {
    httplib::Client client(server_->host(), server_->port());
    client.set_connection_timeout(10);
    client.set_read_timeout(20);
    return client;
  }

  std::pair<int, std::string> post(const std::string& path, const std::string& body,
                                   httplib::Headers headers = {}) {
    const auto result = client().Post(path.c_str(), headers, body, "application/json");
    if (!result) return {-1, httplib::to_string(result.error())};
    return {result->status, result->body};
  }

  bool alive() {
    const auto result = client().Get("/api/v1/status");
    return result && result->status == 200;
  }

  std::unique_ptr<ServerProcess> server_;
};

// Item 1: JSON nested 150,000 deep crashed the server; every JSON route now refuses it with 400.
TEST_F(LimitsTest, DeeplyNestedJsonIsRefusedOnEveryRouteAndTheServerGoesOn) {
  start();
  const std::string deep = std::string(150'000, '[') + std::string(150'000, ']');
  const std::string refused = R"({"error":"request body nests JSON deeper than 64 levels"})"
                              "\n";
  for (const std::string path :
       {"/api/v1/jobs/j/versions/1/results", "/api/v1/jobs/j/results", "/api/v1/jobs/j/versions/1/partitions",
        "/api/v1/swarm/runs", "/api/v1/swarm/agents", "/api/v1/swarm/agents/a1/report",
        "/api/v1/swarm/agents/a1/pull"}) {
    EXPECT_EQ(post(path, R"({"kind":"tlb-run-report","observations":)" + deep + "}"),
              std::make_pair(400, refused))
        << path;
    EXPECT_EQ(post(path, R"({"tests":[{"attributes":)" + deep + "}]}"), std::make_pair(400, refused)) << path;
  }
  // Brackets inside strings are text, not nesting.
  EXPECT_EQ(post("/api/v1/swarm/agents", R"({"name":")" + std::string(100, '[') + R"("})").first, 400);
  EXPECT_TRUE(alive());
}

// Item 10: durations past 30 days (1e308 poisoned every split) are refused on every way in.
TEST_F(LimitsTest, DurationsPastThirtyDaysAreRefused) {
  start();
  const auto report = [](const std::string& seconds) {
    return R"({"kind":"tlb-run-report","version":1,"date":"2024-01-01","observations":[{"name":"a","seconds":)" +
           seconds + R"(,"outcome":"passed"}]})";
  };
  EXPECT_EQ(post("/api/v1/jobs/j/results", report("1e308")).first, 400);
  EXPECT_EQ(post("/api/v1/jobs/j/results", report("2592001")).first, 400);
  EXPECT_EQ(post("/api/v1/jobs/j/results", report("2592000")).first, 200);
  const auto put = client().Put("/j/suite_time", "b: 2592000001\n", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 400) << put->body;
  EXPECT_EQ(client().Get("/j/suite_time")->body, "a: 2592000000\n");
}

// Item 9: one post holds at most 200,000 tests (a post of 1,000,000 was taken in 12.6 s and stalled readers).
TEST_F(LimitsTest, APostHoldsAtMost200000Tests) {
  start();
  const auto report = [](int tests) {
    std::string body = R"({"kind":"tlb-run-report","version":1,"date":"2023-11-14","observations":[)";
    for (int i = 0; i < tests; ++i) {
      body += (i == 0 ? "" : ",") + std::string(R"({"name":"t)") + std::to_string(i) + R"(","seconds":1})";
    }
    return body + "]}";
  };
  EXPECT_EQ(
      post("/api/v1/jobs/j/results", report(200'001)),
      std::make_pair(400, std::string(R"({"error":"run report holds 200001 tests; one post holds at most )"
                                      R"(200000"})"
                                      "\n")));
  EXPECT_EQ(post("/api/v1/jobs/j/results", report(1000)).first, 200);
}

// Item 9: concurrent reads of a large job share one serialisation, streamed to each reader, and at most two
// are built at once (src/server/read_cache.hpp). Sixteen unauthenticated reads of a job of 50,000 tests with
// long names (24 MB of JSON) took the server from 86 MiB to 1,507 MiB before; now to about 340 MiB.
TEST_F(LimitsTest, ConcurrentReadsOfALargeJobKeepMemoryBounded) {
  ServerProcess& server = start({}, {{"TLB_TOKEN", "s3cret"}});
  const httplib::Headers token{{"Authorization", "Bearer s3cret"}};
  ASSERT_EQ(post("/api/v1/jobs/big/results", large_report(50'000, 400), token).first, 200);
  reset_peak(server.pid());
  const double before = memory_mib(server.pid(), "VmRSS");
  ASSERT_GT(before, 0);
  const std::vector<std::string> paths{"/api/v1/jobs/big/history", "/api/v1/jobs/big/versions/v1/history",
                                       "/big/suite_time", "/api/v1/jobs/big/versions/v2/history"};
  std::atomic<int> answered{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 16; ++i) {
    readers.emplace_back([&, i] {
      httplib::Client reader = client();
      reader.set_read_timeout(120);
      const auto result = reader.Get(paths[static_cast<std::size_t>(i) % paths.size()].c_str());
      if (result && result->status == 200 && result->body.size() > 20'000'000) ++answered;
    });
  }
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(answered, 16);
  const double peak = memory_mib(server.pid(), "VmHWM");
  std::cout << "server RSS " << before << " MiB before the reads, peak " << peak << " MiB during them\n";
  EXPECT_TRUE(alive());
  // AddressSanitizer keeps freed memory in quarantine (256 MiB) and pads every block: no bound to hold there.
  if (kAddressSanitizer) GTEST_SKIP() << "the memory bound is checked in builds without AddressSanitizer";
  EXPECT_LT(peak - before, 600) << "peak " << peak << " MiB, " << before << " MiB before the reads";
}

// Item 9: the server holds at most --max-jobs jobs; a write that would add one more gets 403 on every way in
// (a run report, the original's lists and correctness check, a swarm run), the jobs held take writes as
// before, reads of an unknown job add none, and a restarted server counts the jobs it holds.
TEST_F(LimitsTest, TheServerHoldsAtMostMaxJobs) {
  start({"--max-jobs", "2"}, {{"TLB_TOKEN", "s3cret"}});
  const httplib::Headers token{{"Authorization", "Bearer s3cret"}};
  const auto report = [](const std::string& test) {
    return R"({"kind":"tlb-run-report","version":1,"date":"2023-11-14","observations":[{"name":")" + test +
           R"(","seconds":1,"outcome":"passed"}]})";
  };
  const std::string refused =
      R"({"error":"the server holds 2 jobs, its limit (tlb server --max-jobs): job j3 )"
      R"(would be one more"})"
      "\n";
  EXPECT_EQ(post("/api/v1/jobs/j1/results", report("a"), token).first, 200);
  // Reads without the token add no job; one with it, of a job past the limit, reads it live, unfrozen.
  EXPECT_EQ(client().Get("/api/v1/jobs/unknown/history")->status, 200);
  EXPECT_EQ(client().Get("/api/v1/jobs/unknown/versions/v1/history")->status, 200);
  EXPECT_EQ(client().Get("/unknown/suite_time/v1")->status, 200);
  EXPECT_EQ(post("/api/v1/jobs/j2/versions/v1/results", report("a"), token).first, 200);
  EXPECT_EQ(post("/api/v1/jobs/j3/results", report("a"), token), std::make_pair(403, refused));
  EXPECT_EQ(post("/api/v1/jobs/j3/versions/v1/results", report("a"), token), std::make_pair(403, refused));
  const auto put = client().Put("/j3/suite_time", token, "a: 1000\n", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 403);
  EXPECT_EQ(put->body,
            "the server holds 2 jobs, its limit (tlb server --max-jobs): job j3 would be one more\n");
  EXPECT_EQ(post("/j3/correctness_check/v1/universal_set/m", "x", token).first, 403);
  const json run{{"job", "j3"}, {"test_list_hash", "h"}, {"tests", {{{"name", "a"}}}}};
  EXPECT_EQ(post("/api/v1/swarm/runs", run.dump(), token).first, 403);
  EXPECT_EQ(post("/api/v1/jobs/j1/versions/v2/results", report("b"), token).first, 200);
  EXPECT_EQ(client().Put("/j2/suite_time", token, "b: 1000\n", "text/plain")->status, 200);
  EXPECT_EQ(client().Get("/j3/suite_time")->body, "");
  const auto unfrozen = client().Get("/api/v1/jobs/j3/versions/v1/history", token);
  ASSERT_TRUE(unfrozen);
  EXPECT_EQ(unfrozen->status, 200);
  EXPECT_TRUE(json::parse(unfrozen->body).at("snapshot").is_null()) << unfrozen->body;
  server_->restart();
  EXPECT_EQ(post("/api/v1/jobs/j3/results", report("a"), token), std::make_pair(403, refused));
  EXPECT_EQ(post("/api/v1/jobs/j2/results", report("c"), token).first, 200);
}

// Item 10: one way to frame a body, decimal lengths, no compressed bodies (a 199 KB gzip inflated to 200 MB).
TEST_F(LimitsTest, BodiesFramedTwoWaysOrCompressedAreRefusedBeforeBeingRead) {
  start();
  const auto raw = [&](const std::string& request) {
    RawClient client(server_->port());
    EXPECT_TRUE(client.connected());
    client.send(request);
    return status_line(client.receive());
  };
  const std::string post = "POST /api/v1/jobs/j/results HTTP/1.1\r\nHost: x\r\n";
  EXPECT_EQ(raw(post + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(raw(post + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
            "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(raw(post + "Content-Length: +2\r\n\r\n{}"), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(raw(post + "Content-Length: 0x2\r\n\r\n{}"), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(raw(post + "Transfer-Encoding: gzip\r\n\r\n{}"), "HTTP/1.1 501 Not Implemented");
  EXPECT_EQ(raw(post + "Content-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}"),
            "HTTP/1.1 415 Unsupported Media Type");
  EXPECT_EQ(raw("GET /api/v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"),
            "HTTP/1.1 400 Bad Request");
  EXPECT_TRUE(alive());
}

// Item 10: every answer, whatever route or refusal, says nosniff.
TEST_F(LimitsTest, EveryAnswerSaysNosniff) {
  start({}, {{"TLB_TOKEN", "s3cret"}});
  httplib::Client c = client();
  for (const auto& result : {c.Get("/api/v1/status"), c.Get("/nowhere/at/all/here"), c.Get("/"),
                             c.Put("/j/suite_time", "a: 1\n", "text/plain"),
                             c.Post("/api/v1/jobs/j/results", "{", "application/json")}) {
    ASSERT_TRUE(result);
    EXPECT_EQ(result->get_header_value("X-Content-Type-Options"), "nosniff") << result->status;
  }
  RawClient raw(server_->port());
  raw.send("TRACE / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(raw.receive().find("X-Content-Type-Options: nosniff"), std::string::npos);
}

// Item 10: the scheme's name is case-insensitive.
TEST_F(LimitsTest, TheBearerSchemeIsReadInAnyCase) {
  start({}, {{"TLB_TOKEN", "s3cret"}});
  for (const char* scheme : {"Bearer", "bearer", "BEARER"}) {
    const auto result = client().Put("/j/suite_time", {{"Authorization", std::string(scheme) + " s3cret"}},
                                     "a: 1\n", "text/plain");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200) << scheme;
  }
  const auto result =
      client().Put("/j/suite_time", {{"Authorization", "Basic s3cret"}}, "a: 1\n", "text/plain");
  EXPECT_EQ(result->status, 401);
}

// Item 2: a write without the token is refused before its body is read; a chunked body is counted as it
// arrives (a 200 MB one was read whole before the 401).
TEST_F(LimitsTest, ChunkedBodiesAreCountedAsTheyArriveAndTheTokenComesFirst) {
  start({"--max-request-bytes", "100000"}, {{"TLB_TOKEN", "s3cret"}});
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
  const auto send_chunked = [&](const std::string& authorization) {
    RawClient client(server_->port());
    EXPECT_TRUE(client.connected());
    client.send("POST /api/v1/jobs/j/results HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" +
                authorization + "\r\n");
    // 64 MiB offered; the server stops taking them long before.
    int sent = 0;
    while (sent < 1024 && client.send(chunk)) ++sent;
    return std::make_pair(sent, status_line(client.receive()));
  };
  const auto [unauthorized_sent, unauthorized] = send_chunked("");
  EXPECT_EQ(unauthorized, "HTTP/1.1 401 Unauthorized");
  EXPECT_LT(unauthorized_sent, 1024);
  const auto [large_sent, large] = send_chunked("Authorization: Bearer s3cret\r\n");
  EXPECT_EQ(large, "HTTP/1.1 413 Payload Too Large");
  EXPECT_LT(large_sent, 1024);
  EXPECT_TRUE(alive());
}

// Item 3: a request must arrive whole within the deadline (a byte every few seconds held a thread forever).
TEST_F(LimitsTest, ARequestThatTrickesInPastTheDeadlineGets408) {
  start({"--request-timeout", "1"});
  RawClient slow(server_->port());
  ASSERT_TRUE(slow.connected());
  slow.send("GET /api/v1/status HTTP/1.1\r\nHost: x\r\n");
  std::string answer;
  for (int i = 0; i < 100 && answer.empty(); ++i) {
    slow.send("X");
    answer = slow.receive(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(status_line(answer), "HTTP/1.1 408 Request Timeout") << answer;
}

// Item 3: a stopping server does not wait for a client that has not sent its whole head (SIGTERM would
// otherwise wait for the deadline, and the test harness kill it after 10 s: status 137).
TEST_F(LimitsTest, AStopDoesNotWaitForAHalfSentRequest) {
  start({"--request-timeout", "60"});
  RawClient slow(server_->port());
  ASSERT_TRUE(slow.connected());
  slow.send("GET /api/v1/status HTTP/1.1\r\nHost: x\r\n");
  ASSERT_TRUE(alive());  // The slow one is being read by now.
  EXPECT_EQ(server_->stop(), 0) << server_->err();
}

// Item 3: 70 clients trickling their heads in from one address hold no more than their share of the
// threads; everyone else is still answered.
TEST_F(LimitsTest, SlowClientsFromOneAddressDoNotStopOthers) {
  start({"--max-client-connections", "8", "--request-timeout", "30"});
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 70; ++i) {
    slow.push_back(std::make_unique<RawClient>(server_->port(), "127.0.0.2"));
    ASSERT_TRUE(slow.back()->connected());
    slow.back()->send("GET /api/v1/status HTTP/1.1\r\n");
  }
  // The connections past the cap are told so at once; the others are held, a byte at a time.
  std::vector<RawClient*> held;
  int refused = 0;
  for (auto& client : slow) {
    const std::string answer = status_line(client->receive(std::chrono::milliseconds(300)));
    if (answer.empty()) held.push_back(client.get());
    refused += answer == "HTTP/1.1 503 Service Unavailable";
  }
  EXPECT_EQ(refused, 62);
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    while (!done) {
      for (RawClient* client : held) client->send("X");
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
  int answered = 0;
  for (int i = 0; i < 5; ++i) answered += alive() ? 1 : 0;
  done = true;
  trickle.join();
  EXPECT_EQ(answered, 5);
}

// Item 7: reads without the token freeze no snapshot (200 reads of made-up versions grew the database by
// 178 MB); the first read with it freezes the run's snapshot as before.
TEST_F(LimitsTest, ReadsWithoutTheTokenFreezeNoSnapshot) {
  // The snapshot keeps the tests seen in the last 30 days of the server's day (SOURCE_DATE_EPOCH:
  // 2023-11-14).
  start({}, {{"TLB_TOKEN", "s3cret"}, {"SOURCE_DATE_EPOCH", "1700000000"}});
  const httplib::Headers token{{"Authorization", "Bearer s3cret"}};
  const auto record = [&](const std::string& test) {
    const std::string body =
        R"({"kind":"tlb-run-report","version":1,"date":"2023-11-14","observations":[{"name":")" + test +
        R"(","seconds":1,"outcome":"passed"}]})";
    EXPECT_EQ(post("/api/v1/jobs/j/results", body, token).first, 200);
  };
  const auto names = [](const httplib::Result& result) {
    std::vector<std::string> tests;
    if (!result) return tests;
    const json document = json::parse(result->body);
    for (const json& test : document.at("tests")) tests.push_back(test.at("name"));
    return tests;
  };
  record("a");
  for (int i = 0; i < 200; ++i) {
    const auto read = client().Get(("/api/v1/jobs/j/versions/v" + std::to_string(i) + "/history").c_str());
    ASSERT_TRUE(read);
    ASSERT_EQ(read->status, 200);
    EXPECT_TRUE(json::parse(read->body).at("snapshot").is_null()) << read->body;
  }
  EXPECT_EQ(client().Get("/j/suite_time/v0")->body, "a: 1000\n");
  record("b");
  // The first read with the token freezes v0 now, with b.
  const auto frozen = client().Get("/api/v1/jobs/j/versions/v0/history", token);
  ASSERT_TRUE(frozen);
  EXPECT_EQ(json::parse(frozen->body).at("snapshot"), "v0");
  EXPECT_EQ(names(frozen), (std::vector<std::string>{"a", "b"}));
  record("c");
  // Frozen: every read, with the token or not, gets the same snapshot.
  EXPECT_EQ(names(client().Get("/api/v1/jobs/j/versions/v0/history")), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(client().Get("/j/suite_time/v0")->body, "a: 1000\nb: 1000\n");
  EXPECT_EQ(names(client().Get("/api/v1/jobs/j/versions/v1/history")),
            (std::vector<std::string>{"a", "b", "c"}));
}

// Item 8: loopback by default; another address needs a token or --insecure; an empty token is refused.
TEST_F(LimitsTest, SafeDefaults) {
  const std::string data = (dir_ / "data").string();
  {
    ServerProcess server({TLB_EXECUTABLE, "server", "--port", "0", "--data-dir", data, "--exit-after", "60"},
                         testing::kTlbServerListening);
    EXPECT_TRUE(server.listening_line().starts_with("tlb server: listening on http://127.0.0.1:"))
        << server.listening_line();
  }
  const auto refused = testing::run_process({TLB_EXECUTABLE, "server", "--bind", "0.0.0.0", "--port", "0",
                                             "--data-dir", data, "--exit-after", "5"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("without a token anyone there could write"), std::string::npos) << refused.err;
  const auto empty =
      testing::run_process({TLB_EXECUTABLE, "server", "--port", "0", "--data-dir", data, "--exit-after", "5"},
                           {{"TLB_TOKEN", ""}});
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("TLB_TOKEN is empty"), std::string::npos) << empty.err;
  ServerProcess insecure({TLB_EXECUTABLE, "server", "--bind", "0.0.0.0", "--insecure", "--port", "0",
                          "--data-dir", data, "--exit-after", "60"},
                         testing::kTlbServerListening);
  EXPECT_TRUE(insecure.listening_line().starts_with("tlb server: listening on http://0.0.0.0:"));
  ServerProcess with_token({TLB_EXECUTABLE, "server", "--bind", "0.0.0.0", "--port", "0", "--data-dir",
                            (dir_ / "data2").string(), "--exit-after", "60"},
                           testing::kTlbServerListening, {{"TLB_TOKEN", "s3cret"}});
  EXPECT_TRUE(with_token.listening_line().ends_with("writes need a token)"));
}

}  // namespace
}  // namespace tlb
