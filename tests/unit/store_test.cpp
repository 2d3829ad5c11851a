// The timing file and the store interface: format, order, atomic replacement, smoothing, failed runs, aging,
// and files that cannot be read, which are reported and never overwritten.
#include "store/store.hpp"

#include <gtest/gtest.h>
#ifndef _WIN32
#include <sys/resource.h>
#endif

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>

#include "io/text.hpp"
#include "store/file_store.hpp"
#include "store/http_client.hpp"
#include "support/scratch_dir.hpp"

namespace tlb::store {
namespace {

namespace fs = std::filesystem;

Date day(std::string_view text) {
  return parse_date(text).value();
}

class TimingFile : public tlb::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    path_ = (dir_ / "timings.txt").string();
  }
  void write(const std::string& content) { std::ofstream(path_, std::ios::binary) << content; }
  std::string content() const { return io::read_file(path_); }
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  RunReport report(std::vector<Observation> observations, std::string_view date = "2024-05-02") {
    RunReport r;
    r.observations = std::move(observations);
    r.date = day(date);
    return r;
  }

  std::string path_;
};

constexpr std::string_view kHeader = "# tlb timings v1\n# seconds runs last-result last-seen name\n";

// One parser of server URLs for the HTTP store and the swarm's clients: origin and path prefix apart, and the
// reason alone when the URL cannot name a server (the caller says where it came from).
TEST(ServerUrl, OriginAndPrefixApart) {
  const ServerUrl at_root = parse_server_url("http://h:1/");
  EXPECT_EQ(at_root.url, "http://h:1");
  EXPECT_EQ(at_root.origin, "http://h:1");
  EXPECT_EQ(at_root.prefix, "");
  const ServerUrl nested = parse_server_url("https://tlb.example/ci/tlb//");
  EXPECT_EQ(nested.url, "https://tlb.example/ci/tlb");
  EXPECT_EQ(nested.origin, "https://tlb.example");
  EXPECT_EQ(nested.prefix, "/ci/tlb");
  auto reason = [](const std::string& url) {
    try {
      parse_server_url(url);
      return std::string("accepted");
    } catch (const UnsupportedStore& e) {
      return std::string(e.what());
    }
  };
  EXPECT_EQ(reason("http://"), "no host in the URL");
  EXPECT_EQ(reason("http:///p"), "no host in the URL");
  EXPECT_EQ(reason("http://h?x"), "a server URL has no query or fragment");
  EXPECT_EQ(reason("http://h/p#top"), "a server URL has no query or fragment");
  EXPECT_EQ(reason("ftp://h"), "not a server URL (http:// or https://)");
}

TEST(Dates, ParseAndFormat) {
  EXPECT_EQ(format_date(day("2024-02-29")), "2024-02-29");
  EXPECT_EQ(format_date(day("1999-12-31")), "1999-12-31");
  EXPECT_FALSE(parse_date("2023-02-29"));
  EXPECT_FALSE(parse_date("2024-1-01"));
  EXPECT_FALSE(parse_date("2024-01-01 "));
  EXPECT_FALSE(parse_date("24-01-2024"));
  EXPECT_EQ((day("2024-03-01") - day("2024-02-28")).count(), 2);
}

TEST(Fold, PassedRunsAreSmoothed) {
  TestRecord record;
  fold(record, {"t", 10.0, Outcome::passed}, 0.5);
  EXPECT_EQ(record, (TestRecord{10.0, 1, Outcome::passed}));  // The first run is taken as it is.
  fold(record, {"t", 20.0, Outcome::passed}, 0.5);
  EXPECT_EQ(record, (TestRecord{15.0, 2, Outcome::passed}));
  fold(record, {"t", 5.0, Outcome::passed}, 1.0);  // Alpha 1 keeps only the latest run.
  EXPECT_EQ(record, (TestRecord{5.0, 3, Outcome::passed}));
}

