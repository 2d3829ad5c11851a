#include "cli/server_command.hpp"

#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <thread>

#include "cli/app.hpp"
#include "io/text.hpp"
#include "platform/platform.hpp"
#include "server/database.hpp"
#include "server/database_copy.hpp"
#include "server/server.hpp"

namespace tlb::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kPurgeEverySeconds = 3600;

struct ServerArgs {
  std::optional<std::string> port;
  std::optional<std::string> bind;
  std::optional<std::string> data_dir;
  std::optional<std::string> database;
  std::optional<std::string> copy_from;
  std::optional<std::string> token;
  std::optional<std::string> max_request_bytes;
  std::optional<std::string> version_life_days;
  std::optional<std::string> threads;
  std::optional<std::string> exit_after;
  std::optional<std::string> swarm_heartbeat;
  std::optional<std::string> swarm_lease;
  std::optional<std::string> request_timeout;
  std::optional<std::string> max_client_connections;
  std::optional<std::string> max_jobs;
  bool insecure = false;
};

// A whole number in [low, high] from a flag or its variable (pick()), else `fallback`.
long long whole(const std::optional<Setting>& setting, long long low, long long high, long long fallback) {
  if (!setting) return fallback;
  const std::string text(io::trim(setting->value));
  long long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < low ||
      value > high) {
    throw UsageError(setting->name + "=" + setting->value + ": not a whole number from " +
                     std::to_string(low) + " to " + std::to_string(high));
  }
  return value;
}

// An address only this machine reaches.
bool loopback(const std::string& address) {
  return address == "localhost" || address == "::1" || address.starts_with("127.");
}

