#include "io/record.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <tuple>
#include <nlohmann/json.hpp>

#include "io/atomic_file.hpp"
#include "io/fingerprint_json.hpp"
#include "io/json_reader.hpp"
#include "io/text.hpp"

namespace tlb::io {
namespace {

constexpr std::string_view kKind = "tlb-partition-record";
constexpr int kVersion = 1;

// Reads the members of one record, remembering where each started so that a wrong value names its line.
class RecordReader {
 public:
  RecordReader(std::string_view text, std::string source) : text_(text), source_(std::move(source)) {}

  PartitionRecord read() {
    JsonReader reader(text_, source_);
    const std::size_t start = reader.offset();
    if (reader.peek() != JsonReader::Kind::object)
      fail(start, "not a tlb partition record: not a JSON object");
    check_kind_and_version(reader, start);

    reader.seek(start);
    PartitionRecord record;
    std::map<std::string, bool, std::less<>> seen;
    std::string key;
    reader.begin_object();
    while (reader.next_key(key)) {
      const std::size_t at = reader.offset();
      seen[key] = true;
      if (key == "partition") {
        record.partition = whole_number(reader, at, key);
      } else if (key == "total") {
        record.total = whole_number(reader, at, key);
      } else if (key == "splitter") {
        record.splitter = string(reader, at, key);
      } else if (key == "all_tests") {
        record.all_tests = strings(reader, at, key);
      } else if (key == "test_list_hash") {
        record.test_list_hash = string(reader, at, key);
      } else if (key == "history_source") {
        record.history_source = string(reader, at, key);
      } else if (key == "history_status") {
        record.history_status = string(reader, at, key);
      } else if (key == "history_hash") {
        record.history_hash = string(reader, at, key);
      } else if (key == "tests") {
        record.tests = strings(reader, at, key);
      } else if (key == "attachments") {
        record.attachments = strings(reader, at, key);
      } else if (key == "has_results") {
        if (reader.peek() != JsonReader::Kind::boolean) fail(at, "\"has_results\" should be true or false");
        record.has_results = reader.read_boolean();
      } else if (key == "results") {
        record.results = results(reader, at);
      } else if (key == "recorded_on") {
        record.recorded_on = string(reader, at, key);
      } else if (key == "job") {
        record.job = string(reader, at, key);
      } else if (key == "job_version") {
        record.job_version = string(reader, at, key);
      } else if (key == "run_key") {
        record.run_key = string(reader, at, key);
      } else if (key == "plan") {
        record.plan = plan(reader, at);
      } else if (key == "split_at") {
        record.split_at = string(reader, at, key);
      } else if (key == "ctest_parallel_level") {
        record.ctest_parallel_level = whole_number(reader, at, key);
      } else if (key == "source_dir") {
        record.source_dir = string(reader, at, key);
      } else if (key == "estimates") {
        record.estimates = estimates(reader, at);
      } else if (key == "fingerprint") {
        record.fingerprint = fingerprint(reader, at);
      } else {
        reader.skip();  // Unknown members are for newer minor additions; version 1 readers ignore them.
      }
    }
    reader.expect_end();

    for (std::string_view required :
         {"partition", "total", "splitter", "all_tests", "test_list_hash", "history_source", "history_status",
          "history_hash", "tests", "attachments", "has_results", "results"}) {
      if (seen.find(required) == seen.end()) {
        fail(start, "partition record lacks \"" + std::string(required) + "\"");
      }
    }
    if (record.partition < 1 || record.total < 1 || record.partition > record.total) {
      fail(start, "partition " + std::to_string(record.partition) + " of " + std::to_string(record.total) +
                      ": partitions are numbered 1 to the total");
    }
    return record;
  }

 private:
  // A newer record may have changed any member, so the version is settled before anything else is read.
  void check_kind_and_version(JsonReader& reader, std::size_t start) {
    std::optional<std::string> kind;
    std::optional<double> version;
    std::size_t version_at = start;
    std::string key;
    reader.begin_object();
    while (reader.next_key(key)) {
      const std::size_t at = reader.offset();
      if (key == "kind" && reader.peek() == JsonReader::Kind::string) {
        kind = reader.read_string();
      } else if (key == "version" && reader.peek() == JsonReader::Kind::number) {
        version = reader.read_number();
        version_at = at;
      } else {
        reader.skip();
      }
    }
    if (kind != kKind) {
      fail(start, "not a tlb partition record (no \"kind\": \"" + std::string(kKind) + "\")");
    }
    if (!version || *version < 1 || *version != std::floor(*version)) {
      fail(version_at, "partition record without a valid \"version\"");
    }
    if (*version > kVersion) {
      fail(version_at, "partition record version " + std::to_string(static_cast<long long>(*version)) +
                           " was written by a newer tlb; this one reads version " + std::to_string(kVersion));
    }
  }

