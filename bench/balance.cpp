// How well each way of splitting a suite balances it (issue 6): the makespan of a split over the lower bound
// no split can beat, for the algorithms the peers use and for TLB's time splitter, on real CI timing data
// (../shared/datasets, when present) and on synthetic heavy-tailed suites, with 2 to 64 partitions.
//
// Usage: tlb_bench_balance [--shared DIR] [--out DIR] [--sizes N,N,...] [--noise-draws K] [--split-draws K]
//
// The algorithms, re-implemented here from their descriptions (../shared/research/peers.md):
//   round-robin  the name-sorted list dealt out in turn, test i to partition i mod N (ctest -I ,,N stride,
//                GoogleTest sharding, cargo-nextest count:, bktec's fallback plan);
//   count        contiguous slices of the name-sorted list, sized by the original TLB's
//   CountBasedTestSplitter
//                formula (37 tests over 7: 5, 5, 5, 6, 5, 5, 6);
//   chunks       pytest-split's duration_based_chunks: walk the name-sorted list and start the next chunk
//   once
//                the current one has reached total / N (the last chunk takes whatever is left);
//   LPT          longest first (ties by name) into the least-loaded partition (ties to the lowest number):
//                knapsack, pytest-split's least_duration, split_tests, gotestsum, the original TLB;
//   TLB          tlb::split with the default options (the time splitter, all weights equal).
//
// The split is made on history and judged on the next run: makespan = the largest sum of the actual durations
// of one partition's tests; bound = max(sum of actual durations / N, longest actual duration). Scenarios:
//   exact      history = the durations, and the next run takes exactly as long;
//   noise-S    history = the durations; the next run takes duration * exp(S * Z), Z standard normal, drawn
//              anew for each test in each of --noise-draws runs (S = 0.1, 0.3, 0.5);
//   new-10pct  10% of the tests (a different random tenth in each of --split-draws draws, each split anew)
//              have no history. TLB applies its own rule, the mean of the known tests; chunks and LPT get the
//              same mean, as pytest-split does; round-robin and count do not look at durations. The run is
//              exact;
//   overhead   history = the durations; each test takes 0.05 s longer than its history says (process start,
//              setup: what JUnit times leave out);
//   combined   all three at once: 10% new, noise 0.3, 0.05 s overhead (--split-draws histories, each judged
//              on about --noise-draws / --split-draws runs).
// Each figure is the median over the draws. Everything is seeded, so every run prints the same figures.
//
// Output: one table on stdout; balance.md (the same table by scenario, a summary and the checks),
// balance.csv, and one SVG plot per scenario (balance-<scenario>.svg) in --out (default: the current
// directory).
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "options.hpp"
#include "suites.hpp"
#include "tlb/history.hpp"
#include "tlb/split.hpp"
#include "tlb/test.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::array<int, 6> kPartitionCounts = {2, 4, 8, 16, 32, 64};

enum Algorithm : std::size_t { kRoundRobin, kCount, kChunks, kLpt, kOurs, kAlgorithmCount };
constexpr std::array<const char*, kAlgorithmCount> kAlgorithmNames = {"round-robin", "count", "chunks", "LPT",
                                                                      "TLB"};
// Okabe-Ito colours (readable with the common colour-vision deficiencies); TLB in black.
constexpr std::array<const char*, kAlgorithmCount> kAlgorithmColours = {"#E69F00", "#56B4E9", "#009E73",
                                                                        "#CC79A7", "#000000"};

// Suites, seeds and formatting shared with tlb_bench_parallel (suites.hpp).
using tlb::bench::Assignment;
using tlb::bench::assignment_of;
using tlb::bench::Dataset;
using tlb::bench::datasets_markdown;
using tlb::bench::format;
using tlb::bench::group_thousands;
using tlb::bench::human_seconds;
using tlb::bench::load_datasets;
using tlb::bench::lpt;
using tlb::bench::median;
using tlb::bench::parse_sizes;
using tlb::bench::Random;
using tlb::bench::seed_of;

// ---------------------------------------------------------------------------------------------------------
// The splits. Each returns the partition (0-based) of every test, indexed like Dataset::names.

Assignment round_robin(std::size_t tests, int partitions) {
  Assignment assignment(tests);
  for (std::size_t i = 0; i < tests; ++i)
    assignment[i] = static_cast<int>(i % static_cast<std::size_t>(partitions));
  return assignment;
}

// The original TLB's CountBasedTestSplitter: with q = n / T and r = n % T, partition i (0-based) takes
// [i*q + floor(r*i/T), (i+1)*q + floor(r*(i+1)/T)).
Assignment contiguous_count(std::size_t tests, int partitions) {
  const auto total = static_cast<std::size_t>(partitions);
  const std::size_t q = tests / total, r = tests % total;
  Assignment assignment(tests);
  for (std::size_t i = 0; i < total; ++i) {
    const std::size_t begin = i * q + r * i / total;
    const std::size_t end = i + 1 == total ? tests : (i + 1) * q + r * (i + 1) / total;
    for (std::size_t j = begin; j < end; ++j) assignment[j] = static_cast<int>(i);
  }
  return assignment;
}

// pytest-split's duration_based_chunks, on the name-sorted list.
Assignment duration_chunks(const std::vector<double>& estimate, int partitions) {
  const double per_chunk = std::accumulate(estimate.begin(), estimate.end(), 0.0) / partitions;
  Assignment assignment(estimate.size());
  int chunk = 0;
  double sum = 0;
  for (std::size_t i = 0; i < estimate.size(); ++i) {
    if (sum >= per_chunk && chunk + 1 < partitions) {
      ++chunk;
      sum = 0;
    }
    assignment[i] = chunk;
    sum += estimate[i];
  }
  return assignment;
}

