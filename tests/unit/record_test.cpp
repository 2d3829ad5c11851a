// Partition records: written atomically, read back exactly, and refused with the file and line when they are
// not records, lack a member, or come from a newer tlb.
#include "io/record.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io/text.hpp"
#include "support/scratch_dir.hpp"

namespace tlb::io {
namespace {

namespace fs = std::filesystem;

class Record : public tlb::testing::ScratchDirTest {
 protected:
  // The InputError read_record throws for `content`.
  InputError error_for(const std::string& content) {
    const std::string path = write("bad.json", content);
    try {
      read_record(path);
    } catch (const InputError& e) {
      return e;
    }
    ADD_FAILURE() << "no error for " << content;
    return InputError("", 0, "");
  }
};

PartitionRecord sample() {
  PartitionRecord r;
  r.partition = 2;
  r.total = 3;
  r.splitter = "time";
  r.all_tests = {"a", "b;c [d] \"e\" ü", "fixture setup", "z z"};
  r.test_list_hash = hash_names(r.all_tests);
  r.history_source = ".tlb/timings.txt";
  r.history_status = "ok";
  r.history_hash = "fnv1a64:0123456789abcdef";
  r.tests = {"b;c [d] \"e\" ü", "fixture setup"};
  r.attachments = {"fixture setup"};
  r.has_results = true;
  r.results = {{"b;c [d] \"e\" ü", ResultStatus::failed, 1.25},
               {"fixture setup", ResultStatus::passed, std::nullopt}};
  r.recorded_on = "2024-05-02";
  r.plan = RecordedPlan{{4.5, 5.25, 5.0}, 4.875, 5.25};
  r.estimates = {{"b;c [d] \"e\" ü", 3.25, Estimate::history}, {"fixture setup", 2.0, Estimate::cost}};
  SplitOptions options;
  options.total = 3;
  options.weights = {1, 1, 2};
  options.parallel_level = 4;
  r.fingerprint = fingerprint_split({Test::named("a"), Test::named("z z")}, r.history_hash, options);
  return r;
}

TEST(HashNames, IsFnv1a64OfEachNameAndANewline) {
  EXPECT_EQ(hash_names({}), "fnv1a64:cbf29ce484222325");
  // FNV-1a 64 of "a\n" and of "a\nb\n", computed independently (FNV-1a 64 of "a" is af63dc4c8601ec8c).
  EXPECT_EQ(hash_names({"a"}), "fnv1a64:089bdc07b544e7b2");
  EXPECT_EQ(hash_names({"a", "b"}), "fnv1a64:78ed6781f136a14e");
  EXPECT_NE(hash_names({"ab"}), hash_names({"a", "b"}));
  EXPECT_EQ(hash_names({"x", "y"}), hash_names({"x", "y"}));
}

TEST_F(Record, RoundTrip) {
  const std::string path = (dir_ / "sub" / "dir" / "partition-2-of-3.json").string();
  write_record(path, sample());
  EXPECT_EQ(read_record(path), sample());
  // Nothing but the record in its directory: the temporary file was renamed.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "sub" / "dir"), fs::directory_iterator()), 1);
  const std::string text = read_file(path);
  EXPECT_NE(text.find("\"kind\": \"tlb-partition-record\""), std::string::npos);
  EXPECT_NE(text.find("\"version\": 1"), std::string::npos);

  PartitionRecord before = sample();
  before.has_results = false;
  before.results.clear();
  before.recorded_on.clear();
  write_record(path, before);
  EXPECT_EQ(read_record(path), before);

  // Records of an earlier tlb have no plan, no estimates and no fingerprint: they still read.
  before.plan.reset();
  before.estimates.clear();
  before.fingerprint.reset();
  write_record(path, before);
  EXPECT_EQ(read_file(path).find("\"plan\""), std::string::npos);
  EXPECT_EQ(read_record(path), before);
}

TEST_F(Record, FormatAndParseAreTheFileForm) {
  PartitionRecord record;
  record.partition = 2;
  record.total = 3;
  record.splitter = "time";
  record.all_tests = {"a", "b c"};
  record.test_list_hash = hash_names(record.all_tests);
  record.tests = {"b c"};
  const std::string path = (dir_ / "p.json").string();
  write_record(path, record);
  const std::string text = format_record(record, "body");
  EXPECT_EQ(text, read_file(path));
  EXPECT_EQ(parse_record(text, "body"), record);
  try {
    parse_record("{", "http://server/partitions");
    ADD_FAILURE();
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("http://server/partitions"), std::string::npos);
  }
}

TEST_F(Record, RecordedOnIsOptional) {
  std::string text = read_file([&] {
    const std::string path = (dir_ / "r.json").string();
    write_record(path, sample());
    return path;
  }());
  const auto at = text.find("  \"recorded_on\": \"2024-05-02\",\n");
  ASSERT_NE(at, std::string::npos);
  text.erase(at, std::string("  \"recorded_on\": \"2024-05-02\",\n").size());
  const std::string path = write("old.json", text);
  PartitionRecord expected = sample();
  expected.recorded_on.clear();
  EXPECT_EQ(read_record(path), expected);
}

TEST_F(Record, UnknownMembersAreIgnored) {
  std::string text = read_file([&] {
    const std::string path = (dir_ / "r.json").string();
    write_record(path, sample());
    return path;
  }());
  text.insert(text.find("\"partition\""), "\"future\": {\"nested\": [1, 2]},\n  ");
  EXPECT_EQ(read_record(write("future.json", text)), sample());
}

TEST_F(Record, AFingerprintThatDoesNotMatchItsHashIsRefused) {
  std::string text = format_record(sample(), "r.json");
  const auto at = text.find("\"parallel_level\": 4");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, std::string("\"parallel_level\": 4").size(), "\"parallel_level\": 1");
  const InputError error = error_for(text);
  EXPECT_NE(std::string(error.what()).find("\"fingerprint\" does not match its \"hash\""), std::string::npos)
      << error.what();
}

