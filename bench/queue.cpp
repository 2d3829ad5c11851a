// Queue mode and drift (issue 9): N identical CI jobs run a suite whose history comes from another
// configuration. The makespan over the lower bound of the static splits made on that history (plain LPT,
// TLB's time splitter) and of queue mode (the real swarm coordinator, a trusted run, the jobs pulling
// batches).
//
// Usage: tlb_bench_queue [--shared DIR] [--suites LIST] [--drifts LIST] [--draws K] [--rtt-ms MS] [--threads
// T]
//
// The model: test j truly takes w_j seconds (its duration in the dataset). The history every scheduler sees
// is h_j = w_j / r_j, where r_j is how much slower this run's configuration makes test j. Two drift models:
//   drift  r_j = exp(-0.3 Z_j) x d_j, Z_j standard normal per test, and d_j drawn from U[1.5, 3) for a random
//          20% of the tests and 1 for the others (issue 9);
//   ci     as two CI configurations' histories differ (issue 21): r_j = exp(-0.25 T_j) x F_f(j) x G_g(j),
//          T_j a Student t of 3 degrees (heavy tails), F_f = exp(0.3 Z_f) one factor shared by the tests of
//          a file, G_g drawn from U[2, 4) for a fifth of the groups (directories; groups of 25 tests in name
//          order where names have none) and 1 for the others.
// K draws (default 11) per suite, N and model, seeded; and one draw of no drift (h = w) for reference. Every
// job is a CI job of speed 1, and pays what ctest pays:
//   static  one ctest command for its partition: 0.1 s to start, then w_j + 0.05 s per test (the test
//           process's start);
//   queue   `tlb run --queue`: pull a batch (one round trip), run it as one ctest command (0.1 s, then
//           w_j + 0.05 s per test), report its tests (one round trip for the batch), pull again; an empty
//           pull waits 0.5 s, doubling up to 2 s. Round trips are --rtt-ms (default 20 ms). The coordinator
//           knows the history, and every job's benchmark is the same.
// The bound, on the true durations: max(sum w / N, max w), plus the overheads every schedule pays (each
// test's 0.05 s, one ctest start per job; lower_bound below). No schedule can beat it.
//
// Compared, each as makespan / bound, median and worst over the draws:
//   LPT     longest first on the history into N partitions;
//   TLB     tlb::split (the time splitter, default options) on the history;
//   queue   the real Coordinator (src/swarm) driven on virtual time by the simulation of simulation.hpp; the
//           run ends when its last test is reported;
//   run     what `tlb run --queue` gives: queue mode, or TLB's static split where swarm::queue_pays says a
//           job's predicted share (the static split's makespan on the history) is too small for batches.
// Medians over the queue's runs: pulls, its pull calls (empty ones included); batch, tests per pull that got
// some; calls, pulls and reports; rtt, the time a job spends on average waiting on those round trips, over
// the bound. goal: issue 21's, where LPT's median is above 1.10 (met: queue's worst draw within 1.10; worse:
// a draw where queue mode is more than 2% of the bound above LPT); bimodal: some draws within 1.05, others
// above 1.10, each such case's draws listed after the table.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "options.hpp"
#include "simulation.hpp"
#include "suites.hpp"
#include "swarm/policy.hpp"
#include "tlb/history.hpp"
#include "tlb/split.hpp"
#include "tlb/test.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using tlb::bench::Assignment;
using tlb::bench::Dataset;
using tlb::bench::Random;
using tlb::bench::seed_of;

constexpr double kPerTestSeconds = 0.05;
constexpr double kCtestStartSeconds = 0.1;
constexpr std::array<int, 3> kJobCounts = {4, 8, 16};

