// The `tlb` executable, run as a separate process with a controlled environment, as CI jobs run it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "support/process.hpp"
#include "support/scratch_dir.hpp"

namespace {

namespace fs = std::filesystem;
using tlb::testing::ProcessResult;
using tlb::testing::run_process;

class Cli : public tlb::testing::ScratchDirTest {
 protected:
  ProcessResult tlb(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                    const std::string& input = "") {
    args.insert(args.begin(), TLB_EXECUTABLE);
    return run_process(args, env, input);
  }

  // A suite of `n` tests named with hostile characters, with durations 1..n seconds, as a json-v1 document, a
  // name-per-line list and a pytest-split durations file.
  void make_suite(int n, unsigned shuffle_seed = 0) {
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i)
      names.push_back("suite " + std::to_string(i % 7) + ";case[" + std::to_string(i) + "] \"ü\"");
    nlohmann::json durations = nlohmann::json::object();
    for (int i = 0; i < n; ++i) durations[names[static_cast<std::size_t>(i)]] = 1.0 + i;
    if (shuffle_seed != 0) {
      std::mt19937 engine(shuffle_seed);
      std::shuffle(names.begin(), names.end(), engine);
    }
    nlohmann::json doc = {
        {"kind", "ctestInfo"}, {"version", {{"major", 1}, {"minor", 0}}}, {"tests", nlohmann::json::array()}};
    std::string lines;
    for (const std::string& name : names) {
      doc["tests"].push_back(
          {{"name", name}, {"command", {"/bin/true"}}, {"properties", nlohmann::json::array()}});
      lines += name + "\n";
    }
    all_names_ = std::set<std::string>(names.begin(), names.end());
    tests_json_ = write("tests" + std::to_string(shuffle_seed) + ".json", doc.dump(1));
    tests_txt_ = write("tests" + std::to_string(shuffle_seed) + ".txt", lines);
    durations_ = write("durations.json", durations.dump(1));
  }

