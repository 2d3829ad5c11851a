#include "io/verification.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "io/text.hpp"

namespace tlb::io {
namespace {

// The value most records hold; on a tie the smallest, so the choice does not depend on the order.
template <typename Value, typename Get>
Value majority(const std::vector<LoadedRecord>& records, Get get) {
  std::map<Value, std::size_t> counts;
  for (const LoadedRecord& r : records) ++counts[get(r.record)];
  auto best = counts.begin();
  for (auto it = counts.begin(); it != counts.end(); ++it) {
    if (it->second > best->second) best = it;
  }
  return best->first;
}

std::string describe(const LoadedRecord& r) {
  return "partition " + std::to_string(r.record.partition) + "/" + std::to_string(r.record.total) + " (" +
         r.path + ")";
}

std::string partitions_text(const std::vector<int>& partitions) {
  std::string text = partitions.size() == 1 ? "partition " : "partitions ";
  for (std::size_t i = 0; i < partitions.size(); ++i)
    text += (i == 0 ? "" : ", ") + std::to_string(partitions[i]);
  return text;
}

std::string hash_text(const std::string& hash) {
  return hash.empty() ? "none" : hash;
}

class Checker {
 public:
  Checker(std::vector<LoadedRecord> records, bool strict) : records_(std::move(records)), strict_(strict) {
    std::sort(records_.begin(), records_.end(), [](const LoadedRecord& a, const LoadedRecord& b) {
      return std::tie(a.record.partition, a.record.total, a.path) <
             std::tie(b.record.partition, b.record.total, b.path);
    });
  }

  Verification run() {
    if (records_.empty()) return result_;
    set_aside_earlier_attempts();
    check_agreement();
    check_partitions();
    check_assignment();
    check_results();
    check_history();
    const auto order = [](const Problem& a, const Problem& b) {
      return std::tie(a.kind, a.test, a.partitions, a.message) <
             std::tie(b.kind, b.test, b.partitions, b.message);
    };
    std::sort(result_.problems.begin(), result_.problems.end(), order);
    std::sort(result_.notes.begin(), result_.notes.end(), order);
    return result_;
  }

 private:
  void add(ProblemKind kind, std::string test, std::vector<int> partitions, std::string message) {
    result_.problems.push_back(Problem{kind, std::move(test), std::move(partitions), std::move(message)});
  }

  // Records of one partition split at different times are attempts of it: the latest stands, and only it
  // takes part in the checks. Records split at the same time (or before split_at was written) stay, and are
  // duplicates.
  void set_aside_earlier_attempts() {
    std::vector<const PartitionRecord*> all;
    for (const LoadedRecord& r : records_) all.push_back(&r.record);
    const std::vector<bool> earlier_attempt = earlier_attempts(all);
    std::map<std::pair<int, int>, std::string> latest;
    std::vector<LoadedRecord> standing;
    std::map<std::pair<int, int>, std::vector<std::string>> earlier;
    for (std::size_t i = 0; i < records_.size(); ++i) {
      LoadedRecord& r = records_[i];
      if (earlier_attempt[i]) {
        earlier[{r.record.partition, r.record.total}].push_back(r.path);
      } else {
        latest[{r.record.partition, r.record.total}] = r.record.split_at;
        standing.push_back(std::move(r));
      }
    }
    records_ = std::move(standing);
    for (const auto& [key, paths] : earlier) {
      std::string list;
      for (const std::string& path : paths) list.append(list.empty() ? "" : ", ").append(path);
      result_.retries.push_back(Retry{key.first, paths.size(),
                                      retried_text(key.first, paths.size()) + " of " +
                                          std::to_string(key.second) + ": the attempt split at " +
                                          latest[key] + " stands; earlier: " + list});
    }
  }

