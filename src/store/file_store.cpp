#include "store/file_store.hpp"

#include <algorithm>
#include <filesystem>
#include <span>
#include <tuple>

#include "io/atomic_file.hpp"
#include "io/text.hpp"
#include "platform/platform.hpp"

namespace tlb::store {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kVersionPrefix = "# tlb timings v";
// Version 2 adds the ctest -j of each duration; a file is written as version 1, which older tlb reads, unless
// a duration was measured under -j 2 or more (version 1's durations are taken as measured under -j 1).
constexpr int kVersion = 2;
constexpr std::string_view kColumns = "# seconds runs last-result last-seen name";
constexpr std::string_view kColumnsWithJobs = "# seconds runs last-result last-seen jobs name";

// The order keep_newer() uses among outcomes of otherwise equal entries: a failure is the one to remember.
int outcome_rank(Outcome outcome) {
  switch (outcome) {
    case Outcome::unknown:
      return 0;
    case Outcome::passed:
      return 1;
    case Outcome::skipped:
      return 2;
    case Outcome::failed:
      return 3;
  }
  return 0;
}

bool newer(const TimedRecord& a, const TimedRecord& b) {
  return std::tuple(a.last_seen, a.record.runs, a.record.seconds, outcome_rank(a.record.last)) >
         std::tuple(b.last_seen, b.record.runs, b.record.seconds, outcome_rank(b.record.last));
}

bool conflict_marker(std::string_view line) {
  for (std::string_view marker : {"<<<<<<<", "=======", ">>>>>>>", "|||||||"}) {
    if (line.starts_with(marker)) return true;
  }
  return false;
}

// Checks the first line and returns its version; throws when it is not one this tlb reads.
int check_version_line(std::string_view line, const std::string& source) {
  for (int version = 1; version <= kVersion; ++version) {
    if (line == std::string(kVersionPrefix) + std::to_string(version)) return version;
  }
  if (line.starts_with(kVersionPrefix)) {
    auto version = io::parse_int(line.substr(kVersionPrefix.size()));
    if (version && *version > kVersion) {
      throw io::InputError(source, 1,
                           "timing file version " + std::to_string(*version) +
                               " was written by a newer tlb; this one reads version " +
                               std::to_string(kVersion));
    }
  }
  throw io::InputError(source, 1,
                       "not a tlb timing file: the first line should be '" + std::string(kVersionPrefix) +
                           std::to_string(kVersion) + "'");
}

// "<seconds> <runs> <last result> <YYYY-MM-DD> <name>"; version 2 has "<jobs>" before the name.
std::pair<std::string, TimedRecord> parse_line(std::string_view line, std::size_t number,
                                               const std::string& source, int version) {
  std::string_view fields[5];
  std::string_view rest = line;
  for (std::string_view& field : std::span(fields, version >= 2 ? 5 : 4)) {
    const auto space = rest.find(' ');
    if (space == std::string_view::npos) {
      throw io::InputError(source, number,
                           std::string("expected '<seconds> <runs> <last result> <YYYY-MM-DD> ") +
                               (version >= 2 ? "<jobs> " : "") + "<test name>', got '" + std::string(line) +
                               "'");
    }
    field = rest.substr(0, space);
    rest.remove_prefix(space + 1);
  }
  const auto bad = [&](const std::string& what) -> io::InputError {
    return io::InputError(source, number, what + " in '" + std::string(line) + "'");
  };
  TimedRecord entry;
  auto seconds = io::parse_number(fields[0]);
  if (!seconds || *seconds < 0)
    throw bad("bad duration '" + std::string(fields[0]) + "' (seconds such as 1.5, not negative)");
  auto runs = io::parse_int(fields[1]);
  if (!runs) throw bad("bad run count '" + std::string(fields[1]) + "'");
  auto last = outcome_named(fields[2]);
  if (!last)
    throw bad("bad last result '" + std::string(fields[2]) + "' (passed, failed, skipped or unknown)");
  auto date = parse_date(fields[3]);
  if (!date) throw bad("bad last-seen date '" + std::string(fields[3]) + "' (YYYY-MM-DD)");
  if (rest.empty()) throw bad("no test name");
  entry.record = TestRecord{*seconds, static_cast<std::uint32_t>(*runs), *last};
  if (version >= 2) {
    auto jobs = io::parse_int(fields[4]);
    if (!jobs || *jobs < 1) throw bad("bad ctest -j '" + std::string(fields[4]) + "' (1 or more)");
    entry.record.jobs = static_cast<std::uint32_t>(*jobs);
  }
  entry.last_seen = *date;
  return {std::string(rest), entry};
}

bool storable(std::string_view name) {
  return !name.empty() && name.find_first_of("\r\n") == std::string_view::npos;
}

// The message of an InputError without the "source:line: " it starts with.
std::string bare_message(const io::InputError& error) {
  std::string prefix = error.source();
  if (error.line() > 0) prefix += ":" + std::to_string(error.line());
  prefix += ": ";
  std::string_view what = error.what();
  return std::string(what.starts_with(prefix) ? what.substr(prefix.size()) : what);
}

class FileStore final : public Store {
 public:
  FileStore(std::string path, const HistoryPolicy& policy) : path_(std::move(path)), policy_(policy) {}

