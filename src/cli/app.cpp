#include "cli/app.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <ostream>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/merge_command.hpp"
#include "cli/parse_command.hpp"
#include "cli/plan_command.hpp"
#include "cli/record_command.hpp"
#include "cli/report_command.hpp"
#include "cli/run_command.hpp"
#include "cli/split_command.hpp"
#include "cli/verify_command.hpp"
#include "io/text.hpp"
#ifdef TLB_WITH_SERVER
#include "cli/agent_command.hpp"
#include "cli/balancer_command.hpp"
#include "cli/server_command.hpp"
#include "cli/swarm_command.hpp"
#endif

namespace tlb::cli {
namespace {

// `tlb --help` lists each command with the first line of its description; `tlb <command> --help` has the
// rest.
class Formatter : public CLI::Formatter {
 public:
  std::string make_subcommand(const CLI::App* sub) const override {
    const std::string& description = sub->get_description();
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true), description.substr(0, description.find('\n')),
                             column_width_);
    return out.str();
  }
};

using Command = std::function<int(std::ostream& out, std::ostream& err, const Environment& env)>;

// The server side's commands, built only with TLB_BUILD_SERVER (the light client leaves them out).
std::vector<std::pair<std::string_view, Command>> add_server_commands([[maybe_unused]] CLI::App& app) {
#ifdef TLB_WITH_SERVER
  return {{"balancer", add_balancer_command(app)},
          {"server", add_server_command(app)},
          {"agent", add_agent_command(app)},
          {"swarm", add_swarm_command(app)}};
#else
  return {};
#endif
}

// In the light client, a server-side command gets a message saying how to build it, not CLI11's "not
// expected".
bool is_left_out([[maybe_unused]] int argc, [[maybe_unused]] const char* const* argv,
                 [[maybe_unused]] std::ostream& err) {
#ifdef TLB_WITH_SERVER
  return false;
#else
  constexpr std::array<std::string_view, 4> kServerCommands = {"balancer", "server", "agent", "swarm"};
  if (argc < 2 ||
      std::find(kServerCommands.begin(), kServerCommands.end(), argv[1]) == kServerCommands.end()) {
    return false;
  }
  err << "tlb: error: 'tlb " << argv[1]
      << "' is not in this build: it is the light client (TLB was configured "
      << "with TLB_BUILD_SERVER=OFF, the default when TLB is a subproject); configure TLB with "
      << "-DTLB_BUILD_SERVER=ON for the server, agent, swarm and balancer commands.\n";
  return true;
#endif
}

}  // namespace

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, const Environment& env) {
  CLI::App app{
      "tlb: a test load balancer for CMake/CTest.\n"
      "Splits a CTest suite over CI jobs so that every test runs exactly once and all jobs finish together.",
      "tlb"};
  app.set_version_flag("--version", std::string("tlb ") + TLB_VERSION);
  // CLI11 reads "/name" as an option on Windows; tlb takes the same arguments everywhere ("/path" is a path).
  app.allow_windows_style_options(false);
  app.require_subcommand(1);
  app.formatter(std::make_shared<Formatter>());
  app.footer(
      "Run 'tlb <command> --help' for a command's options. Settings and their variables: see README.md.");
  auto split = add_split_command(app);
  auto plan = add_plan_command(app);
  auto parse = add_parse_command(app);
  auto record = add_record_command(app);
  auto merge = add_merge_command(app);
  auto verify = add_verify_command(app);
  auto report = add_report_command(app);
  const auto server_side = add_server_commands(app);
  auto run_job = add_run_command(app);
  if (is_left_out(argc, argv, err)) return kUsageError;

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 reports --help and --version as "errors" with status 0; help goes to the chosen subcommand's
    // page.
    if (e.get_exit_code() == 0) return app.exit(e, out, err);
    err << "tlb: error: " << e.what() << "\n";
    if (!app.get_subcommands().empty()) {
      err << "Run 'tlb " << app.get_subcommands().front()->get_name() << " --help' for usage.\n";
    } else {
      err << "Run 'tlb --help' for usage.\n";
    }
    return kUsageError;
  }

  try {
    if (app.got_subcommand("split")) split(out, err, env);
    if (app.got_subcommand("plan")) plan(out, err, env);
    if (app.got_subcommand("parse")) parse(out, err, env);
    if (app.got_subcommand("record")) record(out, err, env);
    if (app.got_subcommand("merge")) merge(out, err, env);
    if (app.got_subcommand("report")) report(out, err, env);
    if (app.got_subcommand("verify")) return verify(out, err, env);
    for (const auto& [name, command] : server_side) {
      if (app.got_subcommand(std::string(name))) return command(out, err, env);
    }
    if (app.got_subcommand("run")) return run_job(out, err, env);
  } catch (const UsageError& e) {
    err << "tlb: error: " << e.what() << "\n";
    return kUsageError;
  } catch (const io::InputError& e) {
    err << "tlb: error: " << e.what() << "\n";
    return kInputError;
  } catch (const std::exception& e) {
    // Not expected: every failure the readers foresee is an InputError. Still a message, never an abort.
    err << "tlb: error: " << e.what() << "\n";
    return kInputError;
  }
  return kSuccess;
}

}  // namespace tlb::cli
