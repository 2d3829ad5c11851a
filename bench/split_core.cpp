// Benchmark of tlb::split itself: the time splitter (longest-first placement, then improvement passes) on
// synthetic suites where every test has history, without any file reading or output.
//
// Only the call to tlb::split is timed. split takes its tests by value and the command line hands its list
// over with std::move, so the copy each iteration needs is made with the timer paused, and the returned
// plan is destroyed with the timer paused too (the command keeps it until it exits).
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "peak_rss.hpp"
#include "synthetic_suite.hpp"
#include "tlb/history.hpp"
#include "tlb/split.hpp"
#include "tlb/test.hpp"

namespace {

struct SyntheticSuite {
  std::size_t size = 0;
  std::vector<tlb::Test> tests;  // In scrambled order, as a ctest list would be.
  tlb::History history;          // One record per test.
};

// Google Benchmark calls a benchmark function several times while it picks an iteration count, and building
// a million tests takes about as long as splitting them, so the suite is built once per size. The cases run
// size by size (see suite_sizes_and_partitions), so only the latest size is kept.
const SyntheticSuite& suite_of_size(std::size_t size) {
  static SyntheticSuite suite;
  if (suite.size == size && !suite.tests.empty()) return suite;
  suite = SyntheticSuite{};
  suite.size = size;

  tlb::bench::DurationGenerator durations;
  for (std::size_t index = 0; index < size; ++index)
    suite.history.set(tlb::bench::test_name(index),
                      tlb::TestRecord{durations.next_seconds(), 1, tlb::Outcome::passed});

  const std::uint64_t stride = tlb::bench::scrambled_stride(size);
  suite.tests.reserve(size);
  for (std::size_t position = 0; position < size; ++position)
    suite.tests.push_back(
        tlb::Test::named(tlb::bench::test_name(tlb::bench::scrambled_index(position, size, stride))));
  return suite;
}

void BM_SplitTime(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const auto partitions = static_cast<int>(state.range(1));
  const SyntheticSuite& suite = suite_of_size(size);

  tlb::SplitOptions options;
  options.total = partitions;
  options.splitters = {tlb::Splitter::time};  // No fallback: the benchmark is about the time splitter.

  tlb::bench::PeakRss rss;
  rss.start();
  double makespan_over_bound = 0;
  bool declined = false;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<tlb::Test> tests = suite.tests;
    state.ResumeTiming();

    tlb::Plan plan = tlb::split(std::move(tests), suite.history, options);
    benchmark::DoNotOptimize(plan);

    state.PauseTiming();
    declined = declined || plan.splitter != tlb::Splitter::time;
    makespan_over_bound = plan.predicted_makespan_seconds / plan.lower_bound_seconds;
    { tlb::Plan discarded = std::move(plan); }
    state.ResumeTiming();
  }

  if (declined) state.SkipWithError("the time splitter declined: the suite has no durations");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(size));
  // How good the plan is, so a faster split that balances worse shows up: 1.0 means no split could finish
  // sooner.
  state.counters["makespan/bound"] = makespan_over_bound;
  // The peak includes the suite the benchmark keeps (its test list and history); split_MiB is what the
  // timed loop added on top: the copy of the list handed to split, and everything split allocates.
  state.counters["peak_rss_MiB"] = tlb::bench::PeakRss::peak_mib();
  state.counters["split_MiB"] = rss.added_mib();
}

// Sizes in ascending order, both partition counts for each, so each suite is built once (see suite_of_size).
void suite_sizes_and_partitions(benchmark::internal::Benchmark* benchmark) {
  for (std::int64_t tests : {1'000, 10'000, 100'000, 1'000'000}) {
    for (std::int64_t partitions : {8, 64}) benchmark->Args({tests, partitions});
  }
}

BENCHMARK(BM_SplitTime)
    ->ArgNames({"tests", "partitions"})
    ->Apply(suite_sizes_and_partitions)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