  const std::string& location() const override { return path_; }

  LoadedHistory load() override {
    LoadedHistory loaded;
    loaded.source = path_;
    std::error_code error;
    const fs::file_status status = fs::status(path_, error);
    if (!fs::exists(status)) {
      loaded.status = error && error != std::errc::no_such_file_or_directory ? HistoryStatus::unavailable
                                                                             : HistoryStatus::missing;
      loaded.warning = path_ + ": " +
                       (loaded.status == HistoryStatus::missing ? std::string("no timing file yet")
                                                                : "cannot be read: " + error.message()) +
                       "; no history";
      return loaded;
    }
    if (fs::is_directory(status)) {
      loaded.status = HistoryStatus::unavailable;
      loaded.warning = path_ + ": is a directory, not a timing file; no history";
      return loaded;
    }
    std::string text;
    try {
      text = io::read_file(path_);
    } catch (const io::InputError& e) {
      loaded.status = HistoryStatus::unavailable;
      loaded.warning = std::string(e.what()) + "; no history";
      return loaded;
    }
    try {
      loaded.history = to_history(parse_timings(text, path_));
    } catch (const io::InputError& e) {
      loaded.status = HistoryStatus::corrupt;
      loaded.warning = std::string(e.what()) + "; its history is not used";
      return loaded;
    }
    loaded.status = HistoryStatus::ok;
    loaded.hash = history_hash(loaded.history);
    return loaded;
  }

  UpdateSummary update(const std::vector<RunReport>& reports) override {
    for (const RunReport& report : reports) {
      for (const Observation& observation : report.observations) {
        if (!storable(observation.name)) {
          throw io::InputError(path_, 0,
                               "cannot store the test name '" + observation.name +
                                   "': CTest names have no line breaks and are not empty");
        }
      }
    }
    const fs::path file(path_);
    const fs::path directory = file.has_parent_path() ? file.parent_path() : fs::path(".");
    std::error_code error;
    fs::create_directories(directory, error);
    platform::DirectoryLock lock(directory);

    Timings timings = read_timings_to_replace(path_).value_or(Timings{});

    UpdateSummary summary;
    const std::size_t before = timings.size();
    for (const RunReport& report : reports) {
      apply(timings, report, policy_.smoothing_factor);
      summary.observed += report.observations.size();
    }
    summary.added = timings.size() - before;
    summary.forgotten = forget_stale(timings, policy_.forget_after_days);
    summary.stored = timings.size();
    write_timings(path_, timings);
    return summary;
  }

 private:
  std::string path_;
  HistoryPolicy policy_;
};

}  // namespace

