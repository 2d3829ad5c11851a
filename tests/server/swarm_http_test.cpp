// The swarm's coordinator as agents meet it: the real `tlb server` on loopback, with a token every client
// holds. Agents cannot act as each other (registration answers a secret that each later call of the agent
// must carry; leases are random), and a restart does not cost them their tests.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/scratch_dir.hpp"
#include "support/server_process.hpp"

namespace tlb {
namespace {

using nlohmann::json;
using testing::ServerProcess;

constexpr const char* kToken = "shared-token";
const std::string kSwarm = "/api/v1/swarm";

class SwarmHttpTest : public testing::ScratchDirTest {
 protected:
  void start(std::vector<std::string> extra = {}) {
    server_ = std::make_unique<ServerProcess>(
        testing::tlb_server_command(TLB_EXECUTABLE, (dir_ / "data").string(), std::move(extra)),
        testing::kTlbServerListening, std::map<std::string, std::string>{{"TLB_TOKEN", kToken}});
  }
  void TearDown() override {
    server_.reset();
    ScratchDirTest::TearDown();
  }

  // Status and JSON answer of a POST with the token every client holds.
  std::pair<int, json> post(const std::string& path, const json& body) {
    httplib::Client client(server_->host(), server_->port());
    client.set_read_timeout(30);
    const auto result = client.Post(path.c_str(), {{"Authorization", std::string("Bearer ") + kToken}},
                                    body.dump(), "application/json");
    if (!result) return {-1, json::object()};
    return {result->status, json::parse(result->body, nullptr, false)};
  }
  json get(const std::string& path) {
    httplib::Client client(server_->host(), server_->port());
    const auto result = client.Get(path.c_str());
    return result ? json::parse(result->body, nullptr, false) : json::object();
  }

  struct Agent {
    std::string id;
    std::string secret;
    std::string path() const { return kSwarm + "/agents/" + id; }
  };
  Agent enroll(const std::string& key) {
    const auto [status, answer] =
        post(kSwarm + "/agents", {{"key", key}, {"name", key}, {"test_list_hash", "h"}, {"attributes", {}}});
    EXPECT_EQ(status, 200) << answer;
    return Agent{answer.value("agent", ""), answer.value("secret", "")};
  }
  json pull(const Agent& agent) {
    const auto [status, answer] = post(agent.path() + "/pull", {{"secret", agent.secret}});
    EXPECT_EQ(status, 200) << answer;
    EXPECT_EQ(answer.value("assignments", json::array()).size(), 1u) << answer;
    return answer.value("assignments", json::array()).at(0);
  }

