// What the balance benchmarks share (balance.cpp, parallel.cpp): seeded random numbers, the datasets (the
// timing files of ../shared/datasets and the synthetic suites of synthetic_suite.hpp), and a few formatting
// helpers. Moved here from balance.cpp unchanged, so its figures stay the same.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/durations.hpp"
#include "synthetic_suite.hpp"
#include "tlb/split.hpp"

namespace tlb::bench {

// Random numbers, the same on every platform: std::mt19937_64's output is fixed by the standard, and the
// transforms are written out (the standard library's distributions may differ between implementations).
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal() {  // Box-Muller; the second value of each pair is kept for the next call.
    if (spare_) {
      spare_ = false;
      return second_;
    }
    const double u1 = uniform() + 0x1.0p-53;  // (0, 1]: the logarithm is finite.
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1)), angle = 2.0 * std::numbers::pi * u2;
    second_ = radius * std::sin(angle);
    spare_ = true;
    return radius * std::cos(angle);
  }
  std::size_t below(std::size_t n) {  // [0, n), n well below 2^53
    return std::min(n - 1, static_cast<std::size_t>(uniform() * static_cast<double>(n)));
  }

 private:
  std::mt19937_64 engine_;
  double second_ = 0;
  bool spare_ = false;
};

// ---------------------------------------------------------------------------------------------------------
// Datasets: test names in name order and their true durations.
struct Dataset {
  std::string name;
  std::string source;
  std::vector<std::string> names;  // Sorted, unique.
  std::vector<double> seconds;     // The true duration of names[i].
  double total = 0;
  double longest = 0;
};

inline void finish(Dataset& dataset) {
  dataset.total = std::accumulate(dataset.seconds.begin(), dataset.seconds.end(), 0.0);
  dataset.longest = *std::max_element(dataset.seconds.begin(), dataset.seconds.end());
}

inline Dataset synthetic(std::string name, std::string source, std::size_t size, const DurationModel& model) {
  Dataset dataset;
  dataset.name = std::move(name);
  dataset.source = std::move(source);
  DurationGenerator durations(model);
  for (std::size_t index = 0; index < size; ++index) {
    dataset.names.push_back(test_name(index));  // Zero-padded, so index order is name order.
    dataset.seconds.push_back(durations.next_seconds());
  }
  finish(dataset);
  return dataset;
}

// The "few thousand tests, hours in all" suite ../shared/datasets/MANIFEST.md asks for.
inline DurationModel hours_model() {
  DurationModel model;
  model.log_median_seconds = std::log(2.0);
  model.log_sigma = 1.0;
  model.slow_fraction = 0.02;
  model.slow_factor_min = 5;
  model.slow_factor_max = 20;
  model.seed = 20261123;
  return model;
}
inline constexpr std::size_t kHoursSuiteSize = 4'000;

inline std::vector<Dataset> load_datasets(const std::filesystem::path& shared,
                                          const std::vector<std::size_t>& sizes) {
  std::vector<Dataset> datasets;
  const std::vector<std::pair<std::string, std::string>> files = {
      {"pgmpy", "pgmpy/.test_durations"},
      {"sequencescape-rspec", "sequencescape/knapsack_rspec_report.json"},
      {"sequencescape-cucumber", "sequencescape/knapsack_cucumber_report.json"},
      {"ocamlc2", "ocamlc2/test/.lit_test_times.txt"},
  };
  const std::filesystem::path root = shared / "datasets";
  if (!std::filesystem::exists(root)) {
    std::printf("skipped the real datasets: %s is absent (it sits beside the project in CI)\n",
                root.string().c_str());
  } else {
    for (const auto& [name, file] : files) {
      const std::filesystem::path path = root / file;
      if (!std::filesystem::exists(path)) {
        std::printf("skipped %s: %s is absent\n", name.c_str(), path.string().c_str());
        continue;
      }
      const tlb::io::Durations durations = tlb::io::read_durations(path.string());
      Dataset dataset;
      dataset.name = name;
      dataset.source = "../shared/datasets/" + file;
      for (const auto& [test, record] : durations.history.records()) {  // Name order.
        dataset.names.push_back(test);
        dataset.seconds.push_back(record.seconds);
      }
      if (dataset.names.empty()) continue;
      finish(dataset);
      datasets.push_back(std::move(dataset));
    }
  }
  datasets.push_back(synthetic(
      "hours-4k", "synthetic, seed 20261123: log-normal mu = ln 2 s, sigma = 1.0; 2% of tests x U[5,20)",
      kHoursSuiteSize, hours_model()));
  for (std::size_t size : sizes) {
    std::string name = "synthetic-";
    name += size >= 1000 && size % 1000 == 0 ? std::to_string(size / 1000) + "k" : std::to_string(size);
    datasets.push_back(synthetic(
        name, "synthetic, seed 20240601: log-normal mu = ln 0.5 s, sigma = 1.5; 1% of tests x U[20,100)",
        size, {}));
  }
  return datasets;
}

