// `tlb plan`, the real executable as a process: the table's exact numbers, colour only where it belongs (a
// terminal without NO_COLOR, or --color always), --json with the table's numbers, the required total, and the
// test list from a build tree through ctest.
#include <gtest/gtest.h>
#ifndef _WIN32
#include <errno.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <filesystem>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/scratch_dir.hpp"

namespace {

using tlb::testing::ProcessResult;
using tlb::testing::run_process;

#ifndef _WIN32
// Runs `argv` with stdin, stdout and stderr on a new pseudo-terminal, as in an interactive shell, with
// exactly `env` (plus PATH). What it wrote, with the terminal's "\r\n" turned back into "\n".
ProcessResult run_in_terminal(const std::vector<std::string>& argv,
                              const std::map<std::string, std::string>& env) {
  std::vector<std::string> env_strings{"PATH=/usr/bin:/bin"};
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<std::string> args = argv;
  std::vector<char*> c_env, c_argv;
  for (auto& s : env_strings) c_env.push_back(s.data());
  c_env.push_back(nullptr);
  for (auto& s : args) c_argv.push_back(s.data());
  c_argv.push_back(nullptr);

  int terminal = -1;
  const pid_t pid = forkpty(&terminal, nullptr, nullptr, nullptr);
  if (pid < 0) throw std::runtime_error("forkpty failed");
  if (pid == 0) {
    execve(c_argv[0], c_argv.data(), c_env.data());
    _exit(127);
  }
  ProcessResult result;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(terminal, buffer, sizeof buffer);
    if (n > 0) {
      result.out.append(buffer, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO once the child has closed its side.
    }
  }
  close(terminal);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::erase(result.out, '\r');
  return result;
}
#endif

bool has_ansi(const std::string& text) {
  return text.find("\x1b[") != std::string::npos;
}

// `text` without its ANSI SGR sequences.
std::string without_ansi(const std::string& text) {
  std::string plain;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {
      i = text.find('m', i);
      if (i == std::string::npos) break;
      continue;
    }
    plain += text[i];
  }
  return plain;
}

std::vector<std::string> words_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// The table's lines: from the header to the total row.
std::vector<std::string> table_of(const std::string& text) {
  std::vector<std::string> table;
  std::istringstream in(text);
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    inside = inside || line.starts_with("  partition");
    if (inside) table.push_back(line);
    if (inside && line.starts_with("  total")) break;
  }
  return table;
}

class Plan : public tlb::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    // Known durations for a to d; e has none, so it is estimated as their mean: 5 s. 25 s of work over 2
    // partitions: the lower bound is 12.5 s; no division does better than 13 s ({8, 5} and {5, 4, 3}, or
    // {8, 4} and {5, 5, 3}).
    tests_ = write("tests.txt", "a\nb\nc\nd\ne\n");
    durations_ = write("durations.json", R"({"a": 8, "b": 5, "c": 4, "d": 3})");
  }

  ProcessResult tlb(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), TLB_EXECUTABLE);
    return run_process(args, env);
  }

#ifndef _WIN32
  ProcessResult in_terminal(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), TLB_EXECUTABLE);
    return run_in_terminal(args, env);
  }
#endif

  std::vector<std::string> plan_args(std::vector<std::string> more = {}) {
    std::vector<std::string> args{"plan", "--tests", tests_, "--durations", durations_};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  std::string tests_, durations_;
};

