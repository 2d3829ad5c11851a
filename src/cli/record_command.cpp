#include "cli/record_command.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <set>

#include "io/results.hpp"
#include "io/text.hpp"

namespace tlb::cli {
namespace {

namespace fs = std::filesystem;

struct RecordArgs {
  std::vector<std::string> inputs;
  std::string store;
  CLI::App* command = nullptr;
};

// The inputs of one run: the results files of one directory (or those named on the command line) and the
// partition record they complete, if any.
struct Group {
  std::string origin;  // The directory, for messages.
  std::vector<std::string> result_paths;
  std::vector<std::string> record_paths;
  bool directory = false;   // A build directory, whose records tlb record chooses among.
  std::string build_store;  // The store include(TLB) wrote into the build tree (CMakeFiles/TLB/store.txt).
};

struct ParsedGroup {
  Group inputs;
  std::vector<io::ResultFile> files;
  std::optional<io::PartitionRecord> record;
  std::string record_path;
};

std::vector<std::string> files_ending_with(const fs::path& directory, std::string_view extension) {
  std::vector<std::string> paths;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    if (entry.is_regular_file(error) && entry.path().filename().string().ends_with(extension)) {
      paths.push_back(entry.path().string());
    }
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

// The first line of a small text file, trimmed; empty when the file cannot be read.
std::string first_line(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return std::string(io::trim(line));
}

// A build directory: ctest's JUnit files at the top, the Test.xml of ctest's current tag, and the hook's
// partition record.
Group scan_directory(const std::string& directory, std::vector<std::string>& warnings) {
  Group group;
  group.origin = directory;
  group.directory = true;
  group.result_paths = files_ending_with(directory, ".xml");
  const fs::path tag_file = fs::path(directory) / "Testing" / "TAG";
  if (fs::is_regular_file(tag_file)) {
    const std::string tag =
        first_line(tag_file);  // ctest -T writes the tag, then the track on a second line.
    const fs::path test_xml = fs::path(directory) / "Testing" / tag / "Test.xml";
    if (!tag.empty() && fs::is_regular_file(test_xml)) {
      group.result_paths.push_back(test_xml.string());
    } else if (!tag.empty()) {
      warnings.push_back(tag_file.string() + " names tag '" + tag + "' but " + test_xml.string() +
                         " does not exist");
    }
  }
  group.record_paths = partition_records_in(directory);
  group.build_store = first_line(fs::path(directory) / "CMakeFiles" / "TLB" / "store.txt");
  if (group.result_paths.empty()) {
    throw io::InputError(
        directory, 0,
        "no test results here: expected ctest's JUnit file (ctest --output-junit FILE, relative "
        "to the build directory) or Testing/<tag>/Test.xml (ctest -T Test)");
  }
  return group;
}

std::string display_name(const io::TestResult& result) {
  if (result.name.empty()) return "(a testcase without a name, line " + std::to_string(result.line) + ")";
  if (result.classname.empty() || result.classname == result.name) return result.name;
  return result.classname + "." + result.name;
}

bool storable(std::string_view name) {
  return !name.empty() && name.find_first_of("\r\n") == std::string_view::npos;
}

bool is_ctest_format(io::ResultFormat format) {
  return format == io::ResultFormat::ctest_junit || format == io::ResultFormat::ctest_test_xml;
}

struct Recorded {
  std::vector<io::RecordedResult> results;  // Sorted by name.
  std::vector<std::string> unmatched;       // How the files name them.
  std::vector<std::string> duplicated;      // CTest names with results in two files of the same kind.
};

// Maps every file's results to CTest names. A test reported by ctest's own files and by the test program's
// JUnit is taken from ctest's; two files of the same kind reporting one test keep the first, with a warning.
Recorded match_group(const ParsedGroup& group, const std::vector<std::string>& known) {
  std::vector<const io::ResultFile*> files;
  for (const io::ResultFile& file : group.files) files.push_back(&file);
  std::stable_sort(files.begin(), files.end(), [](const io::ResultFile* a, const io::ResultFile* b) {
    return is_ctest_format(a->format) && !is_ctest_format(b->format);
  });
  Recorded recorded;
  std::map<std::string, std::pair<io::RecordedResult, bool>> by_name;  // name -> result, from a ctest file
  std::set<std::string> duplicated;
  for (const io::ResultFile* file : files) {
    // Without a record, `known` is what the store has seen; ctest's own files name CTest tests as they are,
    // new ones included, so only other producers' JUnit is held to it.
    const bool as_named = !group.record && is_ctest_format(file->format);
    io::Matching matching = io::match_to_ctest(*file, as_named ? std::vector<std::string>{} : known);
    for (const io::TestResult& result : matching.unmatched)
      recorded.unmatched.push_back(display_name(result));
    for (io::MatchedResult& result : matching.matched) {
      if (!storable(result.ctest_name)) {
        recorded.unmatched.push_back(result.ctest_name);
        continue;
      }
      const bool from_ctest = is_ctest_format(file->format);
      auto [it, inserted] = by_name.try_emplace(
          result.ctest_name, io::RecordedResult{result.ctest_name, result.status, result.seconds},
          from_ctest);
      if (!inserted && it->second.second == from_ctest) duplicated.insert(result.ctest_name);
    }
  }
  for (auto& [name, entry] : by_name) recorded.results.push_back(std::move(entry.first));
  recorded.duplicated.assign(duplicated.begin(), duplicated.end());
  return recorded;
}

// "a, b, c" or "a, b, ... and 12 more".
std::string listed(const std::vector<std::string>& names) {
  constexpr std::size_t kShown = 10;
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < kShown; ++i) text += (i == 0 ? "" : ", ") + names[i];
  if (names.size() > kShown) text += ", ... and " + std::to_string(names.size() - kShown) + " more";
  return text;
}

std::string counted(std::size_t n, const std::string& singular, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

// Tests the record assigned that have no result, and results for tests it did not assign.
void check_against_record(const io::PartitionRecord& record, const std::vector<io::RecordedResult>& results,
                          std::vector<std::string>& warnings) {
  std::set<std::string_view> ran;
  for (const io::RecordedResult& result : results) ran.insert(result.name);
  const std::set<std::string_view> assigned(record.tests.begin(), record.tests.end());
  std::vector<std::string> without_result, not_assigned;
  for (const std::string& name : record.tests) {
    if (!ran.contains(name)) without_result.push_back(name);
  }
  for (const io::RecordedResult& result : results) {
    if (!assigned.contains(result.name)) not_assigned.push_back(result.name);
  }
  const std::string partition =
      "partition " + std::to_string(record.partition) + "/" + std::to_string(record.total);
  if (!without_result.empty()) {
    warnings.push_back(counted(without_result.size(), "test", "tests") + " of " + partition +
                       " have no result (tlb verify reports them lost): " + listed(without_result));
  }
  if (!not_assigned.empty()) {
    warnings.push_back(counted(not_assigned.size(), "result is", "results are") +
                       " for tests not assigned to " + partition + ": " + listed(not_assigned));
  }
}

std::optional<Setting> store_from_records(const std::vector<ParsedGroup>& groups) {
  std::map<std::string, std::string> sources;  // history_source -> a record naming it
  for (const ParsedGroup& group : groups) {
    if (group.record && !group.record->history_source.empty()) {
      sources.try_emplace(group.record->history_source, group.record_path);
    }
  }
  if (sources.empty()) return std::nullopt;
  if (sources.size() > 1) {
    std::string list;
    for (const auto& [source, record] : sources) {
      list.append(list.empty() ? "" : ", ").append(source).append(" (").append(record).append(")");
    }
    throw UsageError("the partition records name different stores: " + list +
                     "; choose one with --store or TLB_STORE");
  }
  return Setting{sources.begin()->first, "the history_source of " + sources.begin()->second};
}

// With no record (a run with no partition set), the store include(TLB) configured for the build directory
// given.
std::optional<Setting> store_from_build_trees(const std::vector<ParsedGroup>& groups) {
  std::map<std::string, std::string> stores;  // store -> the build directory naming it
  for (const ParsedGroup& group : groups) {
    if (!group.inputs.build_store.empty()) stores.try_emplace(group.inputs.build_store, group.inputs.origin);
  }
  if (stores.empty()) return std::nullopt;
  if (stores.size() > 1) {
    throw UsageError(
        "the build directories given have different stores (TLB_STORE); choose one with --store");
  }
  return Setting{stores.begin()->first, "the TLB_STORE of the build directory " + stores.begin()->second};
}

// The server's job and run: TLB_JOB_NAME and TLB_JOB_VERSION when set, else what the partition records say
// the split used, else the CI's run id; the run key of the records.
store::ServerOptions server_options(const std::vector<ParsedGroup>& groups, const Environment& env) {
  store::ServerOptions options = resolve_server_options(env);
  for (const ParsedGroup& group : groups) {
    if (!group.record) continue;
    if (!env("TLB_JOB_NAME") && !group.record->job.empty()) options.job = group.record->job;
    if (!env("TLB_JOB_VERSION") && !group.record->job_version.empty())
      options.job_version = group.record->job_version;
    // The run the split posted to: its key was made from the hook's build (configuration, compiler), which
    // this command cannot see.
    if (!group.record->job_version.empty()) options.run_key = group.record->run_key;
  }
  return options;
}

// One server store takes the results of one run: records of different runs (another job version, or another
// cell of a CI matrix) in one command would all go to the last one's run.
void check_one_run(const std::vector<ParsedGroup>& groups) {
  const io::PartitionRecord* first = nullptr;
  for (const ParsedGroup& group : groups) {
    const io::PartitionRecord* record = group.record ? &*group.record : nullptr;
    if (record == nullptr || record->job_version.empty()) continue;
    if (first == nullptr) first = record;
    if (record->job != first->job || record->job_version != first->job_version ||
        record->run_key != first->run_key) {
      throw UsageError("the records given are of different runs (" + first->job_version + " '" +
                       first->run_key + "' and " + record->job_version + " '" + record->run_key +
                       "'); record each build directory with a command of its own");
    }
  }
}

// Of the records in a build tree (every partition that ran there leaves its own), the one this run completes:
// the partition the environment names (TLB_PARTITION_NUMBER...), else the latest split. Records of tlb
// before split_at cannot be told apart: naming one is then required.
std::string pick_record(const Group& group, const Environment& env) {
  std::vector<std::string> ignored;
  const std::optional<PartitionChoice> named = resolve_partition(std::nullopt, std::nullopt, env, ignored);
  std::string picked, picked_at;
  int candidates = 0;
  for (const std::string& path : group.record_paths) {
    const io::PartitionRecord record = io::read_record(path);
    if (named && (record.partition != named->number || record.total != named->total)) continue;
    ++candidates;
    if (picked.empty() || record.split_at > picked_at) {
      picked = path;
      picked_at = record.split_at;
    }
  }
  if (named && candidates == 0) {
    throw io::InputError(group.origin, 0,
                         "holds partition records (" + listed(group.record_paths) +
                             ") but none of partition " + std::to_string(named->number) + "/" +
                             std::to_string(named->total) + ", which " + named->source + " names");
  }
  if (candidates > 1 && picked_at.empty()) {
    throw io::InputError(group.origin, 0,
                         "holds " + std::to_string(group.record_paths.size()) + " partition records (" +
                             listed(group.record_paths) +
                             "); name the one this run completes along with its results file");
  }
  return picked;
}

// A relative TLB_STORE is under the project's top source directory, as the hook resolved it for the split;
// the record names that directory. Without one (or with --store) it is relative to the current directory.
void resolve_relative_store(std::optional<Setting>& store, const std::vector<ParsedGroup>& groups) {
  if (!store || store->name != "TLB_STORE" || store->value.find("://") != std::string::npos ||
      fs::path(store->value).is_absolute())
    return;
  for (const ParsedGroup& group : groups) {
    if (group.record && !group.record->source_dir.empty()) {
      store->value = (fs::path(group.record->source_dir) / store->value).lexically_normal().string();
      return;
    }
  }
}

// A split that found no history at its store while the results go to another: the next split would not find
// them either, which is worth more than a line in the ctest output.
void check_store_matches(const std::string& location, const std::vector<ParsedGroup>& groups,
                         std::vector<std::string>& warnings) {
  for (const ParsedGroup& group : groups) {
    if (!group.record || group.record->history_status == "ok" || group.record->history_source.empty() ||
        group.record->history_source == location)
      continue;
    warnings.push_back("partition " + std::to_string(group.record->partition) + "/" +
                       std::to_string(group.record->total) + " split without history (" +
                       group.record->history_status + ": " + group.record->history_source +
                       ") and these results go to " + location +
                       ": the next split reads the first; set TLB_STORE the same for both");
  }
}

void run_record(const RecordArgs& args, std::ostream& out, std::ostream& err, const Environment& env) {
  const store::HistoryPolicy policy = resolve_history_policy(env);
  const store::Date today = resolve_today(env);
  std::optional<Setting> store_setting =
      resolve_store(args.command->count("--store") ? std::optional(args.store) : std::nullopt, env);
  std::vector<std::string> warnings;

  // Everything is read and checked before the store is touched: a bad input changes nothing.
  std::vector<Group> groups;
  Group named;
  named.origin = "the files given";
  for (const std::string& input : args.inputs) {
    std::error_code error;
    if (fs::is_directory(input, error)) {
      groups.push_back(scan_directory(input, warnings));
    } else if (!fs::exists(input, error)) {
      throw io::InputError(input, 0, "no such file or directory");
    } else if (input.ends_with(".json") || looks_like_partition_record(input)) {
      named.record_paths.push_back(input);
    } else {
      named.result_paths.push_back(input);
    }
  }
  if (!named.result_paths.empty() || !named.record_paths.empty()) {
    if (named.result_paths.empty()) {
      throw UsageError("no results file given with " + listed(named.record_paths) +
                       ": name the JUnit or Test.xml file of that run too");
    }
    groups.push_back(std::move(named));
  }

  std::vector<ParsedGroup> parsed;
  for (Group& group : groups) {
    ParsedGroup p;
    for (const std::string& path : group.result_paths) p.files.push_back(io::read_results(path));
    if (group.record_paths.size() > 1) {
      if (!group.directory) {
        throw io::InputError(group.origin, 0,
                             "holds " + std::to_string(group.record_paths.size()) + " partition records (" +
                                 listed(group.record_paths) +
                                 "); name the one this run completes along with its results file");
      }
      group.record_paths = {pick_record(group, env)};
    }
    if (!group.record_paths.empty()) {
      p.record_path = group.record_paths.front();
      p.record = io::read_record(p.record_path);
    }
    p.inputs = std::move(group);
    parsed.push_back(std::move(p));
  }

  resolve_relative_store(store_setting, parsed);
  if (!store_setting) store_setting = store_from_records(parsed);
  if (!store_setting) store_setting = store_from_build_trees(parsed);
  if (!store_setting) {
    throw UsageError(
        "no store to record into: pass --store FILE or set TLB_STORE, or name a build directory configured "
        "with "
        "include(TLB)");
  }
  if (store::is_server_url(store_setting->value)) check_one_run(parsed);
  std::unique_ptr<store::Store> store = open_store(*store_setting, policy, server_options(parsed, env));
  check_store_matches(store->location(), parsed, warnings);

  std::optional<std::vector<std::string>> store_names;  // Loaded only when a run has no record.
  std::vector<store::RunReport> reports;
  std::vector<std::pair<std::string, io::PartitionRecord>> completed;
  std::size_t passed = 0, failed = 0, skipped = 0, files = 0, already = 0;
  for (ParsedGroup& group : parsed) {
    if (!group.record && !store_names) {
      store_names.emplace();
      const store::LoadedHistory loaded = store->load();
      for (const auto& [name, record] : loaded.history.records()) store_names->push_back(name);
    }
    const Recorded recorded = match_group(group, group.record ? group.record->all_tests : *store_names);
    files += group.files.size();
    if (!recorded.unmatched.empty()) {
      warnings.push_back(counted(recorded.unmatched.size(), "result matches", "results match") +
                         " no CTest test: " + listed(recorded.unmatched));
    }
    if (!recorded.duplicated.empty()) {
      warnings.push_back(counted(recorded.duplicated.size(), "test has", "tests have") + " results in " +
                         group.inputs.origin + " from more than one file; the first file's are kept: " +
                         listed(recorded.duplicated));
    }
    if (group.record) {
      check_against_record(*group.record, recorded.results, warnings);
      if (group.record->has_results && group.record->results == recorded.results) {
        ++already;  // Recording the same run twice would count its durations twice.
        continue;
      }
      group.record->has_results = true;
      group.record->results = recorded.results;
      group.record->recorded_on = store::format_date(today);
      reports.push_back(report_of(*group.record, today));
      completed.emplace_back(group.record_path, *group.record);
    } else {
      store::RunReport report;
      report.date = today;
      for (const io::RecordedResult& result : recorded.results)
        report.observations.push_back(observation_of(result));
      reports.push_back(std::move(report));
    }
    for (const io::RecordedResult& result : recorded.results) {
      if (result.status == io::ResultStatus::passed) {
        ++passed;
      } else if (result.status == io::ResultStatus::skipped) {
        ++skipped;
      } else {
        ++failed;
      }
    }
  }
  for (const std::string& warning : warnings) err << "tlb: warning: " << warning << "\n";

  if (reports.empty()) {
    out << "tlb record: the partition record" << (already == 1 ? " already holds" : "s already hold")
        << " these results; nothing recorded again.\n";
    return;
  }
  // The store first: if it refuses (a corrupt timing file), the records stay as they were and running
  // `tlb record` again after fixing the store records everything.
  const store::UpdateSummary summary = store->update(reports);
  for (const auto& [path, record] : completed) io::write_record(path, record);

  out << "tlb record: " << counted(passed + failed + skipped, "result", "results") << " (" << passed
      << " passed, " << failed << " failed, " << skipped << " skipped) from "
      << counted(files, "file", "files") << " into " << store->location() << " ("
      << counted(summary.stored, "test", "tests") << ", " << summary.added << " new, " << summary.forgotten
      << " forgotten)";
  for (const auto& [path, record] : completed) {
    out << "; completed partition " << record.partition << "/" << record.total << " in " << path;
  }
  out << "\n";
}

}  // namespace

store::Observation observation_of(const io::RecordedResult& result) {
  Outcome outcome = Outcome::passed;
  switch (result.status) {
    case io::ResultStatus::passed:
      outcome = Outcome::passed;
      break;
    case io::ResultStatus::failed:
    case io::ResultStatus::error:
      outcome = Outcome::failed;
      break;
    case io::ResultStatus::skipped:
      outcome = Outcome::skipped;
      break;
  }
  return store::Observation{result.name, result.seconds, outcome};
}

store::RunReport report_of(const io::PartitionRecord& record, store::Date fallback) {
  store::RunReport report;
  report.date = store::parse_date(record.recorded_on).value_or(fallback);
  report.partition = record.partition;
  report.total = record.total;
  report.test_list_hash = record.test_list_hash;
  for (const io::RecordedResult& result : record.results) {
    report.observations.push_back(observation_of(result));
    report.observations.back().jobs = static_cast<std::uint32_t>(record.ctest_parallel_level);
  }
  return report;
}

bool looks_like_partition_record(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string start(4096, '\0');
  in.read(start.data(), static_cast<std::streamsize>(start.size()));
  start.resize(static_cast<std::size_t>(in.gcount()));
  return start.find("\"tlb-partition-record\"") != std::string::npos;
}

std::vector<std::string> partition_records_in(const std::string& directory) {
  std::vector<std::string> records;
  for (const fs::path& folder : {fs::path(directory), fs::path(directory) / "tlb"}) {
    for (std::string& path : files_ending_with(folder, ".json")) {
      if (looks_like_partition_record(path)) records.push_back(std::move(path));
    }
  }
  std::sort(records.begin(), records.end());
  return records;
}

std::function<void(std::ostream&, std::ostream&, const Environment&)> add_record_command(CLI::App& app) {
  auto args = std::make_shared<RecordArgs>();
  CLI::App* cmd = app.add_subcommand("record", "Store the durations and results of a run.");
  args->command = cmd;
  cmd->description(
      "Store the durations and results of a run in the timing file, and complete the partition's record.\n\n"
      "INPUT is a results file (ctest --output-junit, ctest -T Test's Test.xml, JUnit XML from GoogleTest,\n"
      "Catch2, pytest...) or a build directory: its *.xml files, Testing/<tag>/Test.xml of ctest's current\n"
      "tag, and the partition record the CMake hook wrote in <build>/tlb/ (with several there: the one of "
      "the\n"
      "partition TLB_PARTITION_NUMBER... names, else the latest split). Results are matched to CTest "
      "test\n"
      "names; those that match none are listed, never dropped silently. Every input is read before the\n"
      "store is written, so a malformed one changes nothing.\n\n"
      "Example:\n"
      "  ctest --test-dir build --output-junit results.xml\n"
      "  tlb record build");
  cmd->add_option("inputs", args->inputs, "Results files or build directories")
      ->required()
      ->type_name("INPUT");
  cmd->add_option("--store", args->store,
                  "The timing file to update [TLB_STORE; else the store the partition record names; else the "
                  "TLB_STORE include(TLB) was configured with in the build directory given]")
      ->type_name("FILE");
  cmd->footer(
      "Durations are smoothed with TLB_SMOOTHING_FACTOR (default 0.5); tests not seen for\n"
      "TLB_FORGET_AFTER_DAYS (default 30) are forgotten. Exit status: 0 success, 1 bad input or a timing\n"
      "file that cannot be read (it is then left untouched), 2 bad flag or variable. See README.md.");
  return [args](std::ostream& out, std::ostream& err, const Environment& env) {
    run_record(*args, out, err, env);
  };
}

}  // namespace tlb::cli
