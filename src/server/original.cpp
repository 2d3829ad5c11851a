#include "server/original.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "server/names.hpp"

namespace tlb::server::original {
namespace {

// Java's \s.
bool java_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool digit(char c) {
  return c >= '0' && c <= '9';
}

std::string_view skip_spaces(std::string_view text) {
  while (!text.empty() && java_space(text.front())) text.remove_prefix(1);
  return text;
}

// Digits only, at least one; nullopt when they do not fit `T`.
template <class T>
std::optional<T> whole_number(std::string_view text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), digit)) return std::nullopt;
  T value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string line_prefix(std::size_t number) {
  return "line " + std::to_string(number) + ": ";
}

std::string checked_name(std::size_t number, std::string_view name) {
  if (auto reason = check_test_name(name)) throw BadInput(line_prefix(number) + *reason);
  return std::string(name);
}

std::string partition_text(PartitionId id) {
  return std::to_string(id.partition) + "/" + std::to_string(id.total);
}

std::string partition_list(const std::vector<PartitionId>& ids) {
  std::string text = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) text += (i == 0 ? "" : ", ") + partition_text(ids[i]);
  return text + "]";
}

// The distinct partitions of `reports` in the order the original's ConcurrentHashMap of them lists them.
std::vector<PartitionId> reported_partitions(const std::vector<PartitionId>& reports) {
  std::vector<std::string> keys;
  std::map<std::string, PartitionId> by_key;
  for (PartitionId id : reports) {
    keys.push_back(partition_text(id));
    by_key.emplace(keys.back(), id);
  }
  std::vector<PartitionId> ordered;
  for (const std::string& key : java6_concurrent_hash_map_order(keys)) ordered.push_back(by_key.at(key));
  return ordered;
}

void sort_by_name(std::vector<SetEntry>& entries) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const SetEntry& a, const SetEntry& b) { return a.name < b.name; });
}

// Decodes UTF-8 (valid: check_test_name ran) into UTF-16 code units, as Java holds strings.
std::vector<std::uint16_t> utf16_units(std::string_view utf8) {
  std::vector<std::uint16_t> units;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto byte = [&](std::size_t k) {
      return k < utf8.size() ? static_cast<std::uint32_t>(static_cast<std::uint8_t>(utf8[k])) : 0x80U;
    };
    const std::uint32_t lead = byte(i);
    std::uint32_t code = lead;
    std::size_t length = 1;
    if (lead >= 0xF0) {
      length = 4;
      code = ((lead & 0x07) << 18) | ((byte(i + 1) & 0x3F) << 12) | ((byte(i + 2) & 0x3F) << 6) |
             (byte(i + 3) & 0x3F);
    } else if (lead >= 0xE0) {
      length = 3;
      code = ((lead & 0x0F) << 12) | ((byte(i + 1) & 0x3F) << 6) | (byte(i + 2) & 0x3F);
    } else if (lead >= 0xC0) {
      length = 2;
      code = ((lead & 0x1F) << 6) | (byte(i + 1) & 0x3F);
    }
    if (code >= 0x10000) {
      code -= 0x10000;
      units.push_back(static_cast<std::uint16_t>(0xD800 + (code >> 10)));
      units.push_back(static_cast<std::uint16_t>(0xDC00 + (code & 0x3FF)));
    } else {
      units.push_back(static_cast<std::uint16_t>(code));
    }
    i += length;
  }
  return units;
}

}  // namespace

std::vector<std::pair<std::size_t, std::string_view>> lines_of(std::string_view body) {
  std::vector<std::pair<std::size_t, std::string_view>> lines;
  std::size_t number = 0;
  while (!body.empty()) {
    const std::size_t end = body.find('\n');
    std::string_view line = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view() : body.substr(end + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) lines.emplace_back(number, line);
  }
  return lines;
}

std::vector<std::pair<std::string, std::int64_t>> parse_suite_times(std::string_view body) {
  std::vector<std::pair<std::string, std::int64_t>> times;
  for (const auto& [number, line] : lines_of(body)) {
    // The name is lazy, so it ends at the last ':' (what follows may hold no ':').
    const std::size_t colon = line.rfind(':');
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : skip_spaces(line.substr(colon + 1));
    const bool negative = !value.empty() && value.front() == '-';
    if (negative) value.remove_prefix(1);
    if (colon == std::string_view::npos || value.empty() || !std::all_of(value.begin(), value.end(), digit)) {
      throw BadInput(line_prefix(number) + "'" + printable(line) + "' is not 'name: milliseconds'");
    }
    const auto ms = whole_number<std::int64_t>(value);
    if (!ms || *ms > 1'000'000'000'000'000LL) {
      throw BadInput(line_prefix(number) + "time " + printable(value) + " ms is out of range");
    }
    if (negative && *ms != 0) {
      throw BadInput(line_prefix(number) + "negative time -" + std::string(value) + " ms for '" +
                     printable(line.substr(0, colon)) + "'");
    }
    times.emplace_back(checked_name(number, line.substr(0, colon)), *ms);
  }
  return times;
}

