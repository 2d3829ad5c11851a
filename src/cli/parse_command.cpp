#include "cli/parse_command.hpp"

#include <array>
#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "io/results.hpp"
#include "io/text.hpp"

namespace tlb::cli {
namespace {

struct ParseArgs {
  std::vector<std::string> files;
  bool json = false;
};

// A name on one line of text output: line breaks and tabs written as \n, \r, \t.
std::string one_line(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out;
}

std::string seconds_text(const std::optional<double>& seconds) {
  if (!seconds) return "-";
  char buffer[64];
  const auto [end, error] =
      std::to_chars(buffer, buffer + sizeof buffer, *seconds, std::chars_format::fixed, 3);
  return error == std::errc() ? std::string(buffer, end) : "?";
}

std::string padded_left(std::string_view text, std::size_t width) {
  std::string out(text);
  if (out.size() < width) out.append(width - out.size(), ' ');
  return out;
}

std::string padded_right(std::string_view text, std::size_t width) {
  std::string out(width > text.size() ? width - text.size() : 0, ' ');
  return out.append(text);
}

void print_json(std::ostream& out, const std::vector<io::ResultFile>& files) {
  nlohmann::ordered_json document = nlohmann::ordered_json::array();
  for (const io::ResultFile& file : files) {
    for (const io::TestResult& result : file.results) {
      document.push_back({{"name", result.name},
                          {"classname", result.classname},
                          {"status", std::string(io::to_string(result.status))},
                          {"seconds", result.seconds ? nlohmann::ordered_json(*result.seconds) : nullptr},
                          {"ctest_name", io::ctest_name(result, file.format)},
                          {"file", file.source},
                          {"line", result.line}});
    }
  }
  out << document.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

void print_text(std::ostream& out, const std::vector<io::ResultFile>& files) {
  std::array<std::size_t, 4> counts{};
  const auto count = [&](io::ResultStatus status) -> std::size_t& {
    return counts[static_cast<std::size_t>(status)];
  };
  std::size_t total = 0;
  double seconds = 0;
  for (const io::ResultFile& file : files) {
    out << file.source << ": " << io::to_string(file.format) << ", " << file.results.size() << " test"
        << (file.results.size() == 1 ? "" : "s") << "\n";
    for (const io::TestResult& result : file.results) {
      ++count(result.status);
      ++total;
      seconds += result.seconds.value_or(0);
      const std::string name = io::ctest_name(result, file.format);
      out << "  " << padded_left(io::to_string(result.status), 8)
          << padded_right(seconds_text(result.seconds), 10) << "  "
          << (name.empty() ? "(no name, line " + std::to_string(result.line) + ")" : one_line(name)) << "\n";
    }
  }
  std::ostringstream summary;
  summary.imbue(std::locale::classic());
  summary << total << " test" << (total == 1 ? "" : "s") << " in " << files.size() << " file"
          << (files.size() == 1 ? "" : "s") << ": " << count(io::ResultStatus::passed) << " passed, "
          << count(io::ResultStatus::failed) << " failed, " << count(io::ResultStatus::error) << " error"
          << (count(io::ResultStatus::error) == 1 ? "" : "s") << ", " << count(io::ResultStatus::skipped)
          << " skipped; " << seconds_text(seconds) << " s in all.";
  out << summary.str() << "\n";
}

void run_parse(const ParseArgs& args, std::ostream& out) {
  // Every file is read before anything is printed, so a bad file leaves no partial output.
  std::vector<io::ResultFile> files;
  files.reserve(args.files.size());
  for (const std::string& path : args.files) files.push_back(io::read_results(path));
  if (args.json) {
    print_json(out, files);
  } else {
    print_text(out, files);
  }
}

}  // namespace

std::function<void(std::ostream&, std::ostream&, const Environment&)> add_parse_command(CLI::App& app) {
  auto args = std::make_shared<ParseArgs>();
  CLI::App* cmd = app.add_subcommand("parse", "Print the test results read from JUnit XML or ctest's files.");
  cmd->description(
      "Print the test results TLB reads from results files.\n\n"
      "Each test's status (passed, failed, error, skipped), its time, and the CTest name it is recorded\n"
      "under when no test list is given.\n\n"
      "Formats, detected from content: ctest --output-junit, ctest -T Test's Testing/<tag>/Test.xml,\n"
      "GoogleTest's --gtest_output=xml, and JUnit XML from Catch2, doctest, pytest, Maven Surefire,\n"
      "jest-junit, go-junit-report, gotestsum, mocha, xUnit, Bazel...\n\n"
      "Example:\n"
      "  ctest --test-dir build --output-junit results.xml\n"
      "  tlb parse build/results.xml --json");
  cmd->add_option("files", args->files, "Results files ('-' for standard input)")
      ->required()
      ->type_name("FILE");
  cmd->add_flag("--json", args->json,
                "A JSON array of {name, classname, status, seconds, ctest_name, file, line}, files in order");
  cmd->footer(
      "Exit status: 0 the files were read (whatever the tests' outcome), 1 a file is unreadable or not "
      "a results file.");
  return [args](std::ostream& out, std::ostream&, const Environment&) { run_parse(*args, out); };
}

}  // namespace tlb::cli
