#include "cli/verify_command.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <tuple>

#include "cli/app.hpp"
#include "cli/record_command.hpp"
#include "io/text.hpp"

namespace tlb::cli {
namespace {

namespace fs = std::filesystem;

struct VerifyArgs {
  std::vector<std::string> inputs;
  bool json = false;
  bool strict = false;
};

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

  void check_agreement() {
    total_ = majority<int>(records_, [](const io::PartitionRecord& r) { return r.total; });
    list_hash_ =
        majority<std::string>(records_, [](const io::PartitionRecord& r) { return r.test_list_hash; });
    history_hash_ =
        majority<std::string>(records_, [](const io::PartitionRecord& r) { return r.history_hash; });
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
      if (io::hash_names(r.record.all_tests) != r.record.test_list_hash) {
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
      }
    }
    static const std::vector<std::string> kNone;
    if (all_tests_ == nullptr) all_tests_ = members_.empty() ? &kNone : &members_.front()->record.all_tests;
    result_.tests = all_tests_->size();
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
      for (const io::RecordedResult& result : r->record.results) results.insert(result.name);
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
  std::vector<const LoadedRecord*> members_;  // Records of the majority's total.
  const std::vector<std::string>* all_tests_ = nullptr;
  std::set<std::string_view> attachments_;
};

void print_text(std::ostream& out, const Verification& v, std::size_t records) {
  out << "tlb verify: " << records << " record" << (records == 1 ? "" : "s") << " of " << v.total
      << " partition" << (v.total == 1 ? "" : "s") << ", " << v.tests << " test" << (v.tests == 1 ? "" : "s")
      << ".\n";
  std::map<ProblemKind, std::size_t> counts;
  for (const Problem& p : v.problems) ++counts[p.kind];
  for (const auto& [kind, count] : counts) {
    out << "\n" << to_string(kind) << " (" << count << "):\n";
    for (const Problem& p : v.problems) {
      if (p.kind == kind) out << "  " << p.message << "\n";
    }
  }
  if (!v.notes.empty()) {
    out << "\nnotes (not failures; TLB_STRICT=1 makes them so):\n";
    for (const Problem& p : v.notes) out << "  " << p.message << "\n";
  }
  out << "\n";
  if (v.proven()) {
    out << "tlb verify: proven: each of the " << v.tests << " tests ran exactly once across " << v.total
        << " partition" << (v.total == 1 ? "" : "s");
    if (v.attachments > 0) {
      out << " (" << v.attachments << " fixture setup/cleanup test" << (v.attachments == 1 ? "" : "s")
          << " in each partition that needed " << (v.attachments == 1 ? "it" : "them") << ")";
    }
    out << ".\n";
    return;
  }
  out << "tlb verify: NOT proven: " << v.problems.size() << " problem" << (v.problems.size() == 1 ? "" : "s")
      << " (";
  bool first = true;
  for (const auto& [kind, count] : counts) {
    out << (first ? "" : ", ") << count << " " << to_string(kind);
    first = false;
  }
  out << ").\n";
}

void print_json(std::ostream& out, const Verification& v, std::size_t records) {
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
  document["problems"] = problems_json(v.problems);
  document["notes"] = problems_json(v.notes);
  out << document.dump(2, ' ', false, ordered_json::error_handler_t::replace) << "\n";
}

int run_verify(const VerifyArgs& args, std::ostream& out, std::ostream& err, const Environment& env) {
  const bool strict = resolve_strict(args.strict, env);
  std::vector<LoadedRecord> records;
  for (const std::string& input : args.inputs) {
    std::error_code error;
    if (fs::is_directory(input, error)) {
      const std::vector<std::string> paths = partition_records_in(input);
      if (paths.empty()) err << "tlb: warning: " << input << ": no partition records here\n";
      for (const std::string& path : paths) records.push_back(LoadedRecord{path, io::read_record(path)});
    } else if (!fs::exists(input, error)) {
      throw io::InputError(input, 0, "no such file or directory");
    } else {
      records.push_back(LoadedRecord{input, io::read_record(input)});
    }
  }
  if (records.empty()) {
    throw io::InputError(
        args.inputs.front(), 0,
        "no partition records found (the CMake hook writes <build>/tlb/partition-K-of-N.json)");
  }
  const std::size_t count = records.size();
  const Verification verification = verify_records(std::move(records), strict);
  if (args.json) {
    print_json(out, verification, count);
  } else {
    print_text(out, verification, count);
  }
  return verification.proven() ? kSuccess : kInputError;
}

}  // namespace

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

Verification verify_records(std::vector<LoadedRecord> records, bool strict) {
  return Checker(std::move(records), strict).run();
}

std::function<int(std::ostream&, std::ostream&, const Environment&)> add_verify_command(CLI::App& app) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* cmd =
      app.add_subcommand("verify", "Prove that every test ran exactly once across the partitions.");
  cmd->description(
      "Prove from the partitions' records that every test ran exactly once and no partition is missing.\n\n"
      "Reports, grouped by kind: records that saw another total, test list or history snapshot\n"
      "(inconsistent), missing or duplicate partitions, records tlb record never completed, tests in no\n"
      "partition or in two, tests lost (assigned, no result), duplicated (ran in two partitions), and "
      "results\n"
      "for tests a partition was not given. Fixture setup/cleanup tests may run in every partition that\n"
      "needs them. Exit status 0 when proven, 1 when not.\n\n"
      "Example (the last job of a CI run, after downloading each job's build/tlb/*.json):\n"
      "  tlb verify build-*/tlb/*.json");
  cmd->add_option("inputs", args->inputs, "Partition records, or directories holding them (and their tlb/)")
      ->required()
      ->type_name("RECORD_OR_DIR");
  cmd->add_flag("--json", args->json,
                "JSON: {\"proven\", \"problems\": [{kind, test, partitions, message}], ...}");
  cmd->add_flag("--strict", args->strict, "A partition split without its history is a problem [TLB_STRICT]");
  cmd->footer(
      "Exit status: 0 proven, 1 a problem found or a record that cannot be read, 2 bad flag or variable.");
  return [args](std::ostream& out, std::ostream& err, const Environment& env) {
    return run_verify(*args, out, err, env);
  };
}

}  // namespace tlb::cli