  int whole_number(JsonReader& reader, std::size_t at, const std::string& key) {
    if (reader.peek() == JsonReader::Kind::number) {
      const double value = reader.read_number();
      if (value >= 0 && value <= 1e9 && value == std::floor(value)) return static_cast<int>(value);
    }
    fail(at, "\"" + key + "\" should be a whole number");
  }

  std::string string(JsonReader& reader, std::size_t at, const std::string& key) {
    if (reader.peek() != JsonReader::Kind::string) fail(at, "\"" + key + "\" should be a string");
    return reader.read_string();
  }

  std::vector<std::string> strings(JsonReader& reader, std::size_t at, const std::string& key) {
    if (reader.peek() != JsonReader::Kind::array) fail(at, "\"" + key + "\" should be a list of test names");
    std::vector<std::string> names;
    reader.begin_array();
    while (reader.next_element()) names.push_back(string(reader, reader.offset(), key + "[]"));
    return names;
  }

  // A list of objects that each need a "name"; `member(entry, key, at)` reads one other member, or returns
  // false to have it skipped.
  template <typename Entry, typename Member>
  std::vector<Entry> named_objects(JsonReader& reader, std::size_t at, const std::string& list,
                                   const std::string& shape, const std::string& what, Member member) {
    if (reader.peek() != JsonReader::Kind::array) fail(at, "\"" + list + "\" should be a list");
    std::vector<Entry> entries;
    reader.begin_array();
    while (reader.next_element()) {
      const std::size_t element = reader.offset();
      if (reader.peek() != JsonReader::Kind::object) fail(element, what + " should be " + shape);
      Entry entry;
      bool named = false;
      std::string key;
      reader.begin_object();
      while (reader.next_key(key)) {
        const std::size_t value_at = reader.offset();
        if (key == "name") {
          entry.name = string(reader, value_at, key);
          named = true;
        } else if (!member(entry, key, value_at)) {
          reader.skip();
        }
      }
      if (!named) fail(element, what + " without a \"name\"");
      entries.push_back(std::move(entry));
    }
    return entries;
  }

  std::vector<RecordedResult> results(JsonReader& reader, std::size_t at) {
    return named_objects<RecordedResult>(
        reader, at, "results", "{\"name\", \"status\", \"seconds\"}", "a result",
        [&](RecordedResult& result, const std::string& key, std::size_t value_at) {
          if (key == "status") {
            const std::string name = string(reader, value_at, key);
            auto status = result_status_named(name);
            if (!status)
              fail(value_at, "unknown result status '" + name + "' (passed, failed, error, skipped)");
            result.status = *status;
            return true;
          }
          if (key == "seconds" && reader.peek() != JsonReader::Kind::null) {
            if (reader.peek() != JsonReader::Kind::number) fail(value_at, "\"seconds\" should be a number");
            const double seconds = reader.read_number();
            if (!(seconds >= 0)) fail(value_at, "negative duration for '" + result.name + "'");
            result.seconds = seconds;
            return true;
          }
          return false;
        });
  }

  double seconds(JsonReader& reader, std::size_t at, const std::string& key) {
    if (reader.peek() != JsonReader::Kind::number) fail(at, "\"" + key + "\" should be a number of seconds");
    const double value = reader.read_number();
    if (!(value >= 0)) fail(at, "\"" + key + "\" should not be negative");
    return value;
  }

