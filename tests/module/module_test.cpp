// include(TLB) end to end: the fixture project in tests/module/project is configured, built and run with the
// real cmake and ctest, and each assertion is about which tests ran, as the tests themselves logged it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/server_process.hpp"

namespace fs = std::filesystem;
using tlb::testing::ProcessResult;
using tlb::testing::run_process;

namespace {

using Env = std::map<std::string, std::string>;

std::string read_text(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

std::multiset<std::string> as_multiset(const std::vector<std::string>& names) {
  return {names.begin(), names.end()};
}

std::set<std::string> as_set(const std::vector<std::string>& names) {
  return {names.begin(), names.end()};
}

bool is_fixture(const std::string& name) {
  return name == "db.setup" || name == "db.cleanup";
}

// The CMake the fixtures are configured, built and run with: the build's own, or the one whose bin directory
// TLB_TEST_CMAKE_DIR names (CI runs these tests a second time with CMake 4, tests/CMakeLists.txt).
std::string other_cmake_dir() {
  const char* dir = std::getenv("TLB_TEST_CMAKE_DIR");
  return dir == nullptr ? "" : dir;
}
const std::string& cmake_command() {
  static const std::string command = other_cmake_dir().empty() ? CMAKE_COMMAND : other_cmake_dir() + "/cmake";
  return command;
}
const std::string& ctest_command() {
  static const std::string command = other_cmake_dir().empty() ? CTEST_COMMAND : other_cmake_dir() + "/ctest";
  return command;
}

// Where the scratch directories are; another CMake's runs get their own.
fs::path scratch_root() {
  return fs::path(TLB_MODULE_SCRATCH).string() + (other_cmake_dir().empty() ? "" : "-other-cmake");
}

// A scratch directory under the build tree, emptied first.
fs::path scratch(const std::string& name) {
  fs::path dir = scratch_root() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// `text` with each run of white space made one space: CMake wraps the lines of a FATAL_ERROR message.
std::string one_line(const std::string& text) {
  std::string flat;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space) {
      flat += c;
    } else if (!flat.empty() && flat.back() != ' ') {
      flat += ' ';
    }
  }
  return flat;
}

void check(const ProcessResult& result, const std::string& what) {
  ASSERT_EQ(result.exit_code, 0) << what << " failed:\n" << result.out << "\n" << result.err;
}

// The fixture project configured and built with one adoption path.
struct Project {
  fs::path build;
  fs::path store;  // The timing file the hook reads (TLB_STORE).

  // Configures and builds the fixture in a scratch directory `name`, adopting TLB the `adoption` way.
  static Project make(const std::string& name, const std::string& adoption,
                      const std::vector<std::string>& extra = {}, const std::string& generator = "Ninja",
                      const std::string& config = "", const std::string& source = TLB_MODULE_PROJECT) {
    Project project = configured(name, adoption, extra, generator, source);
    project.build_all(config);
    return project;
  }

  // Only configures the fixture at `source` (see make).
  static Project configured(const std::string& name, const std::string& adoption,
                            const std::vector<std::string>& extra, const std::string& generator,
                            const std::string& source) {
    Project project;
    const fs::path dir = scratch(name);
    project.build = dir / "build";
    project.store = dir / "timings.txt";
    std::vector<std::string> configure = {
        cmake_command(),
        "-S",
        source,
        "-B",
        project.build.string(),
        "-G",
        generator,
        "-DCMAKE_BUILD_TYPE=None",  // No -O, no -g: the quickest build of TLB in the adoption cases.
        "-DTLB_ADOPTION=" + adoption,
        "-DTLB_SOURCE_DIR=" TLB_SOURCE_DIR,
        "-DTLB_EXECUTABLE=" TLB_EXECUTABLE,
        "-DTLB_STORE=" + project.store.string()};
    configure.insert(configure.end(), extra.begin(), extra.end());
    check(run_process(configure, {{"HOME", dir.string()}}), "configuring the fixture (" + adoption + ")");
    return project;
  }

  // Builds the default target (`all`), in configuration `config` with a multi-config generator.
  void build_all(const std::string& config = "") const {
    std::vector<std::string> command = {cmake_command(), "--build", build.string()};
    if (!config.empty()) command.insert(command.end(), {"--config", config});
    check(run_process(command, {{"HOME", build.parent_path().string()}}), "building the fixture");
  }

  struct Run {
    ProcessResult result;
    std::vector<std::string> ran;  // Test names in the order they finished, as the tests logged them.
  };