TEST(Fold, AFailedRunCountsOnlyWhenLongerThanTheEstimate) {
  TestRecord record{10.0, 3, Outcome::passed};
  fold(record, {"t", 0.2, Outcome::failed}, 0.5);  // Stopped early: says nothing of the next run.
  EXPECT_EQ(record, (TestRecord{10.0, 3, Outcome::failed}));
  fold(record, {"t", 30.0, Outcome::failed}, 0.5);  // A hang until the timeout: likely to recur.
  EXPECT_EQ(record, (TestRecord{20.0, 4, Outcome::failed}));
  TestRecord fresh;
  fold(fresh, {"t", 0.2, Outcome::failed}, 0.5);  // With no estimate, any measurement is one.
  EXPECT_EQ(fresh, (TestRecord{0.2, 1, Outcome::failed}));
}

// A test that always skips is learned at its skipping time; one that ran before keeps its real duration.
TEST(Fold, ATestThatAlwaysSkipsIsLearnedFromItsSkips) {
  TestRecord record;
  fold(record, {"t", 0.02, Outcome::skipped}, 0.5);
  EXPECT_EQ(record, (TestRecord{0.02, 1, Outcome::skipped}));
  fold(record, {"t", 0.04, Outcome::skipped}, 0.5);
  EXPECT_EQ(record, (TestRecord{0.03, 2, Outcome::skipped}));
  fold(record, {"t", 8.0, Outcome::passed}, 0.5);
  EXPECT_EQ(record, (TestRecord{4.015, 3, Outcome::passed}));
  fold(record, {"t", 0.01, Outcome::skipped}, 0.5);  // Skipped after a real run: the estimate stays.
  EXPECT_EQ(record, (TestRecord{4.015, 3, Outcome::skipped}));
}

TEST(Fold, SkippedRunsAndMissingTimesKeepTheEstimate) {
  TestRecord record{10.0, 3, Outcome::failed};
  fold(record, {"t", 0.0, Outcome::skipped}, 0.5);
  EXPECT_EQ(record, (TestRecord{10.0, 3, Outcome::skipped}));
  fold(record, {"t", std::nullopt, Outcome::passed}, 0.5);
  EXPECT_EQ(record, (TestRecord{10.0, 3, Outcome::passed}));
  fold(record, {"t", 4.0, Outcome::unknown},
       0.5);  // Unknown outcome: the duration counts, the outcome stays.
  EXPECT_EQ(record, (TestRecord{7.0, 4, Outcome::passed}));
}

// Durations measured under another ctest -j are not averaged with the estimate: it starts again at the new
// level (issue 22).
TEST(Fold, AnotherParallelLevelStartsTheEstimateAgain) {
  TestRecord record{10.0, 3, Outcome::passed};  // Learned under -j 1 (or in a version 1 file).
  Observation at_j2{"t", 17.0, Outcome::passed};
  at_j2.jobs = 2;
  fold(record, at_j2, 0.5);
  EXPECT_EQ(record, (TestRecord{17.0, 1, Outcome::passed, 2}));
  at_j2.seconds = 15.0;
  fold(record, at_j2, 0.5);
  EXPECT_EQ(record, (TestRecord{16.0, 2, Outcome::passed, 2}));
  fold(record, {"t", 9.0, Outcome::passed}, 0.5);  // Level not known: smoothed in as it is.
  EXPECT_EQ(record, (TestRecord{12.5, 3, Outcome::passed, 2}));
  Observation at_j1{"t", 10.0, Outcome::passed};
  at_j1.jobs = 1;
  fold(record, at_j1, 0.5);
  EXPECT_EQ(record, (TestRecord{10.0, 1, Outcome::passed, 1}));
}

TEST(HistoryHash, DependsOnContentOnly) {
  History a, b;
  a.set("x", {1.5, 2, Outcome::passed});
  a.set("y", {2.0, 1, Outcome::failed});
  b.set("y", {2.0, 1, Outcome::failed});
  b.set("x", {1.5, 2, Outcome::passed});
  EXPECT_EQ(history_hash(a), history_hash(b));
  EXPECT_EQ(history_hash(a).rfind("fnv1a64:", 0), 0u);
  EXPECT_EQ(history_hash(a).size(), 8u + 16u);
  b.set("x", {1.5, 2, Outcome::failed});
  EXPECT_NE(history_hash(a), history_hash(b));
  EXPECT_EQ(history_hash(History{}), "fnv1a64:cbf29ce484222325");  // FNV-1a's offset basis: nothing hashed.
}