std::string url_host(const std::string& address) {
  return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

// Where the server keeps everything: --database (a postgresql:// URL, or a SQLite file), else
// <data-dir>/tlb.sqlite3, the data directory created when missing.
std::string database_location(const ServerArgs& args, const Environment& env, const std::string& data_dir) {
  if (auto database = pick(args.database, "--database", env, "TLB_DATABASE")) {
    if (io::trim(database->value).empty())
      throw UsageError(database->name + " is empty: give a URL or a file");
    return database->value;
  }
  std::error_code error;
  fs::create_directories(data_dir, error);
  if (error) throw io::InputError(data_dir, 0, "cannot create the data directory: " + error.message());
  return (fs::path(data_dir) / "tlb.sqlite3").string();
}

// --copy-from: a SQLite store's tables into `database`, a PostgreSQL one still empty; says what it copied.
void copy_store(const std::string& file, server::Database& database, std::ostream& err) {
  if (database.dialect() != server::db::Dialect::postgres) {
    throw UsageError("--copy-from needs --database postgresql://... (the database to copy the store into)");
  }
  std::error_code error;
  if (!fs::is_regular_file(file, error)) throw io::InputError(file, 0, "no such SQLite store (--copy-from)");
  server::Database source(file);
  std::int64_t total = 0;
  std::string tables;
  for (const auto& [table, rows] : server::copy_database(source, database)) {
    total += rows;
    if (rows > 0) tables += (tables.empty() ? "" : ", ") + table + " " + std::to_string(rows);
  }
  err << "tlb server: copied " << total << " rows from " << file << " into " << database.path()
      << (tables.empty() ? "" : " (" + tables + ")") << "\n"
      << std::flush;
}

int run_server(const ServerArgs& args, std::ostream& out, std::ostream& err, const Environment& env) {
  const int port = static_cast<int>(whole(pick(args.port, "--port", env, "TLB_SERVER_PORT"), 0, 65535, 7019));
  const std::string bind =
      pick(args.bind, "--bind", env, "TLB_SERVER_BIND").value_or(Setting{"127.0.0.1", ""}).value;
  const std::string data_dir =
      pick(args.data_dir, "--data-dir", env, "TLB_DATA_DIR").value_or(Setting{"tlb_store", ""}).value;
  server::ServerOptions options;
  // The environment reads an empty variable as unset; a TLB_TOKEN set empty is still a token meant and
  // missing, which would leave writes open.
  if (const char* raw = std::getenv("TLB_TOKEN"); !args.token && raw != nullptr && *raw == '\0') {
    throw UsageError("TLB_TOKEN is empty: give a token (writes would be open to anyone), or unset it");
  }
  if (auto token = pick(args.token, "--token", env, "TLB_TOKEN")) {
    if (io::trim(token->value).empty()) {
      throw UsageError(token->name + " is empty: give a token (writes would be open to anyone), or unset it");
    }
    options.token = token->value;
  }
  if (!options.token && !loopback(bind) && !args.insecure) {
    throw UsageError(
        "--bind " + bind +
        " reaches other machines, and without a token anyone there could write: set TLB_TOKEN, or "
        "say --insecure");
  }
  options.request_timeout_seconds = static_cast<int>(
      whole(pick(args.request_timeout, "--request-timeout", env, "TLB_SERVER_REQUEST_TIMEOUT"), 1, 3600, 30));
  options.max_client_connections = static_cast<int>(whole(
      pick(args.max_client_connections, "--max-client-connections", env, "TLB_SERVER_MAX_CLIENT_CONNECTIONS"),
      0, 100'000, 32));
  // A test hook: each answer says how many stored records its request parsed.
  if (const char* count = std::getenv("TLB_SERVER_COUNT_PARSES"); count != nullptr && *count != '\0') {
    options.count_parses = std::string_view(count) != "0";
  }
  options.max_jobs = static_cast<std::size_t>(
      whole(pick(args.max_jobs, "--max-jobs", env, "TLB_SERVER_MAX_JOBS"), 0, 100'000'000, 1000));
  options.max_request_bytes = static_cast<std::size_t>(
      whole(pick(args.max_request_bytes, "--max-request-bytes", env, "TLB_MAX_REQUEST_BYTES"), 1, 1LL << 40,
            64LL << 20));
  options.version_life_days = static_cast<int>(
      whole(pick(args.version_life_days, "--version-life-days", env, "TLB_VERSION_LIFE_IN_DAYS"), -1,
            1'000'000, 7));
  options.threads =
      static_cast<int>(whole(pick(args.threads, "--threads", env, "TLB_SERVER_THREADS"), 1, 1024, 0));
  options.swarm.heartbeat_seconds = static_cast<double>(
      whole(pick(args.swarm_heartbeat, "--swarm-heartbeat-seconds", env, "TLB_SWARM_HEARTBEAT_SECONDS"), 1,
            3600, 10));
  options.swarm.lease_seconds = static_cast<double>(
      whole(pick(args.swarm_lease, "--swarm-lease-seconds", env, "TLB_SWARM_LEASE_SECONDS"), 1, 86400,
            static_cast<long long>(3 * options.swarm.heartbeat_seconds)));
  if (options.swarm.lease_seconds < 2 * options.swarm.heartbeat_seconds) {
    throw UsageError(
        "--swarm-lease-seconds must be at least twice --swarm-heartbeat-seconds, or an agent "
        "between two heartbeats would lose its tests");
  }
  std::optional<Setting> exit_setting;
  if (args.exit_after) exit_setting = Setting{*args.exit_after, "--exit-after"};
  const long long exit_after = whole(exit_setting, 1, 1LL << 40, 0);
  options.tlb_version = TLB_VERSION;
  if (env("SOURCE_DATE_EPOCH")) {
    // Reproducible dates (tests, reproducible builds): the day SOURCE_DATE_EPOCH names, as tlb record uses.
    const store::Date today = resolve_today(env);
    options.today = [today] { return today; };
  }

  server::Database database(database_location(args, env, data_dir));
  if (args.copy_from) copy_store(*args.copy_from, database, err);
  server::Server server(database, options);
  if (const std::size_t purged = server.purge(); purged > 0) {
    err << "tlb server: purged " << purged << " version" << (purged == 1 ? "" : "s") << " older than "
        << options.version_life_days << " days\n";
  }

  platform::StopSignals signals;  // Before any thread starts, so that they all block SIGINT and SIGTERM.
  const int bound = server.bind(bind, port);
  out << "tlb server: listening on http://" << url_host(bind) << ":" << bound << " (data " << database.path()
      << ", " << (options.token ? "writes need a token" : "writes open") << ")" << std::endl;

  std::atomic<bool> served{false};
  std::thread control([&] {
    const auto start = std::chrono::steady_clock::now();
    auto last_purge = start;
    auto last_tick = start;
    std::string reason;
    while (!served) {
      if (const int signal = signals.wait(std::chrono::milliseconds(200)); signal != 0) {
        reason = signal == SIGTERM ? "SIGTERM" : "SIGINT";
        break;
      }
      const auto now = std::chrono::steady_clock::now();
      if (exit_after > 0 && now - start >= std::chrono::seconds(exit_after)) {
        reason = "--exit-after " + std::to_string(exit_after);
        break;
      }
      if (now - last_tick >= std::chrono::seconds(1)) {
        last_tick = now;
        try {
          server.tick();
        } catch (const std::exception& e) {
          err << "tlb server: warning: swarm tick failed: " << e.what() << "\n" << std::flush;
        }
      }
      if (now - last_purge >= std::chrono::seconds(kPurgeEverySeconds)) {
        last_purge = now;
        try {
          if (const std::size_t purged = server.purge(); purged > 0) {
            err << "tlb server: purged " << purged << " version" << (purged == 1 ? "" : "s") << "\n"
                << std::flush;
          }
        } catch (const std::exception& e) {
          err << "tlb server: warning: purge failed: " << e.what() << "\n" << std::flush;
        }
      }
    }
    if (!reason.empty()) err << "tlb server: stopping (" << reason << ")\n" << std::flush;
    // stop() before serve() listens does nothing: repeat until serve() has returned.
    while (!served) {
      server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  server.serve();
  served = true;
  control.join();
  return kSuccess;
}

}  // namespace

std::function<int(std::ostream&, std::ostream&, const Environment&)> add_server_command(CLI::App& app) {
  auto args = std::make_shared<ServerArgs>();
  CLI::App* cmd =
      app.add_subcommand("server", "Serve test history and partition records to every CI job over HTTP.");
  cmd->description(
      "Serve test history and partition records to every CI job over HTTP.\n\n"
      "Jobs point TLB_STORE at it (TLB_STORE=http://host:7019, with TLB_JOB_NAME and, per CI run,\n"
      "TLB_JOB_VERSION): each partition splits on the version's snapshot of the history, frozen when the\n"
      "first partition asks, posts its partition record (checked against the others: same test list, no\n"
      "test in two partitions), and posts its results, which are folded into the job's live history once.\n"
      "GET /api/v1/jobs/JOB/versions/VERSION/verify proves the run complete. The original TLB's clients\n"
      "work too (suite_time, suite_result, subset_size, correctness_check). GET / is a read-only dashboard\n"
      "(HTML: jobs, runs, each run's report); GET /api/v1/routes lists every route.\n\n"
      "It is also the swarm's coordinator (/api/v1/swarm): `tlb agent` processes register and pull tests,\n"
      "`tlb swarm run` submits a suite and waits for its results (docs/swarm-protocol.md).\n\n"
      "Everything is kept in <data-dir>/tlb.sqlite3 (SQLite, WAL, synchronous=FULL), or with --database\n"
      "postgresql://user@host:port/db in PostgreSQL, which several servers behind one load balancer can\n"
      "share (--copy-from moves a SQLite store there; several servers on one host may also share one\n"
      "--data-dir): a write is on disk before it is acknowledged.\n"
      "Versions first seen more than --version-life-days ago are purged at start and hourly; the live\n"
      "history ages by the history policy the clients send.\n\n"
      "Example:\n"
      "  TLB_TOKEN=s3cret tlb server --bind 0.0.0.0 --port 7019 --data-dir /var/lib/tlb\n\n"
      "The token travels in clear over plain HTTP: beyond a trusted network, put a TLS reverse proxy in\n"
      "front (README, 'Running a server safely').");
  cmd->add_option("--port", args->port, "Port to listen on; 0 picks a free one [TLB_SERVER_PORT, 7019]")
      ->type_name("PORT");
  cmd->add_option("--bind", args->bind,
                  "Address to listen on; another than loopback needs a token or --insecure [TLB_SERVER_BIND, "
                  "127.0.0.1]")
      ->type_name("ADDRESS");
  cmd->add_flag("--insecure", args->insecure,
                "Listen on another address than loopback without a token: anyone who reaches it can write");
  cmd->add_option("--data-dir", args->data_dir,
                  "Where the database lives; created if missing [TLB_DATA_DIR, tlb_store]")
      ->type_name("DIR");
  cmd->add_option("--database", args->database,
                  "postgresql://user[:password]@host[:port]/db (password also from PGPASSWORD or ~/.pgpass), "
                  "or a SQLite file [TLB_DATABASE, <data-dir>/tlb.sqlite3]")
      ->type_name("URL|FILE");
  cmd->add_option(
         "--copy-from", args->copy_from,
         "Before serving, copy this SQLite store (a tlb.sqlite3) into --database, a PostgreSQL database "
         "that must be empty")
      ->type_name("FILE");
  cmd->add_option(
         "--token", args->token,
         "Writes (POST, PUT) need 'Authorization: Bearer TOKEN'; prefer the variable, which ps does not "
         "show; never empty [TLB_TOKEN; unset: writes open, on loopback only unless --insecure]")
      ->type_name("TOKEN");
  cmd->add_option("--max-request-bytes", args->max_request_bytes,
                  "Larger request bodies are refused with 413 [TLB_MAX_REQUEST_BYTES, 67108864]")
      ->type_name("BYTES");
  cmd->add_option("--version-life-days", args->version_life_days,
                  "Purge versions first seen longer ago; -1 never [TLB_VERSION_LIFE_IN_DAYS, 7]")
      ->type_name("DAYS");
  cmd->add_option(
         "--request-timeout", args->request_timeout,
         "A request's line, headers and body must arrive within this, and its answer leave within it "
         "again; else 408 [TLB_SERVER_REQUEST_TIMEOUT, 30]")
      ->type_name("SECONDS");
  cmd->add_option("--max-client-connections", args->max_client_connections,
                  "Connections open at once from one address; more get 503; 0 no cap "
                  "[TLB_SERVER_MAX_CLIENT_CONNECTIONS, 32]")
      ->type_name("N");
  cmd->add_option("--max-jobs", args->max_jobs,
                  "Jobs the server holds; a write that would add one more gets 403; 0 no limit "
                  "[TLB_SERVER_MAX_JOBS, 1000]")
      ->type_name("N");
  cmd->add_option("--threads", args->threads, "Requests served at once [TLB_SERVER_THREADS, 64]")
      ->type_name("N");
  cmd->add_option("--swarm-heartbeat-seconds", args->swarm_heartbeat,
                  "How often swarm agents send a heartbeat [TLB_SWARM_HEARTBEAT_SECONDS, 10]")
      ->type_name("SECONDS");
  cmd->add_option("--swarm-lease-seconds", args->swarm_lease,
                  "A swarm agent silent this long loses its tests to others [TLB_SWARM_LEASE_SECONDS, 3 x "
                  "heartbeat]")
      ->type_name("SECONDS");
  cmd->add_option("--exit-after", args->exit_after, "Stop by itself after this long (a safety net for tests)")
      ->type_name("SECONDS");
  cmd->footer(
      "On start it prints one line: 'tlb server: listening on http://ADDRESS:PORT (data FILE, writes ...)'.\n"
      "SIGTERM or SIGINT: stops accepting, answers the requests under way, closes the database, exits 0.\n"
      "Exit status: 0 stopped, 1 the database or the address cannot be used, 2 bad flag or variable.");
  return [args](std::ostream& out, std::ostream& err, const Environment& env) {
    return run_server(*args, out, err, env);
  };
}

}  // namespace tlb::cli