Timings parse_timings(std::string_view text, const std::string& source) {
  text = io::strip_bom(text);
  Timings timings;
  if (io::trim(text).empty()) return timings;  // An empty file holds nothing to lose: no history.
  const std::vector<std::string_view> lines = io::split_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (conflict_marker(lines[i])) {
      throw io::InputError(source, i + 1,
                           "unresolved merge conflict: keep both sides' lines (tlb reads a name given twice, "
                           "keeping the newer) or join the two versions with `tlb merge`");
    }
  }
  const int version = check_version_line(lines.front(), source);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (io::trim(line).empty() || line.front() == '#') continue;
    auto [name, entry] = parse_line(line, i + 1, source, version);
    auto [it, inserted] = timings.try_emplace(std::move(name), entry);
    if (!inserted && newer(entry, it->second)) it->second = entry;
  }
  return timings;
}

std::string format_timings(const Timings& timings) {
  const bool with_jobs = std::any_of(timings.begin(), timings.end(),
                                     [](const auto& timing) { return timing.second.record.jobs != 1; });
  std::string text = std::string(kVersionPrefix) + (with_jobs ? "2" : "1") + "\n" +
                     std::string(with_jobs ? kColumnsWithJobs : kColumns) + "\n";
  for (const auto& [name, entry] : timings) {
    text += format_seconds(entry.record.seconds);
    text += ' ';
    text += std::to_string(entry.record.runs);
    text += ' ';
    text += to_string(entry.record.last);
    text += ' ';
    text += format_date(entry.last_seen);
    text += ' ';
    if (with_jobs) text += std::to_string(entry.record.jobs) + ' ';
    text += name;
    text += '\n';
  }
  return text;
}

std::optional<Timings> read_timings(const std::string& path) {
  std::error_code error;
  if (!fs::exists(path, error) && !error) return std::nullopt;
  if (fs::is_directory(path, error)) throw io::InputError(path, 0, "is a directory, not a timing file");
  return parse_timings(io::read_file(path), path);
}

std::optional<Timings> read_timings_to_replace(const std::string& path) {
  try {
    return read_timings(path);
  } catch (const io::InputError& e) {
    throw io::InputError(e.source(), e.line(),
                         bare_message(e) +
                             "; refusing to replace it, as that would lose what it holds: fix it "
                             "(see README.md, \"History: the timing file\") or remove it");
  }
}

void write_timings(const std::string& path, const Timings& timings) {
  for (const auto& [name, entry] : timings) {
    if (!storable(name)) {
      throw io::InputError(
          path, 0,
          "cannot store the test name '" + name + "': CTest names have no line breaks and are not empty");
    }
  }
  io::write_file_atomically(path, format_timings(timings));
}

void keep_newer(Timings& into, const Timings& other) {
  for (const auto& [name, entry] : other) {
    auto [it, inserted] = into.try_emplace(name, entry);
    if (!inserted && newer(entry, it->second)) it->second = entry;
  }
}

void apply(Timings& timings, const RunReport& report, double smoothing_factor) {
  std::vector<const Observation*> in_order;
  in_order.reserve(report.observations.size());
  for (const Observation& observation : report.observations) in_order.push_back(&observation);
  std::stable_sort(in_order.begin(), in_order.end(),
                   [](const Observation* a, const Observation* b) { return a->name < b->name; });
  for (const Observation* observation : in_order) {
    auto [it, inserted] = timings.try_emplace(observation->name, TimedRecord{TestRecord{}, report.date});
    fold(it->second.record, *observation, smoothing_factor);
    it->second.last_seen = std::max(it->second.last_seen, report.date);
  }
}

std::size_t forget_stale(Timings& timings, int days) {
  if (timings.empty()) return 0;
  Date newest = timings.begin()->second.last_seen;
  for (const auto& [name, entry] : timings) newest = std::max(newest, entry.last_seen);
  return std::erase_if(timings,
                       [&](const auto& item) { return (newest - item.second.last_seen).count() > days; });
}

History to_history(const Timings& timings) {
  History history;
  for (const auto& [name, entry] : timings) history.set(name, entry.record);
  return history;
}

std::unique_ptr<Store> open_file_store(std::string path, const HistoryPolicy& policy) {
  return std::make_unique<FileStore>(std::move(path), policy);
}

}  // namespace tlb::store
