// The command line the simulation benchmarks share (balance.cpp, parallel.cpp, swarm.cpp, queue.cpp): `--flag
// value` pairs, each flag declared by its bench with what its value sets, and the --suites filter.
#pragma once

#include <algorithm>
#include <cstdio>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "suites.hpp"

namespace tlb::bench {

// A flag and what to do with its value; `set` throws on a value it refuses (the bench prints the message and
// exits with 1).
struct Flag {
  std::string_view name;
  std::function<void(const std::string& value)> set;
};

// Reads argv[1...] as `--flag value` pairs, in order, each value given to its flag's `set`. On --help or -h,
// on a flag without a value and on a flag not in `flags` it prints "usage: <argv[0]> <usage>" to stderr and
// returns false: the bench then exits with 2.
inline bool read_flags(int argc, char** argv, const char* usage, const std::vector<Flag>& flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view name = argv[i];
    const auto flag = std::find_if(flags.begin(), flags.end(), [&](const Flag& f) { return f.name == name; });
    if (name == "--help" || name == "-h" || i + 1 >= argc || flag == flags.end()) {
      std::fprintf(stderr, "usage: %s %s", argv[0], usage);
      return false;
    }
    flag->set(argv[++i]);
  }
  return true;
}

// "a,b,c" as {"a", "b", "c"}; "" as {}.
inline std::vector<std::string> split_list(const std::string& text, char separator) {
  std::vector<std::string> items;
  std::stringstream list(text);
  for (std::string item; std::getline(list, item, separator);) items.push_back(item);
  return items;
}

// `value` as a count of at least 1. Throws std::invalid_argument naming `flag` when it is less ("--draws: '0'
// is not a positive count"), and std::stoi's own when it is no number.
inline int positive_count(std::string_view flag, const std::string& value) {
  const int count = std::stoi(value);
  if (count < 1) throw std::invalid_argument(std::string(flag) + ": '" + value + "' is not a positive count");
  return count;
}

// --suites LIST: the names of the suites to keep, separated by ','; added to `names` (a repeated flag adds
// more).
inline Flag suites_flag(std::vector<std::string>& names) {
  return {"--suites", [&names](const std::string& value) {
            for (std::string& name : split_list(value, ',')) names.push_back(std::move(name));
          }};
}

// Keeps the datasets named in `names` (all of them when it is empty). Throws std::invalid_argument when none
// is left.
inline void keep_suites(std::vector<Dataset>& datasets, const std::vector<std::string>& names) {
  if (!names.empty()) {
    std::erase_if(datasets, [&](const Dataset& dataset) {
      return std::find(names.begin(), names.end(), dataset.name) == names.end();
    });
  }
  if (datasets.empty()) throw std::invalid_argument("--suites: none of the suites is named so");
}

}  // namespace tlb::bench
