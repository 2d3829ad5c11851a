// `tlb balancer`, the original TLB's alien protocol: the text formats in-process, then the real `tlb`
// executable as a child process on loopback, talked to over HTTP as tlb.rb talked to tlb-alien.jar.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "balancer/wire.hpp"
#include "store/file_store.hpp"
#include "support/process.hpp"
#include "support/scratch_dir.hpp"
#include "support/server_process.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using tlb::balancer::BodyError;
using tlb::balancer::parse_names;
using tlb::balancer::parse_results;
using tlb::balancer::parse_times;

constexpr const char* kDay = "1714608000";  // SOURCE_DATE_EPOCH of 2024-05-02.

// ---- The text formats ----------------------------------------------------------------------------------

std::size_t error_line(const std::function<void()>& parse) {
  try {
    parse();
  } catch (const BodyError& e) {
    EXPECT_NE(std::string(e.what()).find("line " + std::to_string(e.line()) + ": "), std::string::npos)
        << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    return e.line();
  }
  ADD_FAILURE() << "no BodyError";
  return 0;
}

TEST(BalancerWire, NamesOneALineWithBlankLinesAndCrlfSkipped) {
  EXPECT_EQ(parse_names("a\nb c\n"), (std::vector<std::string>{"a", "b c"}));
  EXPECT_EQ(parse_names("a\r\n\r\n  \n\tb:c \r\n"), (std::vector<std::string>{"a", "\tb:c "}));
  EXPECT_EQ(parse_names("no trailing newline"), (std::vector<std::string>{"no trailing newline"}));
  EXPECT_TRUE(parse_names("").empty());
  EXPECT_TRUE(parse_names("\n\n\r\n").empty());
}

TEST(BalancerWire, NamesRejectDuplicatesAndUnstorableNames) {
  EXPECT_EQ(error_line([] { parse_names("a\nb\n\na\n"); }), 4u);
  try {
    parse_names("x y\nx y");
  } catch (const BodyError& e) {
    EXPECT_NE(std::string(e.what()).find("'x y' is given twice (first on line 1)"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(error_line([] { parse_names("a\nb\rc\n"); }), 2u);
  EXPECT_EQ(error_line([] { parse_names(std::string("a\nb\0c\n", 6)); }), 2u);
  EXPECT_EQ(error_line([] { parse_names("a\n" + std::string(4097, 'n')); }), 2u);
  EXPECT_EQ(parse_names(std::string(4096, 'n')).size(), 1u);
}

TEST(BalancerWire, TimesReadAsTheOriginalRegexDoes) {
  // (.*?):\s*(-?\d+) matching the whole line can only match at the last ':'.
  const auto times = parse_times(
      "a: 12\n"
      "b:7\r\n"
      "c:\t 0\n"
      "ns::Suite:Case: 1250\n"
      "case 1: 2: 30\n"
      "odd:: 5\n"
      "  spaced name : 9\n"
      "zero: -0\n");
  std::vector<std::pair<std::string, std::int64_t>> got;
  for (const auto& t : times) got.emplace_back(t.name, t.milliseconds);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::int64_t>>{{"a", 12},
                                                                    {"b", 7},
                                                                    {"c", 0},
                                                                    {"ns::Suite:Case", 1250},
                                                                    {"case 1: 2", 30},
                                                                    {"odd:", 5},
                                                                    {"  spaced name ", 9},
                                                                    {"zero", 0}}));
}

TEST(BalancerWire, TimesThatTheRegexRejectsOrThatAreNegativeName) {
  EXPECT_EQ(error_line([] { parse_times("a: 1\nb 2\n"); }), 2u);     // No ':'.
  EXPECT_EQ(error_line([] { parse_times("a: 1\n\nb: x\n"); }), 3u);  // Not a number.
  EXPECT_EQ(error_line([] { parse_times("a: 1.5"); }), 1u);          // Not a whole number.
  EXPECT_EQ(error_line([] { parse_times("a: 12 "); }), 1u);          // The regex allows nothing after.
  EXPECT_EQ(error_line([] { parse_times("a: 12:"); }), 1u);          // The last ':' has no number.
  EXPECT_EQ(error_line([] { parse_times(": 12"); }), 1u);            // No name.
  EXPECT_EQ(error_line([] { parse_times("a: 99999999999999999999"); }), 1u);  // Over 64 bits.
  try {
    parse_times("a: 1\nb: -5\n");
    ADD_FAILURE() << "a negative time was accepted";
  } catch (const BodyError& e) {
    EXPECT_EQ(e.line(), 2u);
    EXPECT_NE(std::string(e.what()).find("negative time -5 ms for 'b'"), std::string::npos) << e.what();
  }
}

TEST(BalancerWire, ResultsTrueMeansFailed) {
  const auto results = parse_results("a: true\nb:false\r\nns::c:d: true\n\n");
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].name, "a");
  EXPECT_TRUE(results[0].failed);
  EXPECT_EQ(results[1].name, "b");
  EXPECT_FALSE(results[1].failed);
  EXPECT_EQ(results[2].name, "ns::c:d");
  EXPECT_EQ(error_line([] { parse_results("a: true\nb: TRUE\n"); }), 2u);
  EXPECT_EQ(error_line([] { parse_results("a: passed"); }), 1u);
  EXPECT_EQ(error_line([] { parse_results("a true"); }), 1u);
}