// The ctest -j of each duration: version 2 only when one was measured under -j 2 or more; version 1 files are
// read as -j 1 (issue 22).
TEST_F(TimingFile, TheParallelLevelNeedsVersionTwoOnlyAboveOne) {
  Timings timings;
  timings["a"] = {TestRecord{1.5, 2, Outcome::passed}, day("2024-05-02")};
  write_timings(path_, timings);
  EXPECT_EQ(content(), std::string(kHeader) + "1.500000 2 passed 2024-05-02 a\n");
  timings["b c"] = {TestRecord{2.5, 1, Outcome::failed, 4}, day("2024-05-02")};
  write_timings(path_, timings);
  EXPECT_EQ(content(),
            "# tlb timings v2\n# seconds runs last-result last-seen jobs name\n"
            "1.500000 2 passed 2024-05-02 1 a\n2.500000 1 failed 2024-05-02 4 b c\n");
  const std::optional<Timings> back = read_timings(path_);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->at("b c").record, (TestRecord{2.5, 1, Outcome::failed, 4}));
  EXPECT_EQ(back->at("a").record.jobs, 1u);
  EXPECT_THROW(parse_timings("# tlb timings v2\n1.0 1 passed 2024-05-02 0 x\n", "t"), io::InputError);
}

TEST_F(TimingFile, RoundTripInNameOrder) {
  Timings timings;
  timings["zeta"] = {TestRecord{1.25, 4, Outcome::passed}, day("2024-05-02")};
  timings["Alpha"] = {TestRecord{0.000001, 1, Outcome::failed}, day("2024-04-30")};
  timings["alpha"] = {TestRecord{123.456789, 12, Outcome::skipped}, day("2024-05-01")};
  timings["mid"] = {TestRecord{0, 0, Outcome::unknown}, day("2024-05-01")};
  write_timings(path_, timings);
  EXPECT_EQ(content(), std::string(kHeader) +
                           "0.000001 1 failed 2024-04-30 Alpha\n"
                           "123.456789 12 skipped 2024-05-01 alpha\n"
                           "0.000000 0 unknown 2024-05-01 mid\n"
                           "1.250000 4 passed 2024-05-02 zeta\n");
  EXPECT_EQ(read_timings(path_), timings);
  EXPECT_EQ(files(), std::vector<std::string>{"timings.txt"});  // No temporary file left behind.
}

TEST_F(TimingFile, TheSameContentIsWrittenTheSameWayWhateverTheOrderItArrivedIn) {
  std::vector<Observation> observations;
  for (int i = 0; i < 50; ++i)
    observations.push_back({"test " + std::to_string(i), 1.0 + i, Outcome::passed});
  std::string first;
  for (unsigned seed : {1u, 2u, 3u}) {
    std::shuffle(observations.begin(), observations.end(), std::mt19937(seed));
    Timings timings;
    apply(timings, report(observations), 0.5);
    const std::string text = format_timings(timings);
    if (first.empty()) first = text;
    EXPECT_EQ(text, first);
  }
}

TEST_F(TimingFile, HostileNamesSurvive) {
  const std::vector<std::string> names{
      "with spaces  and  doubled", " leading space", "trailing space ", "semi;colon",      "[brackets]",
      "\"quotes\" and 'single'",   "ünïcödé ✓",      "tab\there",       "# not a comment", "1.5 2 passed",
      "<<<<<<< not a marker"};
  Timings timings;
  for (const std::string& name : names)
    timings[name] = {TestRecord{2.5, 1, Outcome::passed}, day("2024-05-02")};
  write_timings(path_, timings);
  EXPECT_EQ(read_timings(path_), timings);
}