// Deterministic seeds, different for each dataset (by name, so they do not depend on which datasets are
// present), scenario, draw and use: each part goes through a SplitMix64 step.
inline std::uint64_t seed_of(const std::string& dataset, std::string_view scenario, int history_draw,
                             int run_draw, std::uint64_t use) {
  const auto mix = [](std::uint64_t state, std::uint64_t value) {
    std::uint64_t z = state + value + 0x9E3779B97F4A7C15;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
    return z ^ (z >> 31);
  };
  std::uint64_t state = 20261123;
  for (char c : dataset) state = mix(state, static_cast<unsigned char>(c));
  for (char c : scenario) state = mix(state, static_cast<unsigned char>(c));
  state = mix(state, static_cast<std::uint64_t>(history_draw));
  state = mix(state, static_cast<std::uint64_t>(run_draw));
  return mix(state, use);
}

// ---------------------------------------------------------------------------------------------------------
// Splits: the partition (0-based) of every test, indexed like Dataset::names.
using Assignment = std::vector<int>;

// Plain LPT: longest first, ties by name (index order is name order), each into the least-loaded partition,
// ties to the lowest partition number.
inline Assignment lpt(const std::vector<double>& estimate, int partitions) {
  std::vector<std::size_t> order(estimate.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return estimate[a] > estimate[b]; });
  std::vector<double> load(static_cast<std::size_t>(partitions), 0.0);
  Assignment assignment(estimate.size());
  for (std::size_t test : order) {
    const auto lightest = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    load[lightest] += estimate[test];
    assignment[test] = static_cast<int>(lightest);
  }
  return assignment;
}

// The index of `name` in dataset.names; throws when the dataset has no such test.
inline std::size_t index_of(const Dataset& dataset, const std::string& name) {
  const auto at = std::lower_bound(dataset.names.begin(), dataset.names.end(), name);
  if (at == dataset.names.end() || *at != name)
    throw std::runtime_error(dataset.name + ": the plan holds an unknown test " + name);
  return static_cast<std::size_t>(at - dataset.names.begin());
}

// Where tlb::split put each test of `dataset`; throws unless the plan holds every test exactly once.
inline Assignment assignment_of(const tlb::Plan& plan, const Dataset& dataset) {
  Assignment assignment(dataset.names.size(), -1);
  for (const tlb::Partition& partition : plan.partitions) {
    for (const tlb::PlannedTest& test : partition.tests) {
      const std::size_t index = index_of(dataset, test.name);
      if (assignment[index] != -1)
        throw std::runtime_error(dataset.name + ": the plan holds " + test.name + " twice");
      assignment[index] = partition.number - 1;
    }
  }
  if (std::find(assignment.begin(), assignment.end(), -1) != assignment.end())
    throw std::runtime_error(dataset.name + ": the plan misses a test");
  return assignment;
}

// ---------------------------------------------------------------------------------------------------------
// Figures and formatting.
inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

inline std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

inline std::string group_thousands(std::size_t value) {
  std::string digits = std::to_string(value), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

inline std::string human_seconds(double seconds) {
  if (seconds >= 3600) return format("%.1f h", seconds / 3600);
  if (seconds >= 60) return format("%.1f min", seconds / 60);
  if (seconds >= 1) return format("%.1f s", seconds);
  return format("%.2g s", seconds);
}

inline std::string datasets_markdown(const std::vector<Dataset>& datasets) {
  std::ostringstream md;
  md << "| dataset | source | tests | total | median | longest |\n|---|---|--:|--:|--:|--:|\n";
  for (const Dataset& dataset : datasets) {
    std::vector<double> sorted = dataset.seconds;
    md << "| " << dataset.name << " | " << dataset.source << " | " << group_thousands(dataset.names.size())
       << " | " << human_seconds(dataset.total) << " | " << human_seconds(median(sorted)) << " | "
       << human_seconds(dataset.longest) << " |\n";
  }
  return md.str();
}

inline std::vector<std::size_t> parse_sizes(const std::string& text) {
  std::vector<std::size_t> sizes;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const unsigned long long size = std::stoull(item);
    if (size < 2) throw std::invalid_argument("--sizes: each size must be at least 2");
    sizes.push_back(static_cast<std::size_t>(size));
  }
  return sizes;
}

}  // namespace tlb::bench
