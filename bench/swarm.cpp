// Swarm mode (issue 8): the simulated makespan of a suite on a pool of agents of different speeds, over the
// lower bound no schedule can beat, for static LPT partitions and for the real swarm coordinator.
//
// Usage: tlb_bench_swarm [--shared DIR] [--pools LIST] [--suites LIST]
//
// The model (research/swarm.md §9): test j takes w_j reference seconds (its true duration on a speed-1
// machine); agent p has a true speed s_p and takes w_j / s_p + 0.05 s for it (process start, ctest's own
// work), plus a round trip of 2 ms for each call it makes (pull, report). What the schedulers know:
//   - history: every test's estimate is w_j x exp(0.3 Z), Z standard normal (last run's durations are not
//     this run's);
//   - benchmark: each agent reports a score of 100 s_p x U[0.7, 1.3), so its prior speed is off by up to 30%
//     and learning its speed from its results matters.
// The lower bound for related machines is max(sum w / sum s, max w / max s) (§9.2).
//
// Compared, each as makespan / bound:
//   equal     static LPT on the estimates into N equal partitions, partition i run by agent i: what plain
//             sharding does (N CI jobs, each on whichever machine it lands);
//   weighted  static LPT on the estimates, each test to the agent where it would end first knowing the true
//             speeds: the best a static split does without knowing the durations exactly;
//   swarm     the real Coordinator (src/swarm) on its real state, driven on virtual time by the simulation
//             of simulation.hpp: agents pull, run, report each test as it ends and heartbeat every
//             heartbeat_seconds, as `tlb agent` does; the run ends when the coordinator settles its last test
//             (probation checks and audits included);
//   queue     the same in queue mode (a trusted run: no checks);
//   killed    swarm with the fastest agent killed at 40% of the swarm's makespan: it goes silent, its leases
//             expire after lease_seconds and its tests run elsewhere. Also over the bound given the loss.
// pulls is the swarm's pull calls (empty ones included); calls adds its reports (one per test run).
// Everything is seeded: every run prints the same figures.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "options.hpp"
#include "simulation.hpp"
#include "suites.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using tlb::bench::AgentCosts;
using tlb::bench::Assignment;
using tlb::bench::Dataset;
using tlb::bench::Death;
using tlb::bench::Random;
using tlb::bench::seed_of;
using tlb::bench::SimulatedRun;

constexpr double kOverheadSeconds = 0.05;  // Per test, on any agent.
constexpr double kRoundTripSeconds = 0.002;
constexpr double kHistorySigma = 0.3;
constexpr double kKillAt = 0.4;  // Of the swarm's makespan without the loss.

struct Pool {
  std::string name;
  std::vector<double> speeds;  // True speeds.
};

std::vector<Pool> default_pools() {
  return {{"1,1,1,1", {1, 1, 1, 1}},
          {"1,2,3,4", {1, 2, 3, 4}},
          {"1,1,4,4", {1, 1, 4, 4}},
          {"1,4", {1, 4}},
          {"1x6,2,4", {1, 1, 1, 1, 1, 1, 2, 4}}};
}

// What the schedulers are told: each test's estimate from history, each agent's benchmark score.
struct Knowledge {
  std::vector<double> estimate;  // Indexed like Dataset::names.
  std::vector<double> bench;     // Indexed like Pool::speeds.
};

Knowledge knowledge(const Dataset& dataset, const Pool& pool) {
  Knowledge k;
  Random history(seed_of(dataset.name, "swarm-history", 0, 0, 1));
  for (double w : dataset.seconds) k.estimate.push_back(w * std::exp(kHistorySigma * history.normal()));
  Random bench(seed_of(dataset.name, pool.name, 0, 0, 2));
  for (double s : pool.speeds) k.bench.push_back(100 * s * (0.7 + 0.6 * bench.uniform()));
  return k;
}

double lower_bound(const Dataset& dataset, const Pool& pool) {
  const double speed = std::accumulate(pool.speeds.begin(), pool.speeds.end(), 0.0);
  const double fastest = *std::max_element(pool.speeds.begin(), pool.speeds.end());
  return std::max(dataset.total / speed, dataset.longest / fastest);
}

// The makespan of a static assignment (the agent of each test) run with the true durations.
double static_makespan(const Dataset& dataset, const Pool& pool, const Assignment& agent_of) {
  std::vector<double> busy(pool.speeds.size(), 0);
  for (std::size_t j = 0; j < dataset.seconds.size(); ++j) {
    const auto p = static_cast<std::size_t>(agent_of[j]);
    busy[p] += dataset.seconds[j] / pool.speeds[p] + kOverheadSeconds;
  }
  return *std::max_element(busy.begin(), busy.end());
}

// LPT on related machines: each test, longest first (ties by name), to the agent where it would end first
// (ties to the lowest).
Assignment weighted_lpt(const std::vector<double>& estimate, const std::vector<double>& speeds) {
  std::vector<std::size_t> order(estimate.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return estimate[a] > estimate[b]; });
  std::vector<double> end(speeds.size(), 0);
  Assignment agent_of(estimate.size());
  for (std::size_t j : order) {
    std::size_t best = 0;
    for (std::size_t p = 1; p < speeds.size(); ++p)
      if (end[p] + estimate[j] / speeds[p] < end[best] + estimate[j] / speeds[best]) best = p;
    end[best] += estimate[j] / speeds[best];
    agent_of[j] = static_cast<int>(best);
  }
  return agent_of;
}

// The fastest agent (the last of equals): the one killed.
std::size_t victim_of(const Pool& pool) {
  std::size_t victim = 0;
  for (std::size_t p = 0; p < pool.speeds.size(); ++p)
    if (pool.speeds[p] >= pool.speeds[victim]) victim = p;
  return victim;
}