// ---- The balancer as a process -----------------------------------------------------------------------

using tlb::testing::ServerProcess;

std::unique_ptr<httplib::Client> client_of(const ServerProcess& balancer) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", balancer.port());
  client->set_connection_timeout(5);
  client->set_read_timeout(20);
  return client;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

// Sends `bytes` on a fresh connection (then closes the sending side when `half_close`), and returns what came
// back within 2 s.
std::string exchange(int port, const std::string& bytes, bool half_close = false) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string received;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    if (half_close) shutdown(fd, SHUT_WR);
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    char buffer[4096];
    for (pollfd p{fd, POLLIN, 0}; std::chrono::steady_clock::now() < deadline && poll(&p, 1, 100) >= 0;) {
      if ((p.revents & (POLLIN | POLLHUP)) == 0) continue;
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      received.append(buffer, static_cast<std::size_t>(n));
    }
  } else {
    ADD_FAILURE() << "cannot talk to 127.0.0.1:" << port;
  }
  close(fd);
  return received;
}

std::string joined(const std::vector<std::string>& names, const std::string& separator = "\n") {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : separator) + name;
  return text;
}

class Balancer : public tlb::testing::ScratchDirTest {
 protected:
  // `tlb balancer` on loopback, port 0, with a safety net; ready once it printed its listening line.
  std::unique_ptr<ServerProcess> start(std::map<std::string, std::string> env,
                                       std::vector<std::string> args = {}) {
    env.try_emplace("SOURCE_DATE_EPOCH", kDay);
    args.insert(args.begin(), {TLB_EXECUTABLE, "balancer", "--port", "0", "--exit-after", "60"});
    auto balancer = std::make_unique<ServerProcess>(args, "tlb balancer: listening on http://", env);
    static const std::regex kLine(
        R"(tlb balancer: listening on http://127\.0\.0\.1:\d+ \(partition \d+/\d+, history .+\))");
    EXPECT_TRUE(std::regex_match(balancer->listening_line(), kLine)) << balancer->listening_line();
    EXPECT_EQ(balancer->out(), "");  // Exactly one line.
    return balancer;
  }

  // A timing file holding `lines` ("seconds runs result date name").
  std::string timings(const std::vector<std::string>& lines) {
    std::string text = "# tlb timings v1\n# seconds runs last-result last-seen name\n";
    std::vector<std::string> sorted = lines;
    std::sort(sorted.begin(), sorted.end(), [](const std::string& a, const std::string& b) {
      auto name = [](const std::string& line) {
        std::size_t at = 0;
        for (int i = 0; i < 4; ++i) at = line.find(' ', at) + 1;
        return line.substr(at);
      };
      return name(a) < name(b);
    });
    for (const std::string& line : sorted) text += line + "\n";
    return write("timings.txt", text);
  }

  static std::string post(const ServerProcess& balancer, const std::string& path, const std::string& body,
                          int expected_status = 200, const httplib::Headers& headers = {}) {
    auto result = client_of(balancer)->Post(path.c_str(), headers, body, "text/plain");
    if (!result) {
      ADD_FAILURE() << "POST " << path << ": " << httplib::to_string(result.error());
      return "";
    }
    EXPECT_EQ(result->status, expected_status) << "POST " << path << ": " << result->body;
    return result->body;
  }

  static std::string get(const ServerProcess& balancer, const std::string& path, int expected_status = 200) {
    auto result = client_of(balancer)->Get(path.c_str());
    if (!result) {
      ADD_FAILURE() << "GET " << path << ": " << httplib::to_string(result.error());
      return "";
    }
    EXPECT_EQ(result->status, expected_status) << "GET " << path << ": " << result->body;
    return result->body;
  }

  // GET /control/suicide, then the exit status.
  static int stop(ServerProcess& balancer) {
    EXPECT_EQ(get(balancer, "/control/suicide"), "HALTING");
    return balancer.wait_exit(10s);
  }

  static tlb::store::Timings read_store(const std::string& path) {
    auto timings = tlb::store::read_timings(path);
    if (!timings) ADD_FAILURE() << path << " does not exist";
    return timings.value_or(tlb::store::Timings{});
  }
};

