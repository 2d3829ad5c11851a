// The report page of a big run (issue 20): every test is on the page, so its size grows with the suite. For a
// generated run of N tests on P partitions (default 100,000 on 8), the time render_html takes, the page's
// size, and how long headless Chromium takes to open it: load, lay out and paint a screenshot, against the
// same for a 20-test page (Chromium's own start-up).
//
//   tlb_bench_report_page [--tests N] [--partitions P] [--chromium EXE] [--out DIR] [--runs R]
//
// Chromium runs as the report's browser test runs it (headless, no sandbox, a throw-away profile); without
// it (--chromium "" or not installed) only the render time and the size are measured.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "report/report.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::size_t tests = 100'000;
  int partitions = 8;
  std::string chromium = "/usr/bin/chromium";
  fs::path out = fs::temp_directory_path() / "tlb-bench-report-page";
  int runs = 3;
};

// Test names like a big C++ suite's ("module_017.FeatureTest.handles_case_04321"), times from 1 ms to about
// 30 s (a long tail), 1% failed, 2% skipped; estimates off by up to 20%. Assigned round-robin by size, so
// the partitions come out about even.
std::vector<tlb::io::PartitionRecord> generate_run(std::size_t tests, int partitions) {
  std::vector<tlb::io::PartitionRecord> records(static_cast<std::size_t>(partitions));
  std::vector<std::string> all;
  std::uint64_t state = 42;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / 9007199254740992.0;
  };
  std::vector<double> load(records.size(), 0);
  for (std::size_t i = 0; i < tests; ++i) {
    char name[96];
    std::snprintf(name, sizeof name, "module_%03zu.FeatureTest%02zu.handles_case_%05zu", i % 997, i % 37, i);
    all.emplace_back(name);
  }
  std::sort(all.begin(), all.end());
  double total = 0, longest = 0;
  for (const std::string& name : all) {
    const double seconds = 0.001 * std::pow(30'000.0, next() * next());
    const auto k = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    load[k] += seconds;
    total += seconds;
    longest = std::max(longest, seconds);
    tlb::io::PartitionRecord& record = records[k];
    const double draw = next();
    const auto status = draw < 0.01   ? tlb::io::ResultStatus::failed
                        : draw < 0.03 ? tlb::io::ResultStatus::skipped
                                      : tlb::io::ResultStatus::passed;
    record.tests.push_back(name);
    record.estimates.push_back({name, seconds * (0.8 + 0.4 * next()), tlb::Estimate::history});
    record.results.push_back({name, status, seconds});
  }
  const tlb::io::RecordedPlan plan{load, std::max(total / partitions, longest),
                                   *std::max_element(load.begin(), load.end())};
  for (std::size_t k = 0; k < records.size(); ++k) {
    tlb::io::PartitionRecord& record = records[k];
    record.partition = static_cast<int>(k) + 1;
    record.total = partitions;
    record.splitter = "time";
    record.history_status = "ok";
    record.has_results = true;
    record.recorded_on = "2026-12-07";
    record.plan = plan;
    record.all_tests = all;
    record.test_list_hash = tlb::io::hash_names(all);
  }
  return records;
}

// CPU seconds (user + system) of this process's children that ended so far.
double children_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Timing {
  double wall = -1, cpu = -1;  // -1: Chromium failed.
};

// One headless Chromium screenshot of `page` (load, layout, paint): wall and CPU seconds (on a shared
// machine the CPU time is the steadier figure).
Timing chromium_seconds(const Options& options, const fs::path& page) {
  const fs::path profile = options.out / "profile";
  const std::string command =
      "HOME='" + options.out.string() + "' timeout -k 5 300 '" + options.chromium +
      "' --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run "
      "--hide-scrollbars --user-data-dir='" +
      profile.string() + "' --window-size=1280,1000 --screenshot='" + (options.out / "shot.png").string() +
      "' 'file://" + page.string() + "' >/dev/null 2>&1";
  const double cpu = children_cpu_seconds();
  const auto start = Clock::now();
  const int status = std::system(command.c_str());
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (status != 0) return {};
  return {seconds, children_cpu_seconds() - cpu};
}

Timing best_chromium_seconds(const Options& options, const fs::path& page) {
  Timing best;
  for (int run = 0; run < options.runs; ++run) {
    const Timing timing = chromium_seconds(options, page);
    if (timing.wall >= 0 && (best.wall < 0 || timing.wall < best.wall)) best.wall = timing.wall;
    if (timing.cpu >= 0 && (best.cpu < 0 || timing.cpu < best.cpu)) best.cpu = timing.cpu;
  }
  return best;
}

fs::path write_page(const Options& options, const std::string& name, std::size_t tests, int partitions,
                    double& render_seconds, std::size_t& bytes) {
  tlb::report::RunData run;
  run.title = "bench: " + std::to_string(tests) + " tests";
  run.records = generate_run(tests, partitions);
  run.generated = "2026-12-07 08:00 UTC";
  const std::clock_t start = std::clock();  // CPU time: the steadier figure on a shared machine.
  const std::string html = tlb::report::render_html(run);
  render_seconds = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  bytes = html.size();
  const fs::path page = options.out / name;
  std::ofstream(page, std::ios::binary) << html;
  return page;
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--tests" && has_value) {
      options.tests = std::stoul(argv[++i]);
    } else if (arg == "--partitions" && has_value) {
      options.partitions = std::max(1, std::stoi(argv[++i]));
    } else if (arg == "--chromium" && has_value) {
      options.chromium = argv[++i];
    } else if (arg == "--out" && has_value) {
      options.out = argv[++i];
    } else if (arg == "--runs" && has_value) {
      options.runs = std::max(1, std::stoi(argv[++i]));
    } else {
      std::cerr << "usage: tlb_bench_report_page [--tests N] [--partitions P] [--chromium EXE] [--out DIR] "
                   "[--runs R]\n";
      std::exit(2);
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  fs::create_directories(options.out);
  double render = 0, small_render = 0;
  std::size_t bytes = 0, small_bytes = 0;
  const fs::path page = write_page(options, "report.html", options.tests, options.partitions, render, bytes);
  const fs::path small = write_page(options, "small.html", 20, 3, small_render, small_bytes);
  std::cout << std::fixed << std::setprecision(2);
  std::cout << options.tests << " tests on " << options.partitions << " partitions: render_html " << render
            << " s CPU, page " << static_cast<double>(bytes) / 1e6 << " MB (" << page.string() << ")\n";
  if (options.chromium.empty() || !fs::exists(options.chromium)) {
    std::cout << "chromium: not measured (" << (options.chromium.empty() ? "none given" : options.chromium)
              << ")\n";
    return 0;
  }
  const Timing big = best_chromium_seconds(options, page), baseline = best_chromium_seconds(options, small);
  std::cout << "chromium screenshot, best of " << options.runs << ": the big page " << big.wall << " s wall, "
            << big.cpu << " s CPU; a 20-test page (" << static_cast<double>(small_bytes) / 1e3 << " kB) "
            << baseline.wall << " s wall, " << baseline.cpu << " s CPU\n";
  return big.wall < 0 || baseline.wall < 0 ? 1 : 0;
}