// How the run's configuration differs from the one history comes from.
struct Drift {
  const char* name;
  double sigma = 0;            // Per-test log-normal noise (normal; Student t of tail_dof degrees when > 0).
  double slowed_fraction = 0;  // Of the tests, slowed by a factor of U[slowdown_min, slowdown_max).
  double slowdown_min = 1;
  double slowdown_max = 1;
  int tail_dof = 0;                  // Heavy tails: the per-test noise is a Student t of this many degrees.
  double file_sigma = 0;             // Log-normal noise shared by the tests of one file.
  double slowed_group_fraction = 0;  // Of the groups (directories), slowed whole by U[group_min, group_max).
  double group_min = 1;
  double group_max = 1;
};
constexpr Drift kNoDrift{"none", 0, 0, 1, 1};
constexpr Drift kDrift{"drift", 0.3, 0.2, 1.5, 3};
// Drift the way two CI configurations' histories differ (issue 21): a per-test ratio, heavy-tailed (t with 3
// degrees, scale 0.25), times one shared by the tests of a file (sigma 0.3), times a whole group (a
// directory) 2-4x slower for a fifth of the groups. The static splits then land at 1.12-1.55x the bound
// (medians) on the larger suites, around the 1.33-1.35x the issue measured on a real pair of configurations
// at 4 jobs.
constexpr Drift kCiDrift{"ci", 0.25, 0, 1, 1, 3, 0.3, 0.2, 2, 4};

// The file and the group of each test, as indexes: the file is the name before "::" (pytest's node ids), else
// the name itself; the group is the file's directory. Names without a directory (ocamlc2's top level, the
// synthetic suite) form groups of 25 in name order, so that a slowed group is never the whole suite.
struct Layout {
  std::vector<std::size_t> file, group;
};
Layout layout_of(const Dataset& dataset) {
  Layout layout;
  std::map<std::string, std::size_t> files, groups;
  for (std::size_t j = 0; j < dataset.names.size(); ++j) {
    const std::string& name = dataset.names[j];
    const std::string file = name.substr(0, name.find("::"));
    const std::size_t slash = file.rfind('/');
    const std::string group =
        slash == std::string::npos ? "#" + std::to_string(j / 25) : file.substr(0, slash);
    layout.file.push_back(files.emplace(file, files.size()).first->second);
    layout.group.push_back(groups.emplace(group, groups.size()).first->second);
  }
  return layout;
}

// One draw of a Student t with `dof` degrees (a normal over the root of a chi-square over its degrees).
double student_t(Random& random, int dof) {
  double chi_square = 0;
  for (int k = 0; k < dof; ++k) {
    const double z = random.normal();
    chi_square += z * z;
  }
  return random.normal() / std::sqrt(chi_square / dof);
}

// The history of draw `draw`: h_j = w_j / r_j, where r_j is this configuration's slowdown of test j: the
// per-test noise, the file's, the group's, and the slowed tests' d_j.
std::vector<double> history_of(const Dataset& dataset, const Drift& drift, int draw) {
  const std::size_t n = dataset.names.size();
  std::vector<double> history(n);
  Random noise(seed_of(dataset.name, drift.name, draw, 0, 1));
  for (std::size_t j = 0; j < n; ++j) {
    const double z = drift.tail_dof > 0 ? student_t(noise, drift.tail_dof) : noise.normal();
    history[j] = dataset.seconds[j] * std::exp(drift.sigma * z);
  }
  // The slowed tests: the first of a partial Fisher-Yates shuffle.
  Random slowed(seed_of(dataset.name, drift.name, draw, 0, 2));
  const auto count = static_cast<std::size_t>(std::llround(drift.slowed_fraction * static_cast<double>(n)));
  std::vector<std::size_t> indices(n);
  std::iota(indices.begin(), indices.end(), std::size_t{0});
  for (std::size_t k = 0; k < count; ++k) {
    std::swap(indices[k], indices[k + slowed.below(n - k)]);
    history[indices[k]] /= drift.slowdown_min + (drift.slowdown_max - drift.slowdown_min) * slowed.uniform();
  }
  if (drift.file_sigma == 0 && drift.slowed_group_fraction == 0) return history;
  // Files and groups: one factor each, drawn in index order.
  const Layout layout = layout_of(dataset);
  Random shared(seed_of(dataset.name, drift.name, draw, 0, 3));
  std::vector<double> file_factor, group_factor;
  for (std::size_t j = 0; j < n; ++j) {
    if (layout.file[j] == file_factor.size())
      file_factor.push_back(std::exp(drift.file_sigma * shared.normal()));
    if (layout.group[j] == group_factor.size())
      group_factor.push_back(shared.uniform() < drift.slowed_group_fraction
                                 ? drift.group_min + (drift.group_max - drift.group_min) * shared.uniform()
                                 : 1.0);
    history[j] /= file_factor[layout.file[j]] * group_factor[layout.group[j]];
  }
  return history;
}