TEST_F(Balancer, StatusAndSuicide) {
  auto balancer = start({{"TLB_PARTITION", "1/2"}});
  EXPECT_NE(balancer->listening_line().find("(partition 1/2, history none)"), std::string::npos)
      << balancer->listening_line();
  // The original's bodies, exactly: tlb.rb compares the status body with "RUNNING".
  EXPECT_EQ(get(*balancer, "/control/status"), "RUNNING");
  auto head = client_of(*balancer)->Head("/control/status");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  // A client that would keep its connection open does not hold the exit back.
  auto keeping = client_of(*balancer);
  keeping->set_keep_alive(true);
  ASSERT_TRUE(keeping->Get("/control/status"));
  const auto halted = std::chrono::steady_clock::now();
  EXPECT_EQ(get(*balancer, "/control/suicide"), "HALTING");
  EXPECT_EQ(balancer->wait_exit(10s), 0) << balancer->err();
  EXPECT_LT(std::chrono::steady_clock::now() - halted, 2s);
  EXPECT_NE(balancer->err().find("stopped (GET /control/suicide)"), std::string::npos) << balancer->err();
}

TEST_F(Balancer, ExitAfterStopsAsSigtermWould) {
  const auto result = tlb::testing::run_process(
      {TLB_EXECUTABLE, "balancer", "--port", "0", "--exit-after", "0.2"}, {{"TLB_PARTITION", "1/1"}});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.find("tlb balancer: listening on http://127.0.0.1:"), 0u) << result.out;
  EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '\n'), 1);
  EXPECT_NE(result.err.find("stopped (--exit-after)"), std::string::npos) << result.err;
}

TEST_F(Balancer, StrictRefusesToBalanceWithoutHistory) {
  const std::string store = (dir_ / "none-yet.txt").string();
  auto balancer = start({{"TLB_PARTITION", "1/1"}, {"TLB_STORE", store}, {"TLB_STRICT", "1"}});
  const std::string body = post(*balancer, "/balance", "a\n", 500);
  EXPECT_NE(body.find("TLB_STRICT is set"), std::string::npos) << body;
  EXPECT_EQ(body.find('\n'), body.size() - 1) << body;
  // Without TLB_STRICT: a warning, and a split without history.
  auto lenient = start({{"TLB_PARTITION", "1/1"}, {"TLB_STORE", store}});
  EXPECT_EQ(post(*lenient, "/balance", "b\na\n"), "a\nb\n");
  EXPECT_EQ(stop(*lenient), 0);
  EXPECT_NE(lenient->err().find("warning: " + store), std::string::npos) << lenient->err();
}

TEST_F(Balancer, MissingPartitionIsAClearErrorAtStart) {
  const auto result = tlb::testing::run_process({TLB_EXECUTABLE, "balancer", "--port", "0"}, {});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("no partition"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("TLB_PARTITION_NUMBER"), std::string::npos) << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;

  const auto bad_port = tlb::testing::run_process({TLB_EXECUTABLE, "balancer"},
                                                  {{"TLB_PARTITION", "1/1"}, {"TLB_BALANCER_PORT", "70000"}});
  EXPECT_EQ(bad_port.exit_code, 2);
  EXPECT_NE(bad_port.err.find("TLB_BALANCER_PORT=70000: not a port"), std::string::npos) << bad_port.err;
}

TEST_F(Balancer, APortInUseIsAnErrorNotASharedPort) {
  auto first = start({{"TLB_PARTITION", "1/2"}});
  const auto second = tlb::testing::run_process(
      {TLB_EXECUTABLE, "balancer", "--exit-after", "5"},
      {{"TLB_PARTITION", "2/2"}, {"TLB_BALANCER_PORT", std::to_string(first->port())}});
  EXPECT_EQ(second.exit_code, 2) << second.out;
  EXPECT_NE(second.err.find("cannot listen on 127.0.0.1:" + std::to_string(first->port())), std::string::npos)
      << second.err;
  EXPECT_NE(second.err.find("(TLB_BALANCER_PORT)"), std::string::npos) << second.err;
  EXPECT_EQ(second.out, "");
}

