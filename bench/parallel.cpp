// Parallelism inside a partition (issue 6): each partition runs with `ctest -j J`, so it does not take the
// sum of its tests. This benchmark simulates how ctest runs one partition with -j J and compares, on the
// same suites as tlb_bench_balance, three splits judged by that simulation:
//   (a) TLB, J not modelled   tlb::split with parallel_level = 1: it balances the sums of the durations;
//   (b) TLB, J modelled       tlb::split with parallel_level = J: a test loads its partition with
//                             duration x min(PROCESSORS, J) / J, a RUN_SERIAL test with its whole duration;
//   (c) LPT on sums           longest first into the least-loaded partition, on durations alone, as the
//                             peers split (knapsack, pytest-split, split_tests, gotestsum...).
//
// Usage: tlb_bench_parallel [--shared DIR] [--out DIR] [--sizes N,N,...]
//
// The suites: the durations of balance.cpp's datasets (../shared/datasets when present, hours-4k and the
// synthetic suites of synthetic_suite.hpp; see suites.hpp), with properties the datasets do not have, drawn
// per dataset from a generator seeded by the dataset's name: exactly round(5% of n) tests are RUN_SERIAL
// (PROCESSORS 1), and exactly round(10% of n) other tests have PROCESSORS 2, 3 or 4 (equally likely); the
// rest have PROCESSORS 1. The properties are drawn independently of the durations. J = 2, 4, 8 and
// N = 2, 4, 8, 16 partitions. Every split knows the exact durations (history = the true durations), and the
// run takes exactly those durations: what differs is only whether the split models J.
//
// The simulator (what cmCTestMultiProcessHandler::StartNextTests does, leaving out resource specs, test load
// and dependencies): the tests of a partition are queued in decreasing COST order, which TLB sets from its
// order (failed first, then longest first, ties by name: tlb::order_tests with the default orderers); LPT's
// partitions in longest first order (ties by name), as ctest's own cost data would give. A test takes
// min(PROCESSORS, J) of the J slots. Whenever tests end (and at the start), ctest walks the queue in order
// and starts every test that fits in the free slots, skipping those that need more slots than are free; a
// RUN_SERIAL test is skipped while anything runs, and once one starts nothing else starts until it ends. The
// partition takes until its last test ends; the makespan of a split is its longest partition.
//
// The lower bound no split and no schedule can beat, for a case (J, N):
//   LB = max( (sum over non-serial tests of d x min(p, J) + J x sum over RUN_SERIAL tests of d) / (N x J),
//             longest test )
// Figures: makespan / LB for (a), (b), (c), and the gain of (b) over (a): 1 - makespan(b) / makespan(a), the
// share of (a)'s wall time that modelling J saves.
//
// Output: one table on stdout, and parallel.md (summary, datasets, the table) and parallel.csv in --out
// (default: the current directory).
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>
#include <queue>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "options.hpp"
#include "suites.hpp"
#include "tlb/history.hpp"
#include "tlb/order.hpp"
#include "tlb/split.hpp"
#include "tlb/test.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using tlb::bench::Assignment;
using tlb::bench::Dataset;
using tlb::bench::format;
using tlb::bench::human_seconds;
using tlb::bench::median;

constexpr std::array<int, 3> kJobs = {2, 4, 8};
constexpr std::array<int, 4> kPartitionCounts = {2, 4, 8, 16};
constexpr double kSerialShare = 0.05;      // Share of tests that are RUN_SERIAL.
constexpr double kProcessorsShare = 0.10;  // Share of tests with PROCESSORS 2 to 4.
constexpr int kMinProcessors = 2, kMaxProcessors = 4;

enum Algorithm : std::size_t { kBlind, kModelled, kLpt, kAlgorithmCount };
constexpr std::array<const char*, kAlgorithmCount> kAlgorithmNames = {"TLB J=1", "TLB J", "LPT"};
constexpr std::array<const char*, kAlgorithmCount> kAlgorithmTitles = {
    "(a) TLB, parallel_level = 1", "(b) TLB, parallel_level = J", "(c) LPT on sums"};

// ---------------------------------------------------------------------------------------------------------
// The simulator.

// One test as ctest schedules it.
struct Job {
  double seconds = 0;
  int slots = 1;  // min(PROCESSORS, J).
  bool serial = false;
};

