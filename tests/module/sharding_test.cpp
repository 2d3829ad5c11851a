// Rough edges of sharding real projects (issue 22), each with the real cmake and ctest on the light fixture
// (tests/module/light: nothing to compile, so each case configures its own copy in a second or two).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/child_process.hpp"
#include "support/process.hpp"
#include "support/server_process.hpp"

namespace fs = std::filesystem;
using tlb::testing::ProcessResult;
using tlb::testing::read_text;
using tlb::testing::run_process;

namespace {

using Env = std::map<std::string, std::string>;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

std::set<std::string> as_set(const std::vector<std::string>& names) {
  return {names.begin(), names.end()};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void check(const ProcessResult& result, const std::string& what) {
  ASSERT_EQ(result.exit_code, 0) << what << " failed:\n" << result.out << "\n" << result.err;
}

Env partition(int number, int total) {
  return {{"TLB_PARTITION_NUMBER", std::to_string(number)}, {"TLB_TOTAL_PARTITIONS", std::to_string(total)}};
}

// A copy of the light fixture in a scratch directory (so a relative store lands there, not in the checkout),
// configured with `extra`.
struct Light {
  fs::path dir, source, build;

  static Light make(const std::string& name, const std::vector<std::string>& extra = {}) {
    Light light;
    light.dir = fs::path(TLB_MODULE_SCRATCH) / ("sharding-" + name);
    fs::remove_all(light.dir);
    light.source = light.dir / "source";
    light.build = light.dir / "build";
    fs::create_directories(light.dir);
    fs::copy(TLB_LIGHT_PROJECT, light.source, fs::copy_options::recursive);
    std::vector<std::string> configure = {CMAKE_COMMAND,
                                          "-S",
                                          light.source.string(),
                                          "-B",
                                          light.build.string(),
                                          "-G",
                                          "Ninja",
                                          "-DTLB_SOURCE_DIR=" TLB_SOURCE_DIR,
                                          "-DTLB_EXECUTABLE=" TLB_EXECUTABLE};
    configure.insert(configure.end(), extra.begin(), extra.end());
    const ProcessResult configured = run_process(configure);
    EXPECT_EQ(configured.exit_code, 0) << configured.out << configured.err;
    return light;
  }

  struct Run {
    ProcessResult result;
    std::vector<std::string> ran;  // As the tests logged themselves.
  };

  // ctest from the scratch directory with --test-dir, the variables in `env`, and `args`.
  Run ctest(const Env& env, const std::vector<std::string>& args = {}) const {
    const fs::path log = dir / "ran.log";
    fs::remove(log);
    Env full = env;
    full["TLB_FAKE_LOG"] = log.string();
    std::vector<std::string> argv = {CMAKE_COMMAND, "-E",         "chdir",       dir.string(),
                                     CTEST_COMMAND, "--test-dir", build.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    Run run;
    run.result = run_process(argv, full);
    run.ran = lines_of(read_text(log));
    return run;
  }

  // `tlb ARGS...` from the scratch directory.
  ProcessResult tlb(const std::vector<std::string>& args, const Env& env = {}) const {
    std::vector<std::string> argv = {CMAKE_COMMAND, "-E", "chdir", dir.string(), TLB_EXECUTABLE};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, env);
  }

  fs::path record_path(int number, int total) const {
    return build / "tlb" / ("partition-" + std::to_string(number) + "-of-" + std::to_string(total) + ".json");
  }

  std::vector<std::string> given(int number, int total) const {
    const nlohmann::json record = nlohmann::json::parse(read_text(record_path(number, total)));
    std::vector<std::string> names;
    for (const auto& name : record["tests"]) names.push_back(name.get<std::string>());
    return names;
  }
};

// Item 1: a partition's hook replaces only its own record; `tlb record <build>` completes the one the
// environment names, else the latest.
TEST(Sharding, EachPartitionKeepsItsOwnRecord) {
  const Light light = Light::make("records");
  const fs::path store = light.dir / "timings.txt";
  ASSERT_EQ(light.ctest(partition(1, 3)).result.exit_code, 0);
  ASSERT_EQ(light.ctest(partition(2, 3), {"--output-junit", "junit.xml"}).result.exit_code, 0);
  ASSERT_EQ(light.ctest(partition(3, 3), {"-N"}).result.exit_code, 0);
  for (int k = 1; k <= 3; ++k) EXPECT_TRUE(fs::exists(light.record_path(k, 3))) << "partition " << k;

  const ProcessResult named =
      light.tlb({"record", "--store", store.string(), light.build.string()}, partition(2, 3));
  EXPECT_EQ(named.exit_code, 0) << named.out << named.err;
  EXPECT_TRUE(contains(named.out, "completed partition 2/3")) << named.out;
  EXPECT_FALSE(contains(named.err, "have no result")) << named.err;

  const ProcessResult latest = light.tlb({"record", "--store", store.string(), light.build.string()});
  EXPECT_EQ(latest.exit_code, 0) << latest.out << latest.err;
  EXPECT_TRUE(contains(latest.out, "completed partition 3/3")) << latest.out;
}

// Item 4: tlb split's refusal is the message, not the SIGPIPE of the listing it stopped reading (a listing
// larger than a pipe holds).
TEST(Sharding, ABadPartitionNumberShowsTlbSplitsMessage) {
  const Light light = Light::make("bad-number", {"-DLIGHT_TESTS=1500"});
  const Light::Run run = light.ctest(partition(5, 4), {"-N"});
  EXPECT_NE(run.result.exit_code, 0);
  EXPECT_TRUE(contains(run.result.err, "TLB_PARTITION_NUMBER=5: out of range for TLB_TOTAL_PARTITIONS=4"))
      << run.result.err;
  EXPECT_FALSE(contains(run.result.err, "listing the tests")) << run.result.err;
}

// Item 4: TLB_PARTITION and one of the two variables, agreeing, name the partition.
TEST(Sharding, TlbPartitionWithAnAgreeingNumber) {
  const Light light = Light::make("agreeing");
  const std::set<std::string> second = as_set(light.ctest(partition(2, 3)).ran);
  ASSERT_FALSE(second.empty());
  const Light::Run both = light.ctest({{"TLB_PARTITION", "2/3"}, {"TLB_PARTITION_NUMBER", "2"}});
  EXPECT_EQ(both.result.exit_code, 0) << both.result.err;
  EXPECT_EQ(as_set(both.ran), second);
  const Light::Run total = light.ctest({{"TLB_PARTITION", "2/3"}, {"TLB_TOTAL_PARTITIONS", "3"}});
  EXPECT_EQ(as_set(total.ran), second) << total.result.err;
  const Light::Run disagreeing = light.ctest({{"TLB_PARTITION", "2/3"}, {"TLB_PARTITION_NUMBER", "1"}});
  EXPECT_NE(disagreeing.result.exit_code, 0);
  EXPECT_TRUE(disagreeing.ran.empty());
  EXPECT_TRUE(contains(disagreeing.result.err, "TLB_PARTITION=2/3 disagrees with TLB_PARTITION_NUMBER=1"))
      << disagreeing.result.err;
}

// Item 4: the summary line says how many of the partition's tests -R, -E and -L leave.
TEST(Sharding, TheSummarySaysWhatTheFiltersLeave) {
  const Light light = Light::make("filters");
  ASSERT_EQ(light.ctest(partition(1, 2)).result.exit_code, 0);
  const std::size_t all = light.given(1, 2).size();
  for (const std::vector<std::string>& filters :
       {std::vector<std::string>{"-R", "light\\.1"}, {"-E", "light"}, {"-L", "first"}}) {
    const Light::Run run = light.ctest(partition(1, 2), filters);
    ASSERT_EQ(run.result.exit_code, 0) << run.result.out << run.result.err;
    const std::string note = filters[0] + " " + filters[1] + " leave" + (run.ran.size() == 1 ? "s " : " ") +
                             std::to_string(run.ran.size()) + " of its " + std::to_string(all) + " tests";
    EXPECT_TRUE(contains(run.result.err, note)) << note << "\n" << run.result.err;
  }
}

// Item 2: a partition run again (a CI retry) is proven with its latest attempt; the first is history.
TEST(Sharding, ARetriedPartitionIsProvenWithItsLatestAttempt) {
  const Light light = Light::make("retry");
  constexpr int kTotal = 3;
  std::vector<std::string> records;
  const auto job = [&](int k, const std::string& name) {
    const fs::path dir = light.dir / name;
    fs::create_directories(dir / "tlb");
    const Light::Run run =
        light.ctest(partition(k, kTotal), {"--output-junit", (dir / "junit.xml").string()});
    ASSERT_EQ(run.result.exit_code, 0) << run.result.err;
    fs::copy_file(light.record_path(k, kTotal), dir / "tlb" / light.record_path(k, kTotal).filename());
    check(light.tlb({"record", "--store", (dir / "timings.txt").string(), dir.string()}),
          "tlb record " + name);
    records.push_back((dir / "tlb" / light.record_path(k, kTotal).filename()).string());
  };
  for (int k = 1; k <= kTotal; ++k) job(k, "job-" + std::to_string(k));
  job(2, "job-2-retry");
  std::vector<std::string> verify = {"verify"};
  verify.insert(verify.end(), records.begin(), records.end());
  const ProcessResult proven = light.tlb(verify);
  EXPECT_EQ(proven.exit_code, 0) << proven.out << proven.err;
  EXPECT_TRUE(contains(proven.out, "partition 2 retried once")) << proven.out;
  EXPECT_FALSE(contains(proven.out, "duplicated")) << proven.out;
}

// Item 3: ctest --rerun-failed after a partition runs exactly the tests that failed, with the partition set
// again, with none, or with another.
TEST(Sharding, RerunFailedRunsExactlyTheTestsThatFailed) {
  const Light light = Light::make("rerun");
  ASSERT_EQ(light.ctest(partition(2, 3), {"-N"}).result.exit_code, 0);
  std::vector<std::string> mine = light.given(2, 3);
  mine.erase(std::remove(mine.begin(), mine.end(), "skip.always"), mine.end());
  ASSERT_GE(mine.size(), 4u);
  // The last two in ctest's order, so that their numbers in the partition differ from those in the tree.
  std::sort(mine.begin(), mine.end(), [](const std::string& a, const std::string& b) {
    return std::stoi(a.substr(6)) < std::stoi(b.substr(6));
  });
  const std::set<std::string> failing = {mine[mine.size() - 2], mine.back()};
  const fs::path fail_list = light.dir / "fail.txt";
  std::ofstream(fail_list) << *failing.begin() << "\n" << *failing.rbegin() << "\n";
  Env env = partition(2, 3);
  env["TLB_LIGHT_FAIL"] = fail_list.string();
  EXPECT_NE(light.ctest(env).result.exit_code, 0);

  const Light::Run alone = light.ctest({{"TLB_LIGHT_FAIL", fail_list.string()}}, {"--rerun-failed"});
  EXPECT_EQ(as_set(alone.ran), failing) << alone.result.out << alone.result.err;
  const Light::Run same = light.ctest(env, {"--rerun-failed"});
  EXPECT_EQ(as_set(same.ran), failing) << same.result.out << same.result.err;
  EXPECT_TRUE(contains(same.result.err, "TLB: --rerun-failed: runs the 2 tests that failed last time"))
      << same.result.err;
  Env other = partition(1, 3);
  other["TLB_LIGHT_FAIL"] = fail_list.string();
  const Light::Run elsewhere = light.ctest(other, {"--rerun-failed"});
  EXPECT_EQ(as_set(elsewhere.ran), failing) << elsewhere.result.out << elsewhere.result.err;
}

// Item 7: a relative TLB_STORE is under the project's top source directory for the hook and for
// `tlb record`, wherever they run; a store the split cannot find is in the summary line.
TEST(Sharding, ARelativeStoreIsUnderTheSourceDirectory) {
  const Light light = Light::make("relative-store");
  Env env = partition(1, 2);
  env["TLB_STORE"] = "history/timings.txt";
  const fs::path expected = light.source / "history" / "timings.txt";
  const Light::Run first = light.ctest(env, {"--output-junit", "junit.xml"});
  ASSERT_EQ(first.result.exit_code, 0) << first.result.err;
  EXPECT_TRUE(contains(first.result.err, "split WITHOUT history (missing: " + expected.string()))
      << first.result.err;
  check(light.tlb({"record", light.build.string()}, {{"TLB_STORE", "history/timings.txt"}}), "tlb record");
  EXPECT_TRUE(fs::exists(expected));
  const Light::Run second = light.ctest(env);
  EXPECT_FALSE(contains(second.result.err, "WITHOUT history")) << second.result.err;
  EXPECT_EQ(nlohmann::json::parse(read_text(light.record_path(1, 2)))["history_status"], "ok");
}

// Item 5: a test that always skips is learned at its skipping time.
TEST(Sharding, AnAlwaysSkippedTestIsLearned) {
  const Light light = Light::make("skipped");
  const fs::path store = light.dir / "timings.txt";
  ASSERT_EQ(light.ctest(partition(1, 1), {"--output-junit", "junit.xml"}).result.exit_code, 0);
  check(light.tlb({"record", "--store", store.string(), light.build.string()}), "tlb record");
  std::string line;
  for (const std::string& l : lines_of(read_text(store))) {
    if (l.ends_with(" skip.always")) line = l;
  }
  EXPECT_TRUE(contains(line, " 1 skipped ")) << "a duration from one run: " << line;
}

// Item 6: each duration keeps the ctest -j it was measured under (read by the hook from ctest's command
// line); a run under another -j starts the estimates again instead of averaging the two.
TEST(Sharding, DurationsKeepTheirParallelLevel) {
  const Light light = Light::make("parallel-level");
  const fs::path store = light.dir / "timings.txt";
  const auto run_and_record = [&](const std::string& jobs) {
    const Light::Run run = light.ctest(partition(1, 1), {"-j", jobs, "--output-junit", "junit.xml"});
    ASSERT_EQ(run.result.exit_code, 0) << run.result.err;
    EXPECT_EQ(nlohmann::json::parse(read_text(light.record_path(1, 1)))["ctest_parallel_level"],
              std::stoi(jobs));
    check(light.tlb({"record", "--store", store.string(), light.build.string()}), "tlb record -j " + jobs);
  };
  run_and_record("2");
  std::string text = read_text(store);
  EXPECT_TRUE(text.starts_with("# tlb timings v2\n")) << text;
  EXPECT_TRUE(contains(text, " 1 passed ")) << text;
  EXPECT_TRUE(contains(text, " 2 light.1\n")) << text;
  run_and_record("1");
  text = read_text(store);
  EXPECT_TRUE(text.starts_with("# tlb timings v1\n")) << "only -j1 durations: version 1\n" << text;
  EXPECT_FALSE(contains(text, " 2 passed ")) << "a -j2 duration averaged with a -j1 one\n" << text;
}

// Item 9: the build tree says where its tlb program is, for CI scripts.
TEST(Sharding, TheBuildTreeSaysWhereTlbIs) {
  const Light light = Light::make("tlb-path");
  const fs::path path_file = light.build / "tlb-path";
  ASSERT_TRUE(fs::exists(path_file));
  std::string path = read_text(path_file);
  while (!path.empty() && path.back() == '\n') path.pop_back();
  EXPECT_EQ(fs::weakly_canonical(path), fs::weakly_canonical(TLB_EXECUTABLE));
}

// Issue 16, item 1: the run identity. One GitLab pipeline (CI_PIPELINE_ID) whose jobs post to one TLB
// server on loopback under one job name; each matrix cell must be a run of its own.
struct CiRun {
  tlb::testing::ServerProcess server;

  explicit CiRun(const fs::path& dir)
      : server({TLB_EXECUTABLE, "server", "--bind", "127.0.0.1", "--port", "0", "--data-dir",
                (dir / "data").string(), "--exit-after", "600"},
               "tlb server: listening on") {}

  // The environment of partition k/N's GitLab job ("test k/N" of `parallel: N`), with `extra` over it.
  Env job(int k, int total, const Env& extra = {}) const {
    Env env = partition(k, total);
    env["TLB_STORE"] = server.url();
    env["CI_PIPELINE_ID"] = "4711";
    env["CI_JOB_NAME"] = "test " + std::to_string(k) + "/" + std::to_string(total);
    for (const auto& [name, value] : extra) env[name] = value;
    return env;
  }

  // Partition k/N of a cell: ctest, then `tlb record` of its JUnit; returns the partition's record.
  nlohmann::json run(const Light& light, int k, int total, const Env& extra = {}) const {
    const fs::path junit = light.dir / ("junit-" + std::to_string(k) + ".xml");
    const Light::Run ran = light.ctest(job(k, total, extra), {"--output-junit", junit.string()});
    EXPECT_EQ(ran.result.exit_code, 0) << ran.result.out << ran.result.err;
    const ProcessResult recorded =
        light.tlb({"record", junit.string(), light.record_path(k, total).string()}, job(k, total, extra));
    EXPECT_EQ(recorded.exit_code, 0) << recorded.out << recorded.err;
    return nlohmann::json::parse(read_text(light.record_path(k, total)));
  }

  // `tlb verify` in the pipeline's last job: no records named, the server proves every cell of the run.
  ProcessResult verify(const Light& light) const {
    return light.tlb({"verify"}, {{"TLB_STORE", server.url()},
                                  {"TLB_JOB_NAME", "tlb_light"},
                                  {"CI_PIPELINE_ID", "4711"},
                                  {"CI_JOB_NAME", "verify"}});
  }
};

// Two cells that differ only by their build's configuration post under one job name and CI run id: two
// runs on the server, each proven on its own.
TEST(Sharding, ConfigurationsOfAMatrixAreRunsOfTheirOwn) {
  const Light debug = Light::make("cell-debug", {"-DCMAKE_BUILD_TYPE=Debug"});
  const Light release = Light::make("cell-release", {"-DCMAKE_BUILD_TYPE=Release"});
  const CiRun ci(debug.dir);
  std::set<std::string> versions, keys;
  for (const Light* cell : {&debug, &release}) {
    for (int k = 1; k <= 2; ++k) {
      const nlohmann::json record = ci.run(*cell, k, 2);
      EXPECT_EQ(record["job_version"], "4711");
      keys.insert(record.value("run_key", ""));
    }
  }
  ASSERT_EQ(keys.size(), 2u) << "one run key per cell";
  EXPECT_TRUE(contains(*keys.begin(), "config Debug / ")) << *keys.begin();
  EXPECT_TRUE(contains(*keys.begin(), " / job test"))
      << "the CI job's name without its index: " << *keys.begin();
  const ProcessResult verified = ci.verify(debug);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_TRUE(contains(verified.out, "Records of 2 runs (run keys differ)")) << verified.out;
  EXPECT_TRUE(contains(verified.out, "in each of the 2 runs")) << verified.out;
}

// A cell whose partition 2 crashed (no record, no result) stays unproven, though the other cell, which
// differs only by its compiler, ran its own partition 2 under the same job name and CI run id.
TEST(Sharding, ACrashedPartitionOfOneCellIsNotFilledByAnother) {
  const Light gcc =
      Light::make("cell-gcc", {"-DCMAKE_CXX_COMPILER_ID=GNU", "-DCMAKE_CXX_COMPILER_VERSION=12.2.0"});
  const Light clang =
      Light::make("cell-clang", {"-DCMAKE_CXX_COMPILER_ID=Clang", "-DCMAKE_CXX_COMPILER_VERSION=14.0.6"});
  const CiRun ci(gcc.dir);
  for (int k = 1; k <= 3; ++k) ci.run(gcc, k, 3);
  for (int k : {1, 3}) {
    EXPECT_TRUE(contains(ci.run(clang, k, 3).value("run_key", ""), "CXX Clang 14.0.6"));
  }
  const ProcessResult verified = ci.verify(gcc);
  EXPECT_EQ(verified.exit_code, 1) << verified.out << verified.err;
  EXPECT_TRUE(contains(verified.out, "CXX Clang 14.0.6")) << verified.out;
  EXPECT_TRUE(contains(verified.out, "partition 2/3: no record")) << verified.out;
  // The gcc cell is proven: its key is named once, in the list of runs, and in no problem.
  EXPECT_EQ(verified.out.find("CXX GNU 12.2.0"), verified.out.rfind("CXX GNU 12.2.0")) << verified.out;
}

// TLB_RUN_KEY (or --run-key) tells apart two cells that nothing else does: the same build tree, run twice.
TEST(Sharding, TlbRunKeySeparatesOtherwiseIdenticalCells) {
  const Light light = Light::make("run-key");
  const CiRun ci(light.dir);
  std::set<std::string> keys;
  for (const std::string key : {"openssl-1", "openssl-3"}) {
    for (int k = 1; k <= 2; ++k)
      keys.insert(ci.run(light, k, 2, {{"TLB_RUN_KEY", key}}).value("run_key", ""));
  }
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_TRUE(contains(*keys.begin(), " / key openssl-1")) << *keys.begin();
  const ProcessResult verified = ci.verify(light);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_TRUE(contains(verified.out, "in each of the 2 runs")) << verified.out;
}

// The partitions of one cell run on different machines (other paths, hosts, locales, partition numbers in
// the CI job's name): one run, proven.
TEST(Sharding, PartitionsOfOneCellShareOneRunWhateverTheirPaths) {
  const Light first = Light::make("cell-machine-1", {"-DCMAKE_BUILD_TYPE=Release"});
  const Light second = Light::make("cell-machine-2", {"-DCMAKE_BUILD_TYPE=Release"});
  const CiRun ci(first.dir);
  const nlohmann::json one = ci.run(first, 1, 2, {{"HOSTNAME", "runner-a"}, {"LANG", "de_DE.UTF-8"}});
  const nlohmann::json two = ci.run(
      second, 2, 2, {{"HOSTNAME", "runner-b"}, {"HOME", second.dir.string()}, {"CI_JOB_NAME", "test 2/2"}});
  EXPECT_EQ(one["run_key"], two["run_key"]);
  const ProcessResult verified = ci.verify(first);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_FALSE(contains(verified.out, "runs (run keys differ)")) << verified.out;
  EXPECT_TRUE(contains(verified.out, "proven: each of the 25 tests ran exactly once across 2 partitions"))
      << verified.out;
}

}  // namespace
