// `tlb agent` and `tlb swarm run` as a user runs them: their flags and errors, then one small swarm on
// loopback (a tlb server, one agent, a three-test build tree) from submission to `tlb verify`. The
// multi-agent tests are in tests/swarm.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "support/process.hpp"
#include "support/scratch_dir.hpp"
#include "support/server_process.hpp"

namespace {

namespace fs = std::filesystem;
using tlb::testing::ProcessResult;
using tlb::testing::run_process;
using Env = std::map<std::string, std::string>;

// `program` on this process's PATH (the children get only /usr/bin:/bin), or the bare name.
std::string on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "" : path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && access((fs::path(dir) / program).c_str(), X_OK) == 0)
      return (fs::path(dir) / program).string();
  }
  return program;
}

class SwarmCli : public tlb::testing::ScratchDirTest {
 protected:
  // A ctest build tree as CMake generates it, without CMake: one passing test whose name is a regular
  // expression's metacharacters and which fails if a partition variable reaches it, one failing, one slower,
  // one disabled (the coordinator settles it as skipped without an agent).
  std::string build_tree() {
    const std::string tree = (dir_ / "build").string();
    write("build/CTestTestfile.cmake",
          "add_test([=[math.add+sub]=] \"/bin/sh\" \"-c\" "
          "\"test -z \\\"$TLB_TOTAL_PARTITIONS$CI_NODE_INDEX\\\"\")\n"
          "set_tests_properties([=[math.add+sub]=] PROPERTIES COST \"0.5\" LABELS \"unit\")\n"
          "add_test([=[fails]=] \"/bin/sh\" \"-c\" \"exit 1\")\n"
          "add_test([=[slow]=] \"/bin/sh\" \"-c\" \"sleep 0.3\")\n"
          "add_test([=[off]=] \"/bin/sh\" \"-c\" \"exit 1\")\n"
          "set_tests_properties([=[off]=] PROPERTIES DISABLED \"TRUE\")\n");
    return tree;
  }

  ProcessResult tlb(std::vector<std::string> args, const Env& env = {}) {
    args.insert(args.begin(), TLB_EXECUTABLE);
    return run_process(args, env);
  }
};

TEST_F(SwarmCli, HelpListsTheFlags) {
  const ProcessResult agent = tlb({"agent", "--help"});
  EXPECT_EQ(agent.exit_code, 0) << agent.err;
  for (const char* flag : {"--server", "--build-dir", "--name", "--build-config", "--exit-when-idle",
                           "--ctest", "TLB_AGENT_NAME"}) {
    EXPECT_NE(agent.out.find(flag), std::string::npos) << flag << "\n" << agent.out;
  }
  const ProcessResult run = tlb({"swarm", "run", "--help"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  for (const char* flag : {"--server", "--build-dir", "--build-config", "--job", "--job-version",
                           "--record-dir", "--output-junit", "--timeout", "--quiet", "TLB_JOB_NAME"}) {
    EXPECT_NE(run.out.find(flag), std::string::npos) << flag << "\n" << run.out;
  }
  // `tlb swarm` is a group: it needs its subcommand.
  EXPECT_EQ(tlb({"swarm"}).exit_code, 2);
}

TEST_F(SwarmCli, AMissingOrUnusableServerIsAUsageErrorNamingTheSetting) {
  const std::string tree = build_tree();
  const ProcessResult agent = tlb({"agent", "--build-dir", tree});
  EXPECT_EQ(agent.exit_code, 2) << agent.err;
  EXPECT_NE(agent.err.find("--server"), std::string::npos) << agent.err;
  EXPECT_NE(agent.err.find("TLB_STORE"), std::string::npos) << agent.err;

  // A timing file is a store, but no coordinator.
  const ProcessResult file =
      tlb({"swarm", "run", "--job", "app", "--build-dir", tree}, {{"TLB_STORE", "times.txt"}});
  EXPECT_EQ(file.exit_code, 2) << file.err;
  EXPECT_NE(file.err.find("TLB_STORE=times.txt"), std::string::npos) << file.err;
  const ProcessResult base = tlb({"agent", "--build-dir", tree}, {{"TLB_BASE_URL", "ftp://host"}});
  EXPECT_EQ(base.exit_code, 2) << base.err;
  EXPECT_NE(base.err.find("TLB_BASE_URL=ftp://host"), std::string::npos) << base.err;
}

TEST_F(SwarmCli, ARunNeedsAJobName) {
  const ProcessResult run =
      tlb({"swarm", "run", "--server", "http://127.0.0.1:9", "--build-dir", build_tree()});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("--job"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("TLB_JOB_NAME"), std::string::npos) << run.err;
}

TEST_F(SwarmCli, ADirectoryWithoutCTestTestfileIsNoBuildTree) {
  fs::create_directories(dir_ / "empty");
  const std::string empty = (dir_ / "empty").string();
  const ProcessResult agent = tlb({"agent", "--server", "http://127.0.0.1:9", "--build-dir", empty});
  EXPECT_EQ(agent.exit_code, 2) << agent.err;
  EXPECT_NE(agent.err.find(empty + ": not a ctest build tree (no CTestTestfile.cmake"), std::string::npos)
      << agent.err;
  const ProcessResult run =
      tlb({"swarm", "run", "--server", "http://127.0.0.1:9", "--job", "app", "--build-dir", empty});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("CTestTestfile.cmake"), std::string::npos) << run.err;
}

TEST_F(SwarmCli, AServerThatDoesNotAnswerIsNamed) {
  const std::string tree = build_tree();
  const std::string ctest = on_path("ctest");
  // Port 9 (discard) on loopback: nothing listens there.
  const ProcessResult run =
      tlb({"swarm", "run", "--server", "http://127.0.0.1:9", "--job", "app", "--build-dir", tree});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("http://127.0.0.1:9: cannot submit the run"), std::string::npos) << run.err;
  const ProcessResult agent =
      tlb({"agent", "--server", "http://127.0.0.1:9", "--build-dir", tree, "--ctest", ctest});
  EXPECT_EQ(agent.exit_code, 1) << agent.err;
  EXPECT_NE(agent.err.find("http://127.0.0.1:9: cannot join the swarm"), std::string::npos) << agent.err;
}