  // Runs ctest from elsewhere with --test-dir, the variables in `env`, and `args`.
  Run ctest(const Env& env, const std::vector<std::string>& args = {}) const {
    const fs::path log = build.parent_path() / "ran.log";
    fs::remove(log);
    Env full = env;
    full["TLB_FAKE_LOG"] = log.string();
    std::vector<std::string> argv = {ctest_command(), "--test-dir", build.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    Run run;
    run.result = run_process(argv, full);
    run.ran = lines_of(read_text(log));
    return run;
  }

  static Env partition(int number, int total) {
    return {{"TLB_PARTITION_NUMBER", std::to_string(number)},
            {"TLB_TOTAL_PARTITIONS", std::to_string(total)}};
  }

  nlohmann::json record(int number, int total) const {
    const fs::path path =
        build / "tlb" / ("partition-" + std::to_string(number) + "-of-" + std::to_string(total) + ".json");
    return nlohmann::json::parse(read_text(path));
  }
};

// The hostile names of the fixture, which must reach ctest and the test program unchanged.
const std::vector<std::string> kHostileNames = {
    "with space",    "semi;colon", "br[ack]et ]=]", "quo\"te and 'single'", "dollar $sign and \\backslash",
    "unicode é 名前"};

// What each adoption path must give: the partitions together run what one unpartitioned run runs, once each
// (fixture setup and cleanup once in every partition that needs them).
void expect_exactly_once(const Project& project, int total, const std::multiset<std::string>& everything,
                         const std::vector<std::string>& args = {}, const Env& extra = {}) {
  std::multiset<std::string> together;
  for (int k = 1; k <= total; ++k) {
    Env env = Project::partition(k, total);
    env.insert(extra.begin(), extra.end());
    const Project::Run run = project.ctest(env, args);
    EXPECT_EQ(run.result.exit_code, 0) << run.result.out << run.result.err;
    const std::multiset<std::string> mine = as_multiset(run.ran);
    const bool needs_db = std::any_of(run.ran.begin(), run.ran.end(), [](const std::string& n) {
      return n.starts_with("db.") && !is_fixture(n);
    });
    for (const std::string& name : run.ran) {
      EXPECT_EQ(mine.count(name), 1u) << name << " ran twice in partition " << k << "/" << total;
      if (is_fixture(name)) {
        EXPECT_TRUE(needs_db) << name << " ran in partition " << k << "/" << total << " which needs no db";
      } else {
        together.insert(name);
      }
    }
    if (needs_db) {
      EXPECT_EQ(mine.count("db.setup"), 1u) << "partition " << k << "/" << total;
      EXPECT_EQ(mine.count("db.cleanup"), 1u) << "partition " << k << "/" << total;
    }
    // What ran is what the partition's record says it was given.
    const nlohmann::json record = project.record(k, total);
    std::set<std::string> given;
    for (const auto& name : record["tests"]) given.insert(name.get<std::string>());
    given.erase(
        "off.disabled");  // Given to one partition, where ctest lists it as disabled and runs nothing.
    EXPECT_EQ(as_set(run.ran), given) << "partition " << k << "/" << total;
  }
  std::multiset<std::string> expected;
  for (const std::string& name : everything) {
    if (!is_fixture(name)) expected.insert(name);
  }
  EXPECT_EQ(together, expected) << "with " << total << " partitions";
}

class ModuleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { set_up("module"); }
  // The fixture built in the scratch directory `name`; one per ctest entry, so that entries run at once.
  static void set_up(const std::string& name, const std::vector<std::string>& extra = {}) {
    project_ = new Project(Project::make(name, "executable", extra));
    const Project::Run all = project_->ctest({});
    ASSERT_EQ(all.result.exit_code, 0) << all.result.out << all.result.err;
    everything_ = new std::multiset<std::string>(as_multiset(all.ran));
  }
  static void TearDownTestSuite() {
    delete project_;
    delete everything_;
  }

