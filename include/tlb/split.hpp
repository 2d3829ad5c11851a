// Splitting a test suite into partitions: the split contract of PRODUCT.md.
//
// Given the same tests (in any order), the same history and the same options, `split` returns the same plan
// on every machine: tests are sorted by name first, durations become integer microseconds, and every tie is
// broken by name or partition number. Each test lands in exactly one partition, except the setup and cleanup
// tests of a fixture, which go with every partition holding a test that requires the fixture.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlb/history.hpp"
#include "tlb/test.hpp"

namespace tlb {

enum class Splitter {
  count,        // Contiguous slices of the name-sorted list, sized by the original TLB's formula.
  round_robin,  // The name-sorted list dealt out one test at a time.
  time,         // Balanced on durations; declines when no test has a known duration.
};

std::string_view to_string(Splitter splitter);
std::optional<Splitter> parse_splitter(std::string_view name);

struct SplitOptions {
  int total = 1;
  // Relative share of work per partition (TLB_PARTITION_WEIGHTS); empty means all equal. Otherwise `total`
  // positive values; they are rounded to thousandths.
  std::vector<double> weights;
  // Tried in order; the first that can split wins. If none can, `count` splits.
  std::vector<Splitter> splitters = {Splitter::time, Splitter::count};
  // J of the `ctest -j J` each partition runs with (TLB_PARALLEL_LEVEL, else CTEST_PARALLEL_LEVEL). A test
  // then loads its partition with duration x min(PROCESSORS, J) / J, and a RUN_SERIAL test with its whole
  // duration (nothing runs beside it). 1 means tests run one after another: a partition takes the sum of its
  // tests.
  int parallel_level = 1;
};

// Where a test's predicted duration came from.
enum class Estimate {
  history,   // Measured in earlier runs.
  cost,      // Its COST property.
  fallback,  // Unknown: the mean of the known tests in the list.
  disabled,  // DISABLED: it does not run, so it costs nothing.
};

struct PlannedTest {
  std::string name;
  double seconds = 0;
  Estimate estimate = Estimate::history;
  bool fixture = false;  // A fixture's setup or cleanup test that goes with every partition that needs it.
};

struct Partition {
  int number = 0;  // 1-based.
  double weight = 1;
  std::vector<PlannedTest> tests;  // In name order; see `order_tests` for the order to run them in.
  double predicted_seconds = 0;    // Sum of the estimates of its tests, fixtures included.
};

struct Plan {
  std::vector<Partition> partitions;
  Splitter splitter = Splitter::count;    // The splitter that made the plan.
  std::vector<std::string> declined;      // Why earlier splitters of the chain declined, one line each.
  double fallback_seconds = 0;            // The estimate given to tests with neither history nor COST.
  std::size_t tests_without_history = 0;  // Enabled tests whose estimate is not from history.
  // No schedule can finish before this: max(total work / total weight, longest unit / its best partition's
  // weight), in the unit of a weight-1 partition's seconds.
  double lower_bound_seconds = 0;
  // The predicted makespan in the same unit: max over partitions of predicted_seconds / weight.
  double predicted_makespan_seconds = 0;
};

// Splits `tests` (any order; duplicate names count once) into `options.total` partitions.
// Throws std::invalid_argument when the options are inconsistent (total < 1, wrong number of weights...);
// callers validate user input first and report it in their own words.
Plan split(std::vector<Test> tests, const History& history, const SplitOptions& options);

}  // namespace tlb
