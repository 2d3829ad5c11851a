// Where the partition and the other settings come from, and the messages for every bad value.
#include "cli/settings.hpp"

#include <gtest/gtest.h>

#include <map>

#include "cli/ctest_invocation.hpp"
#include "cli/run_key.hpp"
#include "support/environment.hpp"

namespace tlb::cli {
namespace {

using tlb::testing::env_of;

std::optional<PartitionChoice> partition(std::map<std::string, std::string> variables,
                                         std::optional<std::string> flag_k = {},
                                         std::optional<std::string> flag_n = {}) {
  std::vector<std::string> warnings;
  return resolve_partition(flag_k, flag_n, env_of(std::move(variables)), warnings);
}

std::string usage_error(std::map<std::string, std::string> variables, std::optional<std::string> flag_k = {},
                        std::optional<std::string> flag_n = {}) {
  try {
    partition(std::move(variables), flag_k, flag_n);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

void expect_partition(const std::optional<PartitionChoice>& choice, int k, int n) {
  ASSERT_TRUE(choice.has_value());
  EXPECT_EQ(choice->number, k);
  EXPECT_EQ(choice->total, n);
}

TEST(Partition, NothingSetMeansNoPartition) {
  EXPECT_FALSE(partition({}).has_value());
}

TEST(Partition, FromTlbVariables) {
  expect_partition(partition({{"TLB_PARTITION_NUMBER", "2"}, {"TLB_TOTAL_PARTITIONS", "4"}}), 2, 4);
  expect_partition(partition({{"TLB_PARTITION", "3/5"}}), 3, 5);
  expect_partition(
      partition({{"TLB_PARTITION", "3/5"}, {"TLB_PARTITION_NUMBER", "3"}, {"TLB_TOTAL_PARTITIONS", "5"}}), 3,
      5);
}

// TLB_PARTITION with only one of the pair: it gives the rest, and the one given must agree (issue 22).
TEST(Partition, TlbPartitionWithOneAgreeingVariable) {
  expect_partition(partition({{"TLB_PARTITION", "2/4"}, {"TLB_PARTITION_NUMBER", "2"}}), 2, 4);
  expect_partition(partition({{"TLB_PARTITION", "2/4"}, {"TLB_TOTAL_PARTITIONS", "4"}}), 2, 4);
  EXPECT_EQ(usage_error({{"TLB_PARTITION", "2/4"}, {"TLB_PARTITION_NUMBER", "3"}}),
            "TLB_PARTITION=2/4 disagrees with TLB_PARTITION_NUMBER=3; set one or the other");
  EXPECT_EQ(usage_error({{"TLB_PARTITION", "2/4"}, {"TLB_TOTAL_PARTITIONS", "5"}}),
            "TLB_PARTITION=2/4 disagrees with TLB_TOTAL_PARTITIONS=5; set one or the other");
}

TEST(Partition, FlagsWinOverTheEnvironment) {
  expect_partition(partition({{"TLB_PARTITION_NUMBER", "2"}, {"TLB_TOTAL_PARTITIONS", "4"}}, "1", "3"), 1, 3);
  expect_partition(partition({}, "2/7"), 2, 7);
}

TEST(Partition, FromCiNativeVariablesOnlyWithAuto) {
  const auto with_auto = [](std::map<std::string, std::string> variables) {
    variables["TLB_TOTAL_PARTITIONS"] = "auto";
    return partition(std::move(variables));
  };
  expect_partition(with_auto({{"CI_NODE_INDEX", "1"}, {"CI_NODE_TOTAL", "3"}}), 1, 3);          // 1-based
  expect_partition(with_auto({{"CIRCLE_NODE_INDEX", "0"}, {"CIRCLE_NODE_TOTAL", "3"}}), 1, 3);  // 0-based
  expect_partition(with_auto({{"BUILDKITE_PARALLEL_JOB", "2"}, {"BUILDKITE_PARALLEL_JOB_COUNT", "3"}}), 3, 3);
  // A CI total of 1 is no partition, with or without auto: GitLab sets CI_NODE_TOTAL=1 on every job that is
  // not parallel, CircleCI index 0 of 1.
  EXPECT_FALSE(with_auto({{"CI_NODE_TOTAL", "1"}}).has_value());
  EXPECT_FALSE(with_auto({{"CIRCLE_NODE_INDEX", "0"}, {"CIRCLE_NODE_TOTAL", "1"}}).has_value());
  EXPECT_FALSE(partition({{"CI_NODE_TOTAL", "1"}}).has_value());
  // TLB's own variables come first.
  expect_partition(partition({{"TLB_PARTITION", "2/2"}, {"CI_NODE_INDEX", "1"}, {"CI_NODE_TOTAL", "3"}}), 2,
                   2);
}

// GitLab sets CI_NODE_INDEX and CI_NODE_TOTAL on every job of a `parallel: matrix:`: without
// TLB_TOTAL_PARTITIONS=auto they must not split the job, and say so once.
TEST(Partition, CiNativeVariablesAloneRunEveryTestAndSayWhy) {
  for (const auto& variables : std::vector<std::map<std::string, std::string>>{
           {{"CI_NODE_INDEX", "2"}, {"CI_NODE_TOTAL", "4"}},
           {{"CIRCLE_NODE_INDEX", "1"}, {"CIRCLE_NODE_TOTAL", "4"}},
           {{"BUILDKITE_PARALLEL_JOB", "1"}, {"BUILDKITE_PARALLEL_JOB_COUNT", "4"}},
           {{"CI_NODE_INDEX", "2"}}}) {
    std::vector<std::string> warnings;
    EXPECT_FALSE(resolve_partition({}, {}, env_of(variables), warnings).has_value());
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(
        warnings[0].find("ignored: TLB splits by the CI's own variables only with TLB_TOTAL_PARTITIONS=auto"),
        std::string::npos)
        << warnings[0];
    EXPECT_NE(warnings[0].find(variables.begin()->first + "=" + variables.begin()->second), std::string::npos)
        << warnings[0];
  }
  std::vector<std::string> warnings;
  EXPECT_FALSE(resolve_partition({}, {}, env_of({{"CI_NODE_TOTAL", "1"}}), warnings).has_value());
  EXPECT_TRUE(warnings.empty()) << "a job that is not parallel is no news";
}

TEST(Partition, AutoNeedsTheCisVariablesAndNothingElse) {
  EXPECT_EQ(usage_error({{"TLB_TOTAL_PARTITIONS", "auto"}}),
            "TLB_TOTAL_PARTITIONS=auto, but no CI partition variable is set (GitLab's CI_NODE_INDEX and "
            "CI_NODE_TOTAL, CircleCI's CIRCLE_NODE_INDEX and CIRCLE_NODE_TOTAL, Buildkite's "
            "BUILDKITE_PARALLEL_JOB and BUILDKITE_PARALLEL_JOB_COUNT)");
  EXPECT_EQ(usage_error({{"TLB_TOTAL_PARTITIONS", "auto"},
                         {"TLB_PARTITION_NUMBER", "2"},
                         {"CI_NODE_INDEX", "1"},
                         {"CI_NODE_TOTAL", "3"}}),
            "TLB_TOTAL_PARTITIONS=auto takes the partition from the CI's own variables; unset "
            "TLB_PARTITION_NUMBER=2");
  EXPECT_EQ(usage_error({{"TLB_TOTAL_PARTITIONS", "auto"}, {"CI_NODE_INDEX", "2"}}),
            "GitLab: CI_NODE_INDEX is set but CI_NODE_TOTAL is not");
}

TEST(Partition, BadValuesNameTheVariableAndValue) {
  EXPECT_EQ(
      usage_error({{"TLB_PARTITION_NUMBER", "0"}, {"TLB_TOTAL_PARTITIONS", "4"}}),
      "TLB_PARTITION_NUMBER=0: out of range for TLB_TOTAL_PARTITIONS=4 (partitions are numbered 1 to 4)");
  EXPECT_EQ(
      usage_error({{"TLB_PARTITION_NUMBER", "5"}, {"TLB_TOTAL_PARTITIONS", "4"}}),
      "TLB_PARTITION_NUMBER=5: out of range for TLB_TOTAL_PARTITIONS=4 (partitions are numbered 1 to 4)");
  EXPECT_EQ(usage_error({{"TLB_PARTITION_NUMBER", "1"}, {"TLB_TOTAL_PARTITIONS", "0"}}),
            "TLB_TOTAL_PARTITIONS=0: the number of partitions must be at least 1");
  EXPECT_EQ(usage_error({{"TLB_PARTITION_NUMBER", "abc"}, {"TLB_TOTAL_PARTITIONS", "4"}}),
            "TLB_PARTITION_NUMBER=abc: not a whole number");
  EXPECT_EQ(usage_error({{"TLB_PARTITION_NUMBER", "1"}, {"TLB_TOTAL_PARTITIONS", "-2"}}),
            "TLB_TOTAL_PARTITIONS=-2: not a whole number");
  EXPECT_EQ(usage_error({{"TLB_PARTITION_NUMBER", "2"}}),
            "TLB_PARTITION_NUMBER=2 is set but TLB_TOTAL_PARTITIONS is not");
  EXPECT_EQ(usage_error({{"TLB_TOTAL_PARTITIONS", "2"}}),
            "TLB_TOTAL_PARTITIONS=2 is set but TLB_PARTITION_NUMBER is not");
  EXPECT_EQ(usage_error({{"TLB_PARTITION", "2"}}), "TLB_PARTITION=2: expected k/N, for example 2/4");
  EXPECT_EQ(usage_error({{"TLB_PARTITION", "5/4"}}),
            "TLB_PARTITION (k)=5: out of range for TLB_PARTITION (N)=4 (partitions are numbered 1 to 4)");
  EXPECT_EQ(
      usage_error({{"TLB_PARTITION", "1/4"}, {"TLB_PARTITION_NUMBER", "2"}, {"TLB_TOTAL_PARTITIONS", "4"}}),
      "TLB_PARTITION=1/4 disagrees with TLB_PARTITION_NUMBER=2 and TLB_TOTAL_PARTITIONS=4; set one or the "
      "other");
  EXPECT_EQ(
      usage_error({{"CIRCLE_NODE_INDEX", "3"}, {"CIRCLE_NODE_TOTAL", "3"}, {"TLB_TOTAL_PARTITIONS", "auto"}}),
      "CIRCLE_NODE_INDEX=3: out of range for CIRCLE_NODE_TOTAL=3 (partitions are numbered 0 to 2, counting "
      "from 0 as this CI does)");
  EXPECT_EQ(usage_error({}, "0", "4"),
            "--partition=0: out of range for --total=4 (partitions are numbered 1 to 4)");
  EXPECT_EQ(usage_error({}, "2"), "--partition 2 needs --total (or write --partition k/N)");
  EXPECT_EQ(usage_error({}, "1/2", "2"), "--partition 1/2 already gives the total; drop --total");
}

TEST(Partition, WarnsWhenGoogleTestShardingVariablesLeakIn) {
  std::vector<std::string> warnings;
  resolve_partition({}, {}, env_of({{"GTEST_TOTAL_SHARDS", "4"}, {"GTEST_SHARD_INDEX", "1"}}), warnings);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("GTEST_SHARD_INDEX=1 is set"), std::string::npos);
  EXPECT_NE(warnings[1].find("GTEST_TOTAL_SHARDS=4 is set"), std::string::npos);
}

TEST(Splitters, DefaultIsTheTimeThenCountChain) {
  EXPECT_EQ(resolve_splitters({}, {}, env_of({})), (std::vector<Splitter>{Splitter::time, Splitter::count}));
  EXPECT_EQ(resolve_splitters(
                {}, {}, env_of({{"TLB_SPLITTER", "default"}, {"TLB_PREFERRED_SPLITTERS", "count:time"}})),
            (std::vector<Splitter>{Splitter::count, Splitter::time}));
  EXPECT_EQ(resolve_splitters({}, {}, env_of({{"TLB_SPLITTER", "round-robin"}})),
            std::vector<Splitter>{Splitter::round_robin});
  EXPECT_EQ(resolve_splitters("count", {}, env_of({{"TLB_SPLITTER", "time"}})),
            std::vector<Splitter>{Splitter::count});
  // The original TLB's class names keep working.
  EXPECT_EQ(
      resolve_splitters({}, {},
                        env_of({{"TLB_PREFERRED_SPLITTERS",
                                 "tlb.splitter.TimeBasedTestSplitter:tlb.splitter.CountBasedTestSplitter"}})),
      (std::vector<Splitter>{Splitter::time, Splitter::count}));
}

TEST(Splitters, UnknownNamesAreRejected) {
  EXPECT_THROW(resolve_splitters({}, {}, env_of({{"TLB_SPLITTER", "fastest"}})), UsageError);
  try {
    resolve_splitters({}, {}, env_of({{"TLB_PREFERRED_SPLITTERS", "time:magic"}}));
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(
        e.what(),
        "TLB_PREFERRED_SPLITTERS=time:magic: unknown splitter 'magic' (known: time, count, round-robin)");
  }
}

TEST(Orderers, DefaultListAndNone) {
  EXPECT_EQ(resolve_orderers({}, env_of({})), default_orderers());
  EXPECT_TRUE(resolve_orderers({}, env_of({{"TLB_ORDERER", "none"}})).empty());
  EXPECT_EQ(resolve_orderers("longest-first", env_of({})), std::vector<Orderer>{Orderer::longest_first});
  EXPECT_THROW(resolve_orderers({}, env_of({{"TLB_ORDERER", "shuffle"}})), UsageError);
}

TEST(Weights, ParsedAndChecked) {
  EXPECT_EQ(resolve_weights({}, 3, env_of({{"TLB_PARTITION_WEIGHTS", "1, 1,2.5"}})),
            (std::vector<double>{1, 1, 2.5}));
  EXPECT_TRUE(resolve_weights({}, 3, env_of({})).empty());
  try {
    resolve_weights({}, 3, env_of({{"TLB_PARTITION_WEIGHTS", "1,1"}}));
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "TLB_PARTITION_WEIGHTS=1,1: 2 weights for 3 partitions");
  }
  try {
    resolve_weights({}, 2, env_of({{"TLB_PARTITION_WEIGHTS", "1,0"}}));
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "TLB_PARTITION_WEIGHTS=1,0: '0' is not a weight (a number from 0.001 to 1000000)");
  }
}

TEST(Strict, OnOffAndRejected) {
  EXPECT_FALSE(resolve_strict(false, env_of({})));
  EXPECT_TRUE(resolve_strict(false, env_of({{"TLB_STRICT", "1"}})));
  EXPECT_FALSE(resolve_strict(false, env_of({{"TLB_STRICT", "off"}})));
  EXPECT_TRUE(resolve_strict(true, env_of({{"TLB_STRICT", "0"}})));
  EXPECT_THROW(resolve_strict(false, env_of({{"TLB_STRICT", "maybe"}})), UsageError);
}

TEST(ParallelLevel, FlagThenTlbsVariableThenCtests) {
  EXPECT_EQ(resolve_parallel_level({}, env_of({})), 1);
  EXPECT_EQ(resolve_parallel_level({}, env_of({{"CTEST_PARALLEL_LEVEL", "4"}})), 4);
  EXPECT_EQ(resolve_parallel_level({}, env_of({{"CTEST_PARALLEL_LEVEL", "4"}, {"TLB_PARALLEL_LEVEL", "2"}})),
            2);
  EXPECT_EQ(resolve_parallel_level("8", env_of({{"TLB_PARALLEL_LEVEL", "2"}})), 8);
  for (const auto& [variable, value] : std::vector<std::pair<std::string, std::string>>{
           {"TLB_PARALLEL_LEVEL", "0"}, {"TLB_PARALLEL_LEVEL", "two"}, {"CTEST_PARALLEL_LEVEL", "-1"}}) {
    try {
      resolve_parallel_level({}, env_of({{variable, value}}));
      ADD_FAILURE() << variable << "=" << value << " was accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(variable + "=" + value), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace tlb::cli

namespace tlb::cli {
namespace {

// What the hook learns from ctest's command line (/proc/self/cmdline, NUL-separated).
TEST(CtestInvocation, FiltersParallelLevelAndRerun) {
  using namespace std::string_literals;
  const CtestInvocation none = parse_ctest_invocation("ctest\0--test-dir\0build\0"s);
  EXPECT_FALSE(none.filtered());
  EXPECT_FALSE(none.parallel_level);
  EXPECT_FALSE(none.rerun_failed);
  const CtestInvocation some = parse_ctest_invocation(
      "ctest\0-R\0old\0-R\0^net\0-LE\0slow\0-j3\0--rerun-failed\0--exclude-regex=x\0"s);
  EXPECT_EQ(some.include_regex, "^net");
  EXPECT_EQ(some.exclude_regex, "x");
  EXPECT_EQ(some.label_exclude, std::vector<std::string>{"slow"});
  EXPECT_EQ(some.parallel_level, 3);
  EXPECT_TRUE(some.rerun_failed);
  EXPECT_EQ(some.filters, "-R old -R ^net -LE slow --exclude-regex=x");
  EXPECT_EQ(parse_ctest_invocation("ctest\0--parallel\0004\0"s).parallel_level, 4);
  const CtestInvocation bare = parse_ctest_invocation("ctest\0-j\0-R\0x\0"s);
  EXPECT_FALSE(bare.parallel_level);
  EXPECT_EQ(bare.include_regex, "x");
  EXPECT_EQ(from_hex("63746573742d"), "ctest-");
  EXPECT_FALSE(from_hex("6g"));
}

TEST(CtestInvocation, FiltersAsCtestAppliesThem) {
  using namespace std::string_literals;
  tlb::Test net = tlb::Test::named("net.timeout");
  net.labels = {"slow", "net"};
  const tlb::Test db = tlb::Test::named("db.read");
  EXPECT_EQ(passes_filters(parse_ctest_invocation("ctest\0-R\0^net\0"s), net), true);
  EXPECT_EQ(passes_filters(parse_ctest_invocation("ctest\0-R\0^net\0"s), db), false);
  EXPECT_EQ(passes_filters(parse_ctest_invocation("ctest\0-E\0read\0"s), db), false);
  EXPECT_EQ(passes_filters(parse_ctest_invocation("ctest\0-L\0slow\0-L\0net\0"s), net), true);
  EXPECT_EQ(passes_filters(parse_ctest_invocation("ctest\0-L\0slow\0-L\0fast\0"s), net), false);
  EXPECT_EQ(passes_filters(parse_ctest_invocation("ctest\0-LE\0slow\0"s), net), false);
  EXPECT_EQ(passes_filters(parse_ctest_invocation("ctest\0-LE\0slow\0"s), db), true);
  EXPECT_FALSE(passes_filters(parse_ctest_invocation("ctest\0-R\0(\0"s), db).has_value());
}

}  // namespace
}  // namespace tlb::cli

namespace tlb::cli {
namespace {

// The CI job's name loses the partition index the CI adds, and only that: every partition of a cell of a
// matrix gets the same name, and the cells keep theirs.
TEST(RunKey, TheCiJobNameLosesThePartitionIndex) {
  EXPECT_EQ(ci_job_name("test 2/4", std::nullopt), "test");
  EXPECT_EQ(ci_job_name("  unit tests 12/16 ", 12), "unit tests");
  EXPECT_EQ(ci_job_name("test", 2), "test");
  EXPECT_EQ(ci_job_name("test 2/4x", std::nullopt), "test 2/4x");
  EXPECT_EQ(ci_job_name("build/test", std::nullopt), "build/test");
  // GitLab's `parallel: matrix:` with the partition among the values: the value equal to the partition's
  // number goes, once; the others stay, so that the cells are told apart.
  EXPECT_EQ(ci_job_name("test: [gcc, 2]", 2), "test: [gcc]");
  EXPECT_EQ(ci_job_name("test: [clang, 2]", 2), "test: [clang]");
  EXPECT_EQ(ci_job_name("test: [2, 2]", 2), "test: [2]");
  EXPECT_EQ(ci_job_name("test: [gcc, 3]", 2), "test: [gcc, 3]");
  EXPECT_EQ(ci_job_name("test: [2]", 2), "test");
  // Jobs named by hand for their partition are one job.
  EXPECT_EQ(ci_job_name("test-2", 2), "test");
  EXPECT_EQ(ci_job_name("unit_tests_12", 12), "unit_tests");
  EXPECT_EQ(ci_job_name("test 3", 3), "test");
  EXPECT_EQ(ci_job_name("test-12", 2), "test-12");
  EXPECT_EQ(ci_job_name("gcc-2", 3), "gcc-2");
  EXPECT_EQ(ci_job_name("test: [gcc, 2]", std::nullopt), "test: [gcc, 2]");
}

TEST(RunKey, FromTheBuildTheCiJobAndTlbRunKey) {
  EXPECT_EQ(resolve_run_key(env_of({})), "");
  EXPECT_EQ(resolve_run_key(env_of({{"TLB_BUILD_IDENTITY", "config Release / CXX GNU 12.2.0 / Linux x86_64"},
                                    {"CI_JOB_NAME", "test 3/4"},
                                    {"TLB_RUN_KEY", "nightly"}})),
            "config Release / CXX GNU 12.2.0 / Linux x86_64 / job test / key nightly");
  // GitHub's job id, the same in every cell of its matrix; the first CI's name found is used.
  EXPECT_EQ(resolve_run_key(env_of({{"GITHUB_JOB", "tests"}, {"CI_JOB_NAME", "other"}})), "job tests");
  EXPECT_EQ(resolve_run_key(env_of({{"CI_JOB_NAME", "test: [gcc, 3]"}, {"TLB_PARTITION", "3/4"}})),
            "job test: [gcc]");
  EXPECT_EQ(resolve_run_key(env_of({{"TLB_RUN_KEY", "caf\xc3\xa9\n"}})), "key caf??");
  // The flag replaces the variable.
  EXPECT_EQ(resolve_run_key(with_variable(env_of({{"TLB_RUN_KEY", "a"}}), "TLB_RUN_KEY", "b")), "key b");
  EXPECT_EQ(resolve_run_key(with_variable(env_of({{"TLB_RUN_KEY", "a"}}), "TLB_RUN_KEY", "")), "key a");
}

// The server's run is the CI run id with the run key's hash: cells of a matrix are runs of their own, and
// the same key always names the same run.
TEST(RunKey, TheServersRunIsTheVersionAndTheKeysHash) {
  const auto version = [](const std::map<std::string, std::string>& variables) {
    return store::run_version(resolve_server_options(env_of(variables)));
  };
  EXPECT_EQ(version({{"GITHUB_RUN_ID", "1234"}}), "1234");
  const std::string gcc =
      version({{"GITHUB_RUN_ID", "1234"}, {"TLB_BUILD_IDENTITY", "config Release / CXX GNU 12.2.0"}});
  const std::string clang =
      version({{"GITHUB_RUN_ID", "1234"}, {"TLB_BUILD_IDENTITY", "config Release / CXX Clang 14.0.6"}});
  EXPECT_TRUE(gcc.starts_with("1234.")) << gcc;
  EXPECT_EQ(gcc.size(), 4u + 9u) << gcc;
  EXPECT_NE(gcc, clang);
  EXPECT_EQ(gcc, version({{"GITHUB_RUN_ID", "1234"},
                          {"TLB_BUILD_IDENTITY", "config Release / CXX GNU 12.2.0"},
                          {"HOSTNAME", "runner-7"},
                          {"PWD", "/builds/other/path"}}));
  EXPECT_EQ(version({{"TLB_RUN_KEY", "x"}}), "") << "no CI run: no server run";
}

}  // namespace
}  // namespace tlb::cli