  static Project* project_;
  static std::multiset<std::string>* everything_;
};

Project* ModuleTest::project_ = nullptr;
std::multiset<std::string>* ModuleTest::everything_ = nullptr;

// Exactly once in the field (CI shapes where jobs could see different inputs), on a build of its own: ctest
// entry module.field, beside module.partitions.
class FieldTest : public ModuleTest {
 protected:
  static void SetUpTestSuite() { set_up("field", {"-DTLB_FIXTURE_SUBDIRECTORY=ON"}); }
};

TEST_F(ModuleTest, TheUnpartitionedRunHasEveryKindOfTest) {
  for (const std::string& name : kHostileNames) EXPECT_EQ(everything_->count(name), 1u) << name;
  for (const char* name : {"post:Discovered.Slow", "pre:Discovered.Slow", "post:Small/Sizes.Fit/2",
                           "catch:catch case with spaces", "catch:catch.third", "doctest:doctest.second",
                           "db.setup", "db.read", "chain.second"}) {
    EXPECT_EQ(everything_->count(name), 1u) << name;
  }
  EXPECT_EQ(everything_->count("off.disabled"), 0u);
}

TEST_F(ModuleTest, WithoutAPartitionCtestIsUnchanged) {
  const Project baseline = Project::make("baseline", "none");
  auto listing = [](const Project& project) {
    const Project::Run run = project.ctest({}, {"-N"});
    std::string out = run.result.out;
    const std::string dir = project.build.string();
    for (std::size_t at; (at = out.find(dir)) != std::string::npos;) out.replace(at, dir.size(), "<build>");
    return out;
  };
  EXPECT_EQ(listing(*project_), listing(baseline));
  const Project::Run with = project_->ctest({});
  const Project::Run without = baseline.ctest({});
  EXPECT_EQ(with.result.err, without.result.err);
  EXPECT_EQ(as_multiset(with.ran), as_multiset(without.ran));
  EXPECT_EQ(lines_of(with.result.out).size(), lines_of(without.result.out).size());
  EXPECT_FALSE(fs::exists(project_->build / "tlb")) << "no record without a partition";
}

TEST_F(ModuleTest, PartitionsRunEveryTestExactlyOnce) {
  for (int total = 1; total <= 5; ++total) expect_exactly_once(*project_, total, *everything_);
}

TEST_F(ModuleTest, TheHookSaysWhatItDidInOneLine) {
  const Project::Run run = project_->ctest(Project::partition(2, 3));
  ASSERT_EQ(run.result.exit_code, 0) << run.result.err;
  const std::vector<std::string> lines = lines_of(run.result.err);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(lines.back().starts_with("TLB: partition 2/3 (TLB_PARTITION_NUMBER) runs ")) << run.result.err;
}

TEST_F(ModuleTest, OtherWaysToNameThePartition) {
  const std::set<std::string> second = as_set(project_->ctest(Project::partition(2, 3)).ran);
  EXPECT_EQ(as_set(project_->ctest({{"TLB_PARTITION", "2/3"}}).ran), second);
  const auto with_auto = [&](Env env) {
    env["TLB_TOTAL_PARTITIONS"] = "auto";
    return as_set(project_->ctest(env).ran);
  };
  EXPECT_EQ(with_auto({{"CI_NODE_INDEX", "2"}, {"CI_NODE_TOTAL", "3"}}), second);
  EXPECT_EQ(with_auto({{"CIRCLE_NODE_INDEX", "1"}, {"CIRCLE_NODE_TOTAL", "3"}}), second);
  EXPECT_EQ(with_auto({{"BUILDKITE_PARALLEL_JOB", "1"}, {"BUILDKITE_PARALLEL_JOB_COUNT", "3"}}), second);
}

// GitLab sets CI_NODE_INDEX and CI_NODE_TOTAL on every job of a `parallel: matrix:`: without
// TLB_TOTAL_PARTITIONS=auto the job runs every test, with one line saying why; a CI total of 1 is no
// partition, and the hook returns at once (no listing, no record).
TEST_F(FieldTest, CiNativeVariablesSplitOnlyWithAuto) {
  fs::remove_all(project_->build / "tlb");
  const Project::Run matrix = project_->ctest({{"CI_NODE_INDEX", "2"}, {"CI_NODE_TOTAL", "3"}});
  EXPECT_EQ(matrix.result.exit_code, 0) << matrix.result.out << matrix.result.err;
  EXPECT_EQ(as_multiset(matrix.ran), *everything_);
  EXPECT_EQ(matrix.result.err,
            "TLB: CI_NODE_INDEX=2 CI_NODE_TOTAL=3 ignored: TLB splits by the CI's own variables only with "
            "TLB_TOTAL_PARTITIONS=auto, so this job runs every test.\n");
  EXPECT_FALSE(fs::exists(project_->build / "tlb")) << "no split, no record";

  for (const Env& single :
       {Env{{"CI_NODE_TOTAL", "1"}, {"TLB_TOTAL_PARTITIONS", "auto"}},
        Env{{"CIRCLE_NODE_INDEX", "0"}, {"CIRCLE_NODE_TOTAL", "1"}},
        Env{{"CIRCLE_NODE_INDEX", "0"}, {"CIRCLE_NODE_TOTAL", "1"}, {"TLB_TOTAL_PARTITIONS", "auto"}}}) {
    Env env = single;
    // A store that cannot be read would warn: the hook must not get as far as reading it.
    env["TLB_STORE"] = (project_->build / "no-such-dir" / "timings.txt").string();
    const Project::Run run = project_->ctest(env);
    EXPECT_EQ(run.result.exit_code, 0) << run.result.out << run.result.err;
    EXPECT_EQ(as_multiset(run.ran), *everything_);
    EXPECT_EQ(run.result.err, "") << "the hook returns at once";
    EXPECT_FALSE(fs::exists(project_->build / "tlb")) << "no split, no record";
  }

  // TLB_TOTAL_PARTITIONS=auto outside a parallel CI job: a clear stop, no test run.
  const Project::Run nothing = project_->ctest({{"TLB_TOTAL_PARTITIONS", "auto"}});
  EXPECT_NE(nothing.result.exit_code, 0);
  EXPECT_TRUE(nothing.ran.empty()) << "no test may run";
  EXPECT_NE(
      one_line(nothing.result.err).find("TLB_TOTAL_PARTITIONS=auto, but no CI partition variable is set"),
      std::string::npos)
      << nothing.result.err;
}

TEST_F(ModuleTest, RegexExcludeAndLabelNarrowThePartition) {
  const std::set<std::string> partition = as_set(project_->ctest(Project::partition(1, 2)).ran);
  const std::regex plain("plain");
  std::set<std::string> expected;
  for (const std::string& name : partition) {
    if (std::regex_search(name, plain)) expected.insert(name);
  }
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(as_set(project_->ctest(Project::partition(1, 2), {"-R", "plain"}).ran), expected);

  std::set<std::string> rest;
  for (const std::string& name : partition) {
    if (!std::regex_search(name, plain)) rest.insert(name);
  }
  EXPECT_EQ(as_set(project_->ctest(Project::partition(1, 2), {"-E", "plain"}).ran), rest);

  std::set<std::string> even;  // The tests labelled "even" in the fixture.
  for (const std::string& name : partition) {
    if (std::regex_match(name, std::regex(R"(plain\.(2|4|6|8|10|12))"))) even.insert(name);
  }
  ASSERT_FALSE(even.empty());
  EXPECT_EQ(as_set(project_->ctest(Project::partition(1, 2), {"-L", "even"}).ran), even);
}

TEST_F(ModuleTest, ParallelRunsTheSameTests) {
  for (int k = 1; k <= 3; ++k) {
    const Project::Run serial = project_->ctest(Project::partition(k, 3));
    const Project::Run parallel = project_->ctest(Project::partition(k, 3), {"-j", "2"});
    EXPECT_EQ(parallel.result.exit_code, 0) << parallel.result.err;
    EXPECT_EQ(as_multiset(parallel.ran), as_multiset(serial.ran)) << "partition " << k;
  }
}

// The names ctest starts, in order, from its "Start N: name" lines.
std::vector<std::string> started(const std::string& out) {
  static const std::regex start(R"(^ +Start +[0-9]+: (.*)$)");
  std::vector<std::string> names;
  for (const std::string& line : lines_of(out)) {
    std::smatch match;
    if (std::regex_match(line, match, start)) names.push_back(match[1]);
  }
  return names;
}

TEST_F(ModuleTest, FailedLastTimeFirstThenLongestFirst) {
  // History: plain.N took N seconds, except plain.3, which failed last time.
  std::string timings = "# tlb timings v1\n# seconds runs last-result last-seen name\n";
  for (int n = 1; n <= 12; ++n) {
    timings += std::to_string(n) + ".000000 3 " + (n == 3 ? "failed" : "passed") + " 2026-11-01 plain." +
               std::to_string(n) + "\n";
  }
  std::ofstream(project_->store) << timings;
  for (const char* jobs : {"1", "2"}) {
    const Project::Run run = project_->ctest(Project::partition(1, 1), {"-R", "^plain", "-j", jobs});
    std::vector<std::string> expected = {"plain.3"};
    for (int n = 12; n >= 1; --n) {
      if (n != 3) expected.push_back("plain." + std::to_string(n));
    }
    EXPECT_EQ(started(run.result.out), expected) << "-j " << jobs << "\n" << run.result.out;
  }
  fs::remove(project_->store);
}

TEST_F(ModuleTest, TheRecordSaysWhatThePartitionWasGiven) {
  ASSERT_EQ(project_->ctest(Project::partition(3, 4)).result.exit_code, 0);
  const nlohmann::json record = project_->record(3, 4);
  EXPECT_EQ(record["kind"], "tlb-partition-record");
  EXPECT_EQ(record["partition"], 3);
  EXPECT_EQ(record["total"], 4);
  std::set<std::string> all;
  for (const auto& name : record["all_tests"]) all.insert(name.get<std::string>());
  std::set<std::string> expected = as_set({everything_->begin(), everything_->end()});
  expected.insert("off.disabled");  // Listed, so that one partition shows it as disabled, as ctest would.
  EXPECT_EQ(all, expected);
  // A later run with another total replaces only its own record (issue 22).
  ASSERT_EQ(project_->ctest(Project::partition(1, 2)).result.exit_code, 0);
  EXPECT_TRUE(fs::exists(project_->build / "tlb" / "partition-3-of-4.json"));
  EXPECT_TRUE(fs::exists(project_->build / "tlb" / "partition-1-of-2.json"));
}

TEST_F(ModuleTest, ABadPartitionStopsCtestWithTlbsMessage) {
  const Project::Run run = project_->ctest(Project::partition(5, 4));
  EXPECT_NE(run.result.exit_code, 0);
  EXPECT_TRUE(run.ran.empty()) << "no test may run";
  EXPECT_NE(run.result.err.find("TLB_PARTITION_NUMBER"), std::string::npos) << run.result.err;
}

// The CI flow of README.md end to end: each partition runs with plain ctest, `tlb record` completes its
// record, `tlb verify` proves exactly-once, `tlb merge` joins the history; a lost record fails verify, naming
// it.
TEST_F(ModuleTest, RecordedPartitionsMergeAndVerify) {
  const fs::path runs = scratch("ci-runs");
  const fs::path history = runs / "timings.txt";
  constexpr int kTotal = 3;
  std::vector<std::string> records;
  for (int k = 1; k <= kTotal; ++k) {
    const fs::path job = runs / ("job-" + std::to_string(k));
    fs::create_directories(job / "tlb");
    const Project::Run run =
        project_->ctest(Project::partition(k, kTotal), {"--output-junit", (job / "junit.xml").string()});
    ASSERT_EQ(run.result.exit_code, 0) << run.result.err;
    const std::string record = "partition-" + std::to_string(k) + "-of-" + std::to_string(kTotal) + ".json";
    fs::copy_file(project_->build / "tlb" / record, job / "tlb" / record);
    // Each job updates its own copy of the history, as CI jobs do.
    check(run_process({TLB_EXECUTABLE, "record", "--store", (job / "timings.txt").string(), job.string()}),
          "tlb record, partition " + std::to_string(k));
    records.push_back((job / "tlb" / record).string());
  }
  std::vector<std::string> verify = {TLB_EXECUTABLE, "verify"};
  verify.insert(verify.end(), records.begin(), records.end());
  const ProcessResult proven = run_process(verify);
  EXPECT_EQ(proven.exit_code, 0) << proven.out << proven.err;

  std::vector<std::string> merge = {TLB_EXECUTABLE, "merge", "-o", history.string()};
  merge.insert(merge.end(), records.begin(), records.end());
  check(run_process(merge), "tlb merge");
  // Every test that ran has a duration in the merged history, hostile names included.
  const std::string merged = read_text(history);
  for (const std::string& name : *everything_) {
    EXPECT_NE(merged.find(" " + name + "\n"), std::string::npos) << name << " is not in the merged history";
  }

  verify.erase(verify.begin() + 3);  // The record of partition 2 is lost.
  const ProcessResult missing = run_process(verify);
  EXPECT_EQ(missing.exit_code, 1) << missing.out << missing.err;
  EXPECT_NE((missing.out + missing.err).find("partition 2"), std::string::npos) << missing.out << missing.err;
}

// The same CI flow against a real `tlb server` on loopback: the partitions of one run split on the run's
// frozen snapshot and report as they split, `tlb record` sends the results, and `tlb verify` asks the server.
TEST_F(ModuleTest, AgainstATlbServerPartitionsReportAndTheServerVerifies) {
  const fs::path dir = scratch("server-flow");
  tlb::testing::ServerProcess server({TLB_EXECUTABLE, "server", "--bind", "127.0.0.1", "--port", "0",
                                      "--data-dir", (dir / "data").string(), "--exit-after", "600"},
                                     "tlb server: listening on");
  constexpr int kTotal = 4;
  const auto run_env = [&](const std::string& version) {
    return Env{{"TLB_STORE", server.url()}, {"TLB_JOB_VERSION", version}};
  };
  const auto flow = [&](const std::string& version, int partitions) {
    for (int k = 1; k <= partitions; ++k) {
      const fs::path junit = dir / (version + "-" + std::to_string(k) + ".xml");
      Env env = run_env(version);
      env.merge(Project::partition(k, kTotal));
      const Project::Run run = project_->ctest(env, {"--output-junit", junit.string()});
      if (run.result.exit_code != 0) {
        ADD_FAILURE() << version << ", partition " << k << ":\n" << run.result.out << run.result.err;
        return;
      }
      const nlohmann::json record = project_->record(k, kTotal);
      EXPECT_EQ(record["history_source"], server.url());
      EXPECT_EQ(record["job"], "tlb_module_fixture");  // The project's name, the hook's default job.
      EXPECT_EQ(record["job_version"], version);
      // The record names its server, job and run: `tlb record` needs nothing more.
      check(run_process(
                {TLB_EXECUTABLE, "record", junit.string(),
                 (project_->build / "tlb" / ("partition-" + std::to_string(k) + "-of-4.json")).string()}),
            "tlb record, partition " + std::to_string(k));
    }
  };
  const auto verify = [&](const std::string& version) {
    Env env = run_env(version);
    env["TLB_JOB_NAME"] = "tlb_module_fixture";
    return run_process({TLB_EXECUTABLE, "verify"}, env);
  };

  flow("run-1", kTotal);
  const ProcessResult proven = verify("run-1");
  EXPECT_EQ(proven.exit_code, 0) << proven.out << proven.err;
  EXPECT_NE(proven.out.find("proven: each of the"), std::string::npos) << proven.out;
  // A new job: its history is empty (the hash of no lines is FNV-1a's offset basis).
  EXPECT_EQ(project_->record(kTotal, kTotal)["history_hash"], "fnv1a64:cbf29ce484222325");

  // The next run splits on what run-1 recorded, every partition on the same frozen snapshot.
  flow("run-2", kTotal);
  EXPECT_EQ(project_->record(kTotal, kTotal)["history_status"], "ok");
  EXPECT_NE(project_->record(kTotal, kTotal)["history_hash"], "fnv1a64:cbf29ce484222325");
  const ProcessResult second = verify("run-2");
  EXPECT_EQ(second.exit_code, 0) << second.out << second.err;

  // A run whose last partition never reported is not proven, and the server says which one.
  flow("run-3", kTotal - 1);
  const ProcessResult incomplete = verify("run-3");
  EXPECT_EQ(incomplete.exit_code, 1) << incomplete.out << incomplete.err;
  EXPECT_NE(incomplete.out.find("partition 4/4: no record"), std::string::npos) << incomplete.out;

  // A partition that contradicts its run (another total) is stopped before any test runs.
  Env other = run_env("run-2");
  other.merge(Project::partition(1, 3));
  const Project::Run conflicting = project_->ctest(other);
  EXPECT_NE(conflicting.result.exit_code, 0);
  EXPECT_TRUE(conflicting.ran.empty()) << "no test may run";
  EXPECT_NE(conflicting.result.err.find("TLB:"), std::string::npos) << conflicting.result.err;

  // The server down: a partition of a CI run stops before any test, since it cannot split on the history the
  // others read, nor tell the server...
  const std::string url = server.url();
  server.stop();
  Env down = run_env("run-4");
  down.merge(Project::partition(2, kTotal));
  down["TLB_SERVER_RETRY_SECONDS"] = "1";  // Sent again for 1 s, not the 10 s by default.
  const Project::Run stopped = project_->ctest(down);
  EXPECT_NE(stopped.result.exit_code, 0);
  EXPECT_TRUE(stopped.ran.empty()) << "no test may run";
  EXPECT_NE(one_line(stopped.result.err)
                .find(url + ": no answer, so this partition of run run-4 cannot split on the "
                            "history the other partitions read"),
            std::string::npos)
      << stopped.result.err;
  // ...while a job outside any CI run goes on without history, once warned, and the record says so...
  down.erase("TLB_JOB_VERSION");
  const Project::Run alone = project_->ctest(down);
  EXPECT_EQ(alone.result.exit_code, 0) << alone.result.out << alone.result.err;
  EXPECT_FALSE(alone.ran.empty());
  EXPECT_EQ(project_->record(2, kTotal)["history_status"], "unavailable");
  std::size_t warnings = 0;
  for (const std::string& line : lines_of(alone.result.out + alone.result.err))
    warnings += line.find(url) != std::string::npos && line.starts_with("tlb: warning");
  EXPECT_EQ(warnings, 1u) << "one warning naming the server:\n" << alone.result.out << alone.result.err;
  // And the summary line says so too (issue 22).
  EXPECT_NE(alone.result.err.find("split WITHOUT history (unavailable: " + url + ")"), std::string::npos)
      << alone.result.err;
  // ...unless TLB_STRICT is set: then nothing runs.
  down["TLB_STRICT"] = "1";
  const Project::Run strict = project_->ctest(down);
  EXPECT_NE(strict.result.exit_code, 0);
  EXPECT_TRUE(strict.ran.empty()) << "no test may run";
  EXPECT_NE(strict.result.err.find(url), std::string::npos) << strict.result.err;
}

// Partitions of one run whose jobs differ in an input of the split (here CTEST_PARALLEL_LEVEL on one runner):
// with files, `tlb verify` refuses their records, naming the input.
TEST_F(FieldTest, WithFilesVerifyRefusesPartitionsSplitOnOtherInputs) {
  const fs::path dir = scratch("field-files");
  fs::create_directories(dir / "records");
  std::vector<std::string> verify = {TLB_EXECUTABLE, "verify"};
  const auto junit = [&](int k) { return (dir / ("junit-" + std::to_string(k) + ".xml")).string(); };
  const auto name = [](int k) { return "partition-" + std::to_string(k) + "-of-2.json"; };
  for (int k = 1; k <= 2; ++k) {
    Env env = Project::partition(k, 2);
    if (k == 2) env["CTEST_PARALLEL_LEVEL"] = "3";
    const Project::Run run = project_->ctest(env, {"--output-junit", junit(k)});
    ASSERT_EQ(run.result.exit_code, 0) << run.result.out << run.result.err;
    fs::copy_file(project_->build / "tlb" / name(k), dir / "records" / name(k));
    verify.push_back((dir / "records" / name(k)).string());
  }
  EXPECT_EQ(project_->record(2, 2)["fingerprint"]["parallel_level"], 3);
  // Recorded after both ran, so that both split on the same history and only the parallel level differs.
  for (int k = 1; k <= 2; ++k) {
    check(run_process({TLB_EXECUTABLE, "record", junit(k), (dir / "records" / name(k)).string()}),
          "tlb record " + name(k));
  }
  const ProcessResult refused = run_process(verify);
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_NE(
      refused.out.find("split with other inputs than the others: the parallel level (TLB_PARALLEL_LEVEL, "
                       "CTEST_PARALLEL_LEVEL): "),
      std::string::npos)
      << refused.out;
}

// With a server, the run's ledger refuses a partition split on other inputs than the run's first, and that
// job's ctest stops before any test, naming what differs.
TEST_F(FieldTest, WithAServerAPartitionSplitOnOtherInputsStopsBeforeAnyTest) {
  const fs::path dir = scratch("field-server");
  tlb::testing::ServerProcess server({TLB_EXECUTABLE, "server", "--bind", "127.0.0.1", "--port", "0",
                                      "--data-dir", (dir / "data").string(), "--exit-after", "300"},
                                     "tlb server: listening on");
  Env first = Project::partition(1, 2);
  first.merge(Env{{"TLB_STORE", server.url()}, {"TLB_JOB_VERSION", "run-1"}});
  const Project::Run accepted = project_->ctest(first);
  ASSERT_EQ(accepted.result.exit_code, 0) << accepted.result.out << accepted.result.err;

  Env second = Project::partition(2, 2);
  second.merge(
      Env{{"TLB_STORE", server.url()}, {"TLB_JOB_VERSION", "run-1"}, {"TLB_PARTITION_WEIGHTS", "1,2"}});
  const Project::Run refused = project_->ctest(second);
  EXPECT_NE(refused.result.exit_code, 0);
  EXPECT_TRUE(refused.ran.empty()) << "no test may run";
  EXPECT_NE(one_line(refused.result.err)
                .find("partition 2/2 split on other inputs than partition 1/2: the weights "
                      "(TLB_PARTITION_WEIGHTS, in thousandths): 1000,2000 against equal"),
            std::string::npos)
      << refused.result.err;
  EXPECT_NE(refused.result.err.find("TLB: "), std::string::npos) << refused.result.err;

  // The same job with the run's inputs joins it.
  second.erase("TLB_PARTITION_WEIGHTS");
  const Project::Run joined = project_->ctest(second);
  EXPECT_EQ(joined.result.exit_code, 0) << joined.result.out << joined.result.err;
  EXPECT_FALSE(joined.ran.empty());
}

// Plan once, run N times: one job writes the whole plan, each partition's hook takes its share of it
// (TLB_PLAN), whatever its own options, and refuses a plan made for another test list.
TEST_F(FieldTest, PlanOnceRunNTimes) {
  const fs::path dir = scratch("field-plan");
  const std::string plan = (dir / "plan.json").string();
  check(run_process(
            {TLB_EXECUTABLE, "plan", "--build-dir", project_->build.string(), "--total", "3", "--out", plan}),
        "tlb plan --out");
  const nlohmann::json written = nlohmann::json::parse(read_text(plan));
  // A job with other options (its runner's CTEST_PARALLEL_LEVEL) still takes the plan's share.
  expect_exactly_once(*project_, 3, *everything_, {}, {{"TLB_PLAN", plan}, {"CTEST_PARALLEL_LEVEL", "2"}});
  EXPECT_EQ(project_->record(3, 3)["fingerprint"], written["fingerprint"]);
  EXPECT_EQ(written["fingerprint"]["parallel_level"], 1);

  // A plan made for another test list stops ctest before any test.
  const fs::path list = dir / "fewer.txt";
  std::ofstream(list) << "plain.one\nplain.two\n";
  const std::string other = (dir / "other.json").string();
  check(run_process({TLB_EXECUTABLE, "plan", "--tests", list.string(), "--total", "3", "--out", other}),
        "tlb plan --tests --out");
  Env env = Project::partition(1, 3);
  env["TLB_PLAN"] = other;
  const Project::Run refused = project_->ctest(env);
  EXPECT_NE(refused.result.exit_code, 0);
  EXPECT_TRUE(refused.ran.empty()) << "no test may run";
  EXPECT_NE(one_line(refused.result.err).find("the plan was made for another test list (2 tests"),
            std::string::npos)
      << refused.result.err;
}

// ctest started in a subdirectory of the build tree never reads the top's hook: with a partition set it stops
// before any test, rather than run the subdirectory in full in every partition. From the top, the
// subdirectory's tests are split with the others.
TEST_F(FieldTest, CtestInASubdirectoryWithAPartitionStops) {
  ASSERT_EQ(everything_->count("sub.one"), 1u);
  expect_exactly_once(*project_, 2, *everything_);

  const auto in_sub = [&](const Env& env) {
    Env full = env;
    full["TLB_FAKE_LOG"] = (project_->build.parent_path() / "ran.log").string();
    fs::remove(full["TLB_FAKE_LOG"]);
    Project::Run run;
    run.result = run_process({CTEST_COMMAND, "--test-dir", (project_->build / "sub").string()}, full);
    run.ran = lines_of(read_text(full["TLB_FAKE_LOG"]));
    return run;
  };
  const Project::Run stopped = in_sub(Project::partition(1, 2));
  EXPECT_NE(stopped.result.exit_code, 0);
  EXPECT_TRUE(stopped.ran.empty()) << "no test may run";
  EXPECT_NE(one_line(stopped.result.err)
                .find("TLB: a partition is set (TLB_PARTITION_NUMBER=1 TLB_TOTAL_PARTITIONS=2) but "
                      "ctest was started in a subdirectory of the build tree"),
            std::string::npos)
      << stopped.result.err;
  // Without a partition, the subdirectory runs as before.
  const Project::Run plain = in_sub({});
  EXPECT_EQ(plain.result.exit_code, 0) << plain.result.out << plain.result.err;
  EXPECT_EQ(as_set(plain.ran), (std::set<std::string>{"sub.one", "sub.two"}));
  EXPECT_EQ(plain.result.err, "");
}

TEST(ModuleFailures, AMissingOrBrokenTlbIsOneClearErrorAndNoRun) {
  const fs::path dir = scratch("broken");
  const fs::path broken = dir / "broken-tlb";
  std::ofstream(broken) << "#!/bin/sh\necho 'broken tlb' >&2\nexit 3\n";
  fs::permissions(broken, fs::perms::owner_all);
  for (const std::string& executable : {(dir / "missing-tlb").string(), broken.string()}) {
    const Project project = Project::make("broken-project", "executable", {"-DTLB_EXECUTABLE=" + executable});
    const Project::Run run = project.ctest(Project::partition(1, 2));
    EXPECT_NE(run.result.exit_code, 0) << executable;
    EXPECT_TRUE(run.ran.empty()) << executable << ": no test may run";
    EXPECT_NE(run.result.err.find("TLB: "), std::string::npos) << run.result.err;
    // Without a partition the project still runs every test: TLB is not involved.
    EXPECT_FALSE(project.ctest({}).ran.empty());
  }
}

// A multi-configuration generator: the hook reads the settings of the configuration ctest runs (-C), and
// lists the tests of that configuration. Only Release is built, so -C Debug would find no test programs.
TEST(MultiConfig, PartitionsOfTheConfigurationCtestRuns) {
  const Project project = Project::make("multi-config", "executable", {}, "Ninja Multi-Config", "Release");
  const Project::Run all = project.ctest({}, {"-C", "Release"});
  ASSERT_EQ(all.result.exit_code, 0) << all.result.out << all.result.err;
  ASSERT_FALSE(all.ran.empty());
  expect_exactly_once(project, 3, as_multiset(all.ran), {"-C", "Release"});
  EXPECT_TRUE(fs::exists(project.build / "CMakeFiles" / "TLB" / "settings-Release.cmake"));
  EXPECT_TRUE(fs::exists(project.build / "CMakeFiles" / "TLB" / "settings-Debug.cmake"));
}

// The three ways a project adopts TLB: each builds the tlb program its own way, and plain ctest partitions.
void adopt(const std::string& adoption, const std::vector<std::string>& extra) {
  const Project project = Project::make("adoption-" + adoption, adoption, extra);
  const Project::Run all = project.ctest({});
  ASSERT_EQ(all.result.exit_code, 0) << all.result.out << all.result.err;
  ASSERT_FALSE(all.ran.empty());
  expect_exactly_once(project, 2, as_multiset(all.ran));
}

// add_subdirectory(tlb EXCLUDE_FROM_ALL): the default build still builds the tlb program the hook runs, the
// light client (a subproject's default), which says how to get the server side.
TEST(Adoption, AddSubdirectoryExcludeFromAll) {
  adopt("subdirectory", {"-DTLB_EXECUTABLE="});
  const fs::path tlb = scratch_root() / "adoption-subdirectory" / "build" / "tlb" / "src" / "tlb";
  ASSERT_TRUE(fs::exists(tlb)) << "the default build did not build the tlb program";
  const ProcessResult server = run_process({tlb.string(), "server", "--port", "0"});
  EXPECT_EQ(server.exit_code, 2);
  EXPECT_NE(server.err.find("-DTLB_BUILD_SERVER=ON"), std::string::npos) << server.err;
}

TEST(Adoption, FetchContentFromALocalPath) {
  adopt("fetchcontent", {"-DTLB_EXECUTABLE="});
}

TEST(Adoption, InstalledPackage) {
  const fs::path prefix = scratch("prefix");
  check(run_process({cmake_command(), "--install", TLB_BINARY_DIR, "--prefix", prefix.string()}),
        "installing TLB");
  ASSERT_TRUE(fs::exists(prefix / "bin" / "tlb"));
  adopt("package", {"-DTLB_EXECUTABLE=", "-DCMAKE_PREFIX_PATH=" + prefix.string()});
}

// Project shapes adopters have (tests/module/c_project is a C-only project): each partitions exactly once.

// The value of `name` in a build tree's CMakeCache.txt; nullopt when the cache has no such entry.
std::optional<std::string> cached(const Project& project, const std::string& name) {
  for (const std::string& line : lines_of(read_text(project.build / "CMakeCache.txt"))) {
    if (line.starts_with(name + ":")) return line.substr(line.find('=') + 1);
  }
  return std::nullopt;
}

Project c_project(const std::string& name, const std::string& adoption,
                  const std::vector<std::string>& extra) {
  return Project::make(name, adoption, extra, "Ninja", "", TLB_MODULE_C_PROJECT);
}

// tinyxml2 not installed: TLB builds it from a release archive checked against its SHA256, here Debian's
// source archive of tinyxml2 (scripts/setup.sh downloads it), as a consumer without the -dev package would
// from the pinned upstream URL. The tlb program built with it reads ctest's JUnit XML, and partitions exactly
// once.
TEST(Adoption, MissingTinyxml2BuiltFromItsArchive) {
  const std::string archive = TLB_TEST_TINYXML2_ARCHIVE;
  if (archive.empty())
    GTEST_SKIP() << "no tinyxml2 source archive in ~/.cache/tlb/debian-src (scripts/setup.sh downloads it)";
  const ProcessResult sum = run_process({cmake_command(), "-E", "sha256sum", archive});
  ASSERT_EQ(sum.exit_code, 0) << sum.err;
  const std::string sha256 = sum.out.substr(0, sum.out.find(' '));
  const std::vector<std::string> fetched = {"-DTLB_EXECUTABLE=", "-DCMAKE_DISABLE_FIND_PACKAGE_tinyxml2=ON",
                                            "-DTLB_TINYXML2_ARCHIVE=" + archive};

  // An archive that is not the one pinned stops configure.
  const fs::path dir = scratch("tinyxml2-wrong-hash");
  std::vector<std::string> wrong = {cmake_command(),
                                    "-S",
                                    TLB_MODULE_C_PROJECT,
                                    "-B",
                                    (dir / "build").string(),
                                    "-G",
                                    "Ninja",
                                    "-DTLB_ADOPTION=subdirectory",
                                    "-DTLB_SOURCE_DIR=" TLB_SOURCE_DIR,
                                    "-DTLB_TINYXML2_SHA256=" + std::string(64, '0')};
  wrong.insert(wrong.end(), fetched.begin(), fetched.end());
  const ProcessResult refused = run_process(wrong, {{"HOME", dir.string()}});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(one_line(refused.out + refused.err).find("does not match expected value"), std::string::npos)
      << refused.out << refused.err;

  std::vector<std::string> extra = fetched;
  extra.push_back("-DTLB_TINYXML2_SHA256=" + sha256);
  const Project project =
      Project::make("tinyxml2-fetched", "subdirectory", extra, "Ninja", "", TLB_MODULE_C_PROJECT);
  EXPECT_TRUE(fs::exists(project.build / "_deps" / "tlb_tinyxml2-src" / "tinyxml2.cpp"));
  EXPECT_TRUE(fs::exists(project.build / "tlb" / "src" / "libtlb_tinyxml2.a"));
  const Project::Run all = project.ctest({}, {"--output-junit", "junit.xml"});
  ASSERT_EQ(all.result.exit_code, 0) << all.result.out << all.result.err;
  expect_exactly_once(project, 2, as_multiset(all.ran));
  const fs::path tlb = project.build / "tlb" / "src" / "tlb";
  const ProcessResult parsed = run_process({tlb.string(), "parse", (project.build / "junit.xml").string()});
  ASSERT_EQ(parsed.exit_code, 0) << parsed.out << parsed.err;
  for (const std::string& name : all.ran) EXPECT_NE(parsed.out.find(name), std::string::npos) << name;
}

// A dependency never changes its consumer's cache: the consumer's build type, set or not, stays as it was.
TEST(Shapes, TheConsumersBuildTypeIsKept) {
  for (const std::string type : {"", "Debug"}) {
    const Project project = Project::configured("build-type-" + type, "subdirectory",
                                                {"-DTLB_EXECUTABLE=", "-DCMAKE_BUILD_TYPE=" + type}, "Ninja",
                                                TLB_MODULE_C_PROJECT);
    EXPECT_EQ(cached(project, "CMAKE_BUILD_TYPE"), type);
    EXPECT_EQ(cached(project, "TLB_BUILD_SERVER"), "OFF") << "a subproject builds the light client";
  }
}

// A dependency TLB cannot find stops configure with the Debian package that provides it (tinyxml2 too when
// its fallback, built from a release archive, is turned off).
TEST(Shapes, AMissingDependencyNamesItsDebianPackage) {
  const std::map<std::string, std::string> debian = {{"tinyxml2", "libtinyxml2-dev"},
                                                     {"nlohmann_json", "nlohmann-json3-dev"}};
  for (const auto& [package, debian_package] : debian) {
    const fs::path dir = scratch("missing-dependency");
    const ProcessResult configure =
        run_process({cmake_command(), "-S", TLB_MODULE_C_PROJECT, "-B", (dir / "build").string(), "-G",
                     "Ninja", "-DTLB_ADOPTION=subdirectory", "-DTLB_SOURCE_DIR=" TLB_SOURCE_DIR,
                     "-DTLB_FETCH_TINYXML2=OFF", "-DCMAKE_DISABLE_FIND_PACKAGE_" + package + "=ON"},
                    {{"HOME", dir.string()}});
    EXPECT_NE(configure.exit_code, 0) << package;
    const std::string err = one_line(configure.err);  // CMake wraps messages.
    EXPECT_NE(err.find("TLB needs " + package), std::string::npos) << configure.err;
    EXPECT_NE(err.find("apt-get install " + debian_package), std::string::npos) << configure.err;
  }
}

// The build type changed in an existing build tree: the hook finds the current configuration's settings only,
// so ctest without -C still partitions.
TEST(Shapes, BuildTypeChangedInPlace) {
  const Project project = c_project("retyped", "executable", {"-DCMAKE_BUILD_TYPE=Release"});
  ASSERT_TRUE(fs::exists(project.build / "CMakeFiles" / "TLB" / "settings-Release.cmake"));
  check(run_process({cmake_command(), "-DCMAKE_BUILD_TYPE=Debug", project.build.string()}), "reconfiguring");
  project.build_all();
  EXPECT_FALSE(fs::exists(project.build / "CMakeFiles" / "TLB" / "settings-Release.cmake"));
  EXPECT_TRUE(fs::exists(project.build / "CMakeFiles" / "TLB" / "settings-Debug.cmake"));
  const Project::Run all = project.ctest({});
  ASSERT_EQ(all.result.exit_code, 0) << all.result.out << all.result.err;
  expect_exactly_once(project, 2, as_multiset(all.ran));
}

// README's flow: a learning run with no partition set, then `tlb record build` with no --store: the build
// tree names its store (TLB_STORE), and the durations land there.
TEST(Shapes, RecordAfterALearningRunFindsTheBuildTreesStore) {
  const Project project = c_project("learning", "executable", {});
  const Project::Run run = project.ctest({}, {"--output-junit", "junit.xml"});
  ASSERT_EQ(run.result.exit_code, 0) << run.result.out << run.result.err;
  ASSERT_FALSE(fs::exists(project.store));
  const ProcessResult recorded = run_process({TLB_EXECUTABLE, "record", project.build.string()});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.out << recorded.err;
  const std::string history = read_text(project.store);
  for (const std::string& name : run.ran)
    EXPECT_NE(history.find(" " + name + "\n"), std::string::npos) << name;
}

// CPack's archive and Debian package of the build (the tlb program, the module, the package config): the
// archive, unpacked anywhere, is all a C-only project needs for find_package(TLB) and include(TLB).
TEST(Adoption, CPackArchiveAndDebianPackage) {
  const fs::path dir = scratch("cpack");
  const std::string cpack = (fs::path(cmake_command()).parent_path() / "cpack").string();
  check(
      run_process({cpack, "--config", std::string(TLB_BINARY_DIR) + "/CPackConfig.cmake", "-B", dir.string()},
                  {{"HOME", dir.string()}}),
      "cpack");
  std::vector<fs::path> archives, debs;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".tar.gz")) archives.push_back(entry.path());
    if (name.ends_with(".deb")) debs.push_back(entry.path());
  }
  ASSERT_EQ(archives.size(), 1u);
  ASSERT_EQ(debs.size(), 1u);
  const ProcessResult contents = run_process({"/usr/bin/dpkg-deb", "--contents", debs.front().string()});
  EXPECT_NE(contents.out.find("/bin/tlb"), std::string::npos) << contents.out;
  EXPECT_NE(contents.out.find("/cmake/TLB/TLBConfig.cmake"), std::string::npos) << contents.out;
  const ProcessResult depends =
      run_process({"/usr/bin/dpkg-deb", "--field", debs.front().string(), "Depends"});
  EXPECT_NE(depends.out.find("libcpp-httplib"), std::string::npos) << depends.out << depends.err;

  const fs::path unpacked = dir / "unpacked";
  fs::create_directories(unpacked);
  check(run_process(
            {"/bin/tar", "-xzf", archives.front().string(), "-C", unpacked.string(), "--strip-components=1"}),
        "unpacking the archive");
  ASSERT_TRUE(fs::exists(unpacked / "bin" / "tlb"));
  const Project project = c_project("cpack-consumer", "package",
                                    {"-DTLB_EXECUTABLE=", "-DCMAKE_PREFIX_PATH=" + unpacked.string()});
  const Project::Run all = project.ctest({});
  ASSERT_EQ(all.result.exit_code, 0) << all.result.out << all.result.err;
  expect_exactly_once(project, 2, as_multiset(all.ran));
}

}  // namespace
