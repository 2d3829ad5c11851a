// `tlb record`, `tlb merge` and `tlb verify` run as a CI job runs them: exit statuses, messages, and files
// that are left untouched when an input is bad.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/process.hpp"
#include "support/scratch_dir.hpp"

namespace {

namespace fs = std::filesystem;
using tlb::testing::ProcessResult;
using tlb::testing::run_process;

constexpr const char* kDay = "1714608000";  // SOURCE_DATE_EPOCH of 2024-05-02.

std::string fnv1a64(const std::vector<std::string>& names) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const std::string& name : names) {
    for (char c : name + "\n") {
      hash ^= static_cast<unsigned char>(c);
      hash *= 0x100000001b3ULL;
    }
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return std::string("fnv1a64:") + text;
}

struct Case {
  std::string name;
  double seconds;
  std::string status = "run";  // ctest's JUnit: run, fail, notrun.
};

// A ctest --output-junit file.
std::string junit(const std::vector<Case>& cases) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"Linux-c++\" tests=\"" +
                    std::to_string(cases.size()) +
                    "\" failures=\"0\" disabled=\"0\" skipped=\"0\" hostname=\"\" "
                    "time=\"1\" timestamp=\"2024-05-02T10:00:00\">\n";
  const auto escaped = [](const std::string& text) {
    std::string out;
    for (char c : text) {
      if (c == '&')
        out += "&amp;";
      else if (c == '<')
        out += "&lt;";
      else if (c == '"')
        out += "&quot;";
      else
        out += c;
    }
    return out;
  };
  for (const Case& c : cases) {
    xml += "  <testcase name=\"" + escaped(c.name) + "\" classname=\"" + escaped(c.name) + "\" time=\"" +
           std::to_string(c.seconds) + "\" status=\"" + c.status + "\"";
    xml += c.status == "fail" ? "><failure message=\"Failed\"/></testcase>\n" : "/>\n";
  }
  return xml + "</testsuite>\n";
}

class HistoryCli : public tlb::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    store_ = (dir_ / "src" / ".tlb" / "timings.txt").string();
  }
  // With the system's separators, as tlb prints paths ('\\' on Windows).
  std::string path(const std::string& name) const { return (dir_ / name).make_preferred().string(); }

  std::string read(const std::string& file) const {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  ProcessResult tlb(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), TLB_EXECUTABLE);
    env.emplace("SOURCE_DATE_EPOCH", kDay);
    return run_process(args, env);
  }

  // What the CMake hook writes before partition k's run: a record with no results, in <build>/tlb/.
  void write_partition(const std::string& build, int k, const std::vector<std::vector<std::string>>& split,
                       const std::vector<std::string>& attachments = {}) {
    std::vector<std::string> all;
    for (const auto& tests : split) all.insert(all.end(), tests.begin(), tests.end());
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    std::vector<std::string> mine = split[static_cast<std::size_t>(k - 1)];
    std::sort(mine.begin(), mine.end());
    std::vector<std::string> attached;
    for (const std::string& name : attachments) {
      if (std::find(mine.begin(), mine.end(), name) != mine.end()) attached.push_back(name);
    }
    const int n = static_cast<int>(split.size());
    nlohmann::json record = {{"kind", "tlb-partition-record"},
                             {"version", 1},
                             {"partition", k},
                             {"total", n},
                             {"splitter", "time"},
                             {"test_list_hash", fnv1a64(all)},
                             {"history_source", store_},
                             {"history_status", "missing"},
                             {"history_hash", ""},
                             {"has_results", false},
                             {"tests", mine},
                             {"attachments", attached},
                             {"results", nlohmann::json::array()},
                             {"all_tests", all}};
    write(build + "/tlb/partition-" + std::to_string(k) + "-of-" + std::to_string(n) + ".json",
          record.dump(2));
  }

  std::string record_path(const std::string& build, int k, int n) const {
    return path(build + "/tlb/partition-" + std::to_string(k) + "-of-" + std::to_string(n) + ".json");
  }

  std::string store_;
};

const std::string kHeader = "# tlb timings v1\n# seconds runs last-result last-seen name\n";