// The whole loop on loopback: submit, one agent runs the tests and exits when idle, the run ends with
// ctest's exit status for a failure, and its records and JUnit file account for every test once.
TEST_F(SwarmCli, OneAgentRunsASmallSuiteEndToEnd) {
  const std::string tree = build_tree();
  const std::string ctest = on_path("ctest");
  tlb::testing::ServerProcess server(
      tlb::testing::tlb_server_command(TLB_EXECUTABLE, (dir_ / "data").string(),
                                       {"--swarm-heartbeat-seconds", "1", "--swarm-lease-seconds", "3"}),
      tlb::testing::kTlbServerListening);
  // Partition variables in the environment must not split the suite inside the swarm.
  const Env env{{"TLB_TOTAL_PARTITIONS", "2"},
                {"TLB_PARTITION_NUMBER", "1"},
                {"CI_NODE_INDEX", "1"},
                {"CI_NODE_TOTAL", "2"}};
  const std::string junit = (dir_ / "swarm.xml").string();
  const std::string records = (dir_ / "records").string();
  // A stale record of an earlier run goes; another file stays.
  write("records/partition-1-of-5.json", "{}");
  write("records/notes.json", "{}");

  // The submitter first, so that the agent finds the run (with --exit-when-idle, an agent that finds no run
  // stops at once). Its first line names the server, which is how the helper knows it has submitted.
  tlb::testing::ServerProcess run(
      {TLB_EXECUTABLE, "swarm", "run", "--server", server.url(), "--job", "app", "--job-version", "1",
       "--build-dir", tree, "--record-dir", records, "--output-junit", junit, "--timeout", "120"},
      "tlb swarm: run ", env);
  const ProcessResult agent = tlb({"agent", "--server", server.url(), "--build-dir", tree, "--name", "box-1",
                                   "--exit-when-idle", "--ctest", ctest},
                                  env);
  EXPECT_EQ(agent.exit_code, 0) << agent.out << agent.err;
  EXPECT_NE(agent.out.find("tlb agent: box-1 (agent "), std::string::npos) << agent.out;
  EXPECT_NE(agent.out.find("tlb agent: math.add+sub: passed in "), std::string::npos) << agent.out;
  EXPECT_NE(agent.out.find("tlb agent: fails: failed in "), std::string::npos) << agent.out;
  EXPECT_NE(agent.out.find("tlb agent: slow: passed in "), std::string::npos) << agent.out;

  EXPECT_EQ(run.wait_exit(std::chrono::seconds(60)), 8) << run.out() << run.err();
  EXPECT_NE(run.out().find("tlb swarm: FAILED fails (agent box-1)"), std::string::npos) << run.out();
  EXPECT_NE(run.out().find("75% tests passed, 1 tests failed out of 4"), std::string::npos) << run.out();

  EXPECT_FALSE(fs::exists(dir_ / "records" / "partition-1-of-5.json"));
  EXPECT_TRUE(fs::exists(dir_ / "records" / "notes.json"));
  const ProcessResult verify = tlb({"verify", records});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  std::ifstream in(junit);
  const std::string xml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t testcases = 0;
  for (std::size_t at = xml.find("<testcase "); at != std::string::npos; at = xml.find("<testcase ", at + 1))
    ++testcases;
  EXPECT_EQ(testcases, 4u) << xml;
  EXPECT_NE(xml.find("name=\"fails\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure message=\"failed on box-1\"/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<skipped/>"), std::string::npos) << xml;
}

}  // namespace