TEST_F(Balancer, ThreePartitionsAreDisjointCoverTheListAndAgreeWithTlbSplit) {
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) names.push_back("suite/" + std::to_string(i) + "_test.rb");
  std::vector<std::unique_ptr<ServerProcess>> balancers;
  for (int k = 1; k <= 3; ++k) {
    balancers.push_back(start({{"TLB_PARTITION_NUMBER", std::to_string(k)}, {"TLB_TOTAL_PARTITIONS", "3"}}));
  }
  std::set<std::string> seen;
  std::size_t total = 0;
  std::mt19937 engine(7);
  for (int k = 1; k <= 3; ++k) {
    const ServerProcess& balancer = *balancers[static_cast<std::size_t>(k - 1)];
    std::vector<std::string> shuffled = names;
    std::shuffle(shuffled.begin(), shuffled.end(), engine);
    const std::string body = post(balancer, "/balance", joined(shuffled));
    ASSERT_FALSE(body.empty());
    // One name a line, each ending in '\n', as the original's dump() wrote them.
    EXPECT_EQ(body.back(), '\n');
    const std::vector<std::string> mine = lines_of(body);
    total += mine.size();
    seen.insert(mine.begin(), mine.end());

    // Any order of the same names: the same answer, byte for byte.
    std::reverse(shuffled.begin(), shuffled.end());
    EXPECT_EQ(post(balancer, "/balance", joined(shuffled) + "\n"), body);
    // `tlb split` on the same list agrees.
    const auto split = tlb::testing::run_process(
        {TLB_EXECUTABLE, "split", "--partition", std::to_string(k) + "/3"}, {}, joined(names) + "\n");
    EXPECT_EQ(split.exit_code, 0) << split.err;
    EXPECT_EQ(split.out, body);
  }
  EXPECT_EQ(total, names.size());
  EXPECT_EQ(seen, std::set<std::string>(names.begin(), names.end()));
}

TEST_F(Balancer, LargeListsPostedAsCurlAndRubyPostThem) {
  // curl --data-binary and Ruby's Net::HTTP#post label the body application/x-www-form-urlencoded.
  std::vector<std::string> names;
  for (int i = 0; i < 20000; ++i) names.push_back("spec/models/model_" + std::to_string(i) + "_spec.rb");
  auto balancer = start({{"TLB_PARTITION", "2/4"}});
  auto result = client_of(*balancer)->Post("/balance", joined(names), "application/x-www-form-urlencoded");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200) << result->body.substr(0, 200);
  EXPECT_EQ(lines_of(result->body).size(), names.size() / 4);
  std::string times;
  for (const std::string& name : lines_of(result->body)) times += name + ": 12\n";
  result = client_of(*balancer)->Post("/suite_time", times, "application/x-www-form-urlencoded");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200) << result->body;
  EXPECT_EQ(result->body,
            "kept 5000 times; the batch of 5000 tests is in no store (no --store or TLB_STORE)\n");
}

TEST_F(Balancer, MorePartitionsThanTestsGivesAnEmptyShare) {
  auto balancer = start({{"TLB_PARTITION", "1/3"}});  // Count-split: a, b go to partitions 2 and 3.
  EXPECT_EQ(post(*balancer, "/balance", "a\nb\n"), "");
  EXPECT_EQ(post(*balancer, "/balance", ""), "");
}

TEST_F(Balancer, LongestFirstFromTheTimingFile) {
  const std::string store =
      timings({"1.000000 3 passed 2024-05-01 short", "9.000000 3 passed 2024-05-01 long",
               "6.000000 3 passed 2024-05-01 middle one"});
  auto balancer = start({{"TLB_PARTITION", "1/1"}, {"TLB_STORE", store}});
  EXPECT_NE(balancer->listening_line().find("history " + store + ")"), std::string::npos)
      << balancer->listening_line();
  // `new` has no history: it is estimated at the mean of the others, 5.33 s.
  EXPECT_EQ(post(*balancer, "/balance", "short\nmiddle one\nlong\nnew\n"), "long\nmiddle one\nnew\nshort\n");
}

TEST_F(Balancer, FailedFirstAfterASuiteResultTrue) {
  const std::string store = (dir_ / "history" / "timings.txt").string();  // Not there yet: a first run.
  {
    auto first = start({{"TLB_PARTITION", "1/1"}, {"TLB_STORE", store}});
    EXPECT_EQ(post(*first, "/balance", "a\nb\nc\n"), "a\nb\nc\n");  // No history: name order.
    post(*first, "/suite_time", "a: 100\nb: 200\nc: 300\n");
    post(*first, "/suite_result", "a: false\nb: true\nc: false\n");
    EXPECT_EQ(stop(*first), 0) << first->err();
  }
  auto second = start({{"TLB_PARTITION", "1/1"}, {"TLB_STORE", store}});
  EXPECT_EQ(post(*second, "/balance", "c\nb\na\n"), "b\nc\na\n");
  // TLB_ORDERER as `tlb split` reads it.
  auto longest_only =
      start({{"TLB_PARTITION", "1/1"}, {"TLB_STORE", store}, {"TLB_ORDERER", "longest-first"}});
  EXPECT_EQ(post(*longest_only, "/balance", "a\nb\nc\n"), "c\nb\na\n");
}

