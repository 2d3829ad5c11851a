// `tlb server` under load: requests per second and latency percentiles of the two requests every CI run
// makes, with 1, 10 and 100 clients at once, each a thread with its own keep-alive connection:
//
//   record  POST /api/v1/jobs/{job}/versions/{v}/results, the results of one partition of 100 tests
//           (what `tlb record` sends); every post is a new run, so every one is folded in and committed.
//   split   GET /api/v1/jobs/{job}/versions/{v}/history, the frozen snapshot of a job of 10,000 tests (what
//   the
//           hook reads before each partition's split); the snapshot is frozen by the first read.
//
// The server is the real `tlb` binary, started on loopback with a fresh data directory, as a CI would run it;
// SQLite commits every write with fsync before answering (synchronous=FULL), so the record figures include
// the disk. Usage: tlb_bench_server <path to tlb> [--seconds S] [--clients 1,10,100] [--tests 100]
//              [--suite 10000] [--keep DIR]
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
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string tlb;
  double seconds = 5;
  std::vector<int> clients = {1, 10, 100};
  int tests = 100;
  int suite = 10000;
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
    } else if (flag == "--keep") {
      options.keep = value;
    } else {
      throw std::runtime_error("unknown flag " + flag);
    }
  }
  return options;
}

// The server as a child process; its first stdout line says where it listens.
class Server {
 public:
  Server(const std::string& tlb, const fs::path& data) {
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
                                     "--data-dir",
                                     data.string(),
                                     "--exit-after",
                                     "3600",
                                     "--max-client-connections",
                                     "0"};
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

// `clients` threads, each with its own connection, send `request` until the time is up.
template <typename Request>
Figures load(int port, int clients, double seconds, Request request) {
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
  std::vector<std::size_t> errors(static_cast<std::size_t>(clients), 0);
  std::atomic<bool> go{false};
  const auto deadline_after = std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  Clock::time_point start;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(std::chrono::seconds(60));
      client.set_write_timeout(std::chrono::seconds(60));
      while (!go.load()) std::this_thread::yield();
      const Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(deadline_after);
      for (int i = 0; Clock::now() < deadline; ++i) {
        const Clock::time_point sent = Clock::now();
        const bool ok = request(client, c, i);
        latencies[static_cast<std::size_t>(c)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
        if (!ok) ++errors[static_cast<std::size_t>(c)];
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

void print_row(const std::string& what, int clients, Figures& f) {
  std::cout << "| " << what << " | " << clients << " | " << f.requests << " | " << std::fixed
            << std::setprecision(0) << static_cast<double>(f.requests) / f.seconds << " | "
            << std::setprecision(2) << percentile(f.latencies_ms, 50) << " | "
            << percentile(f.latencies_ms, 99) << " | " << f.latencies_ms.back() << " | " << f.errors << " |"
            << std::endl;
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
    Server server(options.tlb, data);
    std::cout << "tlb server on 127.0.0.1:" << server.port() << ", data in " << data.string() << "; "
              << options.seconds << " s per case; " << std::thread::hardware_concurrency() << " cores\n\n";
    std::cout << "| request | clients | requests | per second | p50 ms | p99 ms | max ms | errors |\n"
              << "|---|---:|---:|---:|---:|---:|---:|---:|\n";

    const std::string record_path = "/api/v1/jobs/bench-record/versions/";
    for (int clients : options.clients) {
      Figures f = load(server.port(), clients, options.seconds, [&](httplib::Client& client, int c, int i) {
        const std::string path = record_path + "run-" + std::to_string(clients) + "-" + std::to_string(c) +
                                 "-" + std::to_string(i) + "/results";
        const auto result = client.Post(path, results_body(options.tests, i, c), "application/json");
        return result && result->status == 200;
      });
      print_row("record " + std::to_string(options.tests) + " tests", clients, f);
    }

    // A job of `suite` tests, recorded in one post, then its snapshot read over and over.
    {
      httplib::Client client("127.0.0.1", server.port());
      client.set_read_timeout(std::chrono::seconds(60));
      const auto seeded = client.Post("/api/v1/jobs/bench-split/results", results_body(options.suite, 0, 0),
                                      "application/json");
      if (!seeded || seeded->status != 200) throw std::runtime_error("cannot seed the split job");
    }
    const std::string snapshot = "/api/v1/jobs/bench-split/versions/run-1/history";
    std::size_t bytes = 0;
    for (int clients : options.clients) {
      Figures f = load(server.port(), clients, options.seconds, [&](httplib::Client& client, int, int) {
        const auto result = client.Get(snapshot);
        if (result) bytes = result->body.size();
        return result && result->status == 200;
      });
      print_row("split read, " + std::to_string(options.suite) + " tests", clients, f);
    }
    std::cout << "\nsnapshot " << bytes / 1024 << " KiB; server peak RSS " << peak_rss(server.pid()) << "\n";
    if (options.keep.empty()) fs::remove_all(data);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "tlb_bench_server: " << e.what() << "\n";
    return 1;
  }
}