// When the last of `jobs` ends, run by `ctest -j jobs_at_once` in the given order (see the header comment).
// Candidates are kept in one queue per number of slots (and one for RUN_SERIAL tests), each in the given
// order: the next test ctest's walk would start is the earliest head among the queues that fit, so a start
// costs O(J) however many tests the walk would skip.
double simulate(const std::vector<Job>& jobs, int jobs_at_once) {
  const auto width = static_cast<std::size_t>(jobs_at_once);
  std::vector<std::vector<std::uint32_t>> queues(width + 1);  // queues[s]: non-serial jobs of s slots.
  std::vector<std::uint32_t> serial;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const Job& job = jobs[i];
    if (job.slots < 1 || job.slots > jobs_at_once) throw std::logic_error("simulate: slots out of range");
    (job.serial ? serial : queues[static_cast<std::size_t>(job.slots)])
        .push_back(static_cast<std::uint32_t>(i));
  }
  std::vector<std::size_t> heads(width + 1, 0);
  std::size_t serial_head = 0;
  constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

  using Running = std::pair<double, std::uint32_t>;  // (end time, job)
  std::priority_queue<Running, std::vector<Running>, std::greater<>> running;
  int busy = 0;
  bool serial_running = false;
  double now = 0;

  const auto start_next = [&] {
    while (!serial_running && busy < jobs_at_once) {
      const auto free = static_cast<std::size_t>(jobs_at_once - busy);
      std::uint32_t next = kNone;
      std::size_t from = 0;  // The queue it comes from; 0 for the serial queue.
      for (std::size_t s = 1; s <= free; ++s) {
        if (heads[s] < queues[s].size() && queues[s][heads[s]] < next) {
          next = queues[s][heads[s]];
          from = s;
        }
      }
      if (busy == 0 && serial_head < serial.size() && serial[serial_head] < next) {
        next = serial[serial_head];
        from = 0;
      }
      if (next == kNone) return;
      if (from == 0) {
        ++serial_head;
      } else {
        ++heads[from];
      }
      const Job& job = jobs[next];
      busy += job.slots;
      serial_running = job.serial;
      running.emplace(now + job.seconds, next);
    }
  };

  start_next();
  while (!running.empty()) {
    now = running.top().first;
    while (!running.empty() && running.top().first == now) {  // Everything that ends at this moment.
      const Job& job = jobs[running.top().second];
      busy -= job.slots;
      if (job.serial) serial_running = false;
      running.pop();
    }
    start_next();
  }
  const bool all_started =
      serial_head == serial.size() &&
      std::equal(heads.begin() + 1, heads.end(), queues.begin() + 1,
                 [](std::size_t head, const auto& queue) { return head == queue.size(); });
  if (!all_started) throw std::logic_error("simulate: a test never started");
  return now;
}

// ctest's loop written out literally, for checking `simulate`: at each moment tests end, walk the whole queue
// in order. Quadratic; only for small instances.
double simulate_literally(const std::vector<Job>& jobs, int jobs_at_once) {
  std::vector<char> started(jobs.size(), 0);
  std::vector<std::pair<double, std::size_t>> running;  // (end time, job)
  int busy = 0;
  bool serial_running = false;
  double now = 0;
  while (true) {
    for (std::size_t i = 0; i < jobs.size() && !serial_running && busy < jobs_at_once; ++i) {
      if (started[i] || (jobs[i].serial && busy > 0) || jobs[i].slots > jobs_at_once - busy) continue;
      started[i] = 1;
      busy += jobs[i].slots;
      serial_running = jobs[i].serial;
      running.emplace_back(now + jobs[i].seconds, i);
    }
    if (running.empty()) break;
    now = std::min_element(running.begin(), running.end())->first;
    std::erase_if(running, [&](const std::pair<double, std::size_t>& r) {
      if (r.first != now) return false;
      busy -= jobs[r.second].slots;
      if (jobs[r.second].serial) serial_running = false;
      return true;
    });
  }
  if (std::find(started.begin(), started.end(), 0) != started.end())
    throw std::logic_error("simulate_literally: a test never started");
  return now;
}

