// Throughput of the results parser (tlb::io::parse_results) in MB/s, and in the same run that of Python's
// xml.etree.ElementTree reading the same files and pulling out the same fields, as a yardstick.
//
//   tlb_bench_parse_results [--corpus DIR] [--testcases N] [--min-seconds S] [--python EXE] [--keep]
//
// Files: a generated JUnit file (N testcases, default 100,000, one in 200 with 64 KiB of system-out, about
// 47 MB), and every XML file under DIR (the JUnit corpus in ../shared) that both parsers accept. Each set is
// parsed from memory (the files are read first) again and again for at least S seconds (default 2) and at
// least 3 times; the best pass counts. 1 MB = 10^6 bytes.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "io/results.hpp"
#include "io/text.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string corpus;
  std::size_t testcases = 100'000;
  double min_seconds = 2;
  std::string python = "python3";
  bool keep = false;
};

// A JUnit file like a big CI run's: Surefire-style classnames, 1% failures with a message and stack trace,
// 0.5% skipped, one testcase in 200 with 64 KiB of captured output (escaped text, as most producers write).
std::string generate_junit(std::size_t testcases) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"generated\">\n";
  const std::size_t per_suite = 100;
  std::string output_line = "INFO worker-7 &lt;module&gt; connected to 127.0.0.1:5432 &amp; ready in 12 ms\n";
  std::string big_output;
  while (big_output.size() < std::size_t{64} * 1024) big_output += output_line;
  for (std::size_t i = 0; i < testcases; ++i) {
    const std::size_t suite = i / per_suite;
    if (i % per_suite == 0) {
      if (i > 0) xml += "  </testsuite>\n";
      xml +=
          "  <testsuite name=\"com.example.module" + std::to_string(suite / 100) + ".Suite" +
          std::to_string(suite) + "Test\" tests=\"" + std::to_string(per_suite) +
          "\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"12.345\" timestamp=\"2024-05-01T10:00:00\">\n";
    }
    // Times with up to six decimals, deterministic.
    const std::size_t micros = (i * 7919 % 2'000'000) + 1;
    std::ostringstream time;
    time << micros / 1'000'000 << "." << std::setw(6) << std::setfill('0') << micros % 1'000'000;
    xml += "    <testcase name=\"testCase" + std::to_string(i % per_suite) +
           "_handlesInput\" classname=\"com.example.module" + std::to_string(suite / 100) + ".Suite" +
           std::to_string(suite) + "Test\" time=\"" + time.str() + "\"";
    if (i % 100 == 37) {
      xml +=
          ">\n      <failure message=\"expected: &lt;1&gt; but was: &lt;2&gt;\" "
          "type=\"org.opentest4j.AssertionFailedError\">org.opentest4j.AssertionFailedError: expected: "
          "&lt;1&gt; but was: &lt;2&gt;\n\tat com.example.SuiteTest.testCase(SuiteTest.java:42)\n"
          "\tat java.base/java.lang.reflect.Method.invoke(Method.java:568)\n      </failure>\n    "
          "</testcase>\n";
    } else if (i % 200 == 11) {
      xml += ">\n      <skipped message=\"disabled on linux\"/>\n    </testcase>\n";
    } else if (i % 200 == 123) {
      xml += ">\n      <system-out>" + big_output + "</system-out>\n    </testcase>\n";
    } else {
      xml += "/>\n";
    }
  }
  if (testcases > 0) xml += "  </testsuite>\n";
  xml += "</testsuites>\n";
  return xml;
}

struct FileSet {
  std::string label;
  std::vector<std::string> paths;
  std::vector<std::string> contents;
  std::size_t bytes = 0;
  std::size_t results = 0;
};

// Seconds of the best of at least 3 passes over the set, repeated for at least `min_seconds`.
double best_pass(const FileSet& set, double min_seconds, std::size_t& results) {
  double best = 1e300, total = 0;
  for (int pass = 0; pass < 3 || total < min_seconds; ++pass) {
    results = 0;
    const auto start = Clock::now();
    for (std::size_t i = 0; i < set.contents.size(); ++i) {
      results += tlb::io::parse_results(set.contents[i], set.paths[i]).results.size();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::min(best, seconds);
    total += seconds;
  }
  return best;
}

// The same work in Python: parse each file with ElementTree from bytes already in memory, then read every
// testcase's name, classname and time and look at its child elements.
constexpr const char* kPythonScript = R"PY(
import sys, time
import xml.etree.ElementTree as ET
min_seconds = float(sys.argv[1])
datas = [open(p, 'rb').read() for p in sys.argv[2:]]
def once():
    n = 0
    for data in datas:
        root = ET.fromstring(data)
        for case in root.iter('testcase'):
            name, classname, t = case.get('name'), case.get('classname'), case.get('time')
            seconds = float(t) if t else None
            status = 'passed'
            for child in case:
                if child.tag in ('failure', 'error', 'skipped'):
                    status = child.tag
            n += 1
    return n
best, total, passes = 1e300, 0.0, 0
while passes < 3 or total < min_seconds:
    start = time.perf_counter()
    n = once()
    elapsed = time.perf_counter() - start
    best, total, passes = min(best, elapsed), total + elapsed, passes + 1
print(best, n)
)PY";