TEST_F(Plan, ShowsEachPartitionAndTheMakespanAgainstTheBound) {
  const ProcessResult r = tlb(plan_args({"--total", "2"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_FALSE(has_ansi(r.out)) << "colour in a pipe:\n" << r.out;
  EXPECT_EQ(r.out,
            "Split with the time splitter into 2 partitions.\n"
            "  history: 4 tests from " +
                durations_ +
                " (JSON object of name to seconds)\n"
                "  1 test without history, estimated from COST or as 5.00 s each.\n"
                "\n"
                "  partition  tests  predicted  no history  vs bound\n"
                "  1/2            2     12.0 s           0     0.960  ############################\n"
                "  2/2            3     13.0 s           1     1.040  ##############################\n"
                "  total          5     25.0 s           1\n"
                "\n"
                "Predicted makespan 13.0 s, lower bound 12.5 s (1.040x the bound).\n");
}

TEST_F(Plan, ColourOnlyOnATerminalWithoutNoColorOrWhenAsked) {
  const ProcessResult piped = tlb(plan_args({"--total", "2"}));
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  ASSERT_FALSE(has_ansi(piped.out));

  const ProcessResult always = tlb(plan_args({"--total", "2", "--color", "always"}));
  ASSERT_EQ(always.exit_code, 0) << always.err;
  EXPECT_TRUE(has_ansi(always.out)) << always.out;
  EXPECT_EQ(without_ansi(always.out), piped.out) << "colour moved a column";
  EXPECT_FALSE(has_ansi(tlb(plan_args({"--total", "2", "--color", "never"})).out));

#ifndef _WIN32  // POSIX pseudo-terminals.
  const ProcessResult terminal = in_terminal(plan_args({"--total", "2"}));
  ASSERT_EQ(terminal.exit_code, 0) << terminal.out;
  EXPECT_TRUE(has_ansi(terminal.out)) << "no colour on a terminal:\n" << terminal.out;
  EXPECT_EQ(without_ansi(terminal.out), piped.out);
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"NO_COLOR", "1"}, {"TERM", "dumb"}}) {
    const ProcessResult plain = in_terminal(plan_args({"--total", "2"}), {{name, value}});
    ASSERT_EQ(plain.exit_code, 0) << plain.out;
    EXPECT_FALSE(has_ansi(plain.out)) << name << "=" << value << " is set, yet:\n" << plain.out;
    EXPECT_EQ(plain.out, piped.out);
  }
  EXPECT_FALSE(has_ansi(in_terminal(plan_args({"--total", "2", "--color", "never"})).out));
  // The flag is the user's latest word: it wins over NO_COLOR.
  EXPECT_TRUE(
      has_ansi(in_terminal(plan_args({"--total", "2", "--color", "always"}), {{"NO_COLOR", "1"}}).out));
  // Scripts get no colour whatever they ask.
  EXPECT_FALSE(has_ansi(in_terminal(plan_args({"--total", "2", "--json", "--color", "always"})).out));
#endif

  const ProcessResult bad = tlb(plan_args({"--total", "2", "--color", "sometimes"}));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--color"), std::string::npos) << bad.err;
}

TEST_F(Plan, JsonHasTheNumbersOfTheTable) {
  const ProcessResult table = tlb(plan_args({"--total", "2"}));
  const ProcessResult json = tlb(plan_args({"--total", "2", "--json"}));
  ASSERT_EQ(table.exit_code, 0) << table.err;
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc.at("kind"), "tlb-plan");
  EXPECT_EQ(doc.at("total"), 2);
  EXPECT_EQ(doc.at("partition"), nullptr);
  EXPECT_EQ(doc.at("splitter"), "time");
  EXPECT_EQ(doc.at("fallback_seconds"), 5.0);
  EXPECT_EQ(doc.at("predicted_makespan_seconds"), 13.0);
  EXPECT_EQ(doc.at("lower_bound_seconds"), 12.5);
  EXPECT_EQ(doc.at("ratio"), 1.04);

  const std::vector<std::string> lines = table_of(table.out);
  ASSERT_EQ(lines.size(), 4u) << table.out;
  const auto fixed = [](double value, int decimals) {
    std::ostringstream text;
    text << std::fixed << std::setprecision(decimals) << value;
    return text.str();
  };
  ASSERT_EQ(doc.at("partitions").size(), 2u);
  for (std::size_t k = 0; k < 2; ++k) {
    const nlohmann::json& p = doc.at("partitions").at(k);
    const std::vector<std::string> row = words_of(lines[k + 1]);
    ASSERT_EQ(row.size(), 7u) << lines[k + 1];  // 1/2, tests, seconds, "s", no history, vs bound, bar.
    EXPECT_EQ(row[0], std::to_string(k + 1) + "/2");
    EXPECT_EQ(row[1], std::to_string(p.at("tests").get<int>()));
    EXPECT_EQ(row[2], fixed(p.at("predicted_seconds").get<double>(), 1));
    EXPECT_EQ(row[4], std::to_string(p.at("tests_without_history").get<int>()));
    EXPECT_EQ(row[5], fixed(p.at("bound_ratio").get<double>(), 3));
  }
  const std::vector<std::string> total = words_of(lines[3]);
  ASSERT_EQ(total.size(), 5u) << lines[3];
  EXPECT_EQ(total[1], std::to_string(doc.at("totals").at("tests").get<int>()));
  EXPECT_EQ(total[2], fixed(doc.at("totals").at("predicted_seconds").get<double>(), 1));
  EXPECT_EQ(total[4], std::to_string(doc.at("totals").at("tests_without_history").get<int>()));
  EXPECT_NE(
      table.out.find("Predicted makespan " + fixed(doc.at("predicted_makespan_seconds").get<double>(), 1) +
                     " s, lower bound " + fixed(doc.at("lower_bound_seconds").get<double>(), 1) + " s (" +
                     fixed(doc.at("ratio").get<double>(), 3) + "x the bound)"),
      std::string::npos)
      << table.out;
}