TEST_F(Balancer, ACompleteBatchGoesToTheTimingFileOnce) {
  const std::string store = timings({"5.000000 2 passed 2024-05-01 elsewhere"});
  auto balancer = start({{"TLB_PARTITION", "1/1"}, {"TLB_STORE", store}, {"TLB_SMOOTHING_FACTOR", "1"}});
  post(*balancer, "/balance", "x\ny\n");
  // tlb.rb's order: each suite's time, then its result. The batch waits for y's result.
  std::string reply = post(*balancer, "/suite_time", "x: 1250\n");
  EXPECT_NE(reply.find("kept 1 time; 1 of 2 tests of this partition still to report"), std::string::npos)
      << reply;
  post(*balancer, "/suite_result", "x: true\n");
  post(*balancer, "/suite_time", "y: 40\nnot balanced: 7\n");  // A name outside the share is kept too.
  EXPECT_EQ(read_store(store).count("x"), 0u);
  reply = post(*balancer, "/suite_result", "y: false\n");
  EXPECT_NE(reply.find("went to " + store), std::string::npos) << reply;

  // Folded while the balancer still runs.
  tlb::store::Timings timings = read_store(store);
  ASSERT_EQ(timings.size(), 4u);
  EXPECT_DOUBLE_EQ(timings.at("x").record.seconds, 1.25);
  EXPECT_EQ(timings.at("x").record.last, tlb::Outcome::failed);
  EXPECT_DOUBLE_EQ(timings.at("y").record.seconds, 0.04);
  EXPECT_EQ(timings.at("y").record.last, tlb::Outcome::passed);
  EXPECT_EQ(timings.at("y").record.runs, 1u);
  EXPECT_EQ(tlb::store::format_date(timings.at("y").last_seen), "2024-05-02");
  EXPECT_DOUBLE_EQ(timings.at("not balanced").record.seconds, 0.007);
  EXPECT_EQ(timings.at("not balanced").record.last, tlb::Outcome::unknown);
  EXPECT_EQ(timings.at("elsewhere").record.runs, 2u);

  // Nothing is pending: stopping folds nothing again.
  EXPECT_EQ(stop(*balancer), 0) << balancer->err();
  EXPECT_EQ(read_store(store).at("y").record.runs, 1u);
}

TEST_F(Balancer, AClientThatPostsNoResultsIsFoldedOnTimesAlone) {
  const std::string store = (dir_ / "timings.txt").string();
  auto balancer = start({{"TLB_PARTITION", "2/2"}, {"TLB_STORE", store}});
  const std::vector<std::string> mine = lines_of(post(*balancer, "/balance", "a\nb\nc\nd\n"));
  ASSERT_EQ(mine.size(), 2u);
  post(*balancer, "/suite_time", mine[0] + ": 10\n" + mine[1] + ": 20\n");
  const tlb::store::Timings timings = read_store(store);
  EXPECT_EQ(timings.size(), 2u);
  EXPECT_EQ(timings.at(mine[1]).record.last, tlb::Outcome::unknown);
}

TEST_F(Balancer, SigtermFoldsWhatIsPending) {
  const std::string store = (dir_ / "timings.txt").string();
  auto balancer = start({{"TLB_PARTITION", "1/1"}, {"TLB_STORE", store}});
  post(*balancer, "/balance", "a\nb\nc\n");
  post(*balancer, "/suite_time", "a: 1500\n");
  post(*balancer, "/suite_result", "b: true\n");
  EXPECT_FALSE(fs::exists(store));
  EXPECT_EQ(balancer->stop(), 0) << balancer->err();  // SIGTERM.
  const tlb::store::Timings timings = read_store(store);
  ASSERT_EQ(timings.size(), 2u);
  EXPECT_DOUBLE_EQ(timings.at("a").record.seconds, 1.5);
  EXPECT_EQ(timings.at("b").record.last, tlb::Outcome::failed);
  EXPECT_EQ(timings.at("b").record.runs, 0u);
  EXPECT_NE(balancer->err().find("stopped (SIGTERM)"), std::string::npos) << balancer->err();
}

TEST_F(Balancer, AStoreThatRefusesTheBatchFailsTheExitAndKeepsItsFile) {
  const std::string corrupt = "# tlb timings v1\nthis is not a timing line\n";
  const std::string store = write("timings.txt", corrupt);
  auto balancer = start({{"TLB_PARTITION", "1/1"}, {"TLB_STORE", store}});
  EXPECT_EQ(post(*balancer, "/balance", "b\na\n"), "a\nb\n");  // Split without the history, with a warning.
  // The reports are kept (200), the store's refusal is said, and the batch is tried again at the end.
  const std::string reply = post(*balancer, "/suite_time", "a: 1\nb: 2\n");
  EXPECT_NE(reply.find("cannot fold 2 tests into " + store), std::string::npos) << reply;
  EXPECT_EQ(stop(*balancer), 1);
  EXPECT_NE(balancer->err().find("tlb: error: cannot fold 2 tests into " + store), std::string::npos)
      << balancer->err();
  std::ifstream in(store, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), corrupt);
}