  void check_agreement() {
    total_ = majority<int>(records_, [](const PartitionRecord& r) { return r.total; });
    list_hash_ = majority<std::string>(records_, [](const PartitionRecord& r) { return r.test_list_hash; });
    history_hash_ = majority<std::string>(records_, [](const PartitionRecord& r) { return r.history_hash; });
    result_.total = total_;
    for (const LoadedRecord& r : records_) {
      const int k = r.record.partition;
      if (r.record.total != total_) {
        add(ProblemKind::inconsistent, "", {k},
            describe(r) + " was split into " + std::to_string(r.record.total) +
                " partitions; the other records say " + std::to_string(total_));
        continue;
      }
      members_.push_back(&r);
      if (hash_names(r.record.all_tests) != r.record.test_list_hash) {
        add(ProblemKind::inconsistent, "", {k},
            describe(r) + ": its test list does not match its test_list_hash " + r.record.test_list_hash +
                " (the record was changed after it was written)");
      } else if (r.record.test_list_hash != list_hash_) {
        add(ProblemKind::inconsistent, "", {k},
            describe(r) + " saw a different test list: " + std::to_string(r.record.all_tests.size()) +
                " tests, " + r.record.test_list_hash + " (the others: " + list_hash_ + ")");
      } else if (all_tests_ == nullptr) {
        all_tests_ = &r.record.all_tests;
      }
      if (r.record.history_hash != history_hash_) {
        add(ProblemKind::inconsistent, "", {k},
            describe(r) + " split on a different history snapshot: " + hash_text(r.record.history_hash) +
                " (the others: " + hash_text(history_hash_) + ")");
      } else if (r.record.test_list_hash == list_hash_) {
        check_fingerprint(r);
      }
    }
    static const std::vector<std::string> kNone;
    if (all_tests_ == nullptr) all_tests_ = members_.empty() ? &kNone : &members_.front()->record.all_tests;
    result_.tests = all_tests_->size();
  }

  // Same test list and history, yet other options (N's weights, splitters, parallel level, another tlb): the
  // split may differ all the same. Records of a tlb without fingerprints are not compared.
  void check_fingerprint(const LoadedRecord& r) {
    if (!r.record.fingerprint) return;
    if (!fingerprint_) {
      const std::string hash = majority<std::string>(records_, [](const PartitionRecord& record) {
        return record.fingerprint ? record.fingerprint->hash : std::string();
      });
      for (const LoadedRecord& other : records_) {
        if (other.record.fingerprint && other.record.fingerprint->hash == hash)
          fingerprint_ = other.record.fingerprint;
      }
      if (!fingerprint_) fingerprint_ = r.record.fingerprint;
    }
    if (auto difference = fingerprint_difference(*r.record.fingerprint, *fingerprint_)) {
      add(ProblemKind::inconsistent, "", {r.record.partition},
          describe(r) + " split with other inputs than the others: " + *difference);
    }
  }

  void check_partitions() {
    std::map<int, std::vector<const LoadedRecord*>> by_partition;
    for (const LoadedRecord* r : members_) by_partition[r->record.partition].push_back(r);
    for (int k = 1; k <= total_; ++k) {
      auto it = by_partition.find(k);
      const std::string name = "partition " + std::to_string(k) + "/" + std::to_string(total_);
      if (it == by_partition.end()) {
        add(ProblemKind::missing_partition, "", {k}, name + ": no record");
      } else if (it->second.size() > 1) {
        std::string paths;
        for (const LoadedRecord* r : it->second) paths.append(paths.empty() ? "" : ", ").append(r->path);
        add(ProblemKind::duplicate_partition, "", {k},
            name + ": " + std::to_string(it->second.size()) + " records (" + paths + ")");
      }
    }
  }

