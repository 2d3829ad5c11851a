#include "cli/report_command.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <tuple>

#include "cli/app.hpp"
#include "cli/record_command.hpp"
#include "io/atomic_file.hpp"
#include "io/text.hpp"
#include "report/report.hpp"

namespace tlb::cli {
namespace {

namespace fs = std::filesystem;

struct ReportArgs {
  std::vector<std::string> inputs;
  std::string output = "tlb-report.html";
  std::optional<std::string> store;
  std::optional<std::string> title;
};

// A CI run id as a number, when it is one ("41" but not "41b" or a 30-digit id).
std::optional<unsigned long long> version_number(const std::string& version) {
  unsigned long long number = 0;
  const auto [end, error] = std::from_chars(version.data(), version.data() + version.size(), number);
  if (error != std::errc() || end != version.data() + version.size() || version.empty()) return std::nullopt;
  return number;
}

struct RunGroup {
  std::vector<std::size_t> members;  // Indexes into the records, in the order given.
  std::string recorded_on;           // The latest of its records.
  std::string version;               // The job version ("" when the records have none).
};

bool newer_group(const RunGroup& a, const RunGroup& b) {
  if (a.recorded_on != b.recorded_on) return a.recorded_on > b.recorded_on;
  const std::optional<unsigned long long> va = version_number(a.version), vb = version_number(b.version);
  if (va && vb && *va != *vb) return *va > *vb;
  return a.members.back() > b.members.back();
}

// "2026-05-02 14:03 UTC": now, or the time of SOURCE_DATE_EPOCH when it is set (reproducible pages).
std::string generated_at(const Environment& env) {
  long long seconds = 0;
  if (auto epoch = env("SOURCE_DATE_EPOCH")) {
    const std::string text(io::trim(*epoch));
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (error != std::errc() || end != text.data() + text.size() || text.empty() || seconds < 0 ||
        seconds > 253'402'300'799LL) {  // 9999-12-31T23:59:59Z
      throw UsageError("SOURCE_DATE_EPOCH=" + *epoch + ": not a whole number of seconds since 1970-01-01");
    }
  } else {
    seconds =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
  }
  const std::chrono::sys_seconds time{std::chrono::seconds(seconds)};
  const std::chrono::sys_days day = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss clock{time - day};
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u %02d:%02d UTC", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()));
  return text;
}

// The records the inputs name, each file once however often it is named (a file and its folder).
std::vector<io::LoadedRecord> read_records(const std::vector<std::string>& inputs, std::ostream& err) {
  std::vector<io::LoadedRecord> records;
  std::set<fs::path> seen;
  auto read_once = [&](const std::string& path) {
    std::error_code error;
    fs::path canonical = fs::weakly_canonical(path, error);
    if (error) canonical = fs::absolute(path, error).lexically_normal();
    if (seen.insert(canonical).second) records.push_back(io::LoadedRecord{path, io::read_record(path)});
  };
  for (const std::string& input : inputs) {
    std::error_code error;
    if (fs::is_directory(input, error)) {
      const std::vector<std::string> paths = partition_records_in(input);
      if (paths.empty()) err << "tlb: warning: " << input << ": no partition records here\n";
      for (const std::string& path : paths) read_once(path);
    } else if (!fs::exists(input, error)) {
      throw io::InputError(input, 0, "no such file or directory");
    } else {
      read_once(input);
    }
  }
  if (records.empty()) {
    throw io::InputError(
        inputs.front(), 0,
        "no partition records found (the CMake hook writes <build>/tlb/partition-K-of-N.json)");
  }
  return records;
}

// The project's name in the CMake cache of the build tree holding `records` (its records folder is
// <build>/tlb), or "" when there is none.
std::string project_of(const fs::path& records) {
  for (const fs::path& build : {records.parent_path(), records}) {
    std::ifstream cache(build / "CMakeCache.txt");
    constexpr std::string_view kKey = "CMAKE_PROJECT_NAME:";
    for (std::string line; std::getline(cache, line);) {
      if (!line.starts_with(kKey)) continue;
      const std::size_t equals = line.find('=');
      if (equals != std::string::npos) return std::string(io::trim(line.substr(equals + 1)));
    }
  }
  return "";
}

// "job J, run V (run key)" (or "job J") when the records name one; else the project's name from the build
// tree's CMake cache; else the folder the run's records share, as an absolute path (never ".").
std::string default_title(const std::vector<io::LoadedRecord>& run) {
  const io::PartitionRecord& first = run.front().record;
  if (!first.job.empty()) {
    return (first.job_version.empty() ? first.job : first.job + ", run " + first.job_version) +
           (first.run_key.empty() ? "" : " (" + first.run_key + ")");
  }
  std::error_code error;
  fs::path common = fs::absolute(fs::path(run.front().path), error).lexically_normal().parent_path();
  for (const io::LoadedRecord& record : run) {
    const fs::path folder = fs::absolute(fs::path(record.path), error).lexically_normal().parent_path();
    fs::path shared;
    for (auto a = common.begin(), b = folder.begin(); a != common.end() && b != folder.end() && *a == *b;
         ++a, ++b) {
      shared /= *a;
    }
    common = shared;
  }
  if (std::string project = project_of(common); !project.empty()) return project;
  return common.empty() ? std::string("a test run") : common.string();
}

// The store's history now, or why there is none (a note for the page: the report is still written).
std::optional<History> history_of_report(const ReportArgs& args, const std::vector<io::LoadedRecord>& run,
                                         const Environment& env, std::vector<std::string>& notes) {
  std::optional<Setting> setting;
  try {
    setting = resolve_store(args.store, env);
  } catch (const UsageError& e) {
    notes.push_back(std::string("The history was not loaded: ") + e.what());
    return std::nullopt;
  }
  std::string job;
  for (const io::LoadedRecord& record : run) {
    if (!setting && !record.record.history_source.empty()) {
      setting = Setting{record.record.history_source, "the history_source of " + record.path};
    }
    if (job.empty()) job = record.record.job;
  }
  if (!setting) return std::nullopt;
  try {
    store::ServerOptions server = resolve_server_options(env);
    if (!env("TLB_JOB_NAME") && !job.empty()) server.job = job;
    server.job_version.clear();  // The job's live history; reading a run's version would freeze a snapshot.
    const std::unique_ptr<store::Store> opened = open_store(*setting, store::HistoryPolicy{}, server);
    store::LoadedHistory loaded = opened->load();
    if (loaded.status != store::HistoryStatus::ok) {
      notes.push_back("The history at " + opened->location() + " was not loaded (" +
                      std::string(store::to_string(loaded.status)) +
                      (loaded.warning.empty() ? ")." : "): " + loaded.warning));
      return std::nullopt;
    }
    return std::move(loaded.history);
  } catch (const std::exception& e) {
    notes.push_back("The history at " + setting->value + " was not loaded: " + e.what());
    return std::nullopt;
  }
}

void run_report(const ReportArgs& args, std::ostream& out, std::ostream& err, const Environment& env) {
  if (args.inputs.empty()) {
    throw UsageError(
        "nothing to report: name the partition records or the folders holding them (tlb report "
        "build-*/tlb)");
  }
  if (args.output.empty()) throw UsageError("-o: an empty file name");
  const std::string generated = generated_at(env);
  RunRecords grouped = group_by_run(read_records(args.inputs, err));

  report::RunData data;
  data.title = args.title ? *args.title : default_title(grouped.run);
  data.generated = generated;
  data.history = history_of_report(args, grouped.run, env, data.notes);
  for (std::string note : data.notes) {
    if (!note.empty()) note[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(note[0])));
    err << "tlb: warning: " << note << "\n";
  }
  int partitions = 0;
  std::set<std::string> tests;
  for (io::LoadedRecord& loaded : grouped.run) {
    partitions = std::max(partitions, loaded.record.total);
    tests.insert(loaded.record.all_tests.begin(), loaded.record.all_tests.end());
    data.records.push_back(std::move(loaded.record));
  }
  for (io::LoadedRecord& loaded : grouped.earlier) data.earlier.push_back(std::move(loaded.record));