std::vector<std::pair<std::string, bool>> parse_suite_results(std::string_view body) {
  std::vector<std::pair<std::string, bool>> results;
  for (const auto& [number, line] : lines_of(body)) {
    const std::size_t colon = line.rfind(':');
    const std::string_view value =
        colon == std::string_view::npos ? std::string_view() : skip_spaces(line.substr(colon + 1));
    if (colon == std::string_view::npos || (value != "true" && value != "false")) {
      throw BadInput(line_prefix(number) + "'" + printable(line) + "' is not 'name: true|false'");
    }
    results.emplace_back(checked_name(number, line.substr(0, colon)), value == "true");
  }
  return results;
}

std::vector<SetEntry> parse_suite_list(std::string_view body) {
  std::vector<SetEntry> entries;
  for (const auto& [number, line] : lines_of(body)) {
    SetEntry entry;
    std::string_view name = line;
    const std::size_t colon = line.rfind(':');
    if (colon != std::string_view::npos) {
      const std::string_view mark = skip_spaces(line.substr(colon + 1));
      const std::size_t slash = mark.find('/');
      const std::string_view p = mark.substr(0, slash);
      const std::string_view t =
          slash == std::string_view::npos ? std::string_view() : mark.substr(slash + 1);
      const bool shaped = slash != std::string_view::npos && !p.empty() && !t.empty() &&
                          std::all_of(p.begin(), p.end(), digit) && std::all_of(t.begin(), t.end(), digit);
      if (shaped) {
        const auto partition = whole_number<int>(p), total = whole_number<int>(t);
        if (!partition || !total) {
          throw BadInput(line_prefix(number) + "partition '" + printable(mark) + "' is out of range");
        }
        entry.mark = PartitionId{*partition, *total};
        name = line.substr(0, colon);
      }
    }
    entry.name = checked_name(number, name);
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::string format_suite_times(const store::Timings& timings) {
  std::string text;
  for (const auto& [name, entry] : timings) {
    if (entry.record.runs == 0) continue;  // No duration measured: the original would not know the test.
    const double ms = std::min(entry.record.seconds * 1000.0, 9.0e18);
    text.append(name).append(": ").append(std::to_string(std::llround(ms))).append("\n");
  }
  return text;
}

std::string format_suite_results(const store::Timings& timings) {
  std::string text;
  for (const auto& [name, entry] : timings) {
    if (entry.record.last != Outcome::passed && entry.record.last != Outcome::failed) continue;
    text.append(name).append(entry.record.last == Outcome::failed ? ": true\n" : ": false\n");
  }
  return text;
}

std::string entry_text(const SetEntry& entry) {
  return entry.mark ? entry.name + ": " + partition_text(*entry.mark) : entry.name;
}

std::string java_list(const std::vector<SetEntry>& entries) {
  std::string text = "[";
  for (std::size_t i = 0; i < entries.size(); ++i) text += (i == 0 ? "" : ", ") + entry_text(entries[i]);
  return text + "]";
}

std::optional<std::string> universal_set_mismatch(const std::vector<SetEntry>& stored,
                                                  std::vector<SetEntry> posted) {
  sort_by_name(posted);
  const bool same = stored.size() == posted.size() &&
                    std::equal(stored.begin(), stored.end(), posted.begin(),
                               [](const SetEntry& a, const SetEntry& b) { return a.name == b.name; });
  if (same) return std::nullopt;
  return "Expected universal set was " + java_list(stored) + " but given " + java_list(posted) + ".\n";
}

SubsetOutcome check_subset(std::vector<SetEntry>& universal, const std::vector<SetEntry>& posted,
                           PartitionId id, const std::vector<PartitionId>& reports,
                           const std::string& module) {
  std::map<std::string_view, std::size_t> index;
  for (std::size_t i = 0; i < universal.size(); ++i) index.emplace(universal[i].name, i);

  std::vector<SetEntry> unknown, taken_by_others;
  std::vector<std::string> counted;  // Known names in the order they were counted (the HashMap's puts).
  std::map<std::string, int> counts;
  std::set<std::string> marked;
  for (const SetEntry& entry : posted) {
    const auto found = index.find(entry.name);
    if (found == index.end()) {
      unknown.push_back(entry);
      continue;
    }
    SetEntry& stored = universal[found->second];
    if (stored.mark && *stored.mark != id) {
      taken_by_others.push_back(stored);
    } else {
      if (stored.mark != id) marked.insert(stored.name);
      stored.mark = id;
    }
    counted.push_back(stored.name);
    ++counts[stored.name];
  }

  SubsetOutcome outcome;
  std::vector<std::string> errors;
  if (!taken_by_others.empty()) {
    errors.push_back("Mutual exclusion of test-suites across splits violated by partition " +
                     partition_text(id) + ". Suites " + java_list(taken_by_others) +
                     " have already been selected for running by other partitions.");
  }
  if (!unknown.empty()) {
    sort_by_name(unknown);
    errors.push_back("Found " + std::to_string(unknown.size()) +
                     " unknown(not present in universal set) suite(s) named: " + java_list(unknown) + ".");
  }
  std::string repeated;
  std::size_t repeats = 0;
  for (const std::string& name : java6_hash_map_order(counted)) {
    if (counts[name] < 2) continue;
    repeated += (repeats++ == 0 ? "" : ", ") + name + "=" + std::to_string(counts[name]);
  }
  if (repeats > 0) {
    errors.push_back("Found more than one occurrence of " + std::to_string(repeats) + " suite(s) named: {" +
                     repeated + "}.");
  }
  outcome.success = errors.empty();

  std::vector<SetEntry> subset = posted;
  sort_by_name(subset);
  const std::string context =
      "Had total of " + std::to_string(subset.size()) + " suites named " + java_list(subset) +
      " in partition " + std::to_string(id.partition) + " of " + std::to_string(id.total) + "(for module " +
      module + "). Corresponding universal set had a total of " + std::to_string(universal.size()) +
      " suites named " + java_list(universal) + ".";

  // Every partition has reported (partitions counted against the total of the first one listed): any name no
  // partition took fails this, the last, partition.
  const std::vector<PartitionId> partitions = reported_partitions(reports);
  if (!partitions.empty()) {
    const int total = partitions.front().total;
    std::vector<bool> received(static_cast<std::size_t>(std::max(total, 0)), false);
    for (PartitionId partition : partitions) {
      if (partition.total != total) {
        errors.push_back(
            "Partitions " + partition_list(partitions) + "(for module " + module +
            ") are being run with inconsistent total-partitions configuration. This may lead to "
            "violation of mutual-exclusion or collective-exhaustion or both. Total partitions value "
            "should be the same across all partitions of a job-name and job-version combination.");
        outcome.success = false;
      }
      if (partition.partition >= 1 && partition.partition <= total)
        received[static_cast<std::size_t>(partition.partition - 1)] = true;
    }
    if (std::all_of(received.begin(), received.end(), [](bool r) { return r; })) {
      std::vector<SetEntry> unassigned;
      for (const SetEntry& entry : universal) {
        if (!entry.mark) unassigned.push_back(entry);
      }
      if (!unassigned.empty()) {
        errors.push_back("Collective exhaustion of tests violated as none of the " +
                         std::to_string(id.total) + " partition picked up suites: " + java_list(unassigned) +
                         "(of module " + module + "). Failing partition " + std::to_string(id.partition) +
                         " as this is the last partition to execute.");
        outcome.success = false;
      }
    }
  }

  for (const std::string& error : errors) outcome.message += "- " + error + "\n";
  outcome.message += context + "\n";
  outcome.marked.assign(marked.begin(), marked.end());
  return outcome;
}

Completeness check_completeness(const std::vector<PartitionId>& reports, const std::string& module) {
  const std::vector<PartitionId> partitions = reported_partitions(reports);
  if (partitions.empty()) {
    return {false,
            "- No record found for partition execution. Please verify correctness check was enabled on this "
            "build.\n"};
  }
  const int total = partitions.front().total;
  std::vector<bool> received(static_cast<std::size_t>(std::max(total, 0)), false);
  for (PartitionId partition : partitions) {
    if (partition.partition >= 1 && partition.partition <= total)
      received[static_cast<std::size_t>(partition.partition - 1)] = true;
  }
  std::string missing;
  for (std::size_t i = 0; i < received.size(); ++i) {
    if (!received[i]) missing += (missing.empty() ? "" : ", ") + std::to_string(i + 1);
  }
  if (missing.empty()) return {true, "All partitions executed.\n"};
  return {false,
          "- [" + missing + "] of total " + std::to_string(total) + " partition(s)(for module " + module +
              ") were not executed. This violates collective exhaustion. Please check your partition "
              "configuration for potential mismatch in total-partitions value and actual 'number of "
              "partitions' configured and check your build process triggering mechanism for failures.\n"};
}

std::int32_t java_hash_code(std::string_view utf8) {
  std::uint32_t hash = 0;
  for (std::uint16_t unit : utf16_units(utf8)) hash = 31 * hash + unit;
  return static_cast<std::int32_t>(hash);
}

std::vector<std::string> java6_hash_map_order(const std::vector<std::string>& keys) {
  struct Node {
    std::string key;
    std::uint32_t hash;
  };
  // Buckets hold their chain head first, as Java 6 links a new entry in front.
  std::vector<std::vector<Node>> table(16);
  std::size_t size = 0, threshold = 12;
  for (const std::string& key : keys) {
    std::uint32_t h = static_cast<std::uint32_t>(java_hash_code(key));
    h ^= (h >> 20) ^ (h >> 12);
    h = h ^ (h >> 7) ^ (h >> 4);
    auto& bucket = table[h & (table.size() - 1)];
    if (std::any_of(bucket.begin(), bucket.end(), [&](const Node& n) { return n.key == key; })) continue;
    bucket.insert(bucket.begin(), Node{key, h});
    if (size++ >= threshold) {
      std::vector<std::vector<Node>> grown(table.size() * 2);
      for (auto& old : table) {
        for (Node& node : old) {
          auto& into = grown[node.hash & (grown.size() - 1)];
          into.insert(into.begin(), std::move(node));
        }
      }
      table = std::move(grown);
      threshold = table.size() * 3 / 4;
    }
  }
  std::vector<std::string> order;
  for (const auto& bucket : table) {
    for (const Node& node : bucket) order.push_back(node.key);
  }
  return order;
}

std::vector<std::string> java6_concurrent_hash_map_order(const std::vector<std::string>& puts) {
  struct Node {
    std::string key;
    std::uint32_t hash;
  };
  struct Segment {
    std::vector<std::vector<Node>> table = std::vector<std::vector<Node>>(1);  // Chains head first.
    std::size_t count = 0;
    std::size_t threshold = 0;  // (int) (capacity * 0.75)
  };
  std::vector<Segment> segments(16);
  for (const std::string& key : puts) {
    std::uint32_t h = static_cast<std::uint32_t>(java_hash_code(key));
    h += (h << 15) ^ 0xffffcd7dU;
    h ^= (h >> 10);
    h += (h << 3);
    h ^= (h >> 6);
    h += (h << 2) + (h << 14);
    h ^= (h >> 16);
    Segment& segment = segments[(h >> 28) & 15];
    if (segment.count > segment.threshold) {
      // Segment.rehash(): the trailing run of a chain that lands in one bucket moves as it is; the nodes
      // before it are cloned in front of their new bucket's chain, in chain order.
      const std::size_t capacity = segment.table.size() * 2;
      std::vector<std::vector<Node>> grown(capacity);
      for (const auto& chain : segment.table) {
        if (chain.empty()) continue;
        std::size_t run_start = 0;
        std::size_t run_index = chain[0].hash & (capacity - 1);
        for (std::size_t i = 1; i < chain.size(); ++i) {
          const std::size_t index = chain[i].hash & (capacity - 1);
          if (index != run_index) {
            run_index = index;
            run_start = i;
          }
        }
        grown[run_index].assign(chain.begin() + static_cast<std::ptrdiff_t>(run_start), chain.end());
        for (std::size_t i = 0; i < run_start; ++i) {
          auto& into = grown[chain[i].hash & (capacity - 1)];
          into.insert(into.begin(), chain[i]);
        }
      }
      segment.table = std::move(grown);
      segment.threshold = capacity * 3 / 4;
    }
    auto& chain = segment.table[h & (segment.table.size() - 1)];
    if (std::any_of(chain.begin(), chain.end(), [&](const Node& n) { return n.key == key; })) continue;
    chain.insert(chain.begin(), Node{key, h});
    ++segment.count;
  }
  // The iterator walks the segments from the last, and each table from its last bucket.
  std::vector<std::string> order;
  for (auto segment = segments.rbegin(); segment != segments.rend(); ++segment) {
    if (segment->count == 0) continue;
    for (auto chain = segment->table.rbegin(); chain != segment->table.rend(); ++chain) {
      for (const Node& node : *chain) order.push_back(node.key);
    }
  }
  return order;
}

}  // namespace tlb::server::original