TEST_F(Record, NotARecord) {
  InputError e = error_for("{\"kind\": \"ctestInfo\", \"version\": {\"major\": 1}}");
  EXPECT_NE(std::string(e.what()).find("not a tlb partition record"), std::string::npos) << e.what();
  e = error_for("[1, 2]");
  EXPECT_NE(std::string(e.what()).find("not a tlb partition record"), std::string::npos) << e.what();
  e = error_for("");
  EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
}

TEST_F(Record, MalformedJsonNamesTheLine) {
  InputError e =
      error_for("{\n  \"kind\": \"tlb-partition-record\",\n  \"version\": 1,\n  \"partition\": 2,,\n}");
  EXPECT_EQ(e.line(), 4u) << e.what();
  EXPECT_NE(std::string(e.what()).find("bad.json:4: "), std::string::npos) << e.what();
}

TEST_F(Record, NewerVersionIsRefused) {
  InputError e =
      error_for("{\n  \"kind\": \"tlb-partition-record\",\n  \"version\": 2,\n  \"whatever\": true\n}");
  EXPECT_EQ(e.line(), 3u);
  EXPECT_NE(std::string(e.what()).find("newer tlb"), std::string::npos) << e.what();
}

TEST_F(Record, MissingOrWrongMembersAreNamed) {
  const std::string path = (dir_ / "r.json").string();
  write_record(path, sample());
  const std::string good = read_file(path);

  std::string without = good;
  const auto at = without.find("  \"splitter\": \"time\",\n");
  without.erase(at, std::string("  \"splitter\": \"time\",\n").size());
  InputError e = error_for(without);
  EXPECT_NE(std::string(e.what()).find("lacks \"splitter\""), std::string::npos) << e.what();

  std::string wrong = good;
  wrong.replace(wrong.find("\"total\": 3"), 10, "\"total\": \"3\"");
  e = error_for(wrong);
  EXPECT_NE(std::string(e.what()).find("\"total\" should be a whole number"), std::string::npos) << e.what();
  EXPECT_EQ(e.line(), 5u) << e.what();  // "{", kind, version, partition, total.

  std::string out_of_range = good;
  out_of_range.replace(out_of_range.find("\"partition\": 2"), 14, "\"partition\": 4");
  e = error_for(out_of_range);
  EXPECT_NE(std::string(e.what()).find("partition 4 of 3"), std::string::npos) << e.what();

  std::string bad_status = good;
  bad_status.replace(bad_status.find("\"status\": \"failed\""), 18, "\"status\": \"red\"");
  e = error_for(bad_status);
  EXPECT_NE(std::string(e.what()).find("unknown result status 'red'"), std::string::npos) << e.what();

  std::string negative = good;
  negative.replace(negative.find("\"seconds\": 1.25"), 15, "\"seconds\": -1.25");
  e = error_for(negative);
  EXPECT_NE(std::string(e.what()).find("negative duration"), std::string::npos) << e.what();
}

TEST_F(Record, WriteRefusesNamesThatAreNotUtf8) {
  PartitionRecord r = sample();
  r.tests.push_back("latin1 \xE9");
  const std::string path = (dir_ / "r.json").string();
  EXPECT_THROW(write_record(path, r), InputError);
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace tlb::io