  io::write_file_atomically(args.output, report::render_html(data));
  out << "tlb report: wrote " << args.output << " (" << partitions
      << (partitions == 1 ? " partition, " : " partitions, ") << tests.size()
      << (tests.size() == 1 ? " test" : " tests");
  if (!data.earlier.empty()) {
    out << "; " << data.earlier.size() << (data.earlier.size() == 1 ? " earlier record" : " earlier records");
  }
  out << ")\n";
}

}  // namespace

RunRecords group_by_run(std::vector<io::LoadedRecord> records) {
  std::map<std::string, RunGroup> groups;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const io::PartitionRecord& record = records[i].record;
    // A cell of a CI matrix (another run key) is a run of its own.
    const std::string key = (record.job_version.empty() ? "list\n" + record.test_list_hash
                                                        : "run\n" + record.job + "\n" + record.job_version) +
                            "\n" + record.run_key;
    RunGroup& group = groups[key];
    group.members.push_back(i);
    group.recorded_on = std::max(group.recorded_on, record.recorded_on);
    group.version = record.job_version;
  }
  const RunGroup* newest = nullptr;
  for (const auto& [key, group] : groups) {
    if (newest == nullptr || newer_group(group, *newest)) newest = &group;
  }
  // Within the run, the newest record of each partition.
  std::map<int, std::size_t> chosen;
  for (const std::size_t i : newest->members) {
    const io::PartitionRecord& record = records[i].record;
    auto [it, inserted] = chosen.try_emplace(record.partition, i);
    const io::PartitionRecord& current = records[it->second].record;
    if (!inserted && std::tie(record.has_results, record.recorded_on) >=
                         std::tie(current.has_results, current.recorded_on)) {
      it->second = i;
    }
  }
  std::vector<bool> in_run(records.size(), false);
  for (const auto& [partition, i] : chosen) in_run[i] = true;
  RunRecords split;
  for (std::size_t i = 0; i < records.size(); ++i) {
    (in_run[i] ? split.run : split.earlier).push_back(std::move(records[i]));
  }
  return split;
}