TEST_F(Balancer, SmoothingFollowsTlbSmoothingFactor) {
  for (const auto& [factor, expected] :
       std::vector<std::pair<std::string, double>>{{"0.25", 8.0}, {"", 6.0}}) {
    const std::string store = timings({"10.000000 1 passed 2024-05-01 x"});
    std::map<std::string, std::string> env{{"TLB_PARTITION", "1/1"}, {"TLB_STORE", store}};
    if (!factor.empty()) env["TLB_SMOOTHING_FACTOR"] = factor;
    auto balancer = start(env);
    post(*balancer, "/balance", "x\n");
    post(*balancer, "/suite_time", "x: 2000\n");
    EXPECT_EQ(stop(*balancer), 0) << balancer->err();
    const tlb::store::Timings timings = read_store(store);
    // alpha * 2 + (1 - alpha) * 10: 0.25 gives 8, the default 0.5 gives 6.
    EXPECT_DOUBLE_EQ(timings.at("x").record.seconds, expected) << "TLB_SMOOTHING_FACTOR=" << factor;
    EXPECT_EQ(timings.at("x").record.runs, 2u);
  }
}

TEST_F(Balancer, MalformedBodiesAre400NamingTheLineAndKeepNothing) {
  const std::string store = (dir_ / "timings.txt").string();
  auto balancer = start({{"TLB_PARTITION", "1/1"}, {"TLB_STORE", store}});
  post(*balancer, "/balance", "a\nb\n");
  const auto one_line = [](const std::string& body) {
    EXPECT_FALSE(body.empty());
    EXPECT_EQ(body.find('\n'), body.size() - 1) << body;
  };
  std::string body = post(*balancer, "/suite_time", "a: 1\nb 2\n", 400);
  one_line(body);
  EXPECT_NE(body.find("line 2: 'b 2' is not 'name: milliseconds'"), std::string::npos) << body;
  body = post(*balancer, "/suite_time", "a: 1\nb: -20\n", 400);
  EXPECT_NE(body.find("line 2: negative time -20 ms for 'b'"), std::string::npos) << body;
  body = post(*balancer, "/suite_time", "a: 1\r\nb: 2.5\r\n", 400);
  EXPECT_NE(body.find("line 2"), std::string::npos) << body;
  body = post(*balancer, "/suite_result", "a: false\nb: yes\n", 400);
  one_line(body);
  EXPECT_NE(body.find("line 2: 'b: yes' is not 'name: true' (failed) or 'name: false'"), std::string::npos)
      << body;
  body = post(*balancer, "/balance", "a\nb\na\n", 400);
  one_line(body);
  EXPECT_NE(body.find("line 3: 'a' is given twice (first on line 1)"), std::string::npos) << body;
  // A control character in a message is shown, not sent raw.
  body = post(*balancer, "/suite_time", "a\x1b[31m 5\n", 400);
  one_line(body);
  EXPECT_NE(body.find("'a?[31m 5'"), std::string::npos) << body;

  // None of those lines was kept: the good batch alone reaches the store.
  post(*balancer, "/suite_time", "a: 30\nb: 40\n");
  const tlb::store::Timings timings = read_store(store);
  EXPECT_DOUBLE_EQ(timings.at("a").record.seconds, 0.03);
  EXPECT_EQ(timings.at("a").record.runs, 1u);
  EXPECT_EQ(timings.at("b").record.last, tlb::Outcome::unknown);
}

