// `tlb server` under load: requests per second and latency percentiles of what CI runs ask of it, with 1, 10
// and 100 clients at once, each a thread with its own keep-alive connection:
//
//   record  POST /api/v1/jobs/{job}/versions/{v}/results, the results of one partition of 100 tests
//           (what `tlb record` sends); every post is a new run, so every one is folded in and committed.
//   split   GET /api/v1/jobs/{job}/versions/{v}/history, the frozen snapshot of a job of 10,000 tests (what
//           the hook reads before each partition's split); the snapshot is frozen by the first read.
//   queue   a pull and the report of what it handed out, by the jobs of one queue run (`tlb run --queue`'s
//           protocol) of 2,000 tests.
//
// The servers are the real `tlb` binary, started on loopback as a CI would run them: SQLite on one server
// (a fresh data directory; every write committed with fsync before the answer), then, with --postgres URL,
// PostgreSQL behind 1, 2 and 4 replicas, clients spread over them in turn as a load balancer would (a
// private cluster started for the run, as the tests make one, unless --postgres names a database).
// Usage: tlb_bench_server <path to tlb> [--seconds S] [--clients 1,10,100] [--tests 100] [--suite 10000]
//        [--queue-tests 2000] [--postgres URL] [--replicas 1,2,4] [--keep DIR]
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#ifdef TLB_TEST_POSTGRES
#include "support/postgres_cluster.hpp"
#endif

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

struct Options {
  std::string tlb;
  double seconds = 5;
  std::vector<int> clients = {1, 10, 100};
  int tests = 100;
  int suite = 10000;
  int queue_tests = 2000;
  std::string postgres;  // A PostgreSQL URL: the same rows on it, for each replica count.
  std::vector<int> replicas = {1, 2, 4};
  std::string keep;
};

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> values;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) values.push_back(std::stoi(item));
  return values;
}

Options parse_options(int argc, char** argv) {
  if (argc < 2) throw std::runtime_error("usage: tlb_bench_server <tlb> [--seconds S] [--clients 1,10,100]");
  Options options;
  options.tlb = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::runtime_error(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--seconds") {
      options.seconds = std::stod(value);
    } else if (flag == "--clients") {
      options.clients = parse_list(value);
    } else if (flag == "--tests") {
      options.tests = std::stoi(value);
    } else if (flag == "--suite") {
      options.suite = std::stoi(value);
    } else if (flag == "--queue-tests") {
      options.queue_tests = std::stoi(value);
    } else if (flag == "--postgres") {
      options.postgres = value;
    } else if (flag == "--replicas") {
      options.replicas = parse_list(value);
    } else if (flag == "--keep") {
      options.keep = value;
    } else {
      throw std::runtime_error("unknown flag " + flag);
    }
  }
  return options;
}

// One server as a child process; its first stdout line says where it listens. `store` are the arguments
// that say where it keeps its data (several replicas of one store get the same ones).
class Server {
 public:
  Server(const std::string& tlb, const std::vector<std::string>& store) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    // Up to 100 clients from one address: no cap on connections per address.
    std::vector<std::string> args = {tlb,
                                     "server",
                                     "--bind",
                                     "127.0.0.1",
                                     "--port",
                                     "0",
                                     "--exit-after",
                                     "3600",
                                     "--max-client-connections",
                                     "0"};
    args.insert(args.end(), store.begin(), store.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, tlb.c_str(), &actions, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("cannot start " + tlb);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    std::string line;
    char c = 0;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    const auto at = line.find("http://");
    if (at == std::string::npos) throw std::runtime_error("the server did not say where it listens: " + line);
    const std::string address = line.substr(at + 7, line.find_first_of(" (", at) - at - 7);
    port_ = std::stoi(address.substr(address.rfind(':') + 1));
  }
  ~Server() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = 0;
  int port_ = 0;
};

// The server's peak resident memory, from /proc.
std::string peak_rss(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmHWM:")) {
      std::istringstream fields(line.substr(6));
      long kib = 0;
      fields >> kib;
      std::ostringstream text;
      text << std::fixed << std::setprecision(1) << static_cast<double>(kib) / 1024.0 << " MiB";
      return text.str();
    }
  }
  return "?";
}