TEST_F(Plan, TheNumberOfPartitionsIsRequired) {
  const ProcessResult none = tlb(plan_args());
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.out, "");
  EXPECT_NE(none.err.find("TLB_TOTAL_PARTITIONS"), std::string::npos) << none.err;
  EXPECT_TRUE(none.err.starts_with("tlb: error: ")) << none.err;

  // The variable alone is an overview, as --total is; a whole partition setting marks its partition.
  const ProcessResult flag = tlb(plan_args({"--total", "2"}));
  const ProcessResult variable = tlb(plan_args(), {{"TLB_TOTAL_PARTITIONS", "2"}});
  ASSERT_EQ(variable.exit_code, 0) << variable.err;
  EXPECT_EQ(variable.out, flag.out);
  const ProcessResult mine = tlb(plan_args(), {{"TLB_PARTITION", "2/2"}});
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_NE(mine.out.find("(this is partition 2, from TLB_PARTITION)"), std::string::npos) << mine.out;
  EXPECT_NE(mine.out.find("\n* 2/2 "), std::string::npos) << mine.out;

  const ProcessResult zero = tlb(plan_args(), {{"TLB_TOTAL_PARTITIONS", "0"}});
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_NE(zero.err.find("TLB_TOTAL_PARTITIONS"), std::string::npos) << zero.err;
}

TEST_F(Plan, SplitExplainPrintsTheSameTable) {
  const ProcessResult plan = tlb(plan_args({"--total", "2"}));
  const ProcessResult explain =
      tlb({"split", "--tests", tests_, "--durations", durations_, "--total", "2", "--explain"});
  ASSERT_EQ(explain.exit_code, 0) << explain.err;
  EXPECT_EQ(explain.out, plan.out);
}

TEST_F(Plan, ListsTheTestsOfABuildTreeWithCtest) {
#ifdef _WIN32
  GTEST_SKIP() << "the build tree's tests are /bin/true, and ctest is looked for in /usr/bin; "
                  "scripts/test-windows.sh runs Windows ctest.exe end to end";
#endif
  if (!std::filesystem::exists("/usr/bin/ctest") && !std::filesystem::exists("/bin/ctest")) {
    GTEST_SKIP() << "no ctest in /usr/bin or /bin, the PATH the tests give tlb";
  }
  // A build tree as ctest reads it. The listing must run with TLB_HOOK_ACTIVE set, as the CMake hook's does,
  // or a partition variable in the environment would make include(TLB) split the listing itself.
  write("build/CTestTestfile.cmake",
        "if(NOT DEFINED ENV{TLB_HOOK_ACTIVE})\n"
        "  message(FATAL_ERROR \"the listing ran without TLB_HOOK_ACTIVE\")\n"
        "endif()\n"
        "add_test(a /bin/true)\nadd_test(b /bin/true)\nadd_test(c /bin/true)\nadd_test(d /bin/true)\n"
        "add_test(e /bin/true)\n");
  const std::string build = (dir_ / "build").string();
  const ProcessResult from_list = tlb(plan_args({"--total", "2"}));
  const ProcessResult from_build =
      tlb({"plan", "--build-dir", build, "--durations", durations_}, {{"TLB_TOTAL_PARTITIONS", "2"}});
  ASSERT_EQ(from_build.exit_code, 0) << from_build.err;
  EXPECT_EQ(from_build.out, from_list.out);

  write("broken/CTestTestfile.cmake", "message(FATAL_ERROR \"broken on purpose\")\n");
  const ProcessResult broken = tlb({"plan", "--build-dir", (dir_ / "broken").string(), "--total", "2"});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(
      broken.err.find("`ctest --show-only=json-v1 --test-dir " + (dir_ / "broken").string() + "` failed"),
      std::string::npos)
      << broken.err;
  EXPECT_NE(broken.err.find("broken on purpose"), std::string::npos) << broken.err;

  const ProcessResult missing = tlb({"plan", "--build-dir", (dir_ / "nowhere").string(), "--total", "2"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--build-dir " + (dir_ / "nowhere").string() + ": no such directory"),
            std::string::npos)
      << missing.err;
  const ProcessResult both = tlb({"plan", "--build-dir", build, "--tests", tests_, "--total", "2"});
  EXPECT_EQ(both.exit_code, 2) << both.err;
}

TEST_F(Plan, HelpExplainsTheTableWithAnExample) {
  const ProcessResult r = tlb({"plan", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* text :
       {"--tests", "--build-dir", "--durations", "--store", "--total", "--json", "--color", "NO_COLOR",
        "TLB_TOTAL_PARTITIONS", "lower bound", "Examples:", "tlb plan --build-dir"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << "help does not mention " << text;
  }
  EXPECT_NE(tlb({"--help"}).out.find("plan"), std::string::npos);
}

}  // namespace