TEST_F(TimingFile, NamesWithLineBreaksAreRefused) {
  for (std::string name : {"line\nbreak", "carriage\rreturn", ""}) {
    Timings timings;
    timings[name] = {TestRecord{1, 1, Outcome::passed}, day("2024-05-02")};
    EXPECT_THROW(write_timings(path_, timings), io::InputError) << name;
  }
  EXPECT_FALSE(fs::exists(path_));
  auto store = open_file_store(path_, {});
  EXPECT_THROW(store->update({report({{"bad\nname", 1.0, Outcome::passed}})}), io::InputError);
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(TimingFile, ReadsWhatPeopleAndGitDoToIt) {
  // CRLF line ends, a BOM, blank lines, comments, unsorted lines, and a name given twice (both sides of a
  // resolved merge conflict): the later last-seen date wins.
  write(
      "\xEF\xBB\xBF# tlb timings v1\r\n\r\n# a comment\r\n2.000000 3 passed 2024-05-02 b\r\n"
      "1.000000 9 passed 2024-05-01 a\r\n3.000000 1 failed 2024-05-03 a\r\n");
  auto timings = read_timings(path_);
  ASSERT_TRUE(timings);
  ASSERT_EQ(timings->size(), 2u);
  EXPECT_EQ(timings->at("a"), (TimedRecord{TestRecord{3.0, 1, Outcome::failed}, day("2024-05-03")}));
  EXPECT_EQ(timings->at("b").record.runs, 3u);
}

TEST_F(TimingFile, EmptyFileIsEmptyHistory) {
  write("");
  auto store = open_file_store(path_, {});
  LoadedHistory loaded = store->load();
  EXPECT_EQ(loaded.status, HistoryStatus::ok);
  EXPECT_TRUE(loaded.history.empty());
}

TEST_F(TimingFile, LoadReportsAMissingFile) {
  auto store = open_file_store(path_, {});
  LoadedHistory loaded = store->load();
  EXPECT_EQ(loaded.status, HistoryStatus::missing);
  EXPECT_EQ(to_string(loaded.status), "missing");
  EXPECT_EQ(loaded.source, path_);
  EXPECT_EQ(loaded.hash, "");
  EXPECT_NE(loaded.warning.find(path_), std::string::npos);
  EXPECT_EQ(loaded.warning.find('\n'), std::string::npos);
}

TEST_F(TimingFile, LoadGivesHistoryAndItsHash) {
  write(std::string(kHeader) + "1.500000 2 failed 2024-05-02 x\n");
  LoadedHistory loaded = open_file_store(path_, {})->load();
  EXPECT_EQ(loaded.status, HistoryStatus::ok);
  EXPECT_EQ(loaded.warning, "");
  ASSERT_NE(loaded.history.find("x"), nullptr);
  EXPECT_EQ(*loaded.history.find("x"), (TestRecord{1.5, 2, Outcome::failed}));
  EXPECT_EQ(loaded.hash, history_hash(loaded.history));
  // A different last-seen date does not change what a split is made on, so not the hash either.
  write(std::string(kHeader) + "1.500000 2 failed 2024-06-01 x\n");
  EXPECT_EQ(open_file_store(path_, {})->load().hash, loaded.hash);
}

struct Corruption {
  std::string content;
  std::size_t line;
  std::string says;
};

class CorruptTimingFile : public TimingFile, public ::testing::WithParamInterface<Corruption> {};

TEST_P(CorruptTimingFile, WarnsOnLoadAndIsNeverOverwritten) {
  const Corruption& c = GetParam();
  write(c.content);
  auto store = open_file_store(path_, {});
  LoadedHistory loaded = store->load();
  EXPECT_EQ(loaded.status, HistoryStatus::corrupt);
  EXPECT_TRUE(loaded.history.empty());
  EXPECT_EQ(loaded.hash, "");
  EXPECT_NE(loaded.warning.find(path_ + ":" + std::to_string(c.line) + ": "), std::string::npos)
      << loaded.warning;
  EXPECT_NE(loaded.warning.find(c.says), std::string::npos) << loaded.warning;
  EXPECT_EQ(loaded.warning.find('\n'), std::string::npos);

  try {
    store->update({report({{"new test", 1.0, Outcome::passed}})});
    ADD_FAILURE() << "the update should have been refused";
  } catch (const io::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("refusing to replace it"), std::string::npos) << e.what();
    EXPECT_EQ(e.line(), c.line);
  }
  EXPECT_EQ(content(), c.content);  // Byte for byte.
  EXPECT_EQ(files(), std::vector<std::string>{"timings.txt"});
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CorruptTimingFile,
    ::testing::Values(
        Corruption{"# tlb timings v3\n9.000000 1 passed 2024-05-02 x\n", 1, "newer tlb"},
        Corruption{"name 1.5\n", 1, "not a tlb timing file"},
        Corruption{std::string(kHeader) + "1,5 1 passed 2024-05-02 x\n", 3, "bad duration '1,5'"},
        Corruption{std::string(kHeader) + "-1.0 1 passed 2024-05-02 x\n", 3, "bad duration"},
        Corruption{std::string(kHeader) + "1.0 many passed 2024-05-02 x\n", 3, "bad run count"},
        Corruption{std::string(kHeader) + "1.0 1 green 2024-05-02 x\n", 3, "bad last result"},
        Corruption{std::string(kHeader) + "1.0 1 passed 2024-02-30 x\n", 3, "bad last-seen date"},
        Corruption{std::string(kHeader) + "1.0 1 passed 2024-05-02\n", 3, "expected '<seconds>"},
        Corruption{std::string(kHeader) + "1.0 1 passed 2024-05-02 \n", 3, "no test name"},
        Corruption{std::string(kHeader) + "<<<<<<< HEAD\n1.0 1 passed 2024-05-02 x\n=======\n"
                                          "2.0 1 passed 2024-05-03 x\n>>>>>>> branch\n",
                   3, "unresolved merge conflict"}),
    // Named after the message, so ctest's names (gtest_discover_tests) are readable and stable.
    [](const ::testing::TestParamInfo<Corruption>& param) {
      std::string name;
      for (const char c : param.param.says) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST_F(TimingFile, UpdateSmoothsAndDates) {
  auto store = open_file_store(path_, HistoryPolicy{0.5, 30});
  UpdateSummary first = store->update({report({{"a", 10.0, Outcome::passed}, {"b", 4.0, Outcome::passed}})});
  EXPECT_EQ(first.observed, 2u);
  EXPECT_EQ(first.added, 2u);
  EXPECT_EQ(first.stored, 2u);
  UpdateSummary second = store->update({report({{"a", 20.0, Outcome::passed}}, "2024-05-03")});
  EXPECT_EQ(second.added, 0u);
  EXPECT_EQ(content(), std::string(kHeader) +
                           "15.000000 2 passed 2024-05-03 a\n"
                           "4.000000 1 passed 2024-05-02 b\n");
  LoadedHistory loaded = store->load();
  EXPECT_EQ(loaded.status, HistoryStatus::ok);
  EXPECT_EQ(loaded.history.find("a")->seconds, 15.0);
}

TEST_F(TimingFile, AnOlderRunDoesNotMoveTheLastSeenDateBack) {
  Timings timings;
  apply(timings, report({{"a", 1.0, Outcome::passed}}, "2024-05-10"), 0.5);
  apply(timings, report({{"a", 3.0, Outcome::passed}}, "2024-05-01"), 0.5);
  EXPECT_EQ(timings.at("a"), (TimedRecord{TestRecord{2.0, 2, Outcome::passed}, day("2024-05-10")}));
}

TEST_F(TimingFile, AgingCountsBackFromTheNewestDateInTheFile) {
  // The file was idle for months: nothing is lost for that, only what the latest runs no longer saw.
  write(std::string(kHeader) +
        "1.000000 1 passed 2022-12-31 gone\n"
        "1.000000 1 passed 2023-01-01 kept at the edge\n"
        "1.000000 1 passed 2023-01-31 newest\n");
  auto store = open_file_store(path_, HistoryPolicy{0.5, 30});
  UpdateSummary summary = store->update({report({}, "2023-01-31")});
  EXPECT_EQ(summary.forgotten, 1u);
  EXPECT_EQ(summary.stored, 2u);
  auto timings = read_timings(path_);
  EXPECT_FALSE(timings->contains("gone"));
  EXPECT_TRUE(timings->contains("kept at the edge"));

  Timings t{{"old", {TestRecord{1, 1, Outcome::passed}, day("2024-01-01")}},
            {"edge", {TestRecord{1, 1, Outcome::passed}, day("2024-01-31")}},
            {"new", {TestRecord{1, 1, Outcome::passed}, day("2024-03-01")}}};
  EXPECT_EQ(forget_stale(t, 30), 1u);  // 2024-01-31 is 30 days before 2024-03-01: kept.
  EXPECT_EQ(t.size(), 2u);
  EXPECT_FALSE(t.contains("old"));
  Timings u{{"a", {TestRecord{1, 1, Outcome::passed}, day("2024-01-01")}},
            {"b", {TestRecord{1, 1, Outcome::passed}, day("2024-01-02")}}};
  EXPECT_EQ(forget_stale(u, 0), 1u);  // 0: only the tests of the newest day are kept.
}

TEST_F(TimingFile, AFailedWriteLeavesTheOldFile) {
  const std::string old = std::string(kHeader) + "1.000000 1 passed 2024-05-02 x\n";
  write(old);
  Timings big;
  for (int i = 0; i < 2000; ++i)
    big["test " + std::to_string(i)] = {TestRecord{1, 1, Outcome::passed}, day("2024-05-02")};

#ifdef _WIN32
  GTEST_SKIP() << "no file size limit on Windows to make the write fail part way";
#else
  // A file size limit makes the write fail part way, as a full disk would (root ignores permissions).
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto previous = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  EXPECT_THROW(write_timings(path_, big), io::InputError);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &saved), 0);
  std::signal(SIGXFSZ, previous);

  EXPECT_EQ(content(), old);
  EXPECT_EQ(files(), std::vector<std::string>{"timings.txt"});
#endif
}