  void check_assignment() {
    for (const LoadedRecord* r : members_) {
      attachments_.insert(r->record.attachments.begin(), r->record.attachments.end());
    }
    std::map<std::string_view, std::set<int>> assigned;
    for (const LoadedRecord* r : members_) {
      for (const std::string& name : r->record.tests) assigned[name].insert(r->record.partition);
    }
    const std::set<std::string_view> listed(all_tests_->begin(), all_tests_->end());
    for (const std::string& name : *all_tests_) {
      auto it = assigned.find(name);
      if (it == assigned.end()) {
        add(ProblemKind::unassigned, name, {}, name + " (in no partition)");
      } else if (it->second.size() > 1 && !attachments_.contains(name)) {
        std::vector<int> partitions(it->second.begin(), it->second.end());
        add(ProblemKind::assigned_twice, name, partitions, name + " (" + partitions_text(partitions) + ")");
      }
    }
    for (const auto& [name, partitions] : assigned) {
      if (!listed.contains(name)) {
        std::vector<int> where(partitions.begin(), partitions.end());
        add(ProblemKind::not_in_test_list, std::string(name), where,
            std::string(name) + " (" + partitions_text(where) + ")");
      }
    }
    for (const std::string& name : *all_tests_) result_.attachments += attachments_.contains(name);
  }

  void check_results() {
    std::map<std::string_view, std::vector<int>> ran;
    for (const LoadedRecord* r : members_) {
      const int k = r->record.partition;
      if (!r->record.has_results) {
        add(ProblemKind::no_results, "", {k}, describe(*r) + ": no results (tlb record never ran for it)");
        continue;
      }
      std::set<std::string_view> results;
      for (const RecordedResult& result : r->record.results) results.insert(result.name);
      const std::set<std::string_view> tests(r->record.tests.begin(), r->record.tests.end());
      for (const std::string& name : r->record.tests) {
        if (!results.contains(name))
          add(ProblemKind::lost, name, {k}, name + " (" + partitions_text({k}) + ")");
      }
      for (std::string_view name : results) {
        ran[name].push_back(k);
        if (!tests.contains(name)) {
          add(ProblemKind::ran_but_not_assigned, std::string(name), {k},
              std::string(name) + " (" + partitions_text({k}) + ")");
        }
      }
    }
    for (auto& [name, partitions] : ran) {
      if (partitions.size() > 1 && !attachments_.contains(name)) {
        std::sort(partitions.begin(), partitions.end());
        add(ProblemKind::duplicated, std::string(name), partitions,
            std::string(name) + " (" + partitions_text(partitions) + ")");
      }
    }
  }

  void check_history() {
    for (const LoadedRecord& r : records_) {
      if (r.record.history_status == "ok") continue;
      Problem note{ProblemKind::history,
                   "",
                   {r.record.partition},
                   describe(r) + " split without history (" + r.record.history_status +
                       (r.record.history_source.empty() ? std::string() : ": " + r.record.history_source) +
                       ")"};
      (strict_ ? result_.problems : result_.notes).push_back(std::move(note));
    }
  }

  std::vector<LoadedRecord> records_;
  bool strict_;
  Verification result_;
  int total_ = 0;
  std::string list_hash_, history_hash_;
  std::optional<SplitFingerprint> fingerprint_;  // The one most records carry.
  std::vector<const LoadedRecord*> members_;     // Records of the majority's total.
  const std::vector<std::string>* all_tests_ = nullptr;
  std::set<std::string_view> attachments_;
};

}  // namespace

std::optional<std::string> split_inputs_differ(const PartitionRecord& mine, const PartitionRecord& first) {
  if (!mine.fingerprint || !first.fingerprint) return std::nullopt;
  return fingerprint_difference(*mine.fingerprint, *first.fingerprint);
}

std::string retried_text(int partition, std::size_t earlier) {
  return "partition " + std::to_string(partition) + " retried " +
         (earlier == 1   ? std::string("once")
          : earlier == 2 ? std::string("twice")
                         : std::to_string(earlier) + " times");
}

std::string_view to_string(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::inconsistent:
      return "inconsistent";
    case ProblemKind::missing_partition:
      return "missing partition";
    case ProblemKind::duplicate_partition:
      return "duplicate partition";
    case ProblemKind::no_results:
      return "no results";
    case ProblemKind::unassigned:
      return "not assigned";
    case ProblemKind::assigned_twice:
      return "assigned twice";
    case ProblemKind::not_in_test_list:
      return "not in the test list";
    case ProblemKind::lost:
      return "lost";
    case ProblemKind::duplicated:
      return "duplicated";
    case ProblemKind::ran_but_not_assigned:
      return "ran but not assigned";
    case ProblemKind::history:
      return "history";
  }
  return "problem";
}

