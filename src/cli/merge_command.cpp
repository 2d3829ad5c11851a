#include "cli/merge_command.hpp"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <ostream>
#include <tuple>

#include "cli/record_command.hpp"
#include "io/text.hpp"

namespace tlb::cli {
namespace {

namespace fs = std::filesystem;

struct MergeArgs {
  std::vector<std::string> inputs;
  std::string output;
  std::string base;
  CLI::App* command = nullptr;
};

// A total order on records, so that the merge does not depend on the order they were named in.
bool applies_before(const io::PartitionRecord& a, const io::PartitionRecord& b) {
  const auto key = [](const io::PartitionRecord& r) {
    return std::tie(r.partition, r.total, r.recorded_on, r.test_list_hash, r.history_hash);
  };
  if (key(a) != key(b)) return key(a) < key(b);
  const auto result_key = [](const io::RecordedResult& r) {
    return std::tuple(std::string_view(r.name), static_cast<int>(r.status), r.seconds.has_value(),
                      r.seconds.value_or(0));
  };
  return std::lexicographical_compare(a.results.begin(), a.results.end(), b.results.begin(), b.results.end(),
                                      [&](const io::RecordedResult& x, const io::RecordedResult& y) {
                                        return result_key(x) < result_key(y);
                                      });
}

void run_merge(const MergeArgs& args, std::ostream& out, std::ostream& err, const Environment& env) {
  const store::HistoryPolicy policy = resolve_history_policy(env);
  const store::Date today = resolve_today(env);

  // Everything is read and checked before the output is written: a bad input changes nothing.
  MergeInputs inputs;
  std::optional<store::Timings> existing = store::read_timings_to_replace(args.output);
  const bool base_given = args.command->count("--base") > 0;
  if (base_given) {
    std::optional<store::Timings> base = store::read_timings(args.base);
    if (!base) err << "tlb: warning: " << args.base << ": no such timing file yet; merging without a base\n";
    inputs.base = base.value_or(store::Timings{});
  } else {
    inputs.base = existing.value_or(store::Timings{});
  }

  std::size_t incomplete = 0, results = 0;
  const auto add_record = [&](const std::string& path) {
    io::PartitionRecord record = io::read_record(path);
    if (!record.has_results) {
      err << "tlb: warning: " << path << ": partition " << record.partition << "/" << record.total
          << " has no results (tlb record never ran for it); nothing to merge from it\n";
      ++incomplete;
      return;
    }
    results += record.results.size();
    inputs.records.push_back(std::move(record));
  };
  for (const std::string& input : args.inputs) {
    std::error_code error;
    if (fs::is_directory(input, error)) {
      const std::vector<std::string> records = partition_records_in(input);
      if (records.empty()) err << "tlb: warning: " << input << ": no partition records here\n";
      for (const std::string& path : records) add_record(path);
    } else if (!fs::exists(input, error)) {
      throw io::InputError(input, 0, "no such file or directory");
    } else if (looks_like_partition_record(input)) {
      add_record(input);
    } else {
      const std::string text = io::read_file(input);
      const std::string_view body = io::trim(io::strip_bom(text));
      if (!body.empty() && !body.starts_with("# tlb timings v")) {
        throw io::InputError(
            input, 1,
            "neither a partition record (JSON with \"kind\": \"tlb-partition-record\") nor a "
            "tlb timing file (first line '# tlb timings v1')");
      }
      inputs.timings.push_back(store::parse_timings(text, input));
    }
  }

  const Merged merged = merge(inputs, policy, today);
  store::write_timings(args.output, merged.timings);

  const auto plural = [](std::size_t n, std::string_view word) {
    return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
  };
  out << "tlb merge: " << plural(inputs.records.size(), "partition record") << " ("
      << plural(results, "result") << ") and " << plural(inputs.timings.size(), "timing file") << " into "
      << args.output << ": " << plural(merged.timings.size(), "test") << " (" << merged.added << " new, "
      << merged.forgotten << " forgotten)";
  if (merged.earlier_attempts > 0) {
    out << "; " << plural(merged.earlier_attempts, "earlier attempt") << " of retried partitions passed over";
  }
  if (incomplete > 0)
    out << "; " << incomplete << " record" << (incomplete == 1 ? "" : "s") << " without results";
  out << "\n";
}

}  // namespace

Merged merge(const MergeInputs& inputs, const store::HistoryPolicy& policy, store::Date today) {
  Merged merged;
  merged.timings = inputs.base;
  for (const store::Timings& timings : inputs.timings) store::keep_newer(merged.timings, timings);
  // A retried partition's earlier attempts are passed over: the latest stands, as in tlb verify.
  std::vector<const io::PartitionRecord*> all, records;
  for (const io::PartitionRecord& record : inputs.records) all.push_back(&record);
  const std::vector<bool> earlier = io::earlier_attempts(all);
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (!earlier[i]) records.push_back(all[i]);
  }
  merged.earlier_attempts = all.size() - records.size();
  std::sort(records.begin(), records.end(), [](const io::PartitionRecord* a, const io::PartitionRecord* b) {
    return applies_before(*a, *b);
  });
  for (const io::PartitionRecord* record : records) {
    store::apply(merged.timings, report_of(*record, today), policy.smoothing_factor);
  }
  merged.forgotten = store::forget_stale(merged.timings, policy.forget_after_days);
  for (const auto& [name, entry] : merged.timings) merged.added += !inputs.base.contains(name);
  return merged;
}

std::function<void(std::ostream&, std::ostream&, const Environment&)> add_merge_command(CLI::App& app) {
  auto args = std::make_shared<MergeArgs>();
  CLI::App* cmd =
      app.add_subcommand("merge", "Join partition records and timing files into one timing file.");
  args->command = cmd;
  cmd->description(
      "Join the partitions' records (completed by tlb record) and timing files into one timing file.\n\n"
      "The base is the output file when it exists (or --base). Timing files are joined per test: the\n"
      "entry seen last wins, then the one with more runs. Then each record's results are folded in, in\n"
      "partition order. The result does not depend on the order of the inputs. Give either a partition's\n"
      "record or the timing file it updated, not both: its durations would count twice. Of a retried\n"
      "partition's records, only the latest attempt (by the time it split) is folded in, as in tlb "
      "verify.\n\n"
      "Example (the last job of a CI run):\n"
      "  tlb merge -o .tlb/timings.txt build-*/tlb/*.json");
  cmd->add_option("inputs", args->inputs,
                  "Partition records, timing files, or directories holding records (and their tlb/)")
      ->required()
      ->type_name("INPUT");
  cmd->add_option("-o,--output", args->output, "The timing file to write (replaced atomically)")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--base", args->base, "Start from this timing file instead of the output's content")
      ->type_name("FILE");
  cmd->footer(
      "Durations are smoothed with TLB_SMOOTHING_FACTOR (default 0.5); tests not seen for\n"
      "TLB_FORGET_AFTER_DAYS (default 30) before the newest date are forgotten. Exit status: 0 success,\n"
      "1 bad input, or an output that cannot be read (it is then left untouched), 2 bad flag or variable.");
  return [args](std::ostream& out, std::ostream& err, const Environment& env) {
    run_merge(*args, out, err, env);
  };
}

}  // namespace tlb::cli