std::string results_body(int tests, int run, int client) {
  std::ostringstream body;
  body << std::fixed << std::setprecision(6);
  body << R"({"kind":"tlb-run-report","version":1,"partition":1,"total":1,"date":"2026-11-23",)"
       << R"("test_list_hash":"","smoothing_factor":0.5,"forget_after_days":30,"observations":[)";
  for (int t = 0; t < tests; ++t) {
    body << (t == 0 ? "" : ",") << R"({"name":"suite.case_)" << t << R"(","seconds":)"
         << 0.5 + t * 0.01 + run * 1e-6 + client * 1e-3 << R"(,"outcome":"passed"})";
  }
  body << "]}";
  return body.str();
}

struct Figures {
  std::size_t requests = 0, errors = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;
};

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const std::size_t index =
      std::min(sorted.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[index];
}

// `clients` threads, each with its own connection to one of `ports` in turn (as a load balancer in front of
// replicas would spread them), send `request` until the time is up or it answers `Sent::done`.
enum class Sent { ok, failed, done };

template <typename Request>
Figures load(const std::vector<int>& ports, int clients, double seconds, Request request) {
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
  std::vector<std::size_t> errors(static_cast<std::size_t>(clients), 0);
  std::atomic<bool> go{false};
  const auto deadline_after = std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  Clock::time_point start;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", ports[static_cast<std::size_t>(c) % ports.size()]);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(std::chrono::seconds(60));
      client.set_write_timeout(std::chrono::seconds(60));
      while (!go.load()) std::this_thread::yield();
      const Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(deadline_after);
      for (int i = 0; Clock::now() < deadline; ++i) {
        const Clock::time_point sent = Clock::now();
        const Sent outcome = request(client, c, i);
        if (outcome == Sent::done) break;
        latencies[static_cast<std::size_t>(c)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
        if (outcome == Sent::failed) ++errors[static_cast<std::size_t>(c)];
      }
    });
  }
  start = Clock::now();
  go.store(true);
  for (std::thread& t : threads) t.join();
  Figures figures;
  figures.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (int c = 0; c < clients; ++c) {
    figures.latencies_ms.insert(figures.latencies_ms.end(), latencies[static_cast<std::size_t>(c)].begin(),
                                latencies[static_cast<std::size_t>(c)].end());
    figures.errors += errors[static_cast<std::size_t>(c)];
  }
  figures.requests = figures.latencies_ms.size();
  std::sort(figures.latencies_ms.begin(), figures.latencies_ms.end());
  return figures;
}

Sent sent(const httplib::Result& result, int status = 200) {
  return result && result->status == status ? Sent::ok : Sent::failed;
}

void print_row(const std::string& store, const std::string& what, int clients, Figures& f) {
  std::cout << "| " << store << " | " << what << " | " << clients << " | " << f.requests << " | "
            << std::fixed << std::setprecision(0) << static_cast<double>(f.requests) / f.seconds << " | "
            << std::setprecision(2) << percentile(f.latencies_ms, 50) << " | "
            << percentile(f.latencies_ms, 99) << " | " << (f.latencies_ms.empty() ? 0 : f.latencies_ms.back())
            << " | " << f.errors << " |" << std::endl;
}

// Where one configuration keeps its data: `replicas` servers started with the same `args`.
struct Store {
  std::string label;  // "sqlite", "postgresql x2"...
  int replicas = 1;
  std::vector<std::string> args;
};

std::vector<int> ports_of(const std::vector<std::unique_ptr<Server>>& servers) {
  std::vector<int> ports;
  for (const auto& server : servers) ports.push_back(server->port());
  return ports;
}

void record_rows(const Options& options, const Store& store, const std::vector<int>& ports) {
  const std::string record_path = "/api/v1/jobs/bench-record/versions/";
  for (int clients : options.clients) {
    Figures f = load(ports, clients, options.seconds, [&](httplib::Client& client, int c, int i) {
      const std::string path = record_path + store.label.substr(0, 1) + std::to_string(store.replicas) + "-" +
                               std::to_string(clients) + "-" + std::to_string(c) + "-" + std::to_string(i) +
                               "/results";
      return sent(client.Post(path, results_body(options.tests, i, c), "application/json"));
    });
    print_row(store.label, "record " + std::to_string(options.tests) + " tests", clients, f);
  }
}