  std::string tests_json_, tests_txt_, durations_;
  std::set<std::string> all_names_;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(Cli, HelpExplainsTheSplitCommand) {
  ProcessResult r = tlb({"split", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* text :
       {"--tests", "--durations", "--partition", "--total", "--weights", "--splitter", "--all", "--json",
        "--explain", "TLB_PARTITION_NUMBER", "CI_NODE_INDEX", "CTestCostData.txt"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << "help does not mention " << text;
  }
  r = tlb({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("split"), std::string::npos);
  r = tlb({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("tlb ", 0), 0u);
}

TEST_F(Cli, PartitionsTogetherHoldEveryTestExactlyOnce) {
  make_suite(50);
  std::multiset<std::string> seen;
  for (int k = 1; k <= 4; ++k) {
    ProcessResult r = tlb({"split", "--tests", tests_json_, "--durations", durations_},
                          {{"TLB_PARTITION_NUMBER", std::to_string(k)}, {"TLB_TOTAL_PARTITIONS", "4"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    for (const std::string& name : lines_of(r.out)) seen.insert(name);
  }
  EXPECT_EQ(seen.size(), all_names_.size());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), all_names_);
}

TEST_F(Cli, TwoMachinesWithDifferentlyOrderedListsSplitTheSameWay) {
  make_suite(60, 1);
  const std::string first_json = tests_json_, first_txt = tests_txt_;
  make_suite(60, 2);
  for (int k = 1; k <= 3; ++k) {
    const std::map<std::string, std::string> env{{"TLB_PARTITION", std::to_string(k) + "/3"}};
    ProcessResult a = tlb({"split", "--tests", first_json, "--durations", durations_}, env);
    ProcessResult b = tlb({"split", "--tests", tests_json_, "--durations", durations_}, env);
    ProcessResult c = tlb({"split", "--durations", durations_}, env, [&] {
      std::ifstream in(first_txt);
      return std::string(std::istreambuf_iterator<char>(in), {});
    }());
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_FALSE(a.out.empty());
    EXPECT_EQ(a.out, b.out) << "partition " << k;
    EXPECT_EQ(a.out, c.out) << "partition " << k << " from a name-per-line list on stdin";
  }
}

TEST_F(Cli, AllJsonDescribesEveryPartition) {
  make_suite(20);
  ProcessResult r =
      tlb({"split", "--tests", tests_json_, "--durations", durations_, "--all", "--json", "--total", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["partitions"].size(), 3u);
  double total = 0;
  std::set<std::string> names;
  for (int k = 0; k < 3; ++k) {
    const auto& p = doc["partitions"][static_cast<std::size_t>(k)];
    EXPECT_EQ(p["number"], k + 1);
    total += p["predicted_seconds"].get<double>();
    for (const auto& name : p["tests"]) names.insert(name.get<std::string>());
  }
  EXPECT_EQ(names, all_names_);
  EXPECT_DOUBLE_EQ(total, 20 * 21 / 2.0);  // durations 1..20
  EXPECT_EQ(doc["splitter"], "time");
  EXPECT_GE(doc["predicted_makespan_seconds"].get<double>(), doc["lower_bound_seconds"].get<double>());
  // Within a partition: longest first.
  const auto& first = doc["partitions"][0]["tests"];
  ProcessResult mine =
      tlb({"split", "--tests", tests_json_, "--durations", durations_, "--partition", "1/3"});
  std::vector<std::string> expected;
  for (const auto& name : first) expected.push_back(name.get<std::string>());
  EXPECT_EQ(lines_of(mine.out), expected);
}

TEST_F(Cli, ExplainPrintsATableOfPredictedTime) {
  make_suite(12);
  ProcessResult r =
      tlb({"split", "--tests", tests_json_, "--durations", durations_, "--partition", "2/3", "--explain"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("time splitter into 3 partitions"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("* 2/3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("26.0 s"), std::string::npos) << r.out;  // 78 s of tests over 3: a perfect split
  EXPECT_NE(r.out.find("1.000x the bound"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("history: 12 tests from " + durations_ + " (JSON object of name to seconds)"),
            std::string::npos)
      << r.out;
  r = tlb({"split", "--tests", tests_json_, "--partition", "2/3", "--explain"});
  EXPECT_NE(r.out.find("history: none (no --durations given)"), std::string::npos) << r.out;
}

TEST_F(Cli, ExplainWithOnlyATotalIsAnOverview) {
  make_suite(12);
  ProcessResult r =
      tlb({"split", "--tests", tests_json_, "--durations", durations_, "--total", "3", "--explain"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("into 3 partitions."), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("this is partition"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("* "), std::string::npos) << r.out;
}

TEST_F(Cli, WeightsGiveAPartitionMoreWork) {
  make_suite(40);
  ProcessResult r =
      tlb({"split", "--tests", tests_json_, "--durations", durations_, "--all", "--json", "--total", "3"},
          {{"TLB_PARTITION_WEIGHTS", "1,1,2"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  const double p1 = doc["partitions"][0]["predicted_seconds"], p3 = doc["partitions"][2]["predicted_seconds"];
  EXPECT_NEAR(p3 / p1, 2.0, 0.05);
}

TEST_F(Cli, BadSettingsExitTwoNamingTheVariableAndValue) {
  make_suite(5);
  struct Case {
    std::map<std::string, std::string> env;
    std::vector<std::string> flags;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"TLB_PARTITION_NUMBER", "0"}, {"TLB_TOTAL_PARTITIONS", "4"}},
       {},
       "TLB_PARTITION_NUMBER=0: out of range"},
      {{{"TLB_PARTITION_NUMBER", "5"}, {"TLB_TOTAL_PARTITIONS", "4"}},
       {},
       "TLB_PARTITION_NUMBER=5: out of range"},
      {{{"TLB_PARTITION_NUMBER", "1"}, {"TLB_TOTAL_PARTITIONS", "0"}},
       {},
       "TLB_TOTAL_PARTITIONS=0: the number"},
      {{{"TLB_PARTITION_NUMBER", "abc"}, {"TLB_TOTAL_PARTITIONS", "4"}},
       {},
       "TLB_PARTITION_NUMBER=abc: not a whole"},
      {{{"TLB_SPLITTER", "fastest"}}, {}, "TLB_SPLITTER=fastest: unknown splitter"},
      {{{"TLB_ORDERER", "random"}}, {}, "TLB_ORDERER=random: unknown orderer 'random'"},
      {{{"TLB_PARTITION", "2/4"}, {"TLB_PARTITION_WEIGHTS", "1,x,1,1"}},
       {},
       "TLB_PARTITION_WEIGHTS=1,x,1,1: 'x'"},
      {{{"TLB_STRICT", "maybe"}}, {}, "TLB_STRICT=maybe: expected 1 or 0"},
      {{}, {"--partition", "9", "--total", "2"}, "--partition=9: out of range for --total=2"},
      {{}, {"--no-such-flag"}, "--no-such-flag"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args{"split", "--tests", tests_json_};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    ProcessResult r = tlb(args, c.env);
    EXPECT_EQ(r.exit_code, 2) << c.message;
    EXPECT_NE(r.err.find("tlb: error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << "expected '" << c.message << "' in: " << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(Cli, MalformedFilesExitOneNamingTheFileAndLine) {
  make_suite(3);
  const std::string bad = write("bad.txt", "a 1.0\nb 2,5\n");
  ProcessResult r = tlb({"split", "--tests", tests_json_, "--durations", bad});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bad + ":2: not a durations line"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");

  const std::string broken = write("broken.json", "{\"kind\": \"ctestInfo\",\n\"tests\": [\n");
  r = tlb({"split", "--tests", broken});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(broken + ":3: not valid JSON"), std::string::npos) << r.err;

  r = tlb({"split", "--tests", (dir_ / "absent.json").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("absent.json: cannot open file"), std::string::npos) << r.err;
}

TEST_F(Cli, MissingHistoryWarnsAndSplitsByCountUnlessStrict) {
  make_suite(8);
  const std::string absent = (dir_ / "not-yet.json").string();
  ProcessResult r = tlb({"split", "--tests", tests_json_, "--durations", absent, "--partition", "1/2"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.err.find("tlb: warning: " + absent + ": no such durations file yet"), std::string::npos)
      << r.err;
  EXPECT_EQ(lines_of(r.out).size(), 4u);

  r = tlb({"split", "--tests", tests_json_, "--durations", absent, "--partition", "1/2"},
          {{"TLB_STRICT", "1"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no such durations file (TLB_STRICT is set)"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

// PRODUCT.md: unreadable history never fails a run by default; the split goes on without it, says so once,
// and the partition's record tells `tlb verify`. TLB_STRICT=1 fails instead, and the timing file is left as
// it was.
TEST_F(Cli, ACorruptTimingFileWarnsOnceIsMarkedInTheRecordAndFailsUnderStrict) {
  make_suite(8);
  auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  const std::string corrupt = write("timings.txt", "# tlb timings v1\n1,5 1 passed 2024-05-02 x\n");
  const std::string records = (dir_ / "records").string();
  ProcessResult r = tlb(
      {"split", "--tests", tests_json_, "--store", corrupt, "--partition", "1/2", "--record-dir", records});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find(corrupt + ":2: "), std::string::npos) << r.err;
  EXPECT_EQ(lines_of(r.out).size(), 4u);
  const auto record = nlohmann::json::parse(read(records + "/partition-1-of-2.json"));
  EXPECT_EQ(record["history_status"], "corrupt");
  EXPECT_EQ(record["history_hash"], "");

  r = tlb({"split", "--tests", tests_json_, "--partition", "1/2"},
          {{"TLB_STORE", corrupt}, {"TLB_STRICT", "1"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("TLB_STRICT is set"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(read(corrupt), "# tlb timings v1\n1,5 1 passed 2024-05-02 x\n");

  r = tlb(
      {"split", "--tests", tests_json_, "--store", corrupt, "--durations", durations_, "--partition", "1/2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--durations and --store both name a history"), std::string::npos) << r.err;
}

TEST_F(Cli, CiNativeVariablesAndTheGoogleTestWarning) {
  make_suite(9);
  ProcessResult gitlab =
      tlb({"split", "--tests", tests_json_, "--durations", durations_},
          {{"CI_NODE_INDEX", "2"}, {"CI_NODE_TOTAL", "3"}, {"TLB_TOTAL_PARTITIONS", "auto"}});
  ProcessResult circle =
      tlb({"split", "--tests", tests_json_, "--durations", durations_}, {{"CIRCLE_NODE_INDEX", "1"},
                                                                         {"CIRCLE_NODE_TOTAL", "3"},
                                                                         {"GTEST_TOTAL_SHARDS", "3"},
                                                                         {"TLB_TOTAL_PARTITIONS", "auto"}});
  ASSERT_EQ(gitlab.exit_code, 0) << gitlab.err;
  ASSERT_EQ(circle.exit_code, 0) << circle.err;
  EXPECT_EQ(gitlab.out, circle.out) << "GitLab counts from 1, CircleCI from 0";
  EXPECT_NE(circle.err.find("tlb: warning: GTEST_TOTAL_SHARDS=3 is set"), std::string::npos) << circle.err;
  ProcessResult explain =
      tlb({"split", "--tests", tests_json_, "--explain"},
          {{"CI_NODE_INDEX", "2"}, {"CI_NODE_TOTAL", "3"}, {"TLB_TOTAL_PARTITIONS", "auto"}});
  EXPECT_NE(explain.out.find("(this is partition 2, from GitLab's CI_NODE_INDEX)"), std::string::npos)
      << explain.out;

  // Without TLB_TOTAL_PARTITIONS=auto (a GitLab `parallel: matrix:` job), every test, and one warning why.
  ProcessResult matrix = tlb({"split", "--tests", tests_json_, "--durations", durations_},
                             {{"CI_NODE_INDEX", "2"}, {"CI_NODE_TOTAL", "3"}});
  ASSERT_EQ(matrix.exit_code, 0) << matrix.err;
  EXPECT_EQ(lines_of(matrix.out).size(), 9u) << matrix.out;
  EXPECT_EQ(matrix.err,
            "tlb: warning: GitLab's CI_NODE_INDEX=2 and CI_NODE_TOTAL=3 ignored: TLB splits by the CI's own "
            "variables only with TLB_TOTAL_PARTITIONS=auto, so this job runs every test\n");
}

TEST_F(Cli, AnEmptyTestListIsAWarning) {
  ProcessResult r = tlb({"split", "--partition", "1/2"}, {}, "");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("tlb: warning: <stdin>: the test list is empty"), std::string::npos) << r.err;
}

TEST_F(Cli, NoPartitionMeansEveryTest) {
  make_suite(6);
  ProcessResult r = tlb({"split", "--tests", tests_txt_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto names = lines_of(r.out);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), all_names_);
}

}  // namespace

// The splits of a fixed suite (hostile names, a fixture, DEPENDS, partial history, COST, a disabled test) as
// checked in under tests/data/golden: every machine and compiler must produce exactly these. regenerate.sh
// there rewrites them when a splitter change is meant to move tests.
TEST(Golden, EveryMachineSplitsTheCheckedInSuiteTheSameWay) {
  const fs::path dir = TLB_GOLDEN_DIR;
  std::ifstream cases(dir / "cases.txt");
  ASSERT_TRUE(cases) << "cannot read " << dir / "cases.txt";
  int checked = 0;
  for (std::string line; std::getline(cases, line);) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    std::vector<std::string> args{TLB_EXECUTABLE, "split",
                                  "--tests",      (dir / "tests.json").string(),
                                  "--durations",  (dir / "durations.json").string(),
                                  "--all"};
    for (std::string word; words >> word;) args.push_back(word);
    ProcessResult r = run_process(args);
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    std::ifstream expected_file(dir / ("expected-" + name + ".txt"), std::ios::binary);
    const std::string expected{std::istreambuf_iterator<char>(expected_file), {}};
    EXPECT_EQ(r.out, expected) << "the split for case '" << name << "' differs from tests/data/golden";
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}
