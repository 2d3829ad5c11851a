#include "io/durations.hpp"

#include <algorithm>
#include <optional>

#include "io/json_reader.hpp"
#include "io/text.hpp"

namespace tlb::io {

std::string_view to_string(DurationFormat format) {
  switch (format) {
    case DurationFormat::json_object:
      return "JSON object of name to seconds";
    case DurationFormat::name_seconds:
      return "name-seconds lines";
    case DurationFormat::seconds_name:
      return "seconds-name lines (LLVM lit)";
    case DurationFormat::ctest_cost_data:
      return "CTestCostData.txt";
  }
  return "unknown";
}

namespace {

// A flat JSON object of name to seconds, read straight into history.
Durations parse_json(std::string_view text, const std::string& source) {
  JsonReader reader(text, source);
  if (reader.peek() != JsonReader::Kind::object) {
    throw InputError(source, line_at(text, reader.offset()),
                     "expected a JSON object of test name to seconds");
  }
  Durations result;
  result.format = DurationFormat::json_object;
  std::string name;
  reader.begin_object();
  while (reader.next_key(name)) {
    const bool number = reader.peek() == JsonReader::Kind::number;
    const std::size_t offset = reader.offset();
    const std::string_view written = reader.raw_value();
    const std::optional<double> seconds = number ? parse_number(written) : std::nullopt;
    if (!seconds) {
      throw InputError(source, line_at(text, offset),
                       "duration of '" + name + "' is not a number: " + std::string(written));
    }
    if (*seconds < 0) {
      throw InputError(source, line_at(text, offset),
                       "duration of '" + name + "' is negative: " + std::string(written));
    }
    result.history.set(name, TestRecord{*seconds, 1, Outcome::unknown});
  }
  reader.expect_end();
  return result;
}

struct Line {
  std::size_t number;
  std::string_view text;
};

// Non-blank lines that are not comments ("#...").
std::vector<Line> content_lines(std::string_view text) {
  std::vector<Line> lines;
  std::size_t number = 0;
  for (std::string_view line : split_lines(text)) {
    ++number;
    std::string_view trimmed = trim(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    lines.push_back({number, trimmed});
  }
  return lines;
}

// Splits "<name> <number>" at the last run of spaces or tabs.
std::optional<std::pair<std::string_view, double>> name_then_number(std::string_view line) {
  auto space = line.find_last_of(" \t");
  if (space == std::string_view::npos) return std::nullopt;
  auto number = parse_number(line.substr(space + 1));
  std::string_view name = trim(line.substr(0, space));
  if (!number || name.empty()) return std::nullopt;
  return std::pair{name, *number};
}

// Splits "<number> <name>" at the first run of spaces or tabs.
std::optional<std::pair<std::string_view, double>> number_then_name(std::string_view line) {
  auto space = line.find_first_of(" \t");
  if (space == std::string_view::npos) return std::nullopt;
  auto number = parse_number(line.substr(0, space));
  std::string_view name = trim(line.substr(space + 1));
  if (!number || name.empty()) return std::nullopt;
  return std::pair{name, *number};
}

Durations parse_ctest_cost_data(const std::vector<Line>& lines, const std::string& source) {
  Durations result;
  result.format = DurationFormat::ctest_cost_data;
  bool failed_section = false;
  for (const Line& line : lines) {
    if (line.text == "---") {
      failed_section = true;
      continue;
    }
    if (failed_section) {
      TestRecord record = result.history.find(line.text) ? *result.history.find(line.text) : TestRecord{};
      record.last = Outcome::failed;
      result.history.set(std::string(line.text), record);
      continue;
    }
    // "<name> <runs> <mean seconds>"; the name may contain spaces (CTest itself then misreads it).
    auto mean = name_then_number(line.text);
    auto runs = mean ? name_then_number(mean->first) : std::nullopt;
    if (!runs || runs->second < 0 ||
        runs->second != static_cast<double>(static_cast<std::uint32_t>(runs->second))) {
      throw InputError(source, line.number,
                       "expected '<test name> <runs> <mean seconds>' as CTest writes, got '" +
                           std::string(line.text) + "'");
    }
    if (mean->second < 0)
      throw InputError(source, line.number, "negative duration in '" + std::string(line.text) + "'");
    // CTest writes a line with 0 runs for tests it never timed; that is no history.
    if (runs->second == 0) continue;
    result.history.set(std::string(runs->first),
                       TestRecord{mean->second, static_cast<std::uint32_t>(runs->second), Outcome::passed});
  }
  return result;
}

Durations parse_lines(const std::vector<Line>& lines, const std::string& source) {
  std::size_t name_first = 0, number_first = 0;
  for (const Line& line : lines) {
    name_first += name_then_number(line.text).has_value();
    number_first += number_then_name(line.text).has_value();
  }
  Durations result;
  if (name_first == lines.size()) {
    result.format = DurationFormat::name_seconds;
    for (const Line& line : lines) {
      auto [name, seconds] = *name_then_number(line.text);
      if (seconds < 0)
        throw InputError(source, line.number, "negative duration for '" + std::string(name) + "'");
      result.history.set(std::string(name), TestRecord{seconds, 1, Outcome::unknown});
    }
    return result;
  }
  if (number_first == lines.size()) {
    result.format = DurationFormat::seconds_name;
    for (const Line& line : lines) {
      auto [name, seconds] = *number_then_name(line.text);
      // lit stores a failed test's time negated.
      result.history.set(std::string(name), TestRecord{seconds < 0 ? -seconds : seconds, 1,
                                                       seconds < 0 ? Outcome::failed : Outcome::unknown});
    }
    return result;
  }
  // Report against the layout most lines follow.
  const bool names_first = name_first >= number_first;
  for (const Line& line : lines) {
    if (names_first ? !name_then_number(line.text) : !number_then_name(line.text)) {
      throw InputError(source, line.number,
                       std::string("not a durations line: expected ") +
                           (names_first ? "'<test name> <seconds>'" : "'<seconds> <test name>'") + ", got '" +
                           std::string(line.text) + "' (seconds are written like 1.5, not 1,5)");
    }
  }
  return result;  // Unreachable: some line failed both layouts.
}

}  // namespace

Durations parse_durations(std::string_view text, const std::string& source) {
  text = strip_bom(text);
  std::string_view body = trim(text);
  if (body.empty()) return Durations{};
  if (body.front() == '{' || body.front() == '[') return parse_json(text, source);
  std::vector<Line> lines = content_lines(text);
  const bool cost_data =
      std::any_of(lines.begin(), lines.end(), [](const Line& l) { return l.text == "---"; }) ||
      source.ends_with("CTestCostData.txt");
  return cost_data ? parse_ctest_cost_data(lines, source) : parse_lines(lines, source);
}

Durations read_durations(const std::string& path) {
  return parse_durations(read_file(path), display_name(path));
}

}  // namespace tlb::io