// TLB: tlb::split with the default options. Tests without history are left out of `history`.
struct OurSplitter {
  const Dataset* dataset = nullptr;
  std::vector<tlb::Test> tests;  // Every test of the dataset, by name.
  double seconds_in_split = 0;   // Wall time spent in tlb::split.
  std::size_t splits = 0;

  explicit OurSplitter(const Dataset& of) : dataset(&of) {
    tests.reserve(of.names.size());
    for (const std::string& name : of.names) tests.push_back(tlb::Test::named(name));
  }

  Assignment operator()(const tlb::History& history, int partitions) {
    tlb::SplitOptions options;
    options.total = partitions;
    const auto start = Clock::now();
    const tlb::Plan plan = tlb::split(tests, history, options);
    seconds_in_split += std::chrono::duration<double>(Clock::now() - start).count();
    ++splits;
    if (plan.splitter != tlb::Splitter::time)
      throw std::runtime_error(dataset->name + ": the time splitter declined");
    return assignment_of(plan, *dataset);
  }
};

// A split laid out for judging it on many runs: the tests of each partition, one partition after another.
struct Grouped {
  Assignment assignment;
  std::vector<std::uint32_t> tests;  // Test indices, partition by partition.
  std::vector<std::size_t> begin;    // Partition p's tests are tests[begin[p], begin[p + 1]).

  Grouped(Assignment of, int partitions)
      : assignment(std::move(of)), begin(static_cast<std::size_t>(partitions) + 1) {
    for (int p : assignment) ++begin[static_cast<std::size_t>(p) + 1];
    std::partial_sum(begin.begin(), begin.end(), begin.begin());
    std::vector<std::size_t> next(begin.begin(), begin.end() - 1);
    tests.resize(assignment.size());
    for (std::size_t i = 0; i < assignment.size(); ++i)
      tests[next[static_cast<std::size_t>(assignment[i])]++] = static_cast<std::uint32_t>(i);
  }
};

// The makespan of a split on a run: the largest sum of actual durations over the partitions. Four running
// sums per partition, so the additions do not wait on each other.
double makespan(const Grouped& split, const std::vector<double>& actual) {
  double largest = 0;
  for (std::size_t p = 0; p + 1 < split.begin.size(); ++p) {
    std::array<double, 4> sum{};
    std::size_t i = split.begin[p];
    const std::size_t end = split.begin[p + 1];
    for (; i + 4 <= end; i += 4) {
      sum[0] += actual[split.tests[i]];
      sum[1] += actual[split.tests[i + 1]];
      sum[2] += actual[split.tests[i + 2]];
      sum[3] += actual[split.tests[i + 3]];
    }
    for (; i < end; ++i) sum[0] += actual[split.tests[i]];
    largest = std::max(largest, (sum[0] + sum[1]) + (sum[2] + sum[3]));
  }
  return largest;
}

// The same in whole microseconds (each duration rounded to the microsecond, then summed exactly): the
// resolution the splitter works in, and exact, so two plans that tie at it compare equal.
std::int64_t makespan_microseconds(const Assignment& assignment, const std::vector<double>& actual,
                                   int partitions) {
  std::vector<std::int64_t> load(static_cast<std::size_t>(partitions), 0);
  for (std::size_t i = 0; i < actual.size(); ++i)
    load[static_cast<std::size_t>(assignment[i])] += std::llround(actual[i] * 1e6);
  return *std::max_element(load.begin(), load.end());
}

using Assignments = std::vector<Grouped>;  // One per algorithm, in Algorithm order.

