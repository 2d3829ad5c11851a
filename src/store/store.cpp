#include "store/store.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include "io/record.hpp"
#include "store/file_store.hpp"
#include "store/http_store.hpp"

namespace tlb::store {

std::string_view to_string(HistoryStatus status) {
  switch (status) {
    case HistoryStatus::ok:
      return "ok";
    case HistoryStatus::missing:
      return "missing";
    case HistoryStatus::corrupt:
      return "corrupt";
    case HistoryStatus::unavailable:
      return "unavailable";
  }
  return "unavailable";
}

std::string format_seconds(double seconds) {
  char buffer[400];  // Enough for any finite double in fixed notation.
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, seconds, std::chars_format::fixed, 6);
  if (error != std::errc()) return "0.000000";
  return std::string(buffer, end);
}

std::string history_hash(const History& history) {
  std::vector<std::string> lines;
  lines.reserve(history.size());
  for (const auto& [name, record] : history.records()) {
    lines.push_back(format_seconds(record.seconds) + " " + std::to_string(record.runs) + " " +
                    std::string(to_string(record.last)) + " " + name);
  }
  return io::hash_names(lines);  // The same FNV-1a 64 over each line and its '\n'.
}

std::string format_date(Date date) {
  const std::chrono::year_month_day day{date};
  const auto two = [](unsigned value) {
    return std::string(1, static_cast<char>('0' + value / 10)) + static_cast<char>('0' + value % 10);
  };
  const int year = static_cast<int>(day.year());
  std::string text = std::to_string(year);
  if (year >= 0 && year < 1000) text.insert(0, 4 - text.size(), '0');
  return text + "-" + two(static_cast<unsigned>(day.month())) + "-" + two(static_cast<unsigned>(day.day()));
}

std::optional<Date> parse_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const auto number = [text](std::size_t from, std::size_t length) -> std::optional<unsigned> {
    unsigned value = 0;
    for (std::size_t i = from; i < from + length; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
    }
    return value;
  };
  auto year = number(0, 4), month = number(5, 2), day = number(8, 2);
  if (!year || !month || !day) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(static_cast<int>(*year)),
                                         std::chrono::month(*month), std::chrono::day(*day)};
  if (!date.ok()) return std::nullopt;
  return Date(date);
}

void fold(TestRecord& record, const Observation& observation, double smoothing_factor) {
  if (observation.seconds && std::isfinite(*observation.seconds) && *observation.seconds >= 0) {
    const double seconds = *observation.seconds;
    bool counts = false;
    switch (observation.outcome) {
      case Outcome::passed:
      case Outcome::unknown:
        counts = true;
        break;
      case Outcome::failed:
        counts = record.runs == 0 || seconds > record.seconds;
        break;
      case Outcome::skipped:
        // A test that has only ever skipped is learned at its skipping time, which is short; a skip of a test
        // that ran before keeps the duration of its real runs.
        counts = record.runs == 0 || record.last == Outcome::skipped;
        break;
    }
    if (counts && observation.jobs != 0 && observation.jobs != record.jobs) {
      record.runs = 0;  // Measured under another -j: the estimate starts again at this level.
      record.jobs = observation.jobs;
    }
    if (counts) {
      record.seconds = record.runs == 0 ? seconds : smooth(record.seconds, seconds, smoothing_factor);
      if (record.runs < std::numeric_limits<std::uint32_t>::max()) ++record.runs;
    }
  }
  if (observation.outcome != Outcome::unknown) record.last = observation.outcome;
}

namespace {

// "scheme" of "scheme://...", RFC 3986: a letter, then letters, digits, '+', '-', '.'.
std::optional<std::string> scheme_of(const std::string& url) {
  const auto end = url.find("://");
  if (end == std::string::npos || end == 0) return std::nullopt;
  std::string scheme = url.substr(0, end);
  const auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '-' || c == '.';
  };
  if (!std::all_of(scheme.begin(), scheme.end(), allowed) ||
      !std::isalpha(static_cast<unsigned char>(scheme[0])))
    return std::nullopt;
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return scheme;
}

}  // namespace

std::string run_version(const ServerOptions& server) {
  if (server.job_version.empty() || server.run_key.empty()) return server.job_version;
  const std::string hash = io::hash_names({server.run_key});  // "fnv1a64:<16 hex digits>".
  return server.job_version + "." + hash.substr(hash.find(':') + 1, 8);
}

bool is_server_url(const std::string& url) {
  const std::optional<std::string> scheme = scheme_of(url);
  return scheme == "http" || scheme == "https";
}

std::unique_ptr<Store> open_store(const std::string& url, const HistoryPolicy& policy,
                                  const ServerOptions& server) {
  if (url.empty()) throw UnsupportedStore("empty store location (a path, or file://path)");
  const std::optional<std::string> scheme = scheme_of(url);
  if (!scheme) return open_file_store(url, policy);
  if (*scheme == "file") {
    std::string path = url.substr(url.find("://") + 3);
    if (path.starts_with("localhost/")) path.erase(0, std::string_view("localhost").size());
    if (path.empty()) throw UnsupportedStore("file:// without a path");
    return open_file_store(path, policy);
  }
  if (is_server_url(url)) return open_http_store(url, policy, server);
  throw UnsupportedStore("unknown store scheme '" + *scheme +
                         "://' (known: a file path, file://path, http://host:port, https://host:port)");
}

}  // namespace tlb::store