// Hand-worked schedules, and random small suites against the literal loop, checked at every start: the
// simulator is the judge of everything below.
void check_simulator() {
  struct Example {
    const char* what;
    int jobs_at_once;
    std::vector<Job> jobs;
    double expected;
  };
  const std::vector<Example> examples = {
      {"a RUN_SERIAL test first runs alone", 2, {{10, 1, true}, {5, 1, false}, {5, 1, false}}, 15},
      // a and b start; the serial test waits until both have ended.
      {"a RUN_SERIAL test waits for the running ones", 2, {{5, 1, false}, {10, 1, true}, {5, 1, false}}, 15},
      // a, b start; at 1 b ends, the serial test is skipped (a runs) and c starts; at 4 a ends: serial 4-6.
      {"RUN_SERIAL is skipped while others run",
       2,
       {{4, 1, false}, {1, 1, false}, {2, 1, true}, {1, 1, false}},
       6},
      // 0-10 the 4-slot test; at 10 the 8 s test and the 3-slot one; at 16 the 1 s test: ends at 18.
      {"PROCESSORS take slots", 4, {{10, 4, false}, {8, 1, false}, {6, 3, false}, {1, 1, false}}, 18},
      // The 4-slot test is skipped at 0 and at 3 (one slot busy); it starts at 10.
      {"skips ahead to a test that fits",
       4,
       {{10, 1, false}, {5, 4, false}, {3, 1, false}, {3, 1, false}, {3, 1, false}},
       15},
      {"-j 1 takes the sum", 1, {{1, 1, false}, {2, 1, true}, {3, 1, false}}, 6},
  };
  for (const Example& example : examples) {
    const double got = simulate(example.jobs, example.jobs_at_once);
    if (std::abs(got - example.expected) > 1e-9)
      throw std::logic_error(std::string("simulator check failed: ") + example.what + ": " +
                             format("%g", got) + " instead of " + format("%g", example.expected));
  }
  // Whole-second durations, so that tests often end together.
  tlb::bench::Random random(20261124);
  for (int instance = 0; instance < 2'000; ++instance) {
    const int jobs_at_once = 1 + static_cast<int>(random.below(8));
    std::vector<Job> jobs(1 + random.below(40));
    for (Job& job : jobs) {
      job.seconds = static_cast<double>(1 + random.below(9));
      job.serial = random.uniform() < 0.1;
      job.slots = random.uniform() < 0.3
                      ? 1 + static_cast<int>(random.below(static_cast<std::size_t>(jobs_at_once)))
                      : 1;
    }
    const double fast = simulate(jobs, jobs_at_once), literal = simulate_literally(jobs, jobs_at_once);
    if (fast != literal)
      throw std::logic_error("simulator check failed on random instance " + std::to_string(instance) + ": " +
                             format("%g", fast) + " against " + format("%g", literal) +
                             " for the literal loop");
  }
}

// ---------------------------------------------------------------------------------------------------------
// Suites: a dataset's durations with the properties of this benchmark.
struct Suite {
  const Dataset* dataset = nullptr;
  std::vector<int> processors;  // PROCESSORS of names[i].
  std::vector<char> serial;     // RUN_SERIAL of names[i].
  std::vector<tlb::Test> tests;
  tlb::History history;  // The true durations.
  std::size_t serial_count = 0, processors_count = 0;
  double serial_seconds = 0, processors_seconds = 0;

  int slots(std::size_t test, int jobs_at_once) const { return std::min(processors[test], jobs_at_once); }
};

// Exactly round(5% n) RUN_SERIAL tests and round(10% n) others with PROCESSORS 2-4, picked by a partial
// Fisher-Yates shuffle seeded from the dataset's name.
Suite make_suite(const Dataset& dataset) {
  const std::size_t n = dataset.names.size();
  Suite suite;
  suite.dataset = &dataset;
  suite.processors.assign(n, 1);
  suite.serial.assign(n, 0);
  tlb::bench::Random random(tlb::bench::seed_of(dataset.name, "parallel-properties", 0, 0, 0));
  const auto serial = static_cast<std::size_t>(std::llround(kSerialShare * static_cast<double>(n)));
  const auto wide =
      std::min(n - serial, static_cast<std::size_t>(std::llround(kProcessorsShare * static_cast<double>(n))));
  std::vector<std::size_t> indices(n);
  std::iota(indices.begin(), indices.end(), std::size_t{0});
  for (std::size_t k = 0; k < serial + wide; ++k) {
    std::swap(indices[k], indices[k + random.below(n - k)]);
    const std::size_t test = indices[k];
    if (k < serial) {
      suite.serial[test] = 1;
      ++suite.serial_count;
      suite.serial_seconds += dataset.seconds[test];
    } else {
      suite.processors[test] =
          kMinProcessors + static_cast<int>(random.below(kMaxProcessors - kMinProcessors + 1));
      ++suite.processors_count;
      suite.processors_seconds += dataset.seconds[test];
    }
  }
  suite.tests.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    tlb::Test test = tlb::Test::named(dataset.names[i]);
    test.processors = suite.processors[i];
    test.run_serial = suite.serial[i] != 0;
    suite.tests.push_back(std::move(test));
    suite.history.set(dataset.names[i], tlb::TestRecord{dataset.seconds[i], 1, tlb::Outcome::passed});
  }
  return suite;
}