namespace {

std::string run_text(const std::string& run_key) {
  return run_key.empty() ? "the run without a run key" : "run " + run_key;
}

// Appends `part`, the verification of one run of several, its messages prefixed with the run.
void merge_run(Verification& all, Verification part, const std::string& run_key) {
  const std::string prefix = run_text(run_key) + ": ";
  for (std::vector<Problem>* list : {&part.problems, &part.notes}) {
    for (Problem& p : *list) p.message.insert(0, prefix);
  }
  for (Retry& r : part.retries) r.message.insert(0, prefix);
  if (all.runs.empty()) {
    all.total = part.total;
    all.tests = part.tests;
  }
  all.attachments = std::max(all.attachments, part.attachments);
  all.problems.insert(all.problems.end(), part.problems.begin(), part.problems.end());
  all.notes.insert(all.notes.end(), part.notes.begin(), part.notes.end());
  all.retries.insert(all.retries.end(), part.retries.begin(), part.retries.end());
  all.runs.push_back(run_key);
}

}  // namespace

Verification verify_records(std::vector<LoadedRecord> records, bool strict) {
  // The cells of a CI matrix (records of different run keys) are runs of their own: each is checked alone,
  // so that one cell's partition never fills another's gap.
  std::map<std::string, std::vector<LoadedRecord>> runs;
  for (LoadedRecord& r : records) runs[r.record.run_key].push_back(std::move(r));
  if (runs.size() <= 1) {
    return Checker(runs.empty() ? std::vector<LoadedRecord>() : std::move(runs.begin()->second), strict)
        .run();
  }
  Verification all;
  for (auto& [run_key, members] : runs) merge_run(all, Checker(std::move(members), strict).run(), run_key);
  const auto order = [](const Problem& a, const Problem& b) {
    return std::tie(a.kind, a.message) < std::tie(b.kind, b.message);
  };
  std::stable_sort(all.problems.begin(), all.problems.end(), order);
  std::stable_sort(all.notes.begin(), all.notes.end(), order);
  return all;
}

std::string verification_text(const Verification& v, std::size_t records) {
  std::ostringstream out;
  out << "tlb verify: " << records << " record" << (records == 1 ? "" : "s") << " of " << v.total
      << " partition" << (v.total == 1 ? "" : "s") << ", " << v.tests << " test" << (v.tests == 1 ? "" : "s")
      << ".\n";
  if (!v.runs.empty()) {
    out << "Records of " << v.runs.size() << " runs (run keys differ), each checked on its own:\n";
    for (const std::string& run_key : v.runs) out << "  " << run_text(run_key) << "\n";
  }
  std::map<ProblemKind, std::size_t> counts;
  for (const Problem& p : v.problems) ++counts[p.kind];
  for (const auto& [kind, count] : counts) {
    out << "\n" << to_string(kind) << " (" << count << "):\n";
    for (const Problem& p : v.problems) {
      if (p.kind == kind) out << "  " << p.message << "\n";
    }
  }
  if (!v.retries.empty()) {
    out << "\nretried (" << v.retries.size() << "; the latest attempt of a partition stands):\n";
    for (const Retry& r : v.retries) out << "  " << r.message << "\n";
  }
  if (!v.notes.empty()) {
    out << "\nnotes (not failures; TLB_STRICT=1 makes them so):\n";
    for (const Problem& p : v.notes) out << "  " << p.message << "\n";
  }
  out << "\n";
  if (v.proven()) {
    out << "tlb verify: proven: each of the " << v.tests << " tests ran exactly once across " << v.total
        << " partition" << (v.total == 1 ? "" : "s");
    if (!v.runs.empty()) out << ", in each of the " << v.runs.size() << " runs";
    std::string remarks;
    if (v.attachments > 0) {
      remarks = std::to_string(v.attachments) + " fixture setup/cleanup test" +
                (v.attachments == 1 ? "" : "s") + " in each partition that needed " +
                (v.attachments == 1 ? "it" : "them");
    }
    for (const Retry& r : v.retries)
      remarks += (remarks.empty() ? "" : "; ") + retried_text(r.partition, r.earlier);
    if (!remarks.empty()) out << " (" << remarks << ")";
    out << ".\n";
    return out.str();
  }
  out << "tlb verify: NOT proven: " << v.problems.size() << " problem" << (v.problems.size() == 1 ? "" : "s")
      << " (";
  bool first = true;
  for (const auto& [kind, count] : counts) {
    out << (first ? "" : ", ") << count << " " << to_string(kind);
    first = false;
  }
  out << ").\n";
  return out.str();
}