// A job of `suite` tests, recorded in one post, then its snapshot read over and over.
std::size_t split_rows(const Options& options, const Store& store, const std::vector<int>& ports) {
  httplib::Client seeder("127.0.0.1", ports.front());
  seeder.set_read_timeout(std::chrono::seconds(60));
  const auto seeded =
      seeder.Post("/api/v1/jobs/bench-split/results", results_body(options.suite, 0, 0), "application/json");
  if (!seeded || seeded->status != 200) throw std::runtime_error("cannot seed the split job");
  const std::string snapshot = "/api/v1/jobs/bench-split/versions/run-" + std::to_string(store.replicas) +
                               store.label.substr(0, 1) + "/history";
  std::atomic<std::size_t> bytes{0};
  for (int clients : options.clients) {
    Figures f = load(ports, clients, options.seconds, [&](httplib::Client& client, int, int) {
      const auto result = client.Get(snapshot);
      if (result) bytes = result->body.size();
      return sent(result);
    });
    print_row(store.label, "split read, " + std::to_string(options.suite) + " tests", clients, f);
  }
  return bytes;
}

struct Agent {
  std::string id, secret;
};

json post_json(httplib::Client& client, const std::string& path, const json& body) {
  const auto result = client.Post(path, body.dump(), "application/json");
  if (!result || (result->status != 200 && result->status != 201))
    throw std::runtime_error("POST " + path + " failed: " + (result ? result->body : "no answer"));
  return json::parse(result->body);
}

// A queue run (`tlb run --queue`'s protocol) of `queue_tests` tests of 4 s each, pulled by `clients` jobs
// spread over the replicas: each call is a pull and the report of what it got, as fast as the server answers.
void queue_rows(const Options& options, const Store& store, const std::vector<int>& ports) {
  const std::string hash = "fnv1a64:0000000000bench0";
  for (int clients : options.clients) {
    httplib::Client submitter("127.0.0.1", ports.front());
    submitter.set_read_timeout(std::chrono::seconds(60));
    const std::string version =
        "q" + std::to_string(store.replicas) + store.label.substr(0, 1) + "-" + std::to_string(clients);
    json tests = json::array();
    for (int t = 0; t < options.queue_tests; ++t)
      tests.push_back({{"name", "queue.case_" + std::to_string(t)}, {"cost", 4.0}});
    const json run = post_json(submitter, "/api/v1/swarm/runs",
                               {{"job", "bench-queue"},
                                {"version", version},
                                {"test_list_hash", hash},
                                {"mode", "queue"},
                                {"tests", tests}});
    std::vector<Agent> agents;
    for (int c = 0; c < clients; ++c) {
      httplib::Client client("127.0.0.1", ports[static_cast<std::size_t>(c) % ports.size()]);
      const json agent = post_json(
          client, "/api/v1/swarm/agents",
          {{"key", "bench-queue/" + version + "/partition-" + std::to_string(c + 1)},
           {"name", "job-" + std::to_string(c + 1)},
           {"test_list_hash", hash},
           {"attributes",
            {{"os", "Linux"}, {"arch", "x86_64"}, {"cores", 2}, {"ram_mb", 4000}, {"bench", 100.0}}}});
      agents.push_back({agent.at("agent").get<std::string>(), agent.at("secret").get<std::string>()});
    }
    std::atomic<std::size_t> pulled{0};
    Figures f = load(ports, clients, options.seconds, [&](httplib::Client& client, int c, int i) {
      const Agent& agent = agents[static_cast<std::size_t>(c)];
      const std::string base = "/api/v1/swarm/agents/" + agent.id;
      const auto pull = client.Post(base + "/pull",
                                    json{{"secret", agent.secret},
                                         {"request_id", agent.id + "-" + std::to_string(i)},
                                         {"run", run.at("run")}}
                                        .dump(),
                                    "application/json");
      if (!pull || pull->status != 200) return Sent::failed;
      json reports = json::array();
      const json answer = json::parse(pull->body);
      for (const json& given : answer.at("assignments"))
        reports.push_back({{"lease", given.at("lease")},
                           {"test", given.at("test")},
                           {"status", "passed"},
                           {"seconds", given.at("expected_seconds")}});
      if (reports.empty()) return Sent::done;
      pulled += reports.size();
      return sent(client.Post(base + "/report", json{{"secret", agent.secret}, {"reports", reports}}.dump(),
                              "application/json"));
    });
    print_row(store.label, "queue pull + report", clients, f);
    std::cout << "|  | (" << pulled.load() << " tests handed out) | | | | | | | |\n";
  }
}