// The first term of the bound of the header comment: the slot-seconds of the suite over the N x J slots.
double work_per_partition(const Suite& suite, int jobs_at_once, int partitions) {
  const Dataset& dataset = *suite.dataset;
  double slot_seconds = 0;
  for (std::size_t i = 0; i < dataset.seconds.size(); ++i)
    slot_seconds += dataset.seconds[i] * (suite.serial[i] ? jobs_at_once : suite.slots(i, jobs_at_once));
  return slot_seconds / (static_cast<double>(partitions) * jobs_at_once);
}

// ---------------------------------------------------------------------------------------------------------
// Splits, each with the order ctest gets its partitions' tests in.
struct Split {
  Assignment assignment;
  std::vector<std::vector<std::uint32_t>> order;  // Per partition: test indices in COST order.
  double predicted = 0;                           // TLB's predicted makespan (0 for LPT).
  std::size_t reordered = 0;  // Partitions where TLB's order is not longest first by duration.
};

// Longest first by duration in whole microseconds (the resolution of tlb::split's plans), ties by name (index
// order is name order).
void sort_longest_first(std::vector<std::uint32_t>& tests, const Dataset& dataset) {
  const auto micros = [&](std::uint32_t test) { return std::llround(dataset.seconds[test] * 1e6); };
  std::stable_sort(tests.begin(), tests.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return micros(a) > micros(b); });
}

Split lpt_split(const Suite& suite, int partitions) {
  const Dataset& dataset = *suite.dataset;
  Split split;
  split.assignment = tlb::bench::lpt(dataset.seconds, partitions);
  split.order.resize(static_cast<std::size_t>(partitions));
  for (std::size_t i = 0; i < split.assignment.size(); ++i)
    split.order[static_cast<std::size_t>(split.assignment[i])].push_back(static_cast<std::uint32_t>(i));
  for (auto& tests : split.order) sort_longest_first(tests, dataset);
  return split;
}

struct OurSplitter {
  double seconds_in_split = 0;  // Wall time in tlb::split.
  std::size_t splits = 0;

  Split operator()(const Suite& suite, int partitions, int parallel_level) {
    const Dataset& dataset = *suite.dataset;
    tlb::SplitOptions options;
    options.total = partitions;
    options.parallel_level = parallel_level;
    const auto start = Clock::now();
    const tlb::Plan plan = tlb::split(suite.tests, suite.history, options);
    seconds_in_split += std::chrono::duration<double>(Clock::now() - start).count();
    ++splits;
    if (plan.splitter != tlb::Splitter::time)
      throw std::runtime_error(dataset.name + ": the time splitter declined");
    Split split;
    split.assignment = tlb::bench::assignment_of(plan, dataset);
    split.predicted = plan.predicted_makespan_seconds;
    for (const tlb::Partition& partition : plan.partitions) {
      std::vector<std::uint32_t>& tests = split.order.emplace_back();
      for (const tlb::PlannedTest& test :
           tlb::order_tests(partition.tests, suite.history, tlb::default_orderers()))
        tests.push_back(static_cast<std::uint32_t>(tlb::bench::index_of(dataset, test.name)));
      std::vector<std::uint32_t> longest_first = tests;
      sort_longest_first(longest_first, dataset);
      split.reordered += longest_first != tests;
    }
    return split;
  }
};

// The simulated makespan of `split` on the true durations, each partition run with -j jobs_at_once.
double makespan(const Split& split, const Suite& suite, int jobs_at_once) {
  double longest = 0;
  std::vector<Job> jobs;
  for (const auto& tests : split.order) {
    jobs.clear();
    for (std::uint32_t test : tests)
      jobs.push_back(
          Job{suite.dataset->seconds[test], suite.slots(test, jobs_at_once), suite.serial[test] != 0});
    longest = std::max(longest, simulate(jobs, jobs_at_once));
  }
  return longest;
}

// A per-partition bound that a model of loads alone misses: ctest starts a RUN_SERIAL test only when nothing
// runs, so its partition takes at least its RUN_SERIAL tests one after another plus its longest other test.
// The largest of these over the partitions of `split`.
double serial_chain(const Split& split, const Suite& suite) {
  double largest = 0;
  for (const auto& tests : split.order) {
    double serial = 0, longest_other = 0;
    for (std::uint32_t test : tests) {
      const double seconds = suite.dataset->seconds[test];
      if (suite.serial[test]) {
        serial += seconds;
      } else {
        longest_other = std::max(longest_other, seconds);
      }
    }
    largest = std::max(largest, serial + longest_other);
  }
  return largest;
}