// Runs the script on `paths`; returns (seconds, testcases), or nothing when Python is not there.
std::optional<std::pair<double, std::size_t>> python_best(const Options& options, const fs::path& script,
                                                          const std::vector<std::string>& paths) {
  std::string command = options.python + " " + script.string() + " " + std::to_string(options.min_seconds);
  for (const std::string& path : paths) command += " '" + path + "'";
  command += " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return std::nullopt;
  char buffer[256] = {};
  std::string output;
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  if (pclose(pipe) != 0) return std::nullopt;
  std::istringstream in(output);
  in.imbue(std::locale::classic());
  double seconds = 0;
  std::size_t testcases = 0;
  if (!(in >> seconds >> testcases)) return std::nullopt;
  return std::pair{seconds, testcases};
}

std::string megabytes(double bytes) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(bytes >= 10e6 ? 1 : 2) << bytes / 1e6 << " MB";
  return text.str();
}

std::string rate(double bytes, double seconds) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(0) << bytes / 1e6 / seconds;
  return text.str();
}

int usage(const char* message) {
  std::cerr << "tlb_bench_parse_results: " << message
            << "\nusage: tlb_bench_parse_results [--corpus DIR] [--testcases N] [--min-seconds S] "
               "[--python EXE] [--keep]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "--corpus") {
      auto v = value();
      if (!v) return usage("--corpus needs a directory");
      options.corpus = *v;
    } else if (arg == "--testcases") {
      auto v = value();
      if (!v || !tlb::io::parse_int(*v)) return usage("--testcases needs a count");
      options.testcases = static_cast<std::size_t>(*tlb::io::parse_int(*v));
    } else if (arg == "--min-seconds") {
      auto v = value();
      if (!v || !tlb::io::parse_number(*v)) return usage("--min-seconds needs a number");
      options.min_seconds = *tlb::io::parse_number(*v);
    } else if (arg == "--python") {
      auto v = value();
      if (!v) return usage("--python needs an executable");
      options.python = *v;
    } else if (arg == "--keep") {
      options.keep = true;
    } else {
      return usage(("unknown argument " + arg).c_str());
    }
  }

  const fs::path dir = fs::temp_directory_path() / ("tlb-bench-results-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path script = dir / "etree_bench.py";
  std::ofstream(script) << kPythonScript;

  std::vector<FileSet> sets;
  {
    FileSet generated;
    generated.label = "generated JUnit, " + std::to_string(options.testcases) + " testcases";
    const fs::path path = dir / "generated.xml";
    std::ofstream(path, std::ios::binary) << generate_junit(options.testcases);
    generated.paths.push_back(path.string());
    sets.push_back(std::move(generated));
  }
  if (!options.corpus.empty()) {
    if (!fs::is_directory(options.corpus)) {
      std::cout << "corpus: " << options.corpus << " is absent; only the generated file is measured\n";
    } else {
      FileSet corpus;
      for (const auto& entry : fs::recursive_directory_iterator(options.corpus)) {
        if (entry.is_regular_file() && entry.path().extension() == ".xml")
          corpus.paths.push_back(entry.path());
      }
      std::sort(corpus.paths.begin(), corpus.paths.end());
      corpus.label = "corpus";
      sets.push_back(std::move(corpus));
    }
  }

  // Read the files; leave out those either parser rejects (the corpus holds malformed files on purpose).
  for (FileSet& set : sets) {
    std::vector<std::string> kept;
    for (const std::string& path : set.paths) {
      std::string content = tlb::io::read_file(path);
      try {
        tlb::io::parse_results(content, path);
      } catch (const tlb::io::InputError&) {
        continue;
      }
      if (set.label == "corpus" &&
          !python_best(Options{options.corpus, 0, 0, options.python, false}, script, {path})) {
        continue;
      }
      set.bytes += content.size();
      set.contents.push_back(std::move(content));
      kept.push_back(path);
    }
    if (set.label == "corpus") set.label = "corpus, " + std::to_string(kept.size()) + " files";
    set.paths = std::move(kept);
  }

  std::cout << "Parse throughput, MB/s (1 MB = 10^6 bytes; best pass of >= 3 and >= " << options.min_seconds
            << " s; from memory)\n\n";
  std::cout << std::left << std::setw(40) << "files" << std::right << std::setw(10) << "size" << std::setw(11)
            << "testcases" << std::setw(10) << "tlb" << std::setw(20) << "Python ElementTree" << std::setw(9)
            << "ratio"
            << "\n";
  bool python_missing = false;
  for (const FileSet& set : sets) {
    if (set.contents.empty()) continue;
    std::size_t results = 0;
    const double ours = best_pass(set, options.min_seconds, results);
    const auto theirs = python_best(options, script, set.paths);
    python_missing = python_missing || !theirs;
    std::cout << std::left << std::setw(40) << set.label << std::right << std::setw(10)
              << megabytes(static_cast<double>(set.bytes)) << std::setw(11) << results << std::setw(10)
              << rate(static_cast<double>(set.bytes), ours);
    if (theirs) {
      std::ostringstream ratio;
      ratio << std::fixed << std::setprecision(1) << theirs->first / ours << "x";
      std::cout << std::setw(20) << rate(static_cast<double>(set.bytes), theirs->first) << std::setw(9)
                << ratio.str();
      if (theirs->second != results) std::cout << "  (Python saw " << theirs->second << " testcases)";
    } else {
      std::cout << std::setw(20) << "-" << std::setw(9) << "-";
    }
    std::cout << "\n";
  }
  if (python_missing) {
    std::cout << "\n'" << options.python << "' did not run the ElementTree script: Python figures skipped.\n";
  }
  if (options.keep) {
    std::cout << "\nkept: " << dir.string() << "\n";
  } else {
    fs::remove_all(dir);
  }
  return 0;
}
