// Synthetic test suites for the benchmarks: test names and heavy-tailed durations, the same on every machine.
//
// Durations follow a log-normal body, exp(mu + sigma * Z) seconds with mu = ln(0.5 s) and sigma = 1.5 (median
// 0.5 s, mean about 1.5 s), and 1% of tests are a further 20-100x longer: the few slow integration tests most
// real suites have, which are what make balancing hard. Everything is drawn from std::mt19937_64, whose
// output the standard fixes bit for bit, through transforms written out here, because the standard library's
// distributions (std::lognormal_distribution, std::uniform_real_distribution, std::shuffle) are allowed to
// differ between implementations. Only std::exp, std::log, std::sqrt and std::cos remain, and they agree to
// the last bit or so, far below the microsecond the splitter rounds durations to.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <numbers>
#include <numeric>
#include <random>
#include <string>

namespace tlb::bench {

struct DurationModel {
  double log_median_seconds = std::log(0.5);  // mu: the body's median is 0.5 s.
  double log_sigma = 1.5;                     // sigma: a long right tail already in the body.
  double slow_fraction = 0.01;                // Share of tests that are much slower than the body.
  double slow_factor_min = 20;                // Those tests are multiplied by a factor uniform in
  double slow_factor_max = 100;               // [slow_factor_min, slow_factor_max).
  std::uint64_t seed = 20240601;
};

// Draws durations in seconds; the n-th call returns the same value on every platform for a given model.
class DurationGenerator {
 public:
  explicit DurationGenerator(const DurationModel& model = {}) : model_(model), engine_(model.seed) {}

  double next_seconds() {
    const double body = std::exp(model_.log_median_seconds + model_.log_sigma * standard_normal());
    // Both draws happen for every test, so a test's duration does not depend on earlier tests' luck.
    const bool slow = uniform() < model_.slow_fraction;
    const double factor =
        model_.slow_factor_min + (model_.slow_factor_max - model_.slow_factor_min) * uniform();
    return slow ? body * factor : body;
  }

 private:
  // Uniform in [0, 1): the top 53 bits of one engine output, exactly representable as a double.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Box-Muller, using one of the pair; uniform() + 2^-53 lies in (0, 1], so the logarithm is finite.
  double standard_normal() {
    const double u1 = uniform() + 0x1.0p-53;
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

  DurationModel model_;
  std::mt19937_64 engine_;
};

// The name of test `index`, shaped like gtest_discover_tests output ("Module.Suite.Case"), 100 cases to a
// suite and 100 suites to a module, so names share long prefixes as real ones do.
inline std::string test_name(std::size_t index) {
  char name[64];
  std::snprintf(name, sizeof name, "module_%03zu.Suite_%02zu.Case_%02zu", index / 10'000, index / 100 % 100,
                index % 100);
  return name;
}

// The index of the test at `position` in the input list. Real lists come in add_test order, not sorted, so
// the benchmarks do not hand the splitter pre-sorted input. position -> position * stride mod n is a
// bijection when stride and n are coprime, and needs no table, so the list can be written as it is generated.
inline std::uint64_t scrambled_stride(std::uint64_t n) {
  std::uint64_t stride = 7'919;  // A prime well below the sizes benchmarked, so the order is well mixed.
  while (std::gcd(stride, n) != 1) stride += 2;
  return stride;
}

// position * stride stays below 2^64 for any n up to about 10^15, far beyond what is benchmarked.
inline std::uint64_t scrambled_index(std::uint64_t position, std::uint64_t n, std::uint64_t stride) {
  return position * stride % n;
}

// The documents `tlb split` reads, for a suite of `size` tests: size - 2 ordinary tests, and a fixture's
// setup and cleanup tests that the ordinary tests of every 1000th index require. They are written to a FILE*
// as they are generated, so a benchmark that only writes them stays small.
inline constexpr const char* kFixture = "database";

inline std::string document_test_name(std::size_t index, std::size_t size) {
  if (index == size - 2) return "fixture.database_setup";
  if (index == size - 1) return "fixture.database_cleanup";
  return test_name(index);
}

// One test of the ctest json-v1 document, with what ctest prints for every test (command, backtrace,
// WORKING_DIRECTORY) and, for some tests, the properties tlb acts on.
inline void write_ctest_test(std::FILE* out, std::size_t index, std::size_t size) {
  const std::string name = document_test_name(index, size);
  const std::size_t module = index / 10'000;
  std::fprintf(out,
               "{\"backtrace\":1,\"command\":[\"/home/ci/project/build/module_%03zu/module_%03zu_tests\","
               "\"--gtest_filter=%s\"],\"name\":\"%s\",\"properties\":[",
               module, module, name.c_str(), name.c_str());
  if (index == size - 2) {
    std::fprintf(out, "{\"name\":\"FIXTURES_SETUP\",\"value\":[\"%s\"]},", kFixture);
  } else if (index == size - 1) {
    std::fprintf(out, "{\"name\":\"FIXTURES_CLEANUP\",\"value\":[\"%s\"]},", kFixture);
  } else {
    if (index % 10 == 0) std::fputs("{\"name\":\"LABELS\",\"value\":[\"integration\",\"nightly\"]},", out);
    if (index % 1'000 == 0)
      std::fprintf(out, "{\"name\":\"FIXTURES_REQUIRED\",\"value\":[\"%s\"]},", kFixture);
  }
  std::fprintf(out, "{\"name\":\"WORKING_DIRECTORY\",\"value\":\"/home/ci/project/build/module_%03zu\"}]}",
               module);
}

// What `ctest --show-only=json-v1` prints (compact rather than indented), tests in scrambled order.
inline void write_ctest_json(std::FILE* out, std::size_t size) {
  std::fputs(
      "{\"backtraceGraph\":{\"commands\":[\"add_test\"],\"files\":[\"CMakeLists.txt\"],"
      "\"nodes\":[{\"file\":0},{\"command\":0,\"file\":0,\"line\":1,\"parent\":0}]},"
      "\"kind\":\"ctestInfo\",\"tests\":[\n",
      out);
  const std::uint64_t stride = scrambled_stride(size);
  for (std::size_t position = 0; position < size; ++position) {
    if (position > 0) std::fputs(",\n", out);
    write_ctest_test(out, scrambled_index(position, size, stride), size);
  }
  std::fputs("\n],\"version\":{\"major\":1,\"minor\":0}}\n", out);
}

// pytest-split's .test_durations format: one JSON object of name to seconds (to the microsecond), a duration
// for every test, names in index order (name order for the ordinary tests, as pytest-split sorts its keys).
inline void write_durations_json(std::FILE* out, std::size_t size) {
  DurationGenerator durations;
  std::fputs("{\n", out);
  for (std::size_t index = 0; index < size; ++index) {
    std::fprintf(out, "%s  \"%s\": %.6f", index > 0 ? ",\n" : "", document_test_name(index, size).c_str(),
                 durations.next_seconds());
  }
  std::fputs("\n}\n", out);
}

}  // namespace tlb::bench