// ---------------------------------------------------------------------------------------------------------
// Is the core's parallel_level live? A partition of one RUN_SERIAL and three ordinary 10 s tests, with J = 4:
// the sum is 40 s, the model gives 10 + 30 / 4 = 17.5 s.
struct Probe {
  double sums = 0, modelled = 0;
  bool live() const { return std::abs(sums - modelled) > 1e-9; }
};

Probe probe_core() {
  std::vector<tlb::Test> tests;
  tlb::History history;
  for (const char* name : {"a", "b", "c", "d"}) {
    tests.push_back(tlb::Test::named(name));
    history.set(name, tlb::TestRecord{10, 1, tlb::Outcome::passed});
  }
  tests[0].run_serial = true;
  tlb::SplitOptions options;
  options.total = 1;
  Probe probe;
  probe.sums = tlb::split(tests, history, options).partitions.at(0).predicted_seconds;
  options.parallel_level = 4;
  probe.modelled = tlb::split(tests, history, options).partitions.at(0).predicted_seconds;
  return probe;
}

// ---------------------------------------------------------------------------------------------------------
// The cases.
struct Case {
  std::size_t dataset = 0;
  int jobs = 0;
  int partitions = 0;
  double bound = 0;
  double room = 0;  // (work / N) / longest test: below about 3 the bound is mostly the longest test.
  std::array<double, kAlgorithmCount> makespan{};
  double predicted = 0;  // TLB's predicted makespan for (b).
  double chain = 0;      // serial_chain of (b).
  double ratio(std::size_t a) const { return makespan[a] / bound; }
  double gain() const { return 1 - makespan[kModelled] / makespan[kBlind]; }
};

struct Totals {
  double seconds_in_split = 0;
  std::size_t splits = 0;
  std::size_t reordered = 0;  // Partitions of TLB's splits whose order is not longest first.
};

