// Where the time of `tlb split` goes: the phases of the command, each timed on its own with Google
// Benchmark, on the same generated documents as tlb_bench_split_command (tests.json with a fixture and
// labels, durations.json with a duration for every test) and the same 8 partitions.
//
//   ParseTestList       io::parse_test_list on tests.json (the command first reads the file into a string)
//   ParseDurations      io::parse_durations on durations.json, into the history
//   Split               tlb::split, time splitter
//   OrderOnePartition   order_tests on partition 3 with the default orderers, as `--partition 3/8` prints it
//   OrderAllPartitions  order_tests on every partition, as `--all` prints them
//
// What the whole command adds on top (process start, reading the files, printing, freeing at exit) is the
// difference between tlb_bench_split_command's figures and the sum of these. As in split_core.cpp, inputs
// each iteration consumes are copied, and results are destroyed, with the timer paused.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "io/durations.hpp"
#include "io/test_list.hpp"
#include "peak_rss.hpp"
#include "synthetic_suite.hpp"
#include "tlb/history.hpp"
#include "tlb/order.hpp"
#include "tlb/split.hpp"
#include "tlb/test.hpp"

namespace {

constexpr int kPartitions = 8;
constexpr std::size_t kShownPartition = 2;  // Partition 3, 0-based.

struct Inputs {
  std::size_t size = 0;
  std::string test_list;         // The text of tests.json.
  std::string durations;         // The text of durations.json.
  std::vector<tlb::Test> tests;  // Parsed from test_list.
  tlb::History history;          // Parsed from durations.
  tlb::Plan plan;
};

// A whole document in memory, written by one of the generators of synthetic_suite.hpp.
std::string generate(void (*write)(std::FILE*, std::size_t), std::size_t size) {
  char* buffer = nullptr;
  std::size_t length = 0;
  std::FILE* out = open_memstream(&buffer, &length);
  if (out == nullptr) std::abort();
  write(out, size);
  std::fclose(out);
  std::string text(buffer, length);
  std::free(buffer);
  return text;
}

// Built once per size and shared by the phases: each phase's input is the previous phase's output. The cases
// run size by size (see main), so only the latest size is kept.
const Inputs& inputs_of_size(std::size_t size) {
  static Inputs inputs;
  if (inputs.size == size) return inputs;
  inputs = Inputs{};
  inputs.size = size;
  inputs.test_list = generate(tlb::bench::write_ctest_json, size);
  inputs.durations = generate(tlb::bench::write_durations_json, size);
  inputs.tests = tlb::io::parse_test_list(inputs.test_list, "tests.json");
  inputs.history = tlb::io::parse_durations(inputs.durations, "durations.json").history;
  tlb::SplitOptions options;
  options.total = kPartitions;
  inputs.plan = tlb::split(inputs.tests, inputs.history, options);
  return inputs;
}

// Runs `phase` on a fresh copy of `input` each iteration, timing only the phase; its result is destroyed with
// the timer paused. Reports the peak memory of the case.
template <typename Input, typename Phase>
void time_phase(benchmark::State& state, const Input& input, Phase phase) {
  tlb::bench::PeakRss rss;
  rss.start();
  for (auto _ : state) {
    state.PauseTiming();
    Input copy = input;
    state.ResumeTiming();

    auto result = phase(std::move(copy));
    benchmark::DoNotOptimize(result);

    state.PauseTiming();
    { auto discarded = std::move(result); }
    state.ResumeTiming();
  }
  state.counters["peak_rss_MiB"] = tlb::bench::PeakRss::peak_mib();
  state.counters["added_MiB"] = rss.added_mib();
}

void BM_ParseTestList(benchmark::State& state) {
  const Inputs& inputs = inputs_of_size(static_cast<std::size_t>(state.range(0)));
  // The text is not consumed; the copy is of a string_view.
  time_phase(state, std::string_view(inputs.test_list),
             [](std::string_view text) { return tlb::io::parse_test_list(text, "tests.json"); });
}

void BM_ParseDurations(benchmark::State& state) {
  const Inputs& inputs = inputs_of_size(static_cast<std::size_t>(state.range(0)));
  time_phase(state, std::string_view(inputs.durations),
             [](std::string_view text) { return tlb::io::parse_durations(text, "durations.json"); });
}

void BM_Split(benchmark::State& state) {
  const Inputs& inputs = inputs_of_size(static_cast<std::size_t>(state.range(0)));
  tlb::SplitOptions options;
  options.total = kPartitions;
  time_phase(state, inputs.tests, [&](std::vector<tlb::Test> tests) {
    return tlb::split(std::move(tests), inputs.history, options);
  });
}

void BM_OrderOnePartition(benchmark::State& state) {
  const Inputs& inputs = inputs_of_size(static_cast<std::size_t>(state.range(0)));
  time_phase(state, inputs.plan.partitions[kShownPartition].tests, [&](std::vector<tlb::PlannedTest> tests) {
    return tlb::order_tests(std::move(tests), inputs.history, tlb::default_orderers());
  });
}

void BM_OrderAllPartitions(benchmark::State& state) {
  const Inputs& inputs = inputs_of_size(static_cast<std::size_t>(state.range(0)));
  time_phase(state, inputs.plan.partitions, [&](std::vector<tlb::Partition> partitions) {
    for (tlb::Partition& partition : partitions)
      partition.tests = tlb::order_tests(std::move(partition.tests), inputs.history, tlb::default_orderers());
    return partitions;
  });
}

}  // namespace

int main(int argc, char** argv) {
  struct Phase {
    const char* name;
    void (*function)(benchmark::State&);
  };
  const Phase phases[] = {{"ParseTestList", BM_ParseTestList},
                          {"ParseDurations", BM_ParseDurations},
                          {"Split", BM_Split},
                          {"OrderOnePartition", BM_OrderOnePartition},
                          {"OrderAllPartitions", BM_OrderAllPartitions}};
  // Registered size by size, not phase by phase, so that each size's inputs are built once.
  for (std::int64_t size : {10'000, 100'000, 1'000'000}) {
    for (const Phase& phase : phases)
      benchmark::RegisterBenchmark(phase.name, phase.function)
          ->ArgName("tests")
          ->Arg(size)
          ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