TEST_F(TimingFile, KeepNewerIsOrderIndependent) {
  const Timings a{{"x", {TestRecord{1, 5, Outcome::passed}, day("2024-05-01")}},
                  {"y", {TestRecord{2, 1, Outcome::passed}, day("2024-05-03")}},
                  {"z", {TestRecord{3, 2, Outcome::passed}, day("2024-05-02")}}};
  const Timings b{
      {"x", {TestRecord{9, 1, Outcome::failed}, day("2024-05-02")}},   // later: wins
      {"y", {TestRecord{2, 2, Outcome::passed}, day("2024-05-03")}},   // same day, more runs: wins
      {"z", {TestRecord{4, 2, Outcome::passed}, day("2024-05-02")}}};  // all equal but longer: wins
  const Timings c{
      {"w", {TestRecord{1, 1, Outcome::passed}, day("2024-05-01")}},
      {"z", {TestRecord{4, 2, Outcome::failed}, day("2024-05-02")}}};  // and a failure over a pass
  std::vector<const Timings*> inputs{&a, &b, &c};
  std::sort(inputs.begin(), inputs.end());
  std::optional<Timings> first;
  do {
    Timings merged;
    for (const Timings* t : inputs) keep_newer(merged, *t);
    if (!first) first = merged;
    EXPECT_EQ(merged, *first);
  } while (std::next_permutation(inputs.begin(), inputs.end()));
  EXPECT_EQ(first->at("x").record.seconds, 9);
  EXPECT_EQ(first->at("y").record.runs, 2u);
  EXPECT_EQ(first->at("z").record, (TestRecord{4, 2, Outcome::failed}));
  EXPECT_EQ(first->size(), 4u);
}