// All five splits of one history: `estimate[i]` is test i's history, or for a test without history the mean
// of the known ones; `history` holds only the tests with history.
Assignments split_all(OurSplitter& ours, const std::vector<double>& estimate, const tlb::History& history,
                      int partitions) {
  const std::size_t tests = estimate.size();
  Assignments splits;
  splits.emplace_back(round_robin(tests, partitions), partitions);
  splits.emplace_back(contiguous_count(tests, partitions), partitions);
  splits.emplace_back(duration_chunks(estimate, partitions), partitions);
  splits.emplace_back(lpt(estimate, partitions), partitions);
  splits.emplace_back(ours(history, partitions), partitions);
  return splits;
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios.
struct Scenario {
  std::string key;          // File-name friendly.
  std::string title;        // For tables and plots.
  double sigma = 0;         // Run-to-run noise: actual = duration * exp(sigma * Z).
  double new_fraction = 0;  // Share of tests without history.
  double overhead = 0;      // Seconds added to every test's actual time.
  int history_draws = 1;    // Draws of which tests are new (each one split anew).
  int run_draws = 1;        // Draws of the next run's noise, for each history.
  int draws() const { return history_draws * run_draws; }
};

std::vector<Scenario> make_scenarios(int noise_draws, int split_draws) {
  const int combined_runs = std::max(1, (noise_draws + split_draws - 1) / split_draws);
  return {
      {"exact", "exact: the next run takes exactly what history says", 0, 0, 0, 1, 1},
      {"noise-0.1", "noise 0.1: next run = history x exp(0.1 Z)", 0.1, 0, 0, 1, noise_draws},
      {"noise-0.3", "noise 0.3: next run = history x exp(0.3 Z)", 0.3, 0, 0, 1, noise_draws},
      {"noise-0.5", "noise 0.5: next run = history x exp(0.5 Z)", 0.5, 0, 0, 1, noise_draws},
      {"new-10pct", "new tests: 10% have no history (estimate: mean of the known)", 0, 0.1, 0, split_draws,
       1},
      {"overhead", "overhead: every test takes 0.05 s more than history says", 0, 0, 0.05, 1, 1},
      {"combined", "combined: 10% new, noise 0.3, 0.05 s overhead", 0.3, 0.1, 0.05, split_draws,
       combined_runs},
  };
}

// One row of the table: a scenario, a dataset and a partition count, the median of each algorithm's
// makespan / bound over the scenario's draws.
struct Case {
  std::size_t scenario = 0;
  std::size_t dataset = 0;
  int partitions = 0;
  double average_over_longest = 0;  // (total / N) / longest test, on the true durations.
  double bound = 0;                 // Median bound over the draws, seconds.
  std::array<double, kAlgorithmCount> ratio{};
  std::array<double, kAlgorithmCount> worst{};               // The largest over the draws.
  std::array<std::int64_t, kAlgorithmCount> microseconds{};  // Makespan in microseconds, with one draw.
  std::array<std::vector<double>, kAlgorithmCount> samples;  // Every draw's makespan / bound, in draw order.
};

std::vector<Case> run(const std::vector<Dataset>& datasets, const std::vector<Scenario>& scenarios,
                      double& seconds_in_our_split, std::size_t& our_splits) {
  std::vector<Case> cases;
  for (std::size_t d = 0; d < datasets.size(); ++d) {
    const Dataset& dataset = datasets[d];
    const std::size_t n = dataset.names.size();
    OurSplitter ours(dataset);
    tlb::History full;
    for (std::size_t i = 0; i < n; ++i)
      full.set(dataset.names[i], tlb::TestRecord{dataset.seconds[i], 1, tlb::Outcome::passed});

    // Splits of the full history, shared by every scenario in which every test has history.
    std::vector<Assignments> on_full;
    for (int partitions : kPartitionCounts)
      on_full.push_back(split_all(ours, dataset.seconds, full, partitions));

    for (std::size_t s = 0; s < scenarios.size(); ++s) {
      const Scenario& scenario = scenarios[s];
      // samples[p][a]: one ratio per draw; bounds[p]: one bound per draw.
      std::vector<std::array<std::vector<double>, kAlgorithmCount>> samples(kPartitionCounts.size());
      std::vector<std::vector<double>> bounds(kPartitionCounts.size());
      std::vector<std::array<std::int64_t, kAlgorithmCount>> makespans(kPartitionCounts.size());
      for (int history_draw = 0; history_draw < scenario.history_draws; ++history_draw) {
        // Who has history. Tests without it are estimated at the mean of the known ones, for the peers; TLB
        // gets only the partial history and applies its own rule (the same mean).
        std::vector<double> estimate = dataset.seconds;
        tlb::History partial;
        if (scenario.new_fraction > 0) {
          Random random(seed_of(dataset.name, scenario.key, history_draw, 0, 1));
          const auto unknown =
              static_cast<std::size_t>(std::llround(scenario.new_fraction * static_cast<double>(n)));
          std::vector<char> known(n, 1);
          std::vector<std::size_t> indices(n);
          std::iota(indices.begin(), indices.end(), std::size_t{0});
          for (std::size_t k = 0; k < unknown; ++k) {  // A partial Fisher-Yates shuffle.
            std::swap(indices[k], indices[k + random.below(n - k)]);
            known[indices[k]] = 0;
          }
          double known_total = 0;
          std::size_t known_count = 0;
          for (std::size_t i = 0; i < n; ++i) {
            if (!known[i]) continue;
            known_total += dataset.seconds[i];
            ++known_count;
            partial.set(dataset.names[i], tlb::TestRecord{dataset.seconds[i], 1, tlb::Outcome::passed});
          }
          const double mean = known_count > 0 ? known_total / static_cast<double>(known_count) : 1.0;
          for (std::size_t i = 0; i < n; ++i)
            if (!known[i]) estimate[i] = mean;
        }
        std::vector<Assignments> fresh;
        if (scenario.new_fraction > 0)
          for (int partitions : kPartitionCounts)
            fresh.push_back(split_all(ours, estimate, partial, partitions));
        const std::vector<Assignments>& splits = scenario.new_fraction > 0 ? fresh : on_full;

        for (int run_draw = 0; run_draw < scenario.run_draws; ++run_draw) {
          // The next run.
          std::vector<double> actual = dataset.seconds;
          if (scenario.sigma > 0) {
            Random random(seed_of(dataset.name, scenario.key, history_draw, run_draw, 2));
            for (double& seconds : actual) seconds *= std::exp(scenario.sigma * random.normal());
          }
          for (double& seconds : actual) seconds += scenario.overhead;
          const double total = std::accumulate(actual.begin(), actual.end(), 0.0);
          const double longest = *std::max_element(actual.begin(), actual.end());
          for (std::size_t p = 0; p < kPartitionCounts.size(); ++p) {
            const int partitions = kPartitionCounts[p];
            const double bound = std::max(total / partitions, longest);
            bounds[p].push_back(bound);
            for (std::size_t a = 0; a < kAlgorithmCount; ++a) {
              samples[p][a].push_back(makespan(splits[p][a], actual) / bound);
              if (scenario.draws() == 1)
                makespans[p][a] = makespan_microseconds(splits[p][a].assignment, actual, partitions);
            }
          }
        }
      }
      for (std::size_t p = 0; p < kPartitionCounts.size(); ++p) {
        Case row;
        row.scenario = s;
        row.dataset = d;
        row.partitions = kPartitionCounts[p];
        row.average_over_longest = dataset.total / kPartitionCounts[p] / dataset.longest;
        row.bound = median(bounds[p]);
        row.microseconds = makespans[p];
        for (std::size_t a = 0; a < kAlgorithmCount; ++a) {
          row.ratio[a] = median(samples[p][a]);
          row.worst[a] = *std::max_element(samples[p][a].begin(), samples[p][a].end());
          row.samples[a] = std::move(samples[p][a]);
        }
        cases.push_back(row);
      }
    }
    seconds_in_our_split += ours.seconds_in_split;
    our_splits += ours.splits;
    std::fprintf(stderr, "  %-24s %7zu tests: %zu TLB splits, %.2f s in tlb::split\n", dataset.name.c_str(),
                 n, ours.splits, ours.seconds_in_split);
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------------------
// Checks and summaries.

// Within 0.5% of the best peer (or better): the criterion under noise.
constexpr double kNoiseTolerance = 1.005;
constexpr double kBoundTarget = 1.01;
// Figures that differ by less than a millionth count as ties (for "best" and the bold in the tables; the
// exact check lists them): the time splitter stops improving a plan within 1e-5 of the bound, so on a suite
// of hours LPT can land a few microseconds closer by chance.
constexpr double kTie = 1e-6;

struct Checks {
  std::vector<std::string> lines;     // The verdicts, for stdout and the markdown.
  std::vector<std::string> failures;  // Every case that fails one, with its figures.
  std::vector<std::string> notes;     // Ties at the microsecond level, listed for the record.
};

std::string case_label(const Case& row, const std::vector<Dataset>& datasets,
                       const std::vector<Scenario>& scenarios) {
  std::string label = scenarios[row.scenario].key + " " + datasets[row.dataset].name +
                      " N=" + std::to_string(row.partitions) + ":";
  for (std::size_t a = 0; a < kAlgorithmCount; ++a)
    label += std::string(" ") + kAlgorithmNames[a] + " " + format("%.7f", row.ratio[a]);
  return label;
}

Checks check(const std::vector<Case>& cases, const std::vector<Dataset>& datasets,
             const std::vector<Scenario>& scenarios) {
  Checks checks;
  // Exact: TLB at or below every peer everywhere; its median over the cases with room at most 1.01.
  std::size_t exact_cases = 0, strictly = 0, tied = 0;
  std::vector<double> roomy;
  double roomy_worst = 0;
  for (const Case& row : cases) {
    if (scenarios[row.scenario].key != "exact") continue;
    ++exact_cases;
    // One draw, so the makespans themselves compare, in whole microseconds.
    const auto peer_at = std::min_element(row.microseconds.begin(), row.microseconds.begin() + kOurs);
    const std::int64_t peer = *peer_at, ours = row.microseconds[kOurs];
    const char* peer_name = kAlgorithmNames[static_cast<std::size_t>(peer_at - row.microseconds.begin())];
    if (ours <= peer) {
      ++strictly;
    } else if (static_cast<double>(ours - peer) <= kTie * static_cast<double>(peer)) {
      ++tied;
      checks.notes.push_back("tie: TLB " + std::to_string(ours - peer) + " us above " + peer_name + " (" +
                             format("%.1e", static_cast<double>(ours - peer) / static_cast<double>(peer)) +
                             " of the makespan): " + case_label(row, datasets, scenarios));
    } else {
      checks.failures.push_back("TLB " + std::to_string(ours - peer) + " us above " + peer_name + ": " +
                                case_label(row, datasets, scenarios));
    }
    if (row.average_over_longest >= 3) {
      roomy.push_back(row.ratio[kOurs]);
      roomy_worst = std::max(roomy_worst, row.ratio[kOurs]);
    }
  }
  checks.lines.push_back(
      "exact: TLB at or below every peer in " + std::to_string(strictly + tied) + " of " +
      std::to_string(exact_cases) + " cases (" + std::to_string(strictly) + " to the microsecond, " +
      std::to_string(tied) +
      " within a millionth of the makespan): " + (strictly + tied == exact_cases ? "PASS" : "FAIL"));
  if (!roomy.empty()) {
    const double middle = median(roomy);
    checks.lines.push_back("exact: where total/N >= 3 x longest (" + std::to_string(roomy.size()) +
                           " cases), TLB's median makespan/bound " + format("%.6f", middle) + " (worst " +
                           format("%.6f", roomy_worst) + ") against " + format("%.2f", kBoundTarget) + ": " +
                           (middle <= kBoundTarget ? "PASS" : "FAIL"));
  }
  // Every other scenario: TLB the best, or within 0.5% of the best peer, by the median over the draws.
  // Required of the noise scenarios; reported for the others.
  for (std::size_t s = 1; s < scenarios.size(); ++s) {
    std::size_t total = 0, ok = 0, best = 0;
    double worst = -1;  // The largest TLB / best peer - 1.
    std::string worst_case;
    for (const Case& row : cases) {
      if (row.scenario != s) continue;
      ++total;
      const auto peer_at = std::min_element(row.ratio.begin(), row.ratio.begin() + kOurs);
      const auto peer = static_cast<std::size_t>(peer_at - row.ratio.begin());
      if (row.ratio[kOurs] / *peer_at - 1 > worst) {
        worst = row.ratio[kOurs] / *peer_at - 1;
        worst_case = datasets[row.dataset].name + " N=" + std::to_string(row.partitions) + ", against " +
                     kAlgorithmNames[peer];
      }
      if (row.ratio[kOurs] <= *peer_at * (1 + kTie)) ++best;
      if (row.ratio[kOurs] <= *peer_at * kNoiseTolerance) {
        ++ok;
        continue;
      }
      // How often, draw by draw, TLB did at least as well as that peer.
      std::size_t wins = 0;
      for (std::size_t k = 0; k < row.samples[kOurs].size(); ++k)
        wins += row.samples[kOurs][k] <= row.samples[peer][k];
      checks.failures.push_back("TLB " + format("%.2f", (row.ratio[kOurs] / *peer_at - 1) * 100) +
                                "% above " + kAlgorithmNames[peer] + " (TLB at or below it in " +
                                std::to_string(wins) + " of " + std::to_string(row.samples[kOurs].size()) +
                                " draws): " + case_label(row, datasets, scenarios));
    }
    const bool required = scenarios[s].key.starts_with("noise");
    checks.lines.push_back(
        scenarios[s].key + ": TLB best in " + std::to_string(best) + " of " + std::to_string(total) +
        " cases, best or within 0.5% of the best in " + std::to_string(ok) + "; furthest above the best: " +
        (worst > 0 ? format("%.2f%%", worst * 100) + " (" + worst_case + ")" : "never above") +
        (required ? (ok == total ? ": PASS" : ": FAIL") : " (reported, not required)"));
  }
  return checks;
}

// ---------------------------------------------------------------------------------------------------------
// Output: the text table, the markdown, the CSV and the plots.
void print_table(std::FILE* out, const std::vector<Case>& cases, const std::vector<Dataset>& datasets,
                 const std::vector<Scenario>& scenarios) {
  std::fprintf(out, "%-10s %-23s %7s %3s %8s %10s", "scenario", "dataset", "tests", "N", "avg/max", "bound");
  for (const char* name : kAlgorithmNames) std::fprintf(out, " %11s", name);
  std::fprintf(out, "\n");
  for (const Case& row : cases) {
    const Dataset& dataset = datasets[row.dataset];
    std::fprintf(out, "%-10s %-23s %7zu %3d %8.2f %10s", scenarios[row.scenario].key.c_str(),
                 dataset.name.c_str(), dataset.names.size(), row.partitions, row.average_over_longest,
                 human_seconds(row.bound).c_str());
    const double best = *std::min_element(row.ratio.begin(), row.ratio.end());
    for (double ratio : row.ratio)
      std::fprintf(out, " %10.4f%s", ratio, ratio <= best * (1 + kTie) ? "*" : " ");
    std::fprintf(out, "\n");
  }
}

// Median and worst of each algorithm's figure over a scenario's cases.
std::string summary_markdown(const std::vector<Case>& cases, const std::vector<Scenario>& scenarios) {
  std::ostringstream md;
  md << "| scenario |";
  for (const char* name : kAlgorithmNames) md << ' ' << name << " |";
  md << "\n|---|";
  for (std::size_t a = 0; a < kAlgorithmCount; ++a) md << "---:|";
  md << '\n';
  for (std::size_t s = 0; s < scenarios.size(); ++s) {
    std::array<std::vector<double>, kAlgorithmCount> values;
    for (const Case& row : cases)
      if (row.scenario == s)
        for (std::size_t a = 0; a < kAlgorithmCount; ++a) values[a].push_back(row.ratio[a]);
    if (values[0].empty()) continue;
    md << "| " << scenarios[s].key << " |";
    for (std::size_t a = 0; a < kAlgorithmCount; ++a) {
      const double worst = *std::max_element(values[a].begin(), values[a].end());
      md << ' ' << format("%.3f", median(values[a])) << " / " << format("%.3f", worst) << " |";
    }
    md << '\n';
  }
  return md.str();
}

std::string case_table_markdown(const std::vector<Case>& cases, const std::vector<Dataset>& datasets,
                                std::size_t scenario) {
  std::ostringstream md;
  md << "| dataset | N | avg/max | bound |";
  for (const char* name : kAlgorithmNames) md << ' ' << name << " |";
  md << "\n|---|--:|--:|--:|";
  for (std::size_t a = 0; a < kAlgorithmCount; ++a) md << "--:|";
  md << '\n';
  for (const Case& row : cases) {
    if (row.scenario != scenario) continue;
    md << "| " << datasets[row.dataset].name << " | " << row.partitions << " | "
       << format("%.2f", row.average_over_longest) << " | " << human_seconds(row.bound) << " |";
    const double best = *std::min_element(row.ratio.begin(), row.ratio.end());
    for (double ratio : row.ratio) {
      const std::string figure = format("%.4f", ratio);
      md << ' ' << (ratio <= best * (1 + kTie) ? "**" + figure + "**" : figure) << " |";
    }
    md << '\n';
  }
  return md.str();
}

void write_csv(const fs::path& path, const std::vector<Case>& cases, const std::vector<Dataset>& datasets,
               const std::vector<Scenario>& scenarios) {
  std::ofstream out(path);
  out << "scenario,dataset,tests,partitions,average_over_longest,bound_seconds";
  for (const char* name : kAlgorithmNames) out << ',' << name << ',' << name << "_worst";
  out << '\n';
  for (const Case& row : cases) {
    out << scenarios[row.scenario].key << ',' << datasets[row.dataset].name << ','
        << datasets[row.dataset].names.size() << ',' << row.partitions << ','
        << format("%.6g", row.average_over_longest) << ',' << format("%.6g", row.bound);
    for (std::size_t a = 0; a < kAlgorithmCount; ++a)
      out << ',' << format("%.8f", row.ratio[a]) << ',' << format("%.8f", row.worst[a]);
    out << '\n';
  }
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// One SVG per scenario: a panel per dataset, x = partitions (2 to 64, doubling), y = how far the makespan is
// above the bound (makespan / bound - 1) on a log scale, a line per algorithm. Values within 0.001% of the
// bound sit on the bottom edge.
std::string escape_xml(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string percent_label(int decade) {  // 10^decade as a percentage above the bound
  switch (decade) {
    case -5:
      return "+0.001%";
    case -4:
      return "+0.01%";
    case -3:
      return "+0.1%";
    case -2:
      return "+1%";
    case -1:
      return "+10%";
    case 0:
      return "+100%";
    case 1:
      return "+1000%";
    default:
      return format("1e%.0f", decade);
  }
}

void marker(std::ostringstream& svg, std::size_t algorithm, double x, double y) {
  const char* colour = kAlgorithmColours[algorithm];
  switch (algorithm) {
    case kRoundRobin:
      svg << format("<circle cx=\"%.1f\"", x) << format(" cy=\"%.1f\" r=\"3.5\" fill=\"", y) << colour
          << "\"/>";
      break;
    case kCount:
      svg << format("<rect x=\"%.1f\"", x - 3.2)
          << format(" y=\"%.1f\" width=\"6.4\" height=\"6.4\" fill=\"", y - 3.2) << colour << "\"/>";
      break;
    case kChunks:
      svg << "<path d=\"M" << format("%.1f", x) << ',' << format("%.1f", y - 4.2) << " l4,7 h-8 z\" fill=\""
          << colour << "\"/>";
      break;
    case kLpt:
      svg << "<path d=\"M" << format("%.1f", x) << ',' << format("%.1f", y - 4.5)
          << " l4,4.5 l-4,4.5 l-4,-4.5 z\" fill=\"" << colour << "\"/>";
      break;
    default:
      svg << format("<circle cx=\"%.1f\"", x) << format(" cy=\"%.1f\" r=\"5.5\" fill=\"white\" stroke=\"", y)
          << colour << "\" stroke-width=\"2\"/>";
  }
  svg << '\n';
}

void write_svg(const fs::path& path, const std::vector<Case>& cases, const std::vector<Dataset>& datasets,
               const Scenario& scenario, std::size_t scenario_index) {
  constexpr double kFloor = 1e-5;
  constexpr int kLowDecade = -5;
  double highest = 1e-1;
  for (const Case& row : cases)
    if (row.scenario == scenario_index)
      for (double ratio : row.ratio) highest = std::max(highest, ratio - 1);
  const int high_decade = static_cast<int>(std::ceil(std::log10(highest) - 1e-9));

  const std::size_t columns = std::min<std::size_t>(3, datasets.size());
  const std::size_t rows = (datasets.size() + columns - 1) / columns;
  constexpr double kPanelWidth = 360, kPanelHeight = 270, kHeader = 104, kFooter = 60;
  const double width = kPanelWidth * static_cast<double>(columns) + 20;
  const double height = kHeader + kPanelHeight * static_cast<double>(rows) + kFooter;

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << ' ' << height
      << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg << "<text x=\"20\" y=\"26\" font-size=\"17\" font-weight=\"bold\">How far each split's makespan is "
         "above the "
         "lower bound, by number of partitions</text>\n";
  svg << "<text x=\"20\" y=\"46\" font-size=\"13\">Scenario " << escape_xml(scenario.title);
  if (scenario.draws() > 1) svg << " (median of " << scenario.draws() << " draws)";
  svg << ". Lower is better.</text>\n";
  // Legend, in two rows (TLB first).
  constexpr std::array<std::size_t, kAlgorithmCount> kLegendOrder = {kOurs, kLpt, kChunks, kCount,
                                                                     kRoundRobin};
  for (std::size_t i = 0; i < kAlgorithmCount; ++i) {
    const std::size_t a = kLegendOrder[i];
    constexpr std::array<double, 3> kColumn = {20, 300, 720};
    const double x = kColumn[i % 3], y = 66 + 18 * static_cast<double>(i / 3);
    svg << "<line x1=\"" << x << "\" y1=\"" << y << "\" x2=\"" << x + 28 << "\" y2=\"" << y << "\" stroke=\""
        << kAlgorithmColours[a] << "\" stroke-width=\"" << (a == kOurs ? 3 : 1.6) << "\"/>\n";
    marker(svg, a, x + 14, y);
    const char* label = a == kOurs         ? "TLB (time splitter, default options)"
                        : a == kRoundRobin ? "round-robin (ctest -I stride, GoogleTest sharding)"
                        : a == kCount      ? "count (original TLB: contiguous slices)"
                        : a == kChunks     ? "chunks (pytest-split duration_based_chunks)"
                                           : "LPT (knapsack, least_duration, split_tests, gotestsum)";
    svg << "<text x=\"" << x + 34 << "\" y=\"" << y + 4 << "\">" << escape_xml(label) << "</text>\n";
  }

  for (std::size_t d = 0; d < datasets.size(); ++d) {
    const double px = 20 + kPanelWidth * static_cast<double>(d % columns);
    const double py = kHeader + kPanelHeight * static_cast<double>(d / columns);
    const double x0 = px + 62, x1 = px + kPanelWidth - 22, y0 = py + 30, y1 = py + kPanelHeight - 48;
    const auto x_of = [&](std::size_t p) {
      return x0 + (x1 - x0) * static_cast<double>(p) / static_cast<double>(kPartitionCounts.size() - 1);
    };
    const auto y_of = [&](double ratio) {
      const double excess = std::max(ratio - 1, kFloor);
      return y1 - (std::log10(excess) - kLowDecade) / (high_decade - kLowDecade) * (y1 - y0);
    };
    const Dataset& dataset = datasets[d];
    std::vector<std::array<double, kAlgorithmCount>> series(kPartitionCounts.size());
    std::vector<double> room(kPartitionCounts.size(), 0);
    for (const Case& row : cases) {
      if (row.scenario != scenario_index || row.dataset != d) continue;
      const auto p = static_cast<std::size_t>(
          std::find(kPartitionCounts.begin(), kPartitionCounts.end(), row.partitions) -
          kPartitionCounts.begin());
      series[p] = row.ratio;
      room[p] = row.average_over_longest;
    }
    // Shade the partition counts where total / N is below 3 x the longest test: there the bound is mostly the
    // longest test, and few tests share a partition with it.
    const double half_step = (x1 - x0) / static_cast<double>(kPartitionCounts.size() - 1) / 2;
    for (std::size_t p = 0; p < kPartitionCounts.size(); ++p) {
      if (room[p] >= 3) continue;
      const double left = std::max(x0, x_of(p) - half_step), right = std::min(x1, x_of(p) + half_step);
      svg << "<rect x=\"" << format("%.1f", left) << "\" y=\"" << y0 << "\" width=\""
          << format("%.1f", right - left) << "\" height=\"" << y1 - y0 << "\" fill=\"#f0f0f0\"/>\n";
    }
    svg << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << py + 18
        << "\" text-anchor=\"middle\" font-weight=\"bold\">" << escape_xml(dataset.name) << " ("
        << group_thousands(dataset.names.size()) << " tests, " << escape_xml(human_seconds(dataset.total))
        << ")</text>\n";
    svg << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << x1 - x0 << "\" height=\"" << y1 - y0
        << "\" fill=\"none\" stroke=\"#444\"/>\n";
    for (int decade = kLowDecade; decade <= high_decade; ++decade) {
      const double y = y1 - static_cast<double>(decade - kLowDecade) / (high_decade - kLowDecade) * (y1 - y0);
      svg << "<line x1=\"" << x0 << "\" y1=\"" << format("%.1f", y) << "\" x2=\"" << x1 << "\" y2=\""
          << format("%.1f", y) << "\" stroke=\"#ddd\"/>\n";
      svg << "<text x=\"" << x0 - 5 << "\" y=\"" << format("%.1f", y + 4)
          << "\" text-anchor=\"end\" font-size=\"10\">" << (decade == kLowDecade ? "&#8804;" : "")
          << percent_label(decade) << "</text>\n";
    }
    for (std::size_t p = 0; p < kPartitionCounts.size(); ++p) {
      const double x = x_of(p);
      svg << "<line x1=\"" << format("%.1f", x) << "\" y1=\"" << y1 << "\" x2=\"" << format("%.1f", x)
          << "\" y2=\"" << y1 + 4 << "\" stroke=\"#444\"/>\n";
      svg << "<text x=\"" << format("%.1f", x) << "\" y=\"" << y1 + 16
          << "\" text-anchor=\"middle\" font-size=\"10\">" << kPartitionCounts[p] << "</text>\n";
    }
    svg << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << y1 + 32
        << "\" text-anchor=\"middle\" font-size=\"11\">partitions N</text>\n";
    svg << "<text transform=\"translate(" << px + 12 << ',' << (y0 + y1) / 2
        << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"11\">makespan above the bound</text>\n";
    // TLB first, thick, so a peer on the same points shows on top of it.
    for (std::size_t a : {kOurs, kRoundRobin, kCount, kChunks, kLpt}) {
      svg << "<polyline fill=\"none\" stroke=\"" << kAlgorithmColours[a] << "\" stroke-width=\""
          << (a == kOurs ? 3 : 1.6) << "\" points=\"";
      for (std::size_t p = 0; p < kPartitionCounts.size(); ++p)
        svg << format("%.1f", x_of(p)) << ',' << format("%.1f", y_of(series[p][a])) << ' ';
      svg << "\"/>\n";
      for (std::size_t p = 0; p < kPartitionCounts.size(); ++p) marker(svg, a, x_of(p), y_of(series[p][a]));
    }
  }
  svg << "<text x=\"20\" y=\"" << height - 40
      << "\" font-size=\"11\">Bound = max(total / N, longest test), from the next run's actual durations; "
         "makespan = the longest partition's sum of actual durations. Log scale.</text>\n";
  svg << "<text x=\"20\" y=\"" << height - 25
      << "\" font-size=\"11\">Points on the bottom edge are within 0.001% of the bound (often exactly on it, "
         "when "
         "the longest test is the bound).</text>\n";
  svg << "<text x=\"20\" y=\"" << height - 10
      << "\" font-size=\"11\">Shaded: total / N is below 3 x the longest test, so that test alone nearly "
         "fills "
         "a partition.</text>\n";
  svg << "</svg>\n";
  std::ofstream out(path);
  out << svg.str();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// What read_flags prints after "usage: <program> ".
constexpr const char* kUsage =
    "[--shared DIR] [--out DIR] [--sizes N,N,...] [--noise-draws K] [--split-draws K]\n"
    "  --shared DIR       where datasets/ is (default " TLB_SHARED_DIR
    ")\n"
    "  --out DIR          where balance.md, balance.csv and the SVG plots go (default: .)\n"
    "  --sizes LIST       synthetic suite sizes (default 100,1000,10000,100000)\n"
    "  --noise-draws K    draws of the next run under noise (default 1001)\n"
    "  --split-draws K    draws of which tests are new, each split anew (default 15)\n";

}  // namespace

int main(int argc, char** argv) {
  try {
    fs::path shared = TLB_SHARED_DIR;
    fs::path out = ".";
    std::vector<std::size_t> sizes = {100, 1'000, 10'000, 100'000};
    int noise_draws = 1001, split_draws = 15;
    const bool read = tlb::bench::read_flags(
        argc, argv, kUsage,
        {{"--shared", [&](const std::string& value) { shared = value; }},
         {"--out", [&](const std::string& value) { out = value; }},
         {"--sizes", [&](const std::string& value) { sizes = parse_sizes(value); }},
         {"--noise-draws", [&](const std::string& value) { noise_draws = std::max(1, std::stoi(value)); }},
         {"--split-draws", [&](const std::string& value) { split_draws = std::max(1, std::stoi(value)); }}});
    if (!read) return 2;
    const auto start = Clock::now();
    const std::vector<Dataset> datasets = load_datasets(shared, sizes);
    const std::vector<Scenario> scenarios = make_scenarios(noise_draws, split_draws);
    std::fprintf(stderr, "splitting %zu datasets into 2 to 64 partitions under %zu scenarios\n",
                 datasets.size(), scenarios.size());
    double seconds_in_our_split = 0;
    std::size_t our_splits = 0;
    const std::vector<Case> cases = run(datasets, scenarios, seconds_in_our_split, our_splits);
    const Checks checks = check(cases, datasets, scenarios);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

    std::printf("makespan / bound (median over the draws; * = best of the row)\n");
    print_table(stdout, cases, datasets, scenarios);
    std::printf("\n");
    for (const std::string& line : checks.lines) std::printf("check: %s\n", line.c_str());
    for (const std::string& line : checks.failures) std::printf("  case: %s\n", line.c_str());
    for (const std::string& line : checks.notes) std::printf("  %s\n", line.c_str());
    std::printf("%zu cases in %.1f s (%zu calls of tlb::split, %.1f s)\n", cases.size(), seconds, our_splits,
                seconds_in_our_split);

    fs::create_directories(out);
    std::ostringstream md;
    md << "# Balance: makespan / lower bound\n\n"
       << "Written by `tlb_bench_balance` (`cmake --build <build> --target bench_balance`, or "
          "`<build>/bench/tlb_bench_balance --out bench/results`); `bench/README.md` describes it. Each "
          "figure "
          "is the makespan of a split made on history and judged on the next run's actual durations, over "
          "the bound no split can beat, max(total / N, longest test), from the same actual durations: 1 is "
          "optimal. Algorithms: round-robin (ctest -I stride, GoogleTest sharding), count (the original "
          "TLB's "
          "contiguous slices), chunks (pytest-split's duration_based_chunks), LPT (knapsack, pytest-split's "
          "least_duration, split_tests, gotestsum), TLB (`tlb::split`, default options). Figures are "
          "medians over the draws of a scenario; **bold** marks the best of a row (within a millionth); "
          "avg/max is total / N over the longest test; bound is the median bound in seconds.\n\n"
       << "## Datasets\n\n"
       << datasets_markdown(datasets) << "\n## Checks\n\n";
    for (const std::string& line : checks.lines) md << "- " << line << '\n';
    if (!checks.failures.empty()) {
      md << "\nCases where TLB misses (exact: above a peer; other scenarios: more than 0.5% above the best "
            "peer). "
            "Figures: makespan / bound, median over the draws:\n\n";
      for (const std::string& line : checks.failures) md << "- " << line << '\n';
    }
    if (!checks.notes.empty()) {
      md << "\nTies (TLB a hair above a peer at the microsecond):\n\n";
      for (const std::string& line : checks.notes) md << "- " << line << '\n';
    }
    md << "\n## Summary: median / worst over all datasets and N\n\n" << summary_markdown(cases, scenarios);
    for (std::size_t s = 0; s < scenarios.size(); ++s) {
      md << "\n## " << scenarios[s].title;
      if (scenarios[s].draws() > 1) md << " (median of " << scenarios[s].draws() << " draws)";
      md << "\n\n![" << scenarios[s].key << "](balance-" << scenarios[s].key << ".svg)\n\n"
         << case_table_markdown(cases, datasets, s);
      write_svg(out / ("balance-" + scenarios[s].key + ".svg"), cases, datasets, scenarios[s], s);
    }
    {
      std::ofstream file(out / "balance.md");
      file << md.str();
      if (!file) throw std::runtime_error("cannot write " + (out / "balance.md").string());
    }
    write_csv(out / "balance.csv", cases, datasets, scenarios);
    std::printf("wrote balance.md, balance.csv and balance-<scenario>.svg into %s\n",
                fs::absolute(out).lexically_normal().string().c_str());
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tlb_bench_balance: %s\n", error.what());
    return 1;
  }
}