std::vector<Case> run(const std::vector<Suite>& suites, Totals& totals) {
  std::vector<Case> cases;
  for (std::size_t d = 0; d < suites.size(); ++d) {
    const Suite& suite = suites[d];
    OurSplitter ours;
    for (int partitions : kPartitionCounts) {
      const Split blind = ours(suite, partitions, 1);
      const Split lpt = lpt_split(suite, partitions);
      totals.reordered += blind.reordered;
      for (int jobs : kJobs) {
        const Split modelled = ours(suite, partitions, jobs);
        totals.reordered += modelled.reordered;
        Case row;
        row.dataset = d;
        row.jobs = jobs;
        row.partitions = partitions;
        const double work = work_per_partition(suite, jobs, partitions);
        row.bound = std::max(work, suite.dataset->longest);
        row.room = work / suite.dataset->longest;
        row.makespan[kBlind] = makespan(blind, suite, jobs);
        row.makespan[kModelled] = makespan(modelled, suite, jobs);
        row.makespan[kLpt] = makespan(lpt, suite, jobs);
        row.predicted = modelled.predicted;
        row.chain = serial_chain(modelled, suite);
        cases.push_back(row);
      }
    }
    totals.seconds_in_split += ours.seconds_in_split;
    totals.splits += ours.splits;
    std::fprintf(stderr, "  %-24s %7zu tests: %zu TLB splits, %.2f s in tlb::split\n",
                 suite.dataset->name.c_str(), suite.dataset->names.size(), ours.splits,
                 ours.seconds_in_split);
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------------------
// Output.
std::string percent(double share) {
  return format("%+.1f%%", share * 100);
}

void print_table(std::FILE* out, const std::vector<Case>& cases, const std::vector<Suite>& suites) {
  std::fprintf(out, "%-23s %7s %2s %3s %8s %10s %9s %9s %9s %8s %9s\n", "dataset", "tests", "J", "N",
               "work/max", "bound", kAlgorithmNames[kBlind], kAlgorithmNames[kModelled],
               kAlgorithmNames[kLpt], "gain", "pred/sim");
  for (const Case& row : cases) {
    const Dataset& dataset = *suites[row.dataset].dataset;
    std::fprintf(out, "%-23s %7zu %2d %3d %8.2f %10s %9.4f %9.4f %9.4f %8s %9.3f\n", dataset.name.c_str(),
                 dataset.names.size(), row.jobs, row.partitions, row.room, human_seconds(row.bound).c_str(),
                 row.ratio(kBlind), row.ratio(kModelled), row.ratio(kLpt), percent(row.gain()).c_str(),
                 row.predicted / row.makespan[kModelled]);
  }
}

// Per J: the median and the worst (smallest) gain, the best, how often (b) is at or below (a), and the
// median makespan / bound of each split; over all cases, and over those with room (work / N >= 3 x longest).
struct Summary {
  int jobs = 0;
  bool roomy = false;
  std::size_t cases = 0, not_worse = 0;
  double median_gain = 0, worst_gain = 0, best_gain = 0;
  std::array<double, kAlgorithmCount> median_ratio{}, worst_ratio{};
  double median_prediction = 0;  // (b)'s predicted / simulated makespan.
};

std::vector<Summary> summarize(const std::vector<Case>& cases) {
  std::vector<Summary> summaries;
  for (bool roomy : {false, true}) {
    for (int jobs : kJobs) {
      Summary summary;
      summary.jobs = jobs;
      summary.roomy = roomy;
      std::vector<double> gains, predictions;
      std::array<std::vector<double>, kAlgorithmCount> ratios;
      for (const Case& row : cases) {
        if (row.jobs != jobs || (roomy && row.room < 3)) continue;
        gains.push_back(row.gain());
        predictions.push_back(row.predicted / row.makespan[kModelled]);
        summary.not_worse += row.makespan[kModelled] <= row.makespan[kBlind] * (1 + 1e-9);
        for (std::size_t a = 0; a < kAlgorithmCount; ++a) ratios[a].push_back(row.ratio(a));
      }
      if (gains.empty()) continue;
      summary.cases = gains.size();
      summary.median_gain = median(gains);
      summary.worst_gain = *std::min_element(gains.begin(), gains.end());
      summary.best_gain = *std::max_element(gains.begin(), gains.end());
      summary.median_prediction = median(predictions);
      for (std::size_t a = 0; a < kAlgorithmCount; ++a) {
        summary.median_ratio[a] = median(ratios[a]);
        summary.worst_ratio[a] = *std::max_element(ratios[a].begin(), ratios[a].end());
      }
      summaries.push_back(summary);
    }
  }
  return summaries;
}

std::string summary_markdown(const std::vector<Summary>& summaries) {
  std::ostringstream md;
  md << "| cases | J | n | gain of (b) over (a): median / worst / best | (b) at or below (a) |";
  for (const char* title : kAlgorithmTitles) md << ' ' << title << " |";
  md << " (b) predicted / simulated |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
  for (const Summary& s : summaries) {
    md << "| " << (s.roomy ? "work / N >= 3 x longest" : "all") << " | " << s.jobs << " | " << s.cases
       << " | " << percent(s.median_gain) << " / " << percent(s.worst_gain) << " / " << percent(s.best_gain)
       << " | " << s.not_worse << " of " << s.cases << " |";
    for (std::size_t a = 0; a < kAlgorithmCount; ++a)
      md << ' ' << format("%.3f", s.median_ratio[a]) << " / " << format("%.3f", s.worst_ratio[a]) << " |";
    md << ' ' << format("%.3f", s.median_prediction) << " |\n";
  }
  return md.str();
}

void print_summary(std::FILE* out, const std::vector<Summary>& summaries) {
  std::fprintf(out, "%-12s %2s %4s  %-26s %11s  %-15s %-15s %-15s\n", "cases", "J", "n",
               "gain (b)/(a) med/worst/best", "(b)<=(a)", "TLB J=1 med/max", "TLB J med/max", "LPT med/max");
  for (const Summary& s : summaries) {
    const std::string gains =
        percent(s.median_gain) + " / " + percent(s.worst_gain) + " / " + percent(s.best_gain);
    const std::string not_worse = std::to_string(s.not_worse) + "/" + std::to_string(s.cases);
    std::fprintf(out, "%-12s %2d %4zu  %-26s %11s", s.roomy ? "work/N>=3max" : "all", s.jobs, s.cases,
                 gains.c_str(), not_worse.c_str());
    for (std::size_t a = 0; a < kAlgorithmCount; ++a)
      std::fprintf(out, "  %-15s",
                   (format("%.3f", s.median_ratio[a]) + " / " + format("%.3f", s.worst_ratio[a])).c_str());
    std::fprintf(out, "\n");
  }
}

std::string suites_markdown(const std::vector<Suite>& suites) {
  std::ostringstream md;
  md << "| dataset | tests | total | longest | RUN_SERIAL tests | their share of the time | PROCESSORS 2-4 "
        "tests "
        "| their share of the time |\n|---|--:|--:|--:|--:|--:|--:|--:|\n";
  for (const Suite& suite : suites) {
    const Dataset& dataset = *suite.dataset;
    md << "| " << dataset.name << " | " << tlb::bench::group_thousands(dataset.names.size()) << " | "
       << human_seconds(dataset.total) << " | " << human_seconds(dataset.longest) << " | "
       << suite.serial_count << " | " << format("%.1f%%", 100 * suite.serial_seconds / dataset.total) << " | "
       << suite.processors_count << " | " << format("%.1f%%", 100 * suite.processors_seconds / dataset.total)
       << " |\n";
  }
  return md.str();
}

std::string cases_markdown(const std::vector<Case>& cases, const std::vector<Suite>& suites) {
  std::ostringstream md;
  md << "| dataset | J | N | work/max | bound |";
  for (const char* title : kAlgorithmTitles) md << ' ' << title << " |";
  md << " gain of (b) over (a) | (b) predicted / simulated |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
  for (const Case& row : cases) {
    md << "| " << suites[row.dataset].dataset->name << " | " << row.jobs << " | " << row.partitions << " | "
       << format("%.2f", row.room) << " | " << human_seconds(row.bound) << " |";
    const double best = *std::min_element(row.makespan.begin(), row.makespan.end());
    for (std::size_t a = 0; a < kAlgorithmCount; ++a) {
      const std::string figure = format("%.4f", row.ratio(a));
      md << ' ' << (row.makespan[a] <= best * (1 + 1e-6) ? "**" + figure + "**" : figure) << " |";
    }
    md << ' ' << percent(row.gain()) << " | " << format("%.3f", row.predicted / row.makespan[kModelled])
       << " |\n";
  }
  return md.str();
}

void write_csv(const fs::path& path, const std::vector<Case>& cases, const std::vector<Suite>& suites) {
  std::ofstream out(path);
  out << "dataset,tests,jobs,partitions,work_over_longest,bound_seconds,tlb_j1_makespan,tlb_j_makespan,"
         "lpt_makespan,tlb_j1_ratio,tlb_j_ratio,lpt_ratio,gain,tlb_j_predicted\n";
  for (const Case& row : cases) {
    const Dataset& dataset = *suites[row.dataset].dataset;
    out << dataset.name << ',' << dataset.names.size() << ',' << row.jobs << ',' << row.partitions << ','
        << format("%.6g", row.room) << ',' << format("%.6f", row.bound);
    for (double seconds : row.makespan) out << ',' << format("%.6f", seconds);
    for (std::size_t a = 0; a < kAlgorithmCount; ++a) out << ',' << format("%.8f", row.ratio(a));
    out << ',' << format("%.8f", row.gain()) << ',' << format("%.6f", row.predicted) << '\n';
  }
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// The cases where modelling J made the makespan longer, with (b)'s serial chain.
std::vector<std::string> losses(const std::vector<Case>& cases, const std::vector<Suite>& suites) {
  std::vector<std::string> lines;
  for (const Case& row : cases) {
    if (row.makespan[kModelled] <= row.makespan[kBlind] * (1 + 1e-9)) continue;
    lines.push_back(suites[row.dataset].dataset->name + " J=" + std::to_string(row.jobs) + " N=" +
                    std::to_string(row.partitions) + ": (b) " + human_seconds(row.makespan[kModelled]) +
                    " against (a) " + human_seconds(row.makespan[kBlind]) + " (" + percent(-row.gain()) +
                    "); (b) predicted " + human_seconds(row.predicted) +
                    ", and its largest RUN_SERIAL sum + longest other test in one partition is " +
                    human_seconds(row.chain));
  }
  return lines;
}

// What read_flags prints after "usage: <program> ".
constexpr const char* kUsage =
    "[--shared DIR] [--out DIR] [--sizes N,N,...]\n"
    "  --shared DIR    where datasets/ is (default " TLB_SHARED_DIR
    ")\n"
    "  --out DIR       where parallel.md and parallel.csv go (default: .)\n"
    "  --sizes LIST    synthetic suite sizes (default 100,1000,10000,100000)\n";

}  // namespace

int main(int argc, char** argv) {
  try {
    fs::path shared = TLB_SHARED_DIR;
    fs::path out = ".";
    std::vector<std::size_t> sizes = {100, 1'000, 10'000, 100'000};
    const bool read = tlb::bench::read_flags(
        argc, argv, kUsage,
        {{"--shared", [&](const std::string& value) { shared = value; }},
         {"--out", [&](const std::string& value) { out = value; }},
         {"--sizes", [&](const std::string& value) { sizes = tlb::bench::parse_sizes(value); }}});
    if (!read) return 2;
    const auto start = Clock::now();
    check_simulator();
    const Probe probe = probe_core();
    const std::string probe_line =
        std::string("the core ") + (probe.live() ? "models" : "does NOT model") +
        " parallel_level: one RUN_SERIAL and three other 10 s tests in one partition are predicted at " +
        format("%g s", probe.sums) + " with parallel_level 1 and " + format("%g s", probe.modelled) +
        " with parallel_level 4 (the model says 17.5 s)";
    std::printf("%s\n", probe_line.c_str());

    const std::vector<Dataset> datasets = tlb::bench::load_datasets(shared, sizes);
    std::vector<Suite> suites;
    for (const Dataset& dataset : datasets) suites.push_back(make_suite(dataset));
    std::fprintf(stderr, "splitting %zu datasets into 2 to 16 partitions for ctest -j 2, 4, 8\n",
                 suites.size());
    Totals totals;
    const std::vector<Case> cases = run(suites, totals);
    const std::vector<Summary> summaries = summarize(cases);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

    std::printf(
        "simulated makespan / bound; gain = 1 - makespan(TLB J) / makespan(TLB J=1); pred/sim = TLB J's "
        "predicted over simulated makespan\n");
    print_table(stdout, cases, suites);
    std::printf("\nsummary by J (makespan / bound: median / worst):\n");
    print_summary(stdout, summaries);
    const std::vector<std::string> worse = losses(cases, suites);
    if (!worse.empty()) std::printf("\ncases where (b) is above (a):\n");
    for (const std::string& line : worse) std::printf("  %s\n", line.c_str());
    if (totals.reordered > 0)
      std::printf(
          "note: in %zu partitions of TLB's splits, order_tests' order is not longest first by duration\n",
          totals.reordered);
    std::printf("%zu cases in %.1f s (%zu calls of tlb::split, %.1f s)\n", cases.size(), seconds,
                totals.splits, totals.seconds_in_split);

    fs::create_directories(out);
    std::ostringstream md;
    md << "# Parallelism inside a partition: makespan under `ctest -j J` / lower bound\n\n"
       << "Written by `tlb_bench_parallel` (`cmake --build <build> --target bench_parallel`); "
          "`bench/README.md` "
          "describes it. Each partition is run by a simulation of `ctest -j J` (COST order, PROCESSORS take "
          "min(p, J) slots, RUN_SERIAL runs alone, skip-ahead to a test that fits) on the true durations. "
          "Splits: (a) `tlb::split` with parallel_level = 1 (balances sums), (b) `tlb::split` with "
          "parallel_level = J, (c) plain LPT on sums. Bound = max((sum of d x min(p, J) over non-serial "
          "tests "
          "+ J x sum of d over RUN_SERIAL tests) / (N x J), longest test): 1 is optimal. Gain = 1 - "
          "makespan(b) / makespan(a). work/max = (the bound's first term) / longest test.\n\n"
       << "Core check: " << probe_line << ".\n\n"
       << "## Summary\n\n"
       << summary_markdown(summaries);
    if (!worse.empty()) {
      md << "\nCases where (b) is above (a). A RUN_SERIAL test starts only when nothing runs, so a partition "
            "takes at least its RUN_SERIAL tests plus its longest other test, which a model of loads alone "
            "does not see:\n\n";
      for (const std::string& line : worse) md << "- " << line << '\n';
    }
    md << "\n## Suites\n\n"
       << "Durations as in `tlb_bench_balance`; properties drawn per dataset (seeded by its name): exactly "
          "round(5% of n) tests RUN_SERIAL, round(10% of n) others PROCESSORS 2, 3 or 4 (equally likely), "
          "independent of the durations.\n\n"
       << suites_markdown(suites) << "\n"
       << tlb::bench::datasets_markdown(datasets) << "\n## Cases\n\n"
       << "**Bold**: the best of the row.\n\n"
       << cases_markdown(cases, suites);
    {
      std::ofstream file(out / "parallel.md");
      file << md.str();
      if (!file) throw std::runtime_error("cannot write " + (out / "parallel.md").string());
    }
    write_csv(out / "parallel.csv", cases, suites);
    std::printf("wrote parallel.md and parallel.csv into %s\n",
                fs::absolute(out).lexically_normal().string().c_str());
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tlb_bench_parallel: %s\n", error.what());
    return 1;
  }
}
