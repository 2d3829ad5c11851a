#include "cli/balancer_command.hpp"

#include <algorithm>
#include <cctype>
#include <memory>
#include <ostream>

#include "balancer/balancer.hpp"
#include "balancer/http_server.hpp"
#include "io/text.hpp"

namespace tlb::cli {
namespace {

struct BalancerArgs : SplitFlags {
  std::string port;
  std::string bind = "127.0.0.1";
  std::string exit_after;
  std::string store;
  std::string record_dir;
  bool strict = false;
};

constexpr int kDefaultPort = 8019;

int resolve_port(const BalancerArgs& args, const Environment& env) {
  const std::optional<Setting> port =
      pick(args.flag("--port", args.port), "--port", env, "TLB_BALANCER_PORT");
  if (!port) return kDefaultPort;
  const std::optional<int> number = io::parse_int(io::trim(port->value));
  if (!number || *number > 65535) {
    throw UsageError(port->name + "=" + port->value + ": not a port (0 to 65535; 0 picks a free one)");
  }
  return *number;
}

int run_balancer(const BalancerArgs& args, std::ostream& out, std::ostream& err, const Environment& env) {
  std::vector<std::string> warnings;
  const std::optional<PartitionChoice> choice = resolve_partition(
      args.flag("--partition", args.partition), args.flag("--total", args.total), env, warnings);
  if (!choice) {
    throw UsageError(
        "no partition: a balancer serves one partition of the run; set TLB_PARTITION_NUMBER and "
        "TLB_TOTAL_PARTITIONS (or TLB_PARTITION=k/N, or --partition k/N)");
  }

  balancer::BalancerConfig config;
  config.partition = choice->number;
  config.total = choice->total;
  config.options = resolve_split_options(args, choice->total, env);
  config.orderers = resolve_orderers(args.flag("--orderer", args.orderer), env);
  config.strict = resolve_strict(args.strict, env);
  config.record_dir = args.record_dir;

  balancer::ServeOptions serve;
  serve.port = resolve_port(args, env);
  serve.bind = args.bind;
  serve.partition = std::to_string(choice->number) + "/" + std::to_string(choice->total);
  if (args.command->count("--exit-after") > 0) {
    const std::optional<double> seconds = io::parse_number(io::trim(args.exit_after));
    if (!seconds || *seconds <= 0 || *seconds > 1e8) {
      throw UsageError("--exit-after " + args.exit_after +
                       ": not a number of seconds (above 0, at most 1e8)");
    }
    serve.exit_after_seconds = *seconds;
  }

  resolve_today(env);  // A bad SOURCE_DATE_EPOCH stops the balancer now, not when the run reports.
  std::unique_ptr<store::Store> store;
  if (const std::optional<Setting> url = resolve_store(args.flag("--store", args.store), env)) {
    const store::ServerOptions server = resolve_server_options(env);
    store = open_store(*url, resolve_history_policy(env), server);
    if (store::is_server_url(url->value)) {
      config.server_store = true;
      config.job = server.job;
      config.job_version = server.job_version;
    }
  }
  for (const std::string& warning : warnings) err << "tlb: warning: " << warning << "\n";
  err.flush();

  balancer::Balancer balancer(
      std::move(config), std::move(store), [env] { return resolve_today(env); }, err);
  try {
    return balancer::serve(balancer, serve, out, err);
  } catch (const balancer::ListenError& e) {
    const bool from_env = args.command->count("--port") == 0 && env("TLB_BALANCER_PORT").has_value();
    throw UsageError(std::string(e.what()) + (from_env ? " (TLB_BALANCER_PORT)" : ""));
  }
}

}  // namespace

std::function<int(std::ostream&, std::ostream&, const Environment&)> add_balancer_command(CLI::App& app) {
  auto args = std::make_shared<BalancerArgs>();
  CLI::App* cmd = app.add_subcommand("balancer", "Serve the original TLB's balancing protocol over HTTP.");
  args->command = cmd;
  cmd->description(
      "Serve the original TLB's balancing protocol over HTTP, for test runners in any language.\n\n"
      "One balancer a partition, started before its tests run and stopped after them: the original's\n"
      "tlb-alien.jar, whose clients (tlb.rb...) work unchanged.\n\n"
      "Routes (text/plain bodies, one entry a line, separated by \\n):\n"
      "  POST /balance         test names; answers this partition's share, in the order to run them.\n"
      "                        Header X-Tlb-Module-Name: which list, when a client balances several\n"
      "  POST /suite_time      'name: ms' lines: how long each test took, in milliseconds\n"
      "  POST /suite_result    'name: true' (failed) or 'name: false' (passed) lines\n"
      "  GET  /control/status  RUNNING\n"
      "  GET  /control/suicide HALTING; then stores what is pending and exits 0\n"
      "  GET  /assert_all_partitions_executed  a TLB server's proof of the run: 200, else 417\n"
      "                        (501 with a timing file: run `tlb verify` on the --record-dir records)\n"
      "A malformed body gets 400 naming the line, and nothing of it is kept.\n\n"
      "The split is `tlb split`'s, from the same settings (partition, splitter, orderer, weights), made on\n"
      "the names sorted first: every partition's balancer agrees whatever order the names come in. The\n"
      "history is read from the store once, at the first /balance, and kept for the process's life. When\n"
      "every test of the partition has a time (and a result, once the client posts results), the run goes\n"
      "into the store in one batch; what is left goes at /control/suicide, SIGTERM or SIGINT. Durations\n"
      "are smoothed by the store with TLB_SMOOTHING_FACTOR (default 0.5), as `tlb record` does, not with\n"
      "the original's formula on the client. With a TLB server (TLB_STORE=http://host:7019, TLB_JOB_NAME,\n"
      "TLB_JOB_VERSION), /balance also reports the partition's tests to it, which checks them against the\n"
      "other partitions' as the original's correctness check did: a conflict is 417.\n\n"
      "Example session:\n"
      "  export TLB_PARTITION_NUMBER=2 TLB_TOTAL_PARTITIONS=4 TLB_STORE=.tlb/timings.txt\n"
      "  tlb balancer --record-dir records &\n"
      "  curl -s --data-binary $'suite/a\\nsuite/b\\nsuite/c' http://127.0.0.1:8019/balance\n"
      "  curl -s --data-binary 'suite/b: 1250' http://127.0.0.1:8019/suite_time\n"
      "  curl -s --data-binary 'suite/b: false' http://127.0.0.1:8019/suite_result\n"
      "  curl -s http://127.0.0.1:8019/control/suicide\n"
      "(curl -d would drop the line breaks of a file given with @; use --data-binary.)");
  cmd->add_option("--port", args->port, "Port to listen on; 0 picks a free one [TLB_BALANCER_PORT: 8019]")
      ->type_name("PORT");
  cmd->add_option("--bind", args->bind, "Address to listen on [127.0.0.1: this machine only]")
      ->type_name("ADDRESS");
  cmd->add_option("--exit-after", args->exit_after,
                  "Stop by itself after this long, as SIGTERM would (a safety net for scripts and tests)")
      ->type_name("SECONDS");
  cmd->add_option("--store", args->store,
                  "History: a timing file or server URL [TLB_STORE; none: no history]")
      ->type_name("URL");
  cmd->add_option("--record-dir", args->record_dir,
                  "Keep this partition's record in DIR/partition-K-of-N.json, results included (tlb verify)")
      ->type_name("DIR");
  add_split_flags(cmd, *args);
  cmd->add_flag("--strict", args->strict,
                "Answer /balance with 500 instead of splitting without history [TLB_STRICT]");
  cmd->footer(
      "On start it prints one line, 'tlb balancer: listening on http://127.0.0.1:PORT (partition k/N,\n"
      "history STORE)', and flushes it. Exit status: 0 stopped, 1 the last reports could not be stored,\n"
      "2 bad flag or variable, or the port cannot be bound. Every variable: README.md.");
  return [args](std::ostream& out, std::ostream& err, const Environment& env) {
    return run_balancer(*args, out, err, env);
  };
}

}  // namespace tlb::cli