// The bound on the true durations, counting what every schedule pays: each test's process start, and one
// ctest start in a job that runs anything. With p_j = w_j + 0.05 s sorted longest first, and s = 0.1 s:
//   - the mean: sum p / N + s (fewer busy jobs only carry more);
//   - the pigeonholes: of the k N + 1 longest tests some job runs k + 1, so it takes at least the k + 1
//     shortest of them, p_(kN+1-k) + ... + p_(kN+1), plus s; k = 0 is the longest test alone.
// The second matters on small suites (ocamlc2: 51 tests in 16 jobs), where the mean alone is far from what
// any split can reach.
double lower_bound(const Dataset& dataset, int jobs) {
  std::vector<double> p;
  for (double w : dataset.seconds) p.push_back(w + kPerTestSeconds);
  std::sort(p.begin(), p.end(), std::greater<>());
  const auto n = static_cast<std::size_t>(jobs);
  double bound = std::accumulate(p.begin(), p.end(), 0.0) / jobs;
  for (std::size_t k = 0; k * n + 1 <= p.size(); ++k) {
    const std::size_t last = k * n;  // p[last] is the (kN+1)-th longest.
    bound = std::max(bound, std::accumulate(p.begin() + static_cast<std::ptrdiff_t>(last - k),
                                            p.begin() + static_cast<std::ptrdiff_t>(last + 1), 0.0));
  }
  return bound + kCtestStartSeconds;
}

// The makespan of a static split run with the true durations: each job one ctest command.
double static_makespan(const Dataset& dataset, const Assignment& job_of, int jobs) {
  std::vector<double> busy(static_cast<std::size_t>(jobs), kCtestStartSeconds);
  for (std::size_t j = 0; j < dataset.seconds.size(); ++j)
    busy[static_cast<std::size_t>(job_of[j])] += dataset.seconds[j] + kPerTestSeconds;
  return *std::max_element(busy.begin(), busy.end());
}

Assignment tlb_split(const Dataset& dataset, const std::vector<double>& history, int jobs) {
  std::vector<tlb::Test> tests;
  tlb::History known;
  for (std::size_t j = 0; j < dataset.names.size(); ++j) {
    tests.push_back(tlb::Test::named(dataset.names[j]));
    known.set(dataset.names[j], tlb::TestRecord{history[j], 1, tlb::Outcome::passed});
  }
  tlb::SplitOptions options;
  options.total = jobs;
  const tlb::Plan plan = tlb::split(std::move(tests), known, options);
  if (plan.splitter != tlb::Splitter::time)
    throw std::runtime_error(dataset.name + ": the time splitter declined");
  return tlb::bench::assignment_of(plan, dataset);
}

// What a traced run calls with each batch pulled (--trace).
using OnBatch = std::function<void(double, std::size_t, const std::vector<tlb::swarm::Assignment>&)>;

tlb::bench::SimulatedRun queue_run(const Dataset& dataset, const std::vector<double>& history, int jobs,
                                   double round_trip_seconds, const OnBatch& on_batch = {}) {
  tlb::bench::AgentCosts costs;
  costs.per_test_seconds = kPerTestSeconds;
  costs.round_trip_seconds = round_trip_seconds;
  costs.one_command_per_batch = true;
  costs.batch_start_seconds = kCtestStartSeconds;
  costs.first_backoff_seconds = 0.5;  // As `tlb run` waits after an empty pull.
  costs.last_backoff_seconds = 2;
  const std::vector<double> speeds(static_cast<std::size_t>(jobs), 1.0);
  const std::vector<double> bench(static_cast<std::size_t>(jobs), 100.0);
  return tlb::bench::simulate(
      {dataset, history, speeds, bench, true, costs, std::nullopt, ":memory:", on_batch});
}