TEST_F(Balancer, HostileNamesRoundTrip) {
  const std::vector<std::string> names{
      "ns::Suite:Case",           "case 1: 2",    "odd:",     " leading and trailing ",
      "quotes \"'` ;semi[colon]", "ü日本語 test", "tab\there"};
  const std::string store = (dir_ / "timings.txt").string();
  auto balancer = start({{"TLB_PARTITION", "1/1"}, {"TLB_STORE", store}});
  const std::string body = post(*balancer, "/balance", joined(names, "\r\n") + "\r\n");
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(body, joined(sorted) + "\n");  // No history: name order.

  std::string times, results;
  for (std::size_t i = 0; i < names.size(); ++i) {
    times += names[i] + ": " + std::to_string(100 * (i + 1)) + "\n";
    results += names[i] + ":" + (i % 2 ? "true" : "false") + "\n";
  }
  post(*balancer, "/suite_time", times);
  post(*balancer, "/suite_result", results);
  const tlb::store::Timings timings = read_store(store);
  ASSERT_EQ(timings.size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    ASSERT_EQ(timings.count(names[i]), 1u) << names[i];
    EXPECT_DOUBLE_EQ(timings.at(names[i]).record.seconds, 0.1 * static_cast<double>(i + 1)) << names[i];
    EXPECT_EQ(timings.at(names[i]).record.last, i % 2 ? tlb::Outcome::failed : tlb::Outcome::passed);
  }
  // The next balancer splits on them: failed first, then longest first.
  auto next = start({{"TLB_PARTITION", "1/1"}, {"TLB_STORE", store}});
  const std::vector<std::string> order = lines_of(post(*next, "/balance", joined(names)));
  EXPECT_EQ(order,
            (std::vector<std::string>{"ü日本語 test", " leading and trailing ", "case 1: 2", "tab\there",
                                      "quotes \"'` ;semi[colon]", "odd:", "ns::Suite:Case"}));
}

TEST_F(Balancer, ModuleHeaderIsAccepted) {
  auto balancer = start({{"TLB_PARTITION", "1/1"}});
  EXPECT_EQ(post(*balancer, "/balance", "b\na\n", 200, {{"X-Tlb-Module-Name", "unit-tests"}}), "a\nb\n");
  EXPECT_EQ(post(*balancer, "/balance", "c\n", 200, {{"x-tlb-module-name", "features"}}), "c\n");
  // Two modules: the batch waits for both lists.
  std::string reply = post(*balancer, "/suite_time", "a: 1\nb: 2\n");
  EXPECT_NE(reply.find("1 of 3 tests of this partition still to report"), std::string::npos) << reply;
}

TEST_F(Balancer, RoutesMethodsAndGarbage) {
  auto balancer = start({{"TLB_PARTITION", "1/1"}, {"TLB_STORE", (dir_ / "t.txt").string()}});
  auto client = client_of(*balancer);
  auto result = client->Get("/nowhere");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 404);
  EXPECT_NE(result->body.find("no such route: /nowhere"), std::string::npos) << result->body;
  EXPECT_EQ(result->body.find('\n'), result->body.size() - 1);
  result = client->Get("/balance");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 405);
  EXPECT_EQ(result->get_header_value("Allow"), "POST");
  EXPECT_EQ(result->body, "GET /balance: use POST\n");
  result = client->Post("/control/suicide", "", "text/plain");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 405);
  result = client->Put("/suite_time", "a: 1", "text/plain");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 405);
  result = client->Delete("/control/status");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 405);
  result = client->Get(("/" + std::string(8000, 'x')).c_str());
  ASSERT_TRUE(result);
  EXPECT_GE(result->status, 400);

  // With a timing file, completeness is `tlb verify`'s job.
  std::string body = get(*balancer, "/assert_all_partitions_executed", 501);
  EXPECT_NE(body.find("tlb verify"), std::string::npos) << body;
  EXPECT_EQ(body.find('\n'), body.size() - 1) << body;

  // A multipart form is not read as the list.
  result =
      client->Post("/balance", httplib::MultipartFormDataItems{{"file", "a\nb\n", "list.txt", "text/plain"}});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 415);
  // A line break in the path (%0A, decoded), which no route pattern matches: still one line.
  std::string response =
      exchange(balancer->port(), "GET /a%0Ab HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 404", 0), 0u) << response;
  body = response.substr(response.find("\r\n\r\n") + 4);
  EXPECT_EQ(body.find("no such route"), 0u) << body;
  EXPECT_EQ(body.find('\n'), body.size() - 1) << body;
  // Not HTTP at all, and a connection dropped mid-request: the balancer serves on.
  for (const std::string& garbage : {std::string("GARBAGE\r\n\r\n"),
                                     std::string("POST /balance HTTP/1.1\r\n"
                                                 "Content-Length: 100\r\n\r\nab"),
                                     std::string("\0\xff\xfe\r\n\r\n", 7)}) {
    exchange(balancer->port(), garbage, true);
  }
  EXPECT_EQ(get(*balancer, "/control/status"), "RUNNING");
  EXPECT_EQ(stop(*balancer), 0) << balancer->err();
}

