// The swarm coordinator's own cost: what `tlb server` spends on a queue-mode run's calls. N identical jobs
// (as bench_queue's, 20 ms round trips, batches run as one ctest command each) run synthetic suites of 1,000
// to 10,000 tests on virtual time; the real Coordinator answers every pull and report on its real SQLite
// state. Printed: the run's makespan on virtual time; and on the wall clock, the whole run's time and its
// time per call (a pull, or a batch's reports), first with the state in memory (the CPU the coordinator and
// SQLite take), then in a database file as the server keeps it (WAL, synchronous=FULL: a write transaction
// waits on the disk). Heartbeats (every 10 s per job) are in the time, not in the calls.
//
// Usage: tlb_bench_coordinator [--sizes LIST] [--jobs N] [--dir DIR]
//
// The suites are bench_balance's "hours" model (log-normal, median 2 s, sigma 1.0; 2% of the tests 5 to 20x
// longer), the history exact: this measures the coordinator, not the balance.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "options.hpp"
#include "simulation.hpp"
#include "suites.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "[--sizes LIST] [--jobs N] [--dir DIR]\n"
    "  --sizes LIST  suite sizes, separated by ',' (default 1000,4000,10000)\n"
    "  --jobs N      CI jobs pulling at once (default 16)\n"
    "  --dir DIR     where the database files go (default: the system's temporary directory)\n";

struct Measured {
  tlb::bench::SimulatedRun run;
  double seconds = 0;
};

Measured measure(const tlb::bench::Dataset& suite, int jobs, const std::string& database) {
  tlb::bench::AgentCosts costs;
  costs.per_test_seconds = 0.05;
  costs.round_trip_seconds = 0.020;
  costs.one_command_per_batch = true;
  costs.batch_start_seconds = 0.1;
  costs.first_backoff_seconds = 0.5;
  costs.last_backoff_seconds = 2;
  const std::vector<double> speeds(static_cast<std::size_t>(jobs), 1.0);
  const std::vector<double> bench(static_cast<std::size_t>(jobs), 100.0);
  tlb::bench::SwarmSetup setup{suite, suite.seconds, speeds, bench, true, costs, std::nullopt};
  setup.database = database;
  const auto start = Clock::now();
  Measured measured;
  measured.run = tlb::bench::simulate(setup);
  measured.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return measured;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::size_t> sizes = {1000, 4000, 10000};
    int jobs = 16;
    fs::path dir = fs::temp_directory_path();
    const bool read = tlb::bench::read_flags(
        argc, argv, kUsage,
        {{"--sizes", [&](const std::string& value) { sizes = tlb::bench::parse_sizes(value); }},
         {"--jobs", [&](const std::string& value) { jobs = tlb::bench::positive_count("--jobs", value); }},
         {"--dir", [&](const std::string& value) { dir = value; }}});
    if (!read) return 2;

    std::printf(
        "the coordinator's time on a queue-mode run of N = %d jobs: in memory (CPU), and in a database "
        "file (the server's fsyncs)\n",
        jobs);
    std::printf("%6s %9s %6s %6s %8s %10s %10s %10s %10s\n", "tests", "run", "calls", "pulls", "reports",
                "memory", "per call", "file", "per call");
    for (std::size_t size : sizes) {
      const tlb::bench::Dataset suite =
          tlb::bench::synthetic("hours-" + std::to_string(size), "synthetic: bench_balance's hours model",
                                size, tlb::bench::hours_model());
      const Measured memory = measure(suite, jobs, ":memory:");
      const fs::path file = dir / ("tlb-bench-coordinator-" + std::to_string(getpid()) + ".sqlite3");
      const Measured on_disk = measure(suite, jobs, file.string());
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
      const std::size_t calls = memory.run.pulls + memory.run.report_calls;
      std::printf("%6zu %9s %6zu %6zu %8zu %9.2fs %8.2fms %9.2fs %8.2fms\n", size,
                  tlb::bench::human_seconds(memory.run.makespan).c_str(), calls, memory.run.pulls,
                  memory.run.report_calls, memory.seconds, 1000 * memory.seconds / static_cast<double>(calls),
                  on_disk.seconds, 1000 * on_disk.seconds / static_cast<double>(calls));
    }
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tlb_bench_coordinator: %s\n", error.what());
    return 1;
  }
}