  RecordedPlan plan(JsonReader& reader, std::size_t at) {
    if (reader.peek() != JsonReader::Kind::object) fail(at, "\"plan\" should be an object");
    RecordedPlan plan;
    std::string key;
    reader.begin_object();
    while (reader.next_key(key)) {
      const std::size_t value_at = reader.offset();
      if (key == "predicted_seconds") {
        if (reader.peek() != JsonReader::Kind::array)
          fail(value_at, "\"predicted_seconds\" should be a list");
        reader.begin_array();
        while (reader.next_element()) plan.predicted_seconds.push_back(seconds(reader, reader.offset(), key));
      } else if (key == "lower_bound_seconds") {
        plan.lower_bound_seconds = seconds(reader, value_at, key);
      } else if (key == "makespan_seconds") {
        plan.makespan_seconds = seconds(reader, value_at, key);
      } else {
        reader.skip();
      }
    }
    return plan;
  }

  SplitFingerprint fingerprint(JsonReader& reader, std::size_t at) {
    if (reader.peek() != JsonReader::Kind::object) fail(at, "\"fingerprint\" should be an object");
    SplitFingerprint f;
    std::string key;
    reader.begin_object();
    while (reader.next_key(key)) {
      const std::size_t value_at = reader.offset();
      if (key == "hash") {
        f.hash = string(reader, value_at, key);
      } else if (key == "tests") {
        f.tests = static_cast<std::size_t>(whole_number(reader, value_at, key));
      } else if (key == "test_list") {
        f.test_list = string(reader, value_at, key);
      } else if (key == "history") {
        f.history = string(reader, value_at, key);
      } else if (key == "total") {
        f.total = whole_number(reader, value_at, key);
      } else if (key == "weights") {
        f.weights = string(reader, value_at, key);
      } else if (key == "splitters") {
        f.splitters = string(reader, value_at, key);
      } else if (key == "parallel_level") {
        f.parallel_level = whole_number(reader, value_at, key);
      } else if (key == "algorithm") {
        f.algorithm = whole_number(reader, value_at, key);
      } else {
        reader.skip();
      }
    }
    // A fingerprint edited by hand would otherwise pass for another: its members must give its hash.
    if (fingerprint_hash(f) != f.hash) fail(at, "\"fingerprint\" does not match its \"hash\" " + f.hash);
    return f;
  }

  std::vector<RecordedEstimate> estimates(JsonReader& reader, std::size_t at) {
    return named_objects<RecordedEstimate>(
        reader, at, "estimates", "{\"name\", \"seconds\", \"estimate\"}", "an estimate",
        [&](RecordedEstimate& entry, const std::string& key, std::size_t value_at) {
          if (key == "seconds") {
            entry.seconds = seconds(reader, value_at, key);
            return true;
          }
          if (key == "estimate") {
            const std::string name = string(reader, value_at, key);
            for (Estimate e : {Estimate::history, Estimate::cost, Estimate::fallback, Estimate::disabled}) {
              if (to_string(e) == name) {
                entry.estimate = e;
                return true;
              }
            }
            fail(value_at, "unknown estimate '" + name + "' (history, cost, fallback, disabled)");
          }
          return false;
        });
  }

  [[noreturn]] void fail(std::size_t offset, const std::string& message) const {
    throw InputError(source_, line_at(text_, offset), message);
  }

  std::string_view text_;
  std::string source_;
};

// Microseconds are the resolution of every producer and of the split; more digits would only be noise in
// diffs.
double micro(double seconds) {
  return std::round(seconds * 1e6) / 1e6;
}

nlohmann::ordered_json names_json(const std::vector<std::string>& names) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const std::string& name : names) list.push_back(name);
  return list;
}

}  // namespace

std::string utc_timestamp() {
  using namespace std::chrono;
  const auto now = time_point_cast<microseconds>(system_clock::now());
  const auto day = floor<days>(now);
  const year_month_day date{day};
  const hh_mm_ss time{now - day};
  char text[40];
  std::snprintf(
      text, sizeof text, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ", static_cast<int>(date.year()),
      static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
      static_cast<long long>(time.hours().count()), static_cast<long long>(time.minutes().count()),
      static_cast<long long>(time.seconds().count()), static_cast<long long>(time.subseconds().count()));
  return text;
}

std::vector<bool> earlier_attempts(const std::vector<const PartitionRecord*>& records) {
  // One partition of one run: another job, run or cell of a CI matrix (run key) is not an attempt of it.
  const auto partition_of = [](const PartitionRecord* r) {
    return std::tuple{r->job, r->job_version, r->run_key, r->partition, r->total};
  };
  std::map<decltype(partition_of(nullptr)), std::string> latest;
  for (const PartitionRecord* r : records) {
    std::string& at = latest[partition_of(r)];
    at = std::max(at, r->split_at);
  }
  std::vector<bool> earlier;
  for (const PartitionRecord* r : records) earlier.push_back(r->split_at < latest[partition_of(r)]);
  return earlier;
}