  std::unique_ptr<ServerProcess> server_;
};

TEST_F(SwarmHttpTest, AnotherTokenHolderCannotReportOrLeaveUnderAnAgentsId) {
  start();
  const auto [submitted, run] = post(kSwarm + "/runs", {{"job", "j"},
                                                        {"version", "1"},
                                                        {"test_list_hash", "h"},
                                                        {"tests", {{{"name", "a"}}, {{"name", "b"}}}}});
  ASSERT_EQ(submitted, 201) << run;
  const Agent victim = enroll("victim-key");
  const Agent intruder = enroll("intruder-key");
  ASSERT_EQ(victim.secret.size(), 32u);
  ASSERT_EQ(intruder.secret.size(), 32u);
  EXPECT_NE(victim.secret, intruder.secret);
  const json held = pull(victim);
  const json other = pull(intruder);
  // Random leases: the next one is not one more than the last.
  EXPECT_GT(std::llabs(held.at("lease").get<long long>() - other.at("lease").get<long long>()), 1000)
      << held << other;

  const json lie{
      {"lease", held.at("lease")}, {"test", held.at("test")}, {"status", "passed"}, {"seconds", 1}};
  auto with = [](json body, const std::string& secret) {
    body["secret"] = secret;
    return body;
  };
  // Without the victim's secret, nothing of the victim's counts: no report, no leave, no heartbeat.
  EXPECT_EQ(post(victim.path() + "/report", lie).first, 401);
  EXPECT_EQ(post(victim.path() + "/report", with(lie, intruder.secret)).first, 403);
  EXPECT_EQ(post(victim.path() + "/report", with(lie, std::string(32, '0'))).first, 403);
  EXPECT_EQ(post(victim.path() + "/report", {{"reports", {lie}}, {"secret", intruder.secret}}).first, 403);
  EXPECT_EQ(post(victim.path() + "/leave", json::object()).first, 401);
  EXPECT_EQ(post(victim.path() + "/leave", {{"secret", intruder.secret}}).first, 403);
  EXPECT_EQ(post(victim.path() + "/heartbeat", json::object()).first, 401);
  EXPECT_EQ(post(victim.path() + "/pull", {{"secret", intruder.secret}}).first, 403);
  // Under its own id, the intruder was never given the victim's lease.
  EXPECT_EQ(post(intruder.path() + "/report", with(lie, intruder.secret)).first, 409);

  // The victim still holds its test, and it has not left; progress still shows who holds what.
  const json progress = get(kSwarm + "/runs/1");
  EXPECT_EQ(progress.at("done"), 0) << progress;
  for (const json& agent : progress.at("agents")) {
    if (agent.at("agent") != victim.id) continue;
    EXPECT_EQ(agent.at("running"), json::array({held.at("test")})) << progress;
    EXPECT_TRUE(agent.at("live").get<bool>()) << progress;
  }
  const json truth =
      with({{"lease", held.at("lease")}, {"test", held.at("test")}, {"status", "failed"}, {"seconds", 1}},
           victim.secret);
  const auto [reported, answer] = post(victim.path() + "/report", truth);
  EXPECT_EQ(reported, 200) << answer;
  EXPECT_TRUE(answer.value("authoritative", false)) << answer;

  // Registering again with the key (a restarted agent) gives a new secret; the old one is refused from then.
  const Agent again = enroll("victim-key");
  EXPECT_EQ(again.id, victim.id);
  EXPECT_NE(again.secret, victim.secret);
  EXPECT_EQ(post(victim.path() + "/heartbeat", {{"secret", victim.secret}}).first, 403);
  EXPECT_EQ(post(again.path() + "/heartbeat", {{"secret", again.secret}}).first, 200);
}

// Item 6 of issue 17 over loopback: the server stopped for longer than a lease and started again on the same
// data. The agent that rode out the restart keeps its test and its report is the result; the one never heard
// from again loses its test once the grace after the start is over.
TEST_F(SwarmHttpTest, AServerDownLongerThanALeaseTakesBackOnlyWhatNoOneClaimsAgain) {
  start({"--swarm-heartbeat-seconds", "2", "--swarm-lease-seconds", "5"});
  const auto [submitted, run] = post(kSwarm + "/runs", {{"job", "j"},
                                                        {"version", "1"},
                                                        {"test_list_hash", "h"},
                                                        {"mode", "queue"},
                                                        {"tests", {{{"name", "a"}}, {{"name", "b"}}}}});
  ASSERT_EQ(submitted, 201) << run;
  const Agent rider = enroll("rider");
  const Agent gone = enroll("gone");
  const json held = pull(rider);
  pull(gone);
  server_->stop();
  std::this_thread::sleep_for(std::chrono::seconds(6));  // Down longer than the 5 s lease.
  server_->restart();
  // The rider is heard from again at once, and keeps calling while it runs its test.
  auto still_there = [&] { return post(rider.path() + "/heartbeat", {{"secret", rider.secret}}).first; };
  ASSERT_EQ(still_there(), 200);
  json progress;
  for (int i = 0; i < 100; ++i) {
    progress = get(kSwarm + "/runs/1");
    if (progress.value("pending", 0) == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_EQ(still_there(), 200);
  }
  EXPECT_EQ(progress.value("pending", 0), 1) << "the silent agent's test never went back: " << progress;
  EXPECT_EQ(progress.value("running", 0), 1) << progress;
  const json report{{"secret", rider.secret},
                    {"lease", held.at("lease")},
                    {"test", held.at("test")},
                    {"status", "passed"},
                    {"seconds", 1}};
  const auto [reported, answer] = post(rider.path() + "/report", report);
  EXPECT_EQ(reported, 200) << answer;
  EXPECT_TRUE(answer.value("authoritative", false)) << "the rider lost its test to the downtime: " << answer;
}

}  // namespace
}  // namespace tlb