// One draw of one case: each split's makespan over the bound, and what the queue's run called.
struct Draw {
  double lpt = 0, ours = 0, queue = 0;
  double run = 0;  // What `tlb run --queue` gives: queue mode, or TLB's static split when the share is small.
  double pulls = 0, per_batch = 0, calls = 0;
};

Draw measure(const Dataset& dataset, int jobs, const Drift& drift, int draw, double round_trip_seconds) {
  const double bound = lower_bound(dataset, jobs);
  const std::vector<double> history = history_of(dataset, drift, draw);
  Draw result;
  result.lpt = static_makespan(dataset, tlb::bench::lpt(history, jobs), jobs) / bound;
  const Assignment ours = tlb_split(dataset, history, jobs);
  result.ours = static_makespan(dataset, ours, jobs) / bound;
  const tlb::bench::SimulatedRun run = queue_run(dataset, history, jobs, round_trip_seconds);
  result.queue = run.makespan / bound;
  // `tlb run --queue` predicts each job's share as the static split's makespan on the history.
  std::vector<double> share(static_cast<std::size_t>(jobs), 0);
  for (std::size_t j = 0; j < history.size(); ++j) share[static_cast<std::size_t>(ours[j])] += history[j];
  const bool pays = tlb::swarm::queue_pays(*std::max_element(share.begin(), share.end()), {});
  result.run = pays ? result.queue : result.ours;
  result.pulls = static_cast<double>(run.pulls);
  result.per_batch = static_cast<double>(run.reports) / static_cast<double>(run.batches);
  result.calls = static_cast<double>(run.pulls + run.report_calls);
  return result;
}

// A row of the table: one suite, job count and drift, over its draws.
struct Case {
  const Dataset* dataset = nullptr;
  int jobs = 0;
  const Drift* drift = nullptr;
  std::vector<Draw> draws;
};

// Runs every draw of every case on `threads` threads. Each draw has its own coordinator and database and its
// own seeds, so the figures do not depend on the threads.
void run_all(std::vector<Case>& cases, double round_trip_seconds, unsigned threads) {
  std::vector<std::pair<std::size_t, std::size_t>> work;  // (case, draw)
  for (std::size_t c = 0; c < cases.size(); ++c)
    for (std::size_t d = 0; d < cases[c].draws.size(); ++d) work.emplace_back(c, d);
  std::atomic<std::size_t> next = 0;
  std::mutex failed;
  std::exception_ptr failure;
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (std::size_t i = next++; i < work.size(); i = next++) {
          const auto [c, d] = work[i];
          Case& one = cases[c];
          try {
            one.draws[d] =
                measure(*one.dataset, one.jobs, *one.drift, static_cast<int>(d), round_trip_seconds);
          } catch (...) {
            const std::lock_guard lock(failed);
            if (!failure) failure = std::current_exception();
            next = work.size();
          }
        }
      });
    }
  }
  if (failure) std::rethrow_exception(failure);
}

// The median and the worst of one figure over a case's draws.
template <typename Field>
std::pair<double, double> median_and_worst(const Case& one, Field field) {
  std::vector<double> values;
  for (const Draw& draw : one.draws) values.push_back(draw.*field);
  return {tlb::bench::median(values), *std::max_element(values.begin(), values.end())};
}

// A case is bimodal when some of its draws put queue mode within 5% of the bound and others above 10%:
// whether a run goes well turns on the draw, as in issue 21's real runs (1.04-1.05, then 1.17-1.32).
bool bimodal(const Case& one) {
  bool good = false, bad = false;
  for (const Draw& draw : one.draws) {
    good = good || draw.queue <= 1.05;
    bad = bad || draw.queue > 1.10;
  }
  return good && bad;
}