TEST(OpenStore, PicksTheBackendByScheme) {
  EXPECT_EQ(open_store("some/dir/timings.txt")->location(), "some/dir/timings.txt");
  EXPECT_EQ(open_store("file:///abs/timings.txt")->location(), "/abs/timings.txt");
  EXPECT_EQ(open_store("file://localhost/abs/t.txt")->location(), "/abs/t.txt");
  EXPECT_EQ(open_store("C:/odd/but/a/path")->location(), "C:/odd/but/a/path");
  try {
    open_store("http://tlb.example:7019");
    ADD_FAILURE();
  } catch (const UnsupportedStore& e) {
    EXPECT_NE(std::string(e.what()).find("TLB_JOB_NAME"), std::string::npos) << e.what();
  }
  EXPECT_EQ(open_store("http://tlb.example:7019/", {}, ServerOptions{"app", "", "", 1, ""})->location(),
            "http://tlb.example:7019");
  try {
    open_store("redis://host");
    ADD_FAILURE();
  } catch (const UnsupportedStore& e) {
    EXPECT_NE(std::string(e.what()).find("unknown store scheme 'redis://'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(open_store(""), UnsupportedStore);
  EXPECT_THROW(open_store("file://"), UnsupportedStore);
  EXPECT_TRUE(is_server_url("HTTP://tlb.example:7019"));
  EXPECT_TRUE(is_server_url("https://tlb.example"));
  EXPECT_FALSE(is_server_url("http.txt"));
  EXPECT_FALSE(is_server_url("file:///http://x"));
}

}  // namespace
}  // namespace tlb::store
