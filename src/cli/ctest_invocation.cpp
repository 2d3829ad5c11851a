#include "cli/ctest_invocation.hpp"

#include <algorithm>
#include <regex>

#include "io/text.hpp"

namespace tlb::cli {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The value of option `arg` (args[i]) when it is one of `flags`: the next argument, or joined to a long flag
// by '=', with `i` moved past it.
std::optional<std::string> value_of(const std::vector<std::string>& args, std::size_t& i,
                                    std::initializer_list<std::string_view> flags) {
  for (std::string_view flag : flags) {
    if (args[i] == flag) {
      if (i + 1 == args.size()) return std::nullopt;
      return args[++i];
    }
    if (flag.starts_with("--") && args[i].size() > flag.size() && args[i].starts_with(flag) &&
        args[i][flag.size()] == '=')
      return args[i].substr(flag.size() + 1);
  }
  return std::nullopt;
}

bool searches(const std::string& pattern, const std::string& text) {
  return std::regex_search(text, std::regex(pattern, std::regex::ECMAScript));
}

bool any_label_matches(const std::string& pattern, const Test& test) {
  return std::any_of(test.labels.begin(), test.labels.end(),
                     [&](const std::string& label) { return searches(pattern, label); });
}

}  // namespace

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = hex_digit(hex[i]), low = hex_digit(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes += static_cast<char>(high * 16 + low);
  }
  return bytes;
}

CtestInvocation parse_ctest_invocation(std::string_view nul_separated) {
  std::vector<std::string> args;
  while (!nul_separated.empty()) {
    const std::size_t end = nul_separated.find('\0');
    args.emplace_back(nul_separated.substr(0, end));
    if (end == std::string_view::npos) break;
    nul_separated.remove_prefix(end + 1);
  }
  CtestInvocation invocation;
  const auto note = [&invocation](const std::string& flag, const std::string& value) {
    invocation.filters += (invocation.filters.empty() ? "" : " ") + flag;
    if (flag.find('=') == std::string::npos) invocation.filters += " " + value;
  };
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string flag = args[i];
    std::optional<std::string> value;
    if ((value = value_of(args, i, {"-R", "--tests-regex"}))) {
      invocation.include_regex = *value;
      note(flag, *value);
    } else if ((value = value_of(args, i, {"-E", "--exclude-regex"}))) {
      invocation.exclude_regex = *value;
      note(flag, *value);
    } else if ((value = value_of(args, i, {"-L", "--label-regex"}))) {
      invocation.label_regex.push_back(*value);
      note(flag, *value);
    } else if ((value = value_of(args, i, {"-LE", "--label-exclude"}))) {
      invocation.label_exclude.push_back(*value);
      note(flag, *value);
    } else if (flag == "-j" || flag == "--parallel") {
      // ctest 3.29 takes -j alone (its default level); a number after it is its value.
      if (i + 1 < args.size() && io::parse_int(args[i + 1]))
        invocation.parallel_level = io::parse_int(args[++i]);
    } else if (flag.starts_with("--parallel=")) {
      invocation.parallel_level = io::parse_int(std::string_view(flag).substr(11));
    } else if (flag.starts_with("-j") && flag.size() > 2) {
      invocation.parallel_level = io::parse_int(std::string_view(flag).substr(2));
    } else if (flag == "--rerun-failed") {
      invocation.rerun_failed = true;
    }
  }
  if (invocation.parallel_level && *invocation.parallel_level < 1) invocation.parallel_level.reset();
  return invocation;
}

std::optional<bool> passes_filters(const CtestInvocation& invocation, const Test& test) {
  try {
    if (invocation.include_regex && !searches(*invocation.include_regex, test.name)) return false;
    if (invocation.exclude_regex && searches(*invocation.exclude_regex, test.name)) return false;
    for (const std::string& pattern : invocation.label_regex) {
      if (!any_label_matches(pattern, test)) return false;
    }
    if (!invocation.label_exclude.empty() &&
        std::all_of(invocation.label_exclude.begin(), invocation.label_exclude.end(),
                    [&](const std::string& pattern) { return any_label_matches(pattern, test); }))
      return false;
    return true;
  } catch (const std::regex_error&) {
    return std::nullopt;
  }
}

}  // namespace tlb::cli