std::function<void(std::ostream&, std::ostream&, const Environment&)> add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd =
      app.add_subcommand("report", "Write a run's report: one HTML page, predicted against actual.");
  cmd->description(
      "Write a run's report: one HTML page, predicted against actual.\n\n"
      "From the partitions' records (after tlb record) and the history: each partition's predicted and "
      "actual\n"
      "time in a chart with the lower bound, the makespan against that bound, the slowest tests, tests the\n"
      "split had no history for, failures, tests that both passed and failed across the runs given, and the\n"
      "tests whose time changed most. The page is self-contained (inline CSS and SVG, no scripts, nothing\n"
      "fetched): open it in a browser, or keep it as a CI artifact.\n\n"
      "Records are grouped by run (their TLB_JOB_VERSION when they have one, else their test list); the\n"
      "run recorded last is reported, and the others count as earlier runs (for tests that passed and\n"
      "failed). The history is the store's now: --store, TLB_STORE, or the one the records name; when it\n"
      "cannot be read the page says so.\n\n"
      "Examples:\n"
      "  tlb report build/tlb                               # one machine: the hook's record, completed\n"
      "  tlb report -o report.html records/*.json           # the last job of a CI run\n"
      "  tlb report -o report.html run-41/ run-42/ run-43/  # run 43, with 41 and 42 as earlier runs");
  cmd->add_option("inputs", args->inputs, "Partition records, or directories holding them (and their tlb/)")
      ->type_name("RECORD_OR_DIR");
  cmd->add_option("-o,--output", args->output, "The page to write [default: tlb-report.html]")
      ->type_name("FILE");
  cmd->add_option("--store", args->store,
                  "Where the history is: a timing file or a TLB server [TLB_STORE; else the records' store]")
      ->type_name("URL");
  cmd->add_option("--title", args->title,
                  "The page's title [default: the job and run, else the CMake project of the records' build "
                  "tree, else their folder]")
      ->type_name("TEXT");
  cmd->footer(
      "Dates: SOURCE_DATE_EPOCH sets the time the page says it was generated (for reproducible pages).\n"
      "Exit status: 0 written, 1 a record that cannot be read or a page that cannot be written, 2 bad flag\n"
      "or variable.");
  return [args](std::ostream& out, std::ostream& err, const Environment& env) {
    run_report(*args, out, err, env);
  };
}

}  // namespace tlb::cli
