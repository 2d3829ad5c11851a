// An Environment for settings tests: exactly these variables, and an empty value counts as unset.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "cli/settings.hpp"

namespace tlb::testing {

inline cli::Environment env_of(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    auto it = variables.find(std::string(name));
    if (it == variables.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

}  // namespace tlb::testing
