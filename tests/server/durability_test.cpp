// What `tlb server` acknowledged survives kill -9: client threads post as fast as they can (JSON results, the
// original API's suite times, partition records), the server is killed with SIGKILL under that load,
// restarted on the same data directory, and every write it answered with 2xx must be there, each one whole; a
// write it never answered is there whole or not at all.
#include <gtest/gtest.h>
#include <httplib.h>

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

#include "io/record.hpp"
#include "support/scratch_dir.hpp"
#include "support/server_process.hpp"

namespace tlb {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using testing::ServerProcess;

constexpr int kThreads = 8;
constexpr int kTestsPerPost = 5;
constexpr int kRounds = 3;

// One write, and the test names (or partition) it carries.
struct Write {
  int thread = 0;
  int sequence = 0;
  std::vector<std::string> names;
};

std::string results_body(const std::vector<std::string>& names) {
  ordered_json observations = ordered_json::array();
  for (const std::string& name : names) {
    observations.push_back(ordered_json{{"name", name}, {"seconds", 1.5}, {"outcome", "passed"}});
  }
  return ordered_json{{"kind", "tlb-run-report"}, {"version", 1},
                      {"partition", 0},           {"total", 0},
                      {"date", "2023-11-14"},     {"observations", observations}}
      .dump();
}

class DurabilityTest : public testing::ScratchDirTest {};

TEST_F(DurabilityTest, EveryAcknowledgedWriteSurvivesKill9) {
  // The original API dates what it stores by the server's day: the same day as the results' (no aging).
  // 50 writers from one address: no cap on connections per address, which would refuse some with 503.
  ServerProcess server(testing::tlb_server_command(TLB_EXECUTABLE, (dir_ / "data").string(),
                                                   {"--max-client-connections", "0"}),
                       testing::kTlbServerListening, {{"SOURCE_DATE_EPOCH", "1700000000"}});
  std::size_t total_acknowledged = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string job = "durable-" + std::to_string(round);
    const std::string host = server.host();
    const int port = server.port();

    // Threads 0..5 post JSON results, 6 the original API's suite times, 7 partition records.
    std::mutex mutex;
    std::vector<Write> acknowledged, unanswered;
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        httplib::Client client(host, port);
        client.set_connection_timeout(5);
        client.set_read_timeout(5);
        client.set_keep_alive(true);
        for (int sequence = 0; !stop; ++sequence) {
          Write write{t, sequence, {}};
          httplib::Result result = [&] {
            if (t < 6) {
              for (int i = 0; i < kTestsPerPost; ++i) {
                write.names.push_back("t" + std::to_string(t) + "-" + std::to_string(sequence) + "-" +
                                      std::to_string(i));
              }
              return client.Post(("/api/v1/jobs/" + job + "/versions/v/results").c_str(),
                                 results_body(write.names), "application/json");
            } else if (t == 6) {
              std::string body;
              for (int i = 0; i < kTestsPerPost; ++i) {
                write.names.push_back("s" + std::to_string(sequence) + "-" + std::to_string(i));
                body += write.names.back() + ": " + std::to_string(1000 + i) + "\n";
              }
              return client.Put(("/" + job + "/suite_time").c_str(), body, "text/plain");
            } else {
              // A record of its own version (a one-partition run) each time: test k in version r<k>.
              const std::string k = std::to_string(sequence);
              io::PartitionRecord record;
              record.partition = 1;
              record.total = 1;
              record.splitter = "count";
              record.all_tests = {"p" + k};
              record.test_list_hash = io::hash_names(record.all_tests);
              record.history_status = "ok";
              record.tests = record.all_tests;
              write.names = record.tests;
              return client.Post(("/api/v1/jobs/" + job + "/versions/r" + k + "/partitions").c_str(),
                                 io::format_record(record, "test"), "application/json");
            }
          }();
          std::lock_guard lock(mutex);
          if (result && result->status >= 200 && result->status < 300) {
            acknowledged.push_back(std::move(write));
          } else {
            if (result) ADD_FAILURE() << "status " << result->status << ": " << result->body;
            unanswered.push_back(std::move(write));
            if (!result) break;  // The server is gone.
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    EXPECT_EQ(server.kill9(), 128 + SIGKILL);
    stop = true;
    for (std::thread& thread : threads) thread.join();
    ASSERT_GT(acknowledged.size(), 10u) << "too few writes to tell anything";
    total_acknowledged += acknowledged.size();

    server.restart();
    httplib::Client client(server.host(), server.port());
    const auto history = client.Get(("/api/v1/jobs/" + job + "/history").c_str());
    ASSERT_TRUE(history);
    ASSERT_EQ(history->status, 200) << history->body;
    std::map<std::string, int> runs;
    const json listed = json::parse(history->body);
    for (const json& test : listed.at("tests")) runs[test.at("name")] = test.at("runs");
    const auto recorded = [&](const Write& write) {
      const auto records = client.Get(
          ("/api/v1/jobs/" + job + "/versions/r" + std::to_string(write.sequence) + "/records").c_str());
      if (!records || records->status != 200) return false;
      const json found = json::parse(records->body).at("records");
      return found.size() == 1 && found.at(0).at("tests") == json(write.names);
    };
    const auto present = [&](const Write& write, const std::string& name) {
      return write.thread == 7 ? recorded(write) : runs.contains(name) && runs.at(name) == 1;
    };
    for (const Write& write : acknowledged) {
      for (const std::string& name : write.names) {
        EXPECT_TRUE(present(write, name)) << "acknowledged but lost: thread " << write.thread << " write "
                                          << write.sequence << " test " << name;
      }
    }
    for (const Write& write : unanswered) {
      std::size_t found = 0;
      for (const std::string& name : write.names) found += present(write, name);
      EXPECT_TRUE(found == 0 || found == write.names.size())
          << "half written: thread " << write.thread << " write " << write.sequence << ": " << found << " of "
          << write.names.size();
    }
  }
  RecordProperty("acknowledged_writes", static_cast<int>(total_acknowledged));
  std::cout << "[ durability ] " << total_acknowledged << " acknowledged writes over " << kRounds
            << " kill -9 rounds, none lost\n";
}

}  // namespace
}  // namespace tlb
