// Times the whole `tlb split` command, as a CI job runs it: a fresh process that reads a ctest json-v1 test
// list and a durations file, splits with the time splitter and prints. Wall time runs from spawn to exit, so
// it includes starting the process, reading and parsing both files, splitting and writing the output.
//
// Usage: tlb_bench_split_command PATH/TO/tlb [--runs N] [--max-seconds S] [--sizes N,N,...] [--keep]
//
// For each size it writes, into a fresh temporary directory, tests.json (what `ctest --show-only=json-v1`
// prints) and durations.json (pytest-split's {"name": seconds} format, a duration for every test), then runs
//   tlb split --tests tests.json --durations durations.json --partition 3/8
//   tlb split --tests tests.json --durations durations.json --total 8 --all --json
// --runs times each (default 5) with stdout to /dev/null, and prints the median and minimum wall time and the
// child's peak RSS. A command stops repeating early once its runs at one size have taken --max-seconds
// (default 15; at least one run), which keeps the million-test size to about a minute.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "synthetic_suite.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;

// A temporary directory that is removed with everything in it, also when the benchmark fails.
class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    std::string pattern = (fs::temp_directory_path() / "tlb-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("cannot create a temporary directory: " + std::string(std::strerror(errno)));
    path_ = pattern;
  }
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  ~TemporaryDirectory() {
    std::error_code ignored;
    if (!keep_) fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  fs::path path_;
  bool keep_ = false;
};

// A FILE* with a large buffer, closed (and checked) when done. The generators stream straight to disk: this
// process must stay small, because Linux counts what a child had resident before exec (with posix_spawn or
// fork, that is what this process has resident) in the child's ru_maxrss. Holding a 250 MiB document here
// would add 250 MiB to every figure.
class OutputFile {
 public:
  explicit OutputFile(const fs::path& path) : path_(path), file_(std::fopen(path.c_str(), "wb")) {
    if (file_ == nullptr) throw std::runtime_error("cannot write " + path_.string());
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    if (file_ != nullptr) std::fclose(file_);
  }
  std::FILE* get() { return file_; }
  void close() {
    const bool failed = std::ferror(file_) != 0;
    if (std::fclose(file_) != 0 || failed) {
      file_ = nullptr;
      throw std::runtime_error("error writing " + path_.string());
    }
    file_ = nullptr;
  }

 private:
  fs::path path_;
  std::FILE* file_;
};

// tests.json and durations.json, written as they are generated.
void write_test_list(const fs::path& path, std::size_t size) {
  OutputFile file(path);
  tlb::bench::write_ctest_json(file.get(), size);
  file.close();
}

void write_durations(const fs::path& path, std::size_t size) {
  OutputFile file(path);
  tlb::bench::write_durations_json(file.get(), size);
  file.close();
}

struct RunResult {
  double wall_ms = 0;
  double peak_rss_mib = 0;
};

// Runs `argv` with stdout to `stdout_path` and stderr to `stderr_path`, and waits for it. Throws unless it
// exits with status 0.
RunResult run(const std::vector<std::string>& argv, const fs::path& stdout_path,
              const fs::path& stderr_path) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);

  const auto start = std::chrono::steady_clock::now();
  pid_t child = 0;
  const int spawn_error = posix_spawn(&child, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0)
    throw std::runtime_error("cannot run " + argv[0] + ": " + std::string(std::strerror(spawn_error)));

  int status = 0;
  rusage usage{};
  while (wait4(child, &status, 0, &usage) < 0) {
    if (errno != EINTR) throw std::runtime_error("wait4 failed: " + std::string(std::strerror(errno)));
  }
  const auto stop = std::chrono::steady_clock::now();

  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream err(stderr_path);
    const std::string message{std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>()};
    const std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                            : WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                                  : "stopped";
    throw std::runtime_error(argv[0] + " " + how + (message.empty() ? "" : ": " + message));
  }
  return {std::chrono::duration<double, std::milli>(stop - start).count(),
          static_cast<double>(usage.ru_maxrss) / 1024.0};  // Linux reports KiB.
}

