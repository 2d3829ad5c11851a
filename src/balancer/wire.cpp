#include "balancer/wire.hpp"

#include <algorithm>
#include <limits>
#include <optional>

namespace tlb::balancer {
namespace {

std::string at_line(std::size_t line, const std::string& message) {
  return "line " + std::to_string(line) + ": " + message;
}

// What Java's String.trim() removes: every char up to U+0020.
bool blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return static_cast<unsigned char>(c) <= ' '; });
}

// Java's \s: space, \t, \n, \x0B, \f, \r.
bool java_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\x0B' || c == '\f' || c == '\r';
}

// The non-blank lines of `body`, each with its 1-based number and without a final '\r'.
template <typename Visit>
void for_each_line(std::string_view body, Visit visit) {
  std::size_t number = 0;
  while (!body.empty()) {
    ++number;
    const std::size_t end = body.find('\n');
    std::string_view line = body.substr(0, end);
    body.remove_prefix(end == std::string_view::npos ? body.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!blank(line)) visit(number, line);
  }
}

void check_name(std::string_view name, std::size_t line) {
  if (name.empty()) throw BodyError(line, at_line(line, "empty test name"));
  if (name.size() > kMaxNameBytes) {
    throw BodyError(line, at_line(line, "test name of " + std::to_string(name.size()) + " bytes (at most " +
                                            std::to_string(kMaxNameBytes) + ")"));
  }
  if (name.find('\r') != std::string_view::npos) {
    throw BodyError(line, at_line(line, "carriage return inside the test name '" + quoted_for_message(name) +
                                            "' (lines are separated by \\n)"));
  }
  if (name.find('\0') != std::string_view::npos) {
    throw BodyError(line, at_line(line, "NUL byte in the test name '" + quoted_for_message(name) + "'"));
  }
}

// `line` split at its last ':' into the name and what follows, which `value` must accept after the blanks
// \s* allows; nullopt when the line has no ':'.
struct Split {
  std::string_view name;
  std::string_view value;
};
std::optional<Split> split_at_last_colon(std::string_view line) {
  const std::size_t colon = line.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && java_space(value.front())) value.remove_prefix(1);
  return Split{line.substr(0, colon), value};
}

}  // namespace

BodyError::BodyError(std::size_t line, const std::string& message)
    : std::runtime_error(message), line_(line) {}

std::string quoted_for_message(std::string_view text, std::size_t max_bytes) {
  std::string out;
  for (char c : text.substr(0, max_bytes)) {
    const auto byte = static_cast<unsigned char>(c);
    out += byte < 0x20 || byte == 0x7F ? '?' : c;
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

std::vector<std::string> parse_names(std::string_view body) {
  std::vector<std::pair<std::string_view, std::size_t>> lines;  // Name, line number.
  for_each_line(body, [&](std::size_t number, std::string_view line) {
    check_name(line, number);
    lines.emplace_back(line, number);
  });
  // A name given twice is named at its earliest repetition. Sorting a copy finds it without a node per name.
  std::vector<std::pair<std::string_view, std::size_t>> sorted = lines;
  std::sort(sorted.begin(), sorted.end());
  std::size_t repeated_at = 0, first_at = 0;
  for (std::size_t i = 1, group_start = 0; i < sorted.size(); ++i) {
    if (sorted[i].first != sorted[group_start].first) {
      group_start = i;
    } else if (repeated_at == 0 || sorted[i].second < repeated_at) {
      repeated_at = sorted[i].second;
      first_at = sorted[group_start].second;
    }
  }
  if (repeated_at != 0) {
    const auto it =
        std::find_if(lines.begin(), lines.end(), [&](const auto& l) { return l.second == repeated_at; });
    throw BodyError(repeated_at, at_line(repeated_at, "'" + quoted_for_message(it->first) +
                                                          "' is given twice (first on line " +
                                                          std::to_string(first_at) + ")"));
  }
  std::vector<std::string> names;
  names.reserve(lines.size());
  for (const auto& [name, number] : lines) names.emplace_back(name);
  return names;
}

std::vector<TimeLine> parse_times(std::string_view body) {
  std::vector<TimeLine> times;
  for_each_line(body, [&](std::size_t number, std::string_view line) {
    const auto malformed = [&] {
      return BodyError(number, at_line(number, "'" + quoted_for_message(line) +
                                                   "' is not 'name: milliseconds' (a whole number)"));
    };
    const std::optional<Split> split = split_at_last_colon(line);
    if (!split) throw malformed();
    std::string_view digits = split->value;
    const bool negative = !digits.empty() && digits.front() == '-';
    if (negative) digits.remove_prefix(1);
    if (digits.empty() ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      throw malformed();
    std::int64_t value = 0;
    for (char c : digits) {
      const int digit = c - '0';
      if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
        throw BodyError(number, at_line(number, "time '" + quoted_for_message(split->value) +
                                                    "' ms is too large for a test's duration"));
      }
      value = value * 10 + digit;
    }
    if (negative && value != 0) {
      throw BodyError(number, at_line(number, "negative time " + quoted_for_message(split->value) +
                                                  " ms for '" + quoted_for_message(split->name) + "'"));
    }
    check_name(split->name, number);
    times.push_back(TimeLine{std::string(split->name), value});
  });
  return times;
}

std::vector<ResultLine> parse_results(std::string_view body) {
  std::vector<ResultLine> results;
  for_each_line(body, [&](std::size_t number, std::string_view line) {
    const std::optional<Split> split = split_at_last_colon(line);
    if (!split || (split->value != "true" && split->value != "false")) {
      throw BodyError(number,
                      at_line(number, "'" + quoted_for_message(line) +
                                          "' is not 'name: true' (failed) or 'name: false' (passed)"));
    }
    check_name(split->name, number);
    results.push_back(ResultLine{std::string(split->name), split->value == "true"});
  });
  return results;
}

}  // namespace tlb::balancer
