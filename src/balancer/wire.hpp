// The text bodies of the original TLB balancer's protocol (research/tlb-original.md §1, §4b): one entry a
// line, '\n'-separated. A "\r\n" line end is read too; lines that are empty or hold only blanks and control
// characters are skipped, as the original's `trim().isEmpty()` skipped them. Everything else about a name is
// kept byte for byte: spaces, ':', quotes, any UTF-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tlb::balancer {

// A body that breaks the format. `line` is 1-based; the message names the line and what is wrong, on one
// line.
class BodyError : public std::runtime_error {
 public:
  BodyError(std::size_t line, const std::string& message);
  std::size_t line() const { return line_; }

 private:
  std::size_t line_;
};

// The longest test name the balancer accepts, in bytes: the server's limit too.
inline constexpr std::size_t kMaxNameBytes = 4096;

// A suite list (POST /balance): one name a line. Throws BodyError for a name that cannot be stored (a
// carriage return or NUL inside it, or longer than kMaxNameBytes) and for a name given twice.
std::vector<std::string> parse_names(std::string_view body);

struct TimeLine {
  std::string name;
  std::int64_t milliseconds = 0;
};

// Suite times (POST /suite_time): `name: ms` lines, read as the original's regex `(.*?):\s*(-?\d+)` matching
// the whole line. That regex can only match at the line's last ':' (what follows may not hold another), so
// `ns::Suite:Case: 12` is the test `ns::Suite:Case`. Unlike the original, a negative time or one too large
// for 64 bits is an error, as is an empty name. Throws BodyError.
std::vector<TimeLine> parse_times(std::string_view body);

struct ResultLine {
  std::string name;
  bool failed = false;
};

// Suite results (POST /suite_result): `name: true|false` lines, true meaning failed, read as the original's
// `(.*?):\s*(true|false)` matching the whole line (so again at the last ':'; the words are lower case).
// Throws BodyError.
std::vector<ResultLine> parse_results(std::string_view body);

// `text` made safe to quote in a one-line message: control bytes become '?', and long text is cut with "...".
std::string quoted_for_message(std::string_view text, std::size_t max_bytes = 120);

}  // namespace tlb::balancer
