// `tlb verify`'s checks: a correct set of records is proven, and each kind of problem is caught and named.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "cli/verify_command.hpp"
#include "io/text.hpp"

namespace tlb::cli {
namespace {

// The fingerprint of a split of the six tests below into `total` partitions under `ctest -j level`.
io::SplitFingerprint fingerprint(int total, int level) {
  std::vector<Test> tests;
  for (const char* name : {"a", "b", "c", "d", "e", "setup"}) tests.push_back(Test::named(name));
  SplitOptions options;
  options.total = total;
  options.parallel_level = level;
  return io::fingerprint_split(tests, "fnv1a64:00000000000000aa", options);
}

// Three partitions of six tests; "setup" is a fixture setup test that partitions 1 and 2 both need.
std::vector<LoadedRecord> correct_set() {
  const std::vector<std::string> all{"a", "b", "c", "d", "e", "setup"};
  const std::vector<std::vector<std::string>> assigned{{"a", "b", "setup"}, {"c", "setup"}, {"d", "e"}};
  std::vector<LoadedRecord> records;
  for (int k = 1; k <= 3; ++k) {
    io::PartitionRecord r;
    r.partition = k;
    r.total = 3;
    r.splitter = "time";
    r.all_tests = all;
    r.test_list_hash = io::hash_names(all);
    r.history_source = ".tlb/timings.txt";
    r.history_status = "ok";
    r.history_hash = "fnv1a64:00000000000000aa";
    r.tests = assigned[static_cast<std::size_t>(k - 1)];
    if (k <= 2) r.attachments = {"setup"};
    r.has_results = true;
    for (const std::string& name : r.tests) r.results.push_back({name, io::ResultStatus::passed, 1.0});
    r.fingerprint = fingerprint(3, 1);
    records.push_back(LoadedRecord{"p" + std::to_string(k) + ".json", r});
  }
  return records;
}

io::PartitionRecord& partition(std::vector<LoadedRecord>& records, int k) {
  return records[static_cast<std::size_t>(k - 1)].record;
}

// "kind: message" for each problem, for readable failures.
std::vector<std::string> problems(const Verification& v) {
  std::vector<std::string> lines;
  for (const Problem& p : v.problems) lines.push_back(std::string(to_string(p.kind)) + ": " + p.message);
  return lines;
}

TEST(Verify, ACorrectSetIsProven) {
  const Verification v = verify_records(correct_set(), false);
  EXPECT_TRUE(v.proven()) << ::testing::PrintToString(problems(v));
  EXPECT_EQ(v.total, 3);
  EXPECT_EQ(v.tests, 6u);
  EXPECT_EQ(v.attachments, 1u);
  EXPECT_TRUE(v.notes.empty());
}

TEST(Verify, TheOrderOfTheRecordsDoesNotMatter) {
  std::vector<LoadedRecord> records = correct_set();
  partition(records, 2).results.pop_back();
  partition(records, 3).results.push_back({"a", io::ResultStatus::passed, 1.0});
  const std::vector<std::string> expected = problems(verify_records(records, false));
  EXPECT_EQ(expected.size(), 3u) << ::testing::PrintToString(expected);
  for (unsigned seed = 1; seed <= 5; ++seed) {
    std::shuffle(records.begin(), records.end(), std::mt19937(seed));
    EXPECT_EQ(problems(verify_records(records, false)), expected);
  }
}

TEST(Verify, Lost) {
  auto records = correct_set();
  auto& results = partition(records, 3).results;
  results.erase(results.begin());  // "d" never reported.
  EXPECT_EQ(problems(verify_records(records, false)), std::vector<std::string>{"lost: d (partition 3)"});
}

TEST(Verify, ALostAttachmentIsLostToo) {
  auto records = correct_set();
  auto& results = partition(records, 2).results;
  results.erase(
      std::find_if(results.begin(), results.end(), [](const auto& r) { return r.name == "setup"; }));
  EXPECT_EQ(problems(verify_records(records, false)), std::vector<std::string>{"lost: setup (partition 2)"});
}

TEST(Verify, DuplicatedAndRanButNotAssigned) {
  auto records = correct_set();
  partition(records, 3).results.push_back({"a", io::ResultStatus::passed, 1.0});
  EXPECT_EQ(
      problems(verify_records(records, false)),
      (std::vector<std::string>{"duplicated: a (partitions 1, 3)", "ran but not assigned: a (partition 3)"}));
}

TEST(Verify, AssignedTwiceAndUnassigned) {
  auto records = correct_set();
  partition(records, 3).tests = {"d", "a"};  // "e" is in no partition, "a" in two.
  partition(records, 3).results = {{"d", io::ResultStatus::passed, 1.0},
                                   {"a", io::ResultStatus::passed, 1.0}};
  EXPECT_EQ(
      problems(verify_records(records, false)),
      (std::vector<std::string>{"not assigned: e (in no partition)", "assigned twice: a (partitions 1, 3)",
                                "duplicated: a (partitions 1, 3)"}));
}

TEST(Verify, MissingAndDuplicatePartitions) {
  auto records = correct_set();
  records.erase(records.begin() + 1);  // No partition 2.
  records.push_back(records.front());
  records.back().path = "again/p1.json";
  const auto found = problems(verify_records(records, false));
  EXPECT_EQ(found[0], "missing partition: partition 2/3: no record");
  EXPECT_EQ(found[1], "duplicate partition: partition 1/3: 2 records (again/p1.json, p1.json)");
  // With partition 2 gone, "c" is in no partition; partition 1's tests ran twice.
  EXPECT_NE(std::find(found.begin(), found.end(), "not assigned: c (in no partition)"), found.end());
  EXPECT_NE(std::find(found.begin(), found.end(), "duplicated: a (partitions 1, 1)"), found.end());
}

// A partition run again (a CI retry): the latest attempt stands, the earlier one is history, and a test is
// duplicated only when two different partitions ran it (issue 22).
TEST(Verify, ARetriedPartitionIsProvenWithItsLatestAttempt) {
  auto records = correct_set();
  for (LoadedRecord& r : records) r.record.split_at = "2026-12-07T06:00:00.000000Z";
  LoadedRecord retry = records[1];
  retry.path = "retry/p2.json";
  retry.record.split_at = "2026-12-07T06:30:00.000000Z";
  records[1].record.results.pop_back();  // The first attempt lost a test: the retry stands.
  records.push_back(retry);
  const Verification v = verify_records(records, false);
  EXPECT_TRUE(v.proven()) << ::testing::PrintToString(problems(v));
  ASSERT_EQ(v.retries.size(), 1u);
  EXPECT_EQ(v.retries[0].partition, 2);
  EXPECT_EQ(v.retries[0].earlier, 1u);
  const std::string text = io::verification_text(v, records.size());
  EXPECT_NE(
      text.find("(1 fixture setup/cleanup test in each partition that needed it; partition 2 retried once)"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("earlier: p2.json"), std::string::npos) << text;
  std::size_t count = 0;
  const Verification back =
      io::parse_verification_json(io::verification_json(v, records.size()), "json", count);
  ASSERT_EQ(back.retries.size(), 1u);
  EXPECT_EQ(back.retries[0].message, v.retries[0].message);

  // A test that two different partitions ran is still duplicated.
  records.back().record.results.push_back({"d", io::ResultStatus::passed, 1.0});
  EXPECT_EQ(
      problems(verify_records(records, false)),
      (std::vector<std::string>{"duplicated: d (partitions 2, 3)", "ran but not assigned: d (partition 2)"}));
}

TEST(Verify, InconsistentTestList) {
  auto records = correct_set();
  io::PartitionRecord& r = partition(records, 2);
  r.all_tests.push_back("new test");
  r.test_list_hash = io::hash_names(r.all_tests);
  const auto found = problems(verify_records(records, false));
  ASSERT_EQ(found.size(), 1u) << ::testing::PrintToString(found);
  EXPECT_EQ(found[0].rfind("inconsistent: partition 2/3 (p2.json) saw a different test list: 7 tests, ", 0),
            0u)
      << found[0];
}

TEST(Verify, ATestListThatDoesNotMatchItsHash) {
  auto records = correct_set();
  partition(records, 1).all_tests.pop_back();
  const auto found = problems(verify_records(records, false));
  ASSERT_EQ(found.size(), 1u) << ::testing::PrintToString(found);
  EXPECT_NE(found[0].find("does not match its test_list_hash"), std::string::npos) << found[0];
}

TEST(Verify, InconsistentHistory) {
  auto records = correct_set();
  partition(records, 3).history_hash = "";
  partition(records, 3).history_status = "missing";
  const Verification v = verify_records(records, false);
  EXPECT_EQ(problems(v),
            std::vector<std::string>{"inconsistent: partition 3/3 (p3.json) split on a different "
                                     "history snapshot: none (the others: fnv1a64:00000000000000aa)"});
  ASSERT_EQ(v.notes.size(), 1u);
  EXPECT_EQ(v.notes[0].message, "partition 3/3 (p3.json) split without history (missing: .tlb/timings.txt)");
}

// Same test list and history, another option: the split may differ, so the records are refused, naming it.
TEST(Verify, RecordsSplitWithOtherOptionsAreRefusedNamingTheOption) {
  auto records = correct_set();
  partition(records, 2).fingerprint = fingerprint(3, 4);
  EXPECT_EQ(problems(verify_records(records, false)),
            std::vector<std::string>{
                "inconsistent: partition 2/3 (p2.json) split with other inputs than the others: the parallel "
                "level (TLB_PARALLEL_LEVEL, CTEST_PARALLEL_LEVEL): 4 against 1"});
  // A record of an older tlb, without a fingerprint, is not compared.
  partition(records, 2).fingerprint.reset();
  EXPECT_TRUE(verify_records(records, false).proven());
}

// Two cells of a CI matrix in one folder: each is its own run, so a partition missing from one is missing,
// whatever the other cell ran.
TEST(Verify, RecordsOfDifferentRunKeysAreCheckedApart) {
  std::vector<LoadedRecord> gcc = correct_set(), clang = correct_set();
  for (LoadedRecord& r : gcc) r.record.run_key = "config Release / CXX GNU 12.2.0";
  for (LoadedRecord& r : clang) {
    r.record.run_key = "config Release / CXX Clang 14.0.6";
    r.path = "clang-" + r.path;
  }
  std::vector<LoadedRecord> both = gcc;
  both.insert(both.end(), clang.begin(), clang.end());
  const Verification proven = verify_records(both, false);
  EXPECT_TRUE(proven.proven()) << ::testing::PrintToString(problems(proven));
  EXPECT_EQ(proven.runs, (std::vector<std::string>{"config Release / CXX Clang 14.0.6",
                                                   "config Release / CXX GNU 12.2.0"}));
  EXPECT_NE(io::verification_text(proven, 6).find("in each of the 2 runs"), std::string::npos);

  both.erase(both.begin() + 4);  // clang's partition 2: crashed, no record.
  const Verification gap = verify_records(both, false);
  ASSERT_FALSE(gap.proven());
  EXPECT_EQ(problems(gap),
            (std::vector<std::string>{
                "missing partition: run config Release / CXX Clang 14.0.6: partition 2/3: no record",
                "not assigned: run config Release / CXX Clang 14.0.6: c (in no partition)"}));
  std::size_t records = 0;
  const Verification back = io::parse_verification_json(io::verification_json(gap, 5), "server", records);
  EXPECT_EQ(back.runs, gap.runs);
}

TEST(Fingerprint, NamesEveryDifferenceAndIgnoresTheListsOrder) {
  std::vector<tlb::Test> tests{tlb::Test::named("b"), tlb::Test::named("a")};
  SplitOptions options;
  options.total = 2;
  const io::SplitFingerprint base = io::fingerprint_split(tests, "fnv1a64:1", options);
  std::reverse(tests.begin(), tests.end());
  EXPECT_EQ(io::fingerprint_split(tests, "fnv1a64:1", options), base);
  EXPECT_EQ(io::fingerprint_difference(base, base), std::nullopt);

  tests[0].cost = 2.5;  // A property the split reads: same names, another list.
  EXPECT_EQ(io::fingerprint_difference(io::fingerprint_split(tests, "fnv1a64:1", options), base).value_or(""),
            "the test list (same count, other names or properties): " +
                io::fingerprint_split(tests, "fnv1a64:1", options).test_list + " against " + base.test_list);
  tests.push_back(tlb::Test::named("c"));
  options.weights = {1, 2};
  options.splitters = {Splitter::count};
  EXPECT_EQ(io::fingerprint_difference(io::fingerprint_split(tests, "", options), base).value_or(""),
            "the number of tests: 3 against 2, the history: none against fnv1a64:1, the weights "
            "(TLB_PARTITION_WEIGHTS, in thousandths): 1000,2000 against equal, the splitters (TLB_SPLITTER, "
            "TLB_PREFERRED_SPLITTERS): count against time:count");
  io::SplitFingerprint newer = base;
  newer.algorithm += 1;
  newer.hash = io::fingerprint_hash(newer);
  EXPECT_EQ(io::fingerprint_difference(newer, base).value_or(""),
            "the split algorithm's version (another tlb): 2 against 1");
}

TEST(Verify, InconsistentTotal) {
  auto records = correct_set();
  partition(records, 3).total = 4;
  const auto found = problems(verify_records(records, false));
  EXPECT_EQ(found[0],
            "inconsistent: partition 3/4 (p3.json) was split into 4 partitions; the other records say 3");
  EXPECT_EQ(found[1], "missing partition: partition 3/3: no record");
}

TEST(Verify, ARecordWithoutResults) {
  auto records = correct_set();
  partition(records, 2).has_results = false;
  partition(records, 2).results.clear();
  EXPECT_EQ(problems(verify_records(records, false)),
            std::vector<std::string>{
                "no results: partition 2/3 (p2.json): no results (tlb record never ran for it)"});
}

TEST(Verify, HistoryNotOkIsANoteUnlessStrict) {
  auto records = correct_set();
  for (LoadedRecord& r : records) {
    r.record.history_status = "corrupt";
    r.record.history_hash = "";
  }
  Verification v = verify_records(records, false);
  EXPECT_TRUE(v.proven());
  EXPECT_EQ(v.notes.size(), 3u);
  v = verify_records(records, true);
  EXPECT_FALSE(v.proven());
  EXPECT_EQ(v.problems.size(), 3u);
  EXPECT_EQ(v.problems[0].kind, ProblemKind::history);
}

TEST(Verify, ATestNotInTheList) {
  auto records = correct_set();
  partition(records, 3).tests.push_back("stray");
  partition(records, 3).results.push_back({"stray", io::ResultStatus::passed, 1.0});
  EXPECT_EQ(problems(verify_records(records, false)),
            std::vector<std::string>{"not in the test list: stray (partition 3)"});
}

// A server sends its verification as JSON; read back, it prints exactly what a local verify prints.
TEST(Verify, TheJsonFormReadsBackToTheSameVerification) {
  auto records = correct_set();
  partition(records, 2).results.pop_back();
  partition(records, 3).history_status = "unavailable";
  const Verification v = verify_records(records, false);
  ASSERT_FALSE(v.proven());
  ASSERT_FALSE(v.notes.empty());
  std::size_t count = 0;
  const Verification back = io::parse_verification_json(io::verification_json(v, 3), "server", count);
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(io::verification_text(back, count), io::verification_text(v, 3));
  EXPECT_EQ(problems(back), problems(v));
  EXPECT_EQ(back.attachments, v.attachments);
}

TEST(Verify, JsonThatIsNotAVerificationIsNamed) {
  std::size_t count = 0;
  for (const char* text :
       {"", "[]", R"({"total": 1})",
        R"({"proven": true, "total": 1, "records": 1, "tests": 1, "problems": [{"kind": "nope",
                               "partitions": [], "message": "m"}], "notes": []})"}) {
    try {
      io::parse_verification_json(text, "http://h/verify", count);
      ADD_FAILURE() << text;
    } catch (const io::InputError& error) {
      EXPECT_NE(std::string(error.what()).find("http://h/verify"), std::string::npos) << error.what();
    }
  }
}

}  // namespace
}  // namespace tlb::cli