// The goal of issue 21, per case where the static split (LPT's median) is above 1.10x: queue mode's worst
// draw within 1.10x, and never worse than the static split of the same draw by more than 2% of the bound.
std::string verdict(const Case& one) {
  const double lpt = median_and_worst(one, &Draw::lpt).first;
  double over_static = -1;
  for (const Draw& draw : one.draws) over_static = std::max(over_static, draw.queue - draw.lpt);
  const double worst = median_and_worst(one, &Draw::queue).second;
  std::string text = over_static > 0.02 ? "worse" : lpt > 1.10 ? (worst <= 1.10 ? "met" : "missed") : "-";
  if (bimodal(one)) text += ",bimodal";
  return text;
}

// --trace SUITE:N:DRAW: the schedule of one queue run, a line a batch: when it was pulled, by which job, and
// each test's history and true duration (its drift), longest true duration first marked; then the makespan.
void trace(const Dataset& dataset, int jobs, const Drift& drift, int draw, double round_trip_seconds) {
  const std::vector<double> history = history_of(dataset, drift, draw);
  const tlb::bench::SimulatedRun run =
      queue_run(dataset, history, jobs, round_trip_seconds,
                [&](double now, std::size_t job, const std::vector<tlb::swarm::Assignment>& batch) {
                  std::printf("%8.2f job %2zu:", now, job);
                  for (const tlb::swarm::Assignment& a : batch) {
                    const std::size_t j = tlb::bench::index_of(dataset, a.test);
                    std::printf(" %s h=%.1f w=%.1f", a.test.c_str(), history[j], dataset.seconds[j]);
                  }
                  std::printf("\n");
                });
  const double bound = lower_bound(dataset, jobs);
  std::printf("%s N=%d %s #%d: makespan %.1f s, bound %.1f s: %.3f (LPT %.3f)\n", dataset.name.c_str(), jobs,
              drift.name, draw, run.makespan, bound, run.makespan / bound,
              static_makespan(dataset, tlb::bench::lpt(history, jobs), jobs) / bound);
}

// What read_flags prints after "usage: <program> ".
constexpr const char* kUsage =
    "[--shared DIR] [--suites LIST] [--drifts LIST] [--draws K] [--rtt-ms MS] [--threads T] [--trace "
    "SUITE:N:DRAW]\n"
    "  --shared DIR    where datasets/ is (default " TLB_SHARED_DIR
    ")\n"
    "  --suites LIST   only these suites, by name, separated by ','\n"
    "  --drifts LIST   only these drift models (none, drift, ci), separated by ','\n"
    "  --draws K       drifted histories per suite and job count (default 11)\n"
    "  --rtt-ms MS     one round trip to the server, in milliseconds (default 20)\n"
    "  --threads T     simulations at once (default: the machine's hardware threads)\n"
    "  --trace S:N:D   print the schedule of one queue run (suite S, N jobs, draw D of the first drift "
    "model)\n";

}  // namespace