std::string verification_json(const Verification& v, std::size_t records) {
  using nlohmann::ordered_json;
  const auto problems_json = [](const std::vector<Problem>& problems) {
    ordered_json list = ordered_json::array();
    for (const Problem& p : problems) {
      ordered_json entry;
      entry["kind"] = to_string(p.kind);
      if (!p.test.empty()) entry["test"] = p.test;
      entry["partitions"] = p.partitions;
      entry["message"] = p.message;
      list.push_back(std::move(entry));
    }
    return list;
  };
  ordered_json document;
  document["proven"] = v.proven();
  document["total"] = v.total;
  document["records"] = records;
  document["tests"] = v.tests;
  document["attachments"] = v.attachments;
  ordered_json retries = ordered_json::array();
  for (const Retry& r : v.retries)
    retries.push_back({{"partition", r.partition}, {"earlier_attempts", r.earlier}, {"message", r.message}});
  document["retries"] = std::move(retries);
  document["problems"] = problems_json(v.problems);
  document["notes"] = problems_json(v.notes);
  if (!v.runs.empty()) document["runs"] = v.runs;
  return document.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

Verification parse_verification_json(std::string_view text, const std::string& source, std::size_t& records) {
  using nlohmann::json;
  const auto fail = [&source](const std::string& message) -> InputError {
    return InputError(source, 0, "not a tlb verification: " + message);
  };
  json document;
  try {
    document = json::parse(text);
  } catch (const json::exception& error) {
    throw fail(error.what());
  }
  try {
    Verification v;
    v.total = document.at("total").get<int>();
    v.tests = document.at("tests").get<std::size_t>();
    v.attachments = document.value("attachments", std::size_t{0});
    records = document.at("records").get<std::size_t>();
    const auto problems = [&](const json& list) {
      std::vector<Problem> out;
      for (const json& entry : list) {
        const std::string kind = entry.at("kind").get<std::string>();
        std::optional<ProblemKind> found;
        for (int k = 0; k <= static_cast<int>(ProblemKind::history); ++k) {
          if (to_string(static_cast<ProblemKind>(k)) == kind) found = static_cast<ProblemKind>(k);
        }
        if (!found) throw fail("unknown problem kind \"" + kind + "\"");
        out.push_back(Problem{*found, entry.value("test", std::string()),
                              entry.at("partitions").get<std::vector<int>>(),
                              entry.at("message").get<std::string>()});
      }
      return out;
    };
    for (const json& entry : document.value("retries", json::array())) {
      v.retries.push_back(Retry{entry.at("partition").get<int>(),
                                entry.at("earlier_attempts").get<std::size_t>(),
                                entry.at("message").get<std::string>()});
    }
    v.runs = document.value("runs", std::vector<std::string>());
    v.problems = problems(document.at("problems"));
    v.notes = problems(document.at("notes"));
    if (v.proven() != document.at("proven").get<bool>()) throw fail("\"proven\" disagrees with its problems");
    return v;
  } catch (const json::exception& error) {
    throw fail(error.what());
  }
}

}  // namespace tlb::io