TEST_F(Balancer, RecordsMakeTheRunVerifiable) {
  const fs::path records = dir_ / "records";
  const std::string store = (dir_ / "timings.txt").string();
  const std::vector<std::string> names{"t1", "t2", "t3", "t4", "t5"};
  std::vector<std::unique_ptr<ServerProcess>> balancers;
  for (int k = 1; k <= 2; ++k) {
    balancers.push_back(start({{"TLB_PARTITION", std::to_string(k) + "/2"}, {"TLB_STORE", store}},
                              {"--record-dir", records.string()}));
  }
  // As CI jobs do, every partition splits before any reports: the history is read at the first /balance, so
  // a partition balanced after another one's reports reached the shared timing file would split on another
  // snapshot (and tlb verify would say so).
  std::vector<std::vector<std::string>> shares;
  for (auto& balancer : balancers) shares.push_back(lines_of(post(*balancer, "/balance", joined(names))));
  for (std::size_t i = 0; i < balancers.size(); ++i) {
    std::string times, results;
    for (const std::string& name : shares[i]) {
      times += name + ": 250\n";
      results += name + ": false\n";
    }
    post(*balancers[i], "/suite_time", times);
    post(*balancers[i], "/suite_result", results);
    EXPECT_EQ(stop(*balancers[i]), 0) << balancers[i]->err();
  }
  auto verify = tlb::testing::run_process({TLB_EXECUTABLE, "verify", records.string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("proven"), std::string::npos) << verify.out;
  EXPECT_EQ(read_store(store).size(), names.size());

  // A partition that never reported its tests: not proven.
  fs::remove(records / "partition-2-of-2.json");
  verify = tlb::testing::run_process({TLB_EXECUTABLE, "verify", records.string()});
  EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
}

TEST_F(Balancer, WithATlbServerThePartitionsAreCheckedAndTheRunProven) {
  ServerProcess server(tlb::testing::tlb_server_command(TLB_EXECUTABLE, (dir_ / "data").string()),
                       tlb::testing::kTlbServerListening, {{"SOURCE_DATE_EPOCH", kDay}});
  std::map<std::string, std::string> env{{"TLB_STORE", server.url()},
                                         {"TLB_JOB_NAME", "alien"},
                                         {"TLB_JOB_VERSION", "run-1"},
                                         {"TLB_TOTAL_PARTITIONS", "2"}};
  std::vector<std::unique_ptr<ServerProcess>> balancers;
  for (int k = 1; k <= 2; ++k) {
    env["TLB_PARTITION_NUMBER"] = std::to_string(k);
    balancers.push_back(start(env));
  }
  const std::vector<std::string> names{"spec/a_spec.rb", "spec/b_spec.rb", "spec/c_spec.rb", "spec/d_spec.rb",
                                       "spec/e_spec.rb"};
  std::vector<std::vector<std::string>> shares;
  shares.push_back(lines_of(post(*balancers[0], "/balance", joined(names))));

  // Partition 2 has not reported: the run is not proven, with the original's 417.
  std::string body = get(*balancers[0], "/assert_all_partitions_executed", 417);
  EXPECT_NE(body.find("missing partition"), std::string::npos) << body;
  // Partition 2 seeing another test list is refused, as the original's correctness check refused it.
  body = post(*balancers[1], "/balance", joined(names) + "\nspec/extra_spec.rb", 417);
  EXPECT_NE(body.find("another test list"), std::string::npos) << body;
  shares.push_back(lines_of(post(*balancers[1], "/balance", joined(names))));
  std::set<std::string> seen;
  for (const auto& share : shares) seen.insert(share.begin(), share.end());
  EXPECT_EQ(seen.size(), shares[0].size() + shares[1].size());
  EXPECT_EQ(seen, std::set<std::string>(names.begin(), names.end()));

  for (std::size_t i = 0; i < 2; ++i) {
    std::string times, results;
    for (const std::string& name : shares[i]) {
      times += name + ": 1500\n";
      results += name + ": " + (name == "spec/c_spec.rb" ? "true" : "false") + "\n";
    }
    post(*balancers[i], "/suite_time", times);
    post(*balancers[i], "/suite_result", results);
  }
  body = get(*balancers[1], "/assert_all_partitions_executed", 200);
  EXPECT_NE(body.find("proven: each of the 5 tests ran exactly once across 2 partitions"), std::string::npos)
      << body;
  for (auto& balancer : balancers) EXPECT_EQ(stop(*balancer), 0) << balancer->err();

  // The job's history on the server, as the original's clients read it.
  httplib::Client client("127.0.0.1", server.port());
  auto times = client.Get("/alien/suite_time");
  ASSERT_TRUE(times);
  EXPECT_EQ(times->body,
            "spec/a_spec.rb: 1500\nspec/b_spec.rb: 1500\nspec/c_spec.rb: 1500\nspec/d_spec.rb: 1500\n"
            "spec/e_spec.rb: 1500\n");
  auto results = client.Get("/alien/suite_result");
  ASSERT_TRUE(results);
  EXPECT_NE(results->body.find("spec/c_spec.rb: true\n"), std::string::npos) << results->body;
}

}  // namespace