// The swarm on `pool`: `tlb agent`s, each running its tests one by one and reporting each as it ends.
SimulatedRun simulate(const Dataset& dataset, const Pool& pool, const Knowledge& known, bool queue,
                      std::optional<double> kill_at) {
  AgentCosts costs;
  costs.per_test_seconds = kOverheadSeconds;
  costs.round_trip_seconds = kRoundTripSeconds;
  std::optional<Death> death;
  if (kill_at) death = Death{victim_of(pool), *kill_at};
  return tlb::bench::simulate({dataset, known.estimate, pool.speeds, known.bench, queue, costs, death});
}

// The bound when agent `victim` stops at `at`: until then the pool does at most sum s x at of the work; the
// rest needs the others.
double bound_with_loss(const Dataset& dataset, const Pool& pool, std::size_t victim, double at) {
  const double speed = std::accumulate(pool.speeds.begin(), pool.speeds.end(), 0.0);
  const double left = std::max(0.0, dataset.total - speed * at);
  return std::max(lower_bound(dataset, pool), at + left / (speed - pool.speeds[victim]));
}

struct Row {
  std::string suite;
  std::string pool;
  std::size_t tests = 0;
  double bound = 0;
  double equal = 0, weighted = 0;  // Makespan / bound.
  SimulatedRun swarm, queue, killed;
  double killed_bound = 0;  // The bound given the loss.
};

Row measure(const Dataset& dataset, const Pool& pool) {
  const Knowledge known = knowledge(dataset, pool);
  Row row;
  row.suite = dataset.name;
  row.pool = pool.name;
  row.tests = dataset.names.size();
  row.bound = lower_bound(dataset, pool);
  row.equal =
      static_makespan(dataset, pool, tlb::bench::lpt(known.estimate, static_cast<int>(pool.speeds.size()))) /
      row.bound;
  row.weighted = static_makespan(dataset, pool, weighted_lpt(known.estimate, pool.speeds)) / row.bound;
  row.swarm = simulate(dataset, pool, known, false, std::nullopt);
  row.queue = simulate(dataset, pool, known, true, std::nullopt);
  const double kill_at = kKillAt * row.swarm.makespan;
  row.killed = simulate(dataset, pool, known, false, kill_at);
  row.killed_bound = bound_with_loss(dataset, pool, victim_of(pool), kill_at);
  return row;
}

std::vector<Pool> parse_pools(const std::string& text) {
  // "1,2,3,4;1,4": pools separated by ';', speeds by ','.
  std::vector<Pool> pools;
  for (const std::string& item : tlb::bench::split_list(text, ';')) {
    Pool pool{item, {}};
    for (const std::string& speed : tlb::bench::split_list(item, ','))
      pool.speeds.push_back(std::stod(speed));
    if (pool.speeds.empty() || *std::min_element(pool.speeds.begin(), pool.speeds.end()) <= 0)
      throw std::invalid_argument("--pools: '" + item + "' is not a list of positive speeds");
    pools.push_back(std::move(pool));
  }
  return pools;
}

// What read_flags prints after "usage: <program> ".
constexpr const char* kUsage =
    "[--shared DIR] [--pools LIST] [--suites LIST]\n"
    "  --shared DIR    where datasets/ is (default " TLB_SHARED_DIR
    ")\n"
    "  --pools LIST    agents' speeds, pools separated by ';' (default 1,1,1,1;1,2,3,4;...)\n"
    "  --suites LIST   only these suites, by name, separated by ','\n";

}  // namespace

int main(int argc, char** argv) {
  try {
    fs::path shared = TLB_SHARED_DIR;
    std::vector<Pool> pools = default_pools();
    std::vector<std::string> only;
    const bool read =
        tlb::bench::read_flags(argc, argv, kUsage,
                               {{"--shared", [&](const std::string& value) { shared = value; }},
                                {"--pools", [&](const std::string& value) { pools = parse_pools(value); }},
                                tlb::bench::suites_flag(only)});
    if (!read) return 2;
    const auto start = Clock::now();
    std::vector<Dataset> datasets = tlb::bench::simulated_suites(shared);
    tlb::bench::keep_suites(datasets, only);
    std::printf(
        "makespan / lower bound, max(sum w / sum s, max w / max s); killed: the fastest agent killed at "
        "40%%\n");
    std::printf("%-22s %-8s %5s %8s %6s %8s %6s %6s %6s %7s %5s %6s %6s\n", "suite", "pool", "tests", "bound",
                "equal", "weighted", "swarm", "queue", "killed", "k/bound", "lost", "pulls", "calls");
    for (const Dataset& dataset : datasets) {
      for (const Pool& pool : pools) {
        const Row row = measure(dataset, pool);
        std::printf("%-22s %-8s %5zu %8s %6.3f %8.3f %6.3f %6.3f %6.3f %7.3f %5zu %6zu %6zu\n",
                    row.suite.c_str(), row.pool.c_str(), row.tests,
                    tlb::bench::human_seconds(row.bound).c_str(), row.equal, row.weighted,
                    row.swarm.makespan / row.bound, row.queue.makespan / row.bound,
                    row.killed.makespan / row.bound, row.killed.makespan / row.killed_bound,
                    row.killed.taken_back, row.swarm.pulls, row.swarm.pulls + row.swarm.reports);
        std::fflush(stdout);
      }
    }
    std::printf("%.1f s\n", std::chrono::duration<double>(Clock::now() - start).count());
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tlb_bench_swarm: %s\n", error.what());
    return 1;
  }
}