int main(int argc, char** argv) {
  try {
    fs::path shared = TLB_SHARED_DIR;
    std::vector<std::string> only, drifts;
    int draws = 11;
    double round_trip_seconds = 0.020;
    unsigned threads = std::max(1U, std::thread::hardware_concurrency());
    std::vector<std::string> traced;  // Suite, N, draw.
    const bool read = tlb::bench::read_flags(
        argc, argv, kUsage,
        {{"--shared", [&](const std::string& value) { shared = value; }},
         tlb::bench::suites_flag(only),
         {"--drifts",
          [&](const std::string& value) {
            for (const std::string& name : tlb::bench::split_list(value, ',')) {
              if (name != "none" && name != "drift" && name != "ci")
                throw std::invalid_argument("--drifts: no drift model '" + name + "' (none, drift, ci)");
              drifts.push_back(name);
            }
          }},
         {"--trace",
          [&](const std::string& value) {
            traced = tlb::bench::split_list(value, ':');
            if (traced.size() != 3)
              throw std::invalid_argument("--trace: '" + value + "' is not SUITE:N:DRAW");
          }},
         {"--draws", [&](const std::string& value) { draws = tlb::bench::positive_count("--draws", value); }},
         {"--threads",
          [&](const std::string& value) {
            threads = static_cast<unsigned>(tlb::bench::positive_count("--threads", value));
          }},
         {"--rtt-ms", [&](const std::string& value) {
            round_trip_seconds = std::stod(value) / 1000;
            if (!(round_trip_seconds >= 0))
              throw std::invalid_argument("--rtt-ms: '" + value + "' is not a duration in milliseconds");
          }}});
    if (!read) return 2;
    const auto start = Clock::now();
    std::vector<Dataset> datasets = tlb::bench::simulated_suites(shared);
    tlb::bench::keep_suites(datasets, only);
    if (!traced.empty()) {
      tlb::bench::keep_suites(datasets, {traced[0]});
      const Drift* drift = drifts.empty() || drifts[0] == "ci" ? &kCiDrift
                           : drifts[0] == "drift"              ? &kDrift
                                                               : &kNoDrift;
      trace(datasets.at(0), tlb::bench::positive_count("--trace", traced[1]), *drift, std::stoi(traced[2]),
            round_trip_seconds);
      return 0;
    }
    std::vector<Case> cases;
    for (const Dataset& dataset : datasets) {
      for (int jobs : kJobCounts) {
        for (const Drift* drift : {&kNoDrift, &kDrift, &kCiDrift})
          if (drifts.empty() || std::find(drifts.begin(), drifts.end(), drift->name) != drifts.end())
            cases.push_back({&dataset, jobs, drift,
                             std::vector<Draw>(drift == &kNoDrift ? 1 : static_cast<std::size_t>(draws))});
      }
    }
    run_all(cases, round_trip_seconds, threads);

    std::printf(
        "makespan / lower bound (the true durations with the overheads every schedule pays); median and "
        "worst of %d drifted "
        "histories (none: history = truth); round trip %.0f ms\n",
        draws, round_trip_seconds * 1000);
    std::printf("%-22s %3s %5s %8s %5s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s  %s\n", "suite", "N",
                "tests", "bound", "drift", "LPT", "worst", "TLB", "worst", "queue", "worst", "run", "worst",
                "pulls", "batch", "calls", "rtt", "goal");
    for (const Case& one : cases) {
      const double bound = lower_bound(*one.dataset, one.jobs);
      const auto [lpt, lpt_worst] = median_and_worst(one, &Draw::lpt);
      const auto [ours, ours_worst] = median_and_worst(one, &Draw::ours);
      const auto [queue, queue_worst] = median_and_worst(one, &Draw::queue);
      const auto [run, run_worst] = median_and_worst(one, &Draw::run);
      const double calls = median_and_worst(one, &Draw::calls).first;
      std::printf(
          "%-22s %3d %5zu %8s %5s %6.3f %6.3f %6.3f %6.3f %6.3f %6.3f %6.3f %6.3f %6.0f %6.1f %6.0f %5.1f%%  "
          "%s\n",
          one.dataset->name.c_str(), one.jobs, one.dataset->names.size(),
          tlb::bench::human_seconds(bound).c_str(), one.drift->name, lpt, lpt_worst, ours, ours_worst, queue,
          queue_worst, run, run_worst, median_and_worst(one, &Draw::pulls).first,
          median_and_worst(one, &Draw::per_batch).first, calls,
          100 * calls * round_trip_seconds / one.jobs / bound, verdict(one).c_str());
    }
    // The bimodal cases' draws, each as queue / LPT.
    for (const Case& one : cases) {
      if (!bimodal(one)) continue;
      std::printf("bimodal: %s N=%d %s:", one.dataset->name.c_str(), one.jobs, one.drift->name);
      for (std::size_t d = 0; d < one.draws.size(); ++d)
        std::printf(" #%zu %.3f/%.3f", d, one.draws[d].queue, one.draws[d].lpt);
      std::printf("\n");
    }
    std::printf("%.1f s\n", std::chrono::duration<double>(Clock::now() - start).count());
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tlb_bench_queue: %s\n", error.what());
    return 1;
  }
}