std::string hash_names(const std::vector<std::string>& sorted_names) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  const auto add = [&hash](unsigned char byte) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  };
  for (const std::string& name : sorted_names) {
    for (char c : name) add(static_cast<unsigned char>(c));
    add('\n');
  }
  constexpr char kDigits[] = "0123456789abcdef";
  std::string text = "fnv1a64:";
  for (int shift = 60; shift >= 0; shift -= 4) text += kDigits[(hash >> shift) & 0xF];
  return text;
}

std::string_view to_string(Estimate estimate) {
  switch (estimate) {
    case Estimate::history:
      return "history";
    case Estimate::cost:
      return "cost";
    case Estimate::fallback:
      return "fallback";
    case Estimate::disabled:
      return "disabled";
  }
  return "history";
}

std::string format_record(const PartitionRecord& record, const std::string& source) {
  using nlohmann::ordered_json;
  ordered_json document;
  document["kind"] = kKind;
  document["version"] = kVersion;
  document["partition"] = record.partition;
  document["total"] = record.total;
  document["splitter"] = record.splitter;
  document["test_list_hash"] = record.test_list_hash;
  document["history_source"] = record.history_source;
  // Only a server's history has them; file-store records keep their earlier form.
  if (!record.job.empty()) document["job"] = record.job;
  if (!record.job_version.empty()) document["job_version"] = record.job_version;
  if (!record.run_key.empty()) document["run_key"] = record.run_key;
  document["history_status"] = record.history_status;
  document["history_hash"] = record.history_hash;
  document["has_results"] = record.has_results;
  document["recorded_on"] = record.recorded_on;
  // Written by newer hooks only; older readers skip them.
  if (!record.split_at.empty()) document["split_at"] = record.split_at;
  if (record.ctest_parallel_level > 0) document["ctest_parallel_level"] = record.ctest_parallel_level;
  if (!record.source_dir.empty()) document["source_dir"] = record.source_dir;
  if (record.plan) {
    ordered_json predicted = ordered_json::array();
    for (double seconds : record.plan->predicted_seconds) predicted.push_back(micro(seconds));
    document["plan"] = ordered_json{{"predicted_seconds", std::move(predicted)},
                                    {"lower_bound_seconds", micro(record.plan->lower_bound_seconds)},
                                    {"makespan_seconds", micro(record.plan->makespan_seconds)}};
  }
  document["tests"] = names_json(record.tests);
  document["attachments"] = names_json(record.attachments);
  ordered_json results = ordered_json::array();
  for (const RecordedResult& result : record.results) {
    ordered_json entry;
    entry["name"] = result.name;
    entry["status"] = to_string(result.status);
    if (result.seconds) entry["seconds"] = micro(*result.seconds);
    results.push_back(std::move(entry));
  }
  document["results"] = std::move(results);
  if (!record.estimates.empty()) {
    ordered_json estimates = ordered_json::array();
    for (const RecordedEstimate& entry : record.estimates) {
      estimates.push_back(ordered_json{
          {"name", entry.name}, {"seconds", micro(entry.seconds)}, {"estimate", to_string(entry.estimate)}});
    }
    document["estimates"] = std::move(estimates);
  }
  if (record.fingerprint) document["fingerprint"] = fingerprint_json(*record.fingerprint);
  document["all_tests"] = names_json(record.all_tests);

  std::string text;
  try {
    text = document.dump(2);
  } catch (const nlohmann::json::exception&) {
    // JSON strings are UTF-8; a name that is not cannot be written without changing it.
    throw InputError(source, 0, "a test name is not valid UTF-8; cannot write the partition record");
  }
  text += '\n';
  return text;
}

void write_record(const std::string& path, const PartitionRecord& record) {
  write_file_atomically(path, format_record(record, path));
}

PartitionRecord read_record(const std::string& path) {
  const std::string text = read_file(path);
  return RecordReader(strip_bom(text), display_name(path)).read();
}

PartitionRecord parse_record(std::string_view text, const std::string& source) {
  return RecordReader(strip_bom(text), source).read();
}

}  // namespace tlb::io