TEST_F(HistoryCli, HelpDescribesTheCommands) {
  for (const char* command : {"record", "merge", "verify"}) {
    ProcessResult r = tlb({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.out.find("Exit status"), std::string::npos) << command;
  }
  EXPECT_NE(tlb({"record", "--help"}).out.find("TLB_STORE"), std::string::npos);
  EXPECT_NE(tlb({"--help"}).out.find("verify"), std::string::npos);
}

TEST_F(HistoryCli, RecordAResultsFileIntoAStore) {
  const std::string results =
      write("results.xml", junit({{"alpha", 1.5}, {"beta; [x] \"ü\"", 2.25}, {"gamma", 0.5, "fail"}}));
  ProcessResult r = tlb({"record", results}, {{"TLB_STORE", store_}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "tlb record: 3 results (2 passed, 1 failed, 0 skipped) from 1 file into " + store_ +
                       " (3 tests, 3 new, 0 forgotten)\n");
  EXPECT_EQ(read(store_), kHeader +
                              "1.500000 1 passed 2024-05-02 alpha\n"
                              "2.250000 1 passed 2024-05-02 beta; [x] \"ü\"\n"
                              "0.500000 1 failed 2024-05-02 gamma\n");

  // Again, the next day, with alpha = 0.5 (the default).
  write("results.xml", junit({{"alpha", 2.5}, {"beta; [x] \"ü\"", 2.25}, {"gamma", 0.1, "fail"}}));
  r = tlb({"record", "--store", store_, results}, {{"SOURCE_DATE_EPOCH", "1714694400"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read(store_), kHeader +
                              "2.000000 2 passed 2024-05-03 alpha\n"
                              "2.250000 2 passed 2024-05-03 beta; [x] \"ü\"\n"
                              "0.500000 1 failed 2024-05-03 gamma\n");  // A short failure: no new duration.
}

TEST_F(HistoryCli, RecordABuildDirectoryCompletesItsPartitionRecord) {
  const std::vector<std::vector<std::string>> split{{"a", "setup"}, {"b", "setup"}};
  write_partition("build", 1, split, {"setup"});
  write("build/results.xml", junit({{"a", 1.0}, {"setup", 0.5}, {"from another suite", 3.0}}));
  write("build/compile_commands.json", "[]");  // Not a record: passed over.

  ProcessResult r = tlb({"record", path("build")});  // The store comes from the record's history_source.
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "tlb: warning: 1 result matches no CTest test: from another suite\n");
  EXPECT_NE(r.out.find("2 results (2 passed, 0 failed, 0 skipped) from 1 file into " + store_),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("completed partition 1/2 in " + record_path("build", 1, 2)), std::string::npos)
      << r.out;

  const nlohmann::json record = nlohmann::json::parse(read(record_path("build", 1, 2)));
  EXPECT_EQ(record["has_results"], true);
  EXPECT_EQ(record["recorded_on"], "2024-05-02");
  ASSERT_EQ(record["results"].size(), 2u);
  EXPECT_EQ(record["results"][0]["name"], "a");
  EXPECT_EQ(record["results"][0]["status"], "passed");
  EXPECT_EQ(record["results"][0]["seconds"], 1.0);
  EXPECT_TRUE(fs::exists(store_));

  // Recording the same run again does not count its durations twice.
  const std::string stored = read(store_);
  r = tlb({"record", path("build")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("nothing recorded again"), std::string::npos) << r.out;
  EXPECT_EQ(read(store_), stored);
}

TEST_F(HistoryCli, RecordReadsCtestsTestXmlOfTheCurrentTag) {
  write("build/Testing/TAG", "20240502-1000\nExperimental\n");
  write("build/Testing/20240502-1000/Test.xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Site BuildName=\"b\" Name=\"h\">\n<Testing>\n"
        "<Test Status=\"passed\"><Name>only</Name><Path>.</Path><FullName>./only</FullName>"
        "<Results><NamedMeasurement type=\"numeric/double\" name=\"Execution Time\"><Value>4.5</Value>"
        "</NamedMeasurement></Results></Test>\n</Testing>\n</Site>\n");
  ProcessResult r = tlb({"record", "--store", store_, path("build")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read(store_), kHeader + "4.500000 1 passed 2024-05-02 only\n");
}

TEST_F(HistoryCli, AMalformedInputChangesNothing) {
  const std::string stored = kHeader + "1.000000 1 passed 2024-05-01 a\n";
  write("src/.tlb/timings.txt", stored);
  const std::string good = write("good.xml", junit({{"a", 9.0}}));
  const std::string bad = write("bad.xml", "<testsuite>\n<testcase name=\"b\" time=\"1\">\n</testsuite>\n");
  ProcessResult r = tlb({"record", "--store", store_, good, bad});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.xml:"), std::string::npos) << r.err;
  EXPECT_EQ(read(store_), stored);
}

TEST_F(HistoryCli, ACorruptStoreIsNeverOverwritten) {
  const std::string corrupt = kHeader + "1.000000 1 passed 2024-05-01 a\n<<<<<<< HEAD\n";
  write("src/.tlb/timings.txt", corrupt);
  const std::string results = write("results.xml", junit({{"a", 9.0}}));
  ProcessResult r = tlb({"record", results}, {{"TLB_STORE", store_}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(store_ + ":4: unresolved merge conflict"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("refusing to replace it"), std::string::npos) << r.err;
  EXPECT_EQ(read(store_), corrupt);

  const std::string newer = "# tlb timings v7\nwhatever comes in v7\n";
  write("src/.tlb/timings.txt", newer);
  r = tlb({"merge", "-o", store_, results});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("newer tlb"), std::string::npos) << r.err;
  EXPECT_EQ(read(store_), newer);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "src" / ".tlb"), fs::directory_iterator()), 1);
}

TEST_F(HistoryCli, RecordNeedsAStore) {
  const std::string results = write("results.xml", junit({{"a", 1.0}}));
  ProcessResult r = tlb({"record", results});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no store to record into: pass --store FILE or set TLB_STORE"), std::string::npos)
      << r.err;
  r = tlb({"record", results}, {{"TLB_STORE", "http://tlb.example:7019"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("TLB_STORE=http://tlb.example:7019: "), std::string::npos) << r.err;
  r = tlb({"record", results}, {{"TLB_STORE", store_}, {"TLB_SMOOTHING_FACTOR", "abc"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("TLB_SMOOTHING_FACTOR=abc"), std::string::npos) << r.err;
  r = tlb({"record", path("nowhere")}, {{"TLB_STORE", store_}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(fs::exists(store_));
}

// Two partitions of one CI run, each recorded in its own build directory, then merged and verified.
class CiRun : public HistoryCli {
 protected:
  const std::vector<std::vector<std::string>> split_{{"a", "b", "setup"}, {"c", "d e;[f]", "setup"}};

  void run_partitions(const std::vector<Case>& first, const std::vector<Case>& second) {
    write_partition("build-1", 1, split_, {"setup"});
    write_partition("build-2", 2, split_, {"setup"});
    write("build-1/results.xml", junit(first));
    write("build-2/results.xml", junit(second));
    for (const char* build : {"build-1", "build-2"}) {
      ProcessResult r = tlb({"record", path(build)});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
};

TEST_F(CiRun, MergeIsIndependentOfTheOrderOfItsInputs) {
  run_partitions({{"a", 1.0}, {"b", 2.0}, {"setup", 0.5}}, {{"c", 3.0}, {"d e;[f]", 4.0}, {"setup", 1.5}});
  const std::string base = kHeader + "8.000000 3 passed 2024-04-30 a\n";
  write("base.txt", base);
  ProcessResult r = tlb({"merge", "-o", path("one.txt"), "--base", path("base.txt"),
                         record_path("build-1", 1, 2), record_path("build-2", 2, 2)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "tlb merge: 2 partition records (6 results) and 0 timing files into " + path("one.txt") +
                       ": 5 tests (4 new, 0 forgotten)\n");
  write("two.txt", base);  // As its own base this time.
  r = tlb({"merge", "-o", path("two.txt"), record_path("build-2", 2, 2), record_path("build-1", 1, 2)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read(path("one.txt")), read(path("two.txt")));
  // The fixture ran in both partitions: 0.5 then 1.5, smoothed in partition order.
  EXPECT_EQ(read(path("one.txt")), kHeader +
                                       "4.500000 4 passed 2024-05-02 a\n"
                                       "2.000000 1 passed 2024-05-02 b\n"
                                       "3.000000 1 passed 2024-05-02 c\n"
                                       "4.000000 1 passed 2024-05-02 d e;[f]\n"
                                       "1.000000 2 passed 2024-05-02 setup\n");

  // Directories and timing files are inputs too; giving the same file twice changes nothing.
  r = tlb({"merge", "-o", path("three.txt"), path("two.txt"), path("two.txt")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read(path("three.txt")), read(path("two.txt")));
  r = tlb({"merge", "-o", path("four.txt"), "--base", path("base.txt"), path("build-2"), path("build-1")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read(path("four.txt")), read(path("one.txt")));
}

TEST_F(CiRun, MergeRefusesWhatIsNeitherARecordNorATimingFile) {
  const std::string xml = write("results.xml", junit({{"a", 1.0}}));
  ProcessResult r = tlb({"merge", "-o", path("out.txt"), xml});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("neither a partition record"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("out.txt")));
  r = tlb({"merge", path("out.txt")});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(CiRun, VerifyProvesACompleteRun) {
  run_partitions({{"a", 1.0}, {"b", 2.0}, {"setup", 0.5}}, {{"c", 3.0}, {"d e;[f]", 4.0}, {"setup", 1.5}});
  ProcessResult r = tlb({"verify", path("build-1"), path("build-2")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(
      r.out.find("tlb verify: proven: each of the 5 tests ran exactly once across 2 partitions (1 fixture "
                 "setup/cleanup test in each partition that needed it)."),
      std::string::npos)
      << r.out;
  // The records say the split had no history (a first run): a note, or with TLB_STRICT a failure.
  EXPECT_NE(r.out.find("split without history (missing: " + store_ + ")"), std::string::npos) << r.out;
  r = tlb({"verify", path("build-1"), path("build-2")}, {{"TLB_STRICT", "1"}});
  EXPECT_EQ(r.exit_code, 1) << r.out;

  r = tlb({"verify", "--json", record_path("build-2", 2, 2), record_path("build-1", 1, 2)});
  EXPECT_EQ(r.exit_code, 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["proven"], true);
  EXPECT_EQ(doc["total"], 2);
  EXPECT_EQ(doc["tests"], 5);
  EXPECT_EQ(doc["problems"].size(), 0u);
  EXPECT_EQ(doc["notes"].size(), 2u);
}

TEST_F(CiRun, VerifyNamesWhatWasLostDuplicatedOrMissing) {
  run_partitions({{"a", 1.0}, {"b", 2.0}, {"setup", 0.5}, {"c", 3.0}}, {{"c", 3.0}, {"setup", 1.5}});
  ProcessResult r = tlb({"verify", path("build-1"), path("build-2")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("lost (1):\n  d e;[f] (partition 2)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("duplicated (1):\n  c (partitions 1, 2)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ran but not assigned (1):\n  c (partition 1)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tlb verify: NOT proven: 3 problems (1 lost, 1 duplicated, 1 ran but not assigned)."),
            std::string::npos)
      << r.out;

  r = tlb({"verify", path("build-1")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("missing partition (1):\n  partition 2/2: no record\n"), std::string::npos) << r.out;

  r = tlb({"verify", path("nothing-here")});
  EXPECT_EQ(r.exit_code, 1);
  fs::create_directories(dir_ / "empty");
  r = tlb({"verify", path("empty")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no partition records found"), std::string::npos) << r.err;
  r = tlb({"verify"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(CiRun, VerifyReportsAPartitionThatWasNeverRecorded) {
  write_partition("build-1", 1, split_, {"setup"});
  write_partition("build-2", 2, split_, {"setup"});
  write("build-1/results.xml", junit({{"a", 1.0}, {"b", 2.0}, {"setup", 0.5}}));
  ASSERT_EQ(tlb({"record", path("build-1")}).exit_code, 0);
  ProcessResult r = tlb({"verify", path("build-1"), path("build-2")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("no results (1):\n  partition 2/2 (" + record_path("build-2", 2, 2) +
                       "): no results (tlb record never ran for it)\n"),
            std::string::npos)
      << r.out;
  // And merge passes it over with a warning.
  r = tlb({"merge", "-o", path("out.txt"), path("build-1"), path("build-2")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("partition 2/2 has no results"), std::string::npos) << r.err;
}

}  // namespace