// The stores to compare: SQLite on one server; PostgreSQL on 1, 2 and 4 replicas, each count on a
// database of its own (`--postgres URL`: that one database for all).
std::vector<Store> stores(const Options& options, const fs::path& data,
                          const std::function<std::string(int)>& database) {
  std::vector<Store> list = {{"sqlite", 1, {"--data-dir", (data / "sqlite").string()}}};
  if (!database) return list;
  for (int replicas : options.replicas)
    list.push_back({"postgresql x" + std::to_string(replicas),
                    replicas,
                    {"--database", database(replicas), "--data-dir", (data / "pg").string()}});
  return list;
}

#ifdef TLB_TEST_POSTGRES
// Without --postgres, a private PostgreSQL cluster (the tests' own, tests/support/postgres_cluster.hpp) in
// `data`, removed at the end; nullptr when PostgreSQL is not installed.
std::unique_ptr<tlb::testing::PostgresCluster> private_postgres(const fs::path& data) {
  const auto bin = tlb::testing::postgres_bin_dir();
  if (!bin) return nullptr;
  auto cluster = std::make_unique<tlb::testing::PostgresCluster>(data / "postgres", *bin);
  cluster->create(getpid(), TLB_TEST_POSTGRES);
  return cluster;
}
#endif

void bench_store(const Options& options, const Store& store) {
  std::vector<std::unique_ptr<Server>> servers;
  for (int r = 0; r < store.replicas; ++r)
    servers.push_back(std::make_unique<Server>(options.tlb, store.args));
  const std::vector<int> ports = ports_of(servers);
  record_rows(options, store, ports);
  const std::size_t bytes = split_rows(options, store, ports);
  queue_rows(options, store, ports);
  std::cout << "|  | snapshot " << bytes / 1024 << " KiB; peak RSS of each server:";
  for (const auto& server : servers) std::cout << " " << peak_rss(server->pid());
  std::cout << " | | | | | | | |" << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse_options(argc, argv);
    const fs::path data = options.keep.empty()
                              ? fs::temp_directory_path() / ("tlb-bench-server-" + std::to_string(getpid()))
                              : fs::path(options.keep);
    fs::remove_all(data);
    fs::create_directories(data);
    std::cout << "tlb server on 127.0.0.1, data in " << data.string() << "; " << options.seconds
              << " s per case; " << std::thread::hardware_concurrency() << " cores\n\n";
    std::cout << "| store | request | clients | requests | per second | p50 ms | p99 ms | max ms | errors |\n"
              << "|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
    std::function<std::string(int)> database;
    if (!options.postgres.empty()) database = [&](int) { return options.postgres; };
#ifdef TLB_TEST_POSTGRES
    const auto cluster = options.postgres.empty() ? private_postgres(data) : nullptr;
    if (cluster) {
      std::cout << "PostgreSQL: a private cluster on 127.0.0.1:" << cluster->port() << " (fsync on)\n\n";
      database = [&](int replicas) {
        const std::string name = "bench" + std::to_string(replicas);
        cluster->sql("CREATE DATABASE " + name);
        return cluster->url(name);
      };
    }
#endif
    if (!database) std::cout << "(no PostgreSQL: give --postgres URL, or install Debian's postgresql)\n\n";
    for (const Store& store : stores(options, data, database)) bench_store(options, store);
#ifdef TLB_TEST_POSTGRES
    if (cluster) cluster->remove();
#endif
    if (options.keep.empty()) fs::remove_all(data);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "tlb_bench_server: " << e.what() << "\n";
    return 1;
  }
}