std::size_t count_lines(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return static_cast<std::size_t>(
      std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
}

struct Row {
  std::string command;
  std::size_t tests = 0;
  std::size_t runs = 0;
  double median_ms = 0;
  double min_ms = 0;
  double peak_rss_mib = 0;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

double mib(std::uintmax_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

struct Options {
  std::string tlb;
  int runs = 5;
  // A command stops repeating once its timed runs at one size have taken this long (after at least one
  // run), so the largest size does not take minutes; the table says how many runs each figure comes from.
  double max_seconds = 15;
  std::vector<std::size_t> sizes = {10'000, 100'000, 1'000'000};
  bool keep = false;  // Leave the generated files of the last size behind, to profile tlb on them.
};

Options parse_options(int argc, char** argv) {
  const std::string usage =
      "usage: tlb_bench_split_command PATH/TO/tlb [--runs N] [--max-seconds S] [--sizes N,N,...] [--keep]";
  if (argc < 2) throw std::runtime_error(usage);
  Options options;
  options.tlb = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--keep") {
      options.keep = true;
      continue;
    }
    if (i + 1 >= argc) throw std::runtime_error(usage);
    const std::string value = argv[++i];
    if (flag == "--runs") {
      options.runs = std::stoi(value);
      if (options.runs < 1) throw std::runtime_error("--runs must be at least 1");
    } else if (flag == "--max-seconds") {
      options.max_seconds = std::stod(value);
    } else if (flag == "--sizes") {
      options.sizes.clear();
      for (std::size_t begin = 0; begin <= value.size();) {
        std::size_t end = value.find(',', begin);
        if (end == std::string::npos) end = value.size();
        const std::size_t size = std::stoul(value.substr(begin, end - begin));
        // The fixture tests and the 3rd of 8 partitions need a handful of tests.
        if (size < 16) throw std::runtime_error("each size must be at least 16");
        options.sizes.push_back(size);
        begin = end + 1;
      }
    } else {
      throw std::runtime_error(usage);
    }
  }
  return options;
}

std::string file_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `run`, and also fails when tlb prints anything on stderr: a warning means the inputs are not what this
// benchmark means to measure (say, no test has a duration).
RunResult run_quietly(const std::vector<std::string>& argv, const fs::path& stdout_path,
                      const fs::path& stderr_path) {
  const RunResult result = run(argv, stdout_path, stderr_path);
  if (fs::file_size(stderr_path) > 0)
    throw std::runtime_error("tlb printed on stderr: " + file_text(stderr_path));
  return result;
}

std::string load_average() {
  std::string text = file_text("/proc/loadavg");
  return text.substr(0, text.find(' ', text.find(' ', text.find(' ') + 1) + 1));
}

void print_table(const std::vector<Row>& rows) {
  std::printf("| %-22s | %9s | %4s | %14s | %11s | %12s |\n", "command", "tests", "runs", "median wall ms",
              "min wall ms", "peak RSS MiB");
  std::printf(
      "|------------------------|----------:|-----:|---------------:|------------:|-------------:|\n");
  for (const Row& row : rows) {
    std::printf("| %-22s | %9zu | %4zu | %14.1f | %11.1f | %12.1f |\n", row.command.c_str(), row.tests,
                row.runs, row.median_ms, row.min_ms, row.peak_rss_mib);
  }
}

int benchmark(const Options& options) {
  TemporaryDirectory directory;
  if (options.keep) {
    directory.keep();
    std::printf("inputs kept in %s\n", directory.path().c_str());
  }
  const fs::path tests = directory.path() / "tests.json";
  const fs::path durations = directory.path() / "durations.json";
  const fs::path output = directory.path() / "stdout.txt";
  const fs::path errors = directory.path() / "stderr.txt";

  struct Command {
    std::string label;
    std::vector<std::string> flags;
  };
  const std::vector<Command> commands = {
      {"--partition 3/8", {"--partition", "3/8"}},
      {"--total 8 --all --json", {"--total", "8", "--all", "--json"}},
  };

  std::printf("tlb: %s\nload average (1, 5, 15 min) at start: %s\n\n", options.tlb.c_str(),
              load_average().c_str());
  std::vector<Row> rows;
  for (std::size_t size : options.sizes) {
    const auto generation_start = std::chrono::steady_clock::now();
    write_test_list(tests, size);
    write_durations(durations, size);
    const double generation_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - generation_start).count();
    std::printf("%zu tests: tests.json %.1f MiB, durations.json %.1f MiB (generated in %.1f s)\n", size,
                mib(fs::file_size(tests)), mib(fs::file_size(durations)), generation_s);

    for (const Command& command : commands) {
      std::vector<std::string> argv = {options.tlb,    "split",       "--tests",
                                       tests.string(), "--durations", durations.string()};
      argv.insert(argv.end(), command.flags.begin(), command.flags.end());

      // At the first size, one untimed run whose output is kept shows that the command did the work. The
      // larger sizes are not checked this way: at a million tests such a run costs as much as a timed one.
      if (size == options.sizes.front()) {
        run_quietly(argv, output, errors);
        std::printf("  %-22s  check run: %zu lines of output\n", command.label.c_str(), count_lines(output));
      }

      std::vector<double> wall_ms;
      double peak_rss_mib = 0;
      double spent_s = 0;
      while (static_cast<int>(wall_ms.size()) < options.runs &&
             (wall_ms.empty() || spent_s < options.max_seconds)) {
        const RunResult result = run_quietly(argv, "/dev/null", errors);
        wall_ms.push_back(result.wall_ms);
        spent_s += result.wall_ms / 1000;
        peak_rss_mib = std::max(peak_rss_mib, result.peak_rss_mib);
      }
      std::printf("  %-22s  %zu timed run%s, median %.1f ms\n", command.label.c_str(), wall_ms.size(),
                  wall_ms.size() == 1 ? "" : "s", median(wall_ms));
      rows.push_back({command.label, size, wall_ms.size(), median(wall_ms),
                      *std::min_element(wall_ms.begin(), wall_ms.end()), peak_rss_mib});
    }
  }

  std::printf(
      "\n`tlb split` with a duration for every test, 8 partitions; wall time from spawn to exit:\n\n");
  print_table(rows);
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  std::printf("\n(This benchmark's own peak RSS, a floor under the children's figures: %.1f MiB.)\n",
              static_cast<double>(self.ru_maxrss) / 1024.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // Progress shows line by line, also through a pipe or ninja.
  try {
    return benchmark(parse_options(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tlb_bench_split_command: %s\n", e.what());
    return 1;
  }
}
