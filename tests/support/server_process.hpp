// A server (`tlb server`, `tlb balancer`) run as a real child process on loopback: started with the command
// line the caller gives (port 0, so the system picks a free port), ready once it printed its listening line,
// whose URL gives the port; stopped with SIGTERM in the destructor (SIGKILL if it does not stop). kill9() and
// restart() serve the durability tests: a restart runs the same command line again (same data directory, a
// new port).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/postgres_cluster.hpp"
#include "support/process.hpp"

namespace tlb::testing {

class ServerProcess {
 public:
  // Starts `argv` (argv[0] is the executable's path) with exactly `env` (plus PATH) and waits up to `timeout`
  // for a stdout line that starts with `listening_prefix` and holds "http://host:port". Throws, with what the
  // process wrote to stderr, when it exits or stays silent.
  ServerProcess(std::vector<std::string> argv, std::string listening_prefix,
                std::map<std::string, std::string> env = {},
                std::chrono::milliseconds timeout = std::chrono::seconds(20))
      : argv_(std::move(argv)),
        prefix_(std::move(listening_prefix)),
        env_(std::move(env)),
        timeout_(timeout) {
    start();
  }

  ~ServerProcess() {
    try {
      stop();
    } catch (...) {
    }
  }

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  const std::string& host() const { return host_; }
  // "http://host:port".
  std::string url() const { return "http://" + host_ + ":" + std::to_string(port_); }
  const std::string& listening_line() const { return line_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // What the process wrote to stderr so far (all of it once it has stopped).
  std::string err() const {
    std::lock_guard lock(*err_mutex_);
    return *err_text_;
  }
  // What it wrote to stdout after the listening line (all of it once it has stopped).
  std::string out() const {
    std::lock_guard lock(*err_mutex_);
    return *out_text_;
  }

  // SIGTERM, then waits (SIGKILL after 10 s). Returns the exit status (128 + signal when killed), or -1 when
  // it was not running.
  int stop() { return finish(SIGTERM); }

  // SIGKILL: the process dies at once, as in a power cut for everything not yet on disk.
  int kill9() { return finish(SIGKILL); }

  // Waits up to `timeout` for the process to end by itself (SIGKILL after that). Returns its exit status.
  int wait_exit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(pid_, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (done == 0) return finish(SIGKILL);
    pid_ = -1;
    if (out_reader_.joinable()) out_reader_.join();
    if (err_reader_.joinable()) err_reader_.join();
    return exit_status(status);
  }

  // Runs the same command line again (after stop() or kill9()).
  void restart() {
    if (running()) stop();
    start();
  }

 private:
  void start() {
    int out_pipe[2], err_pipe[2];
    if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
      posix_spawn_file_actions_addclose(&actions, fd);

    pid_t pid = 0;
    try {
      pid = spawn_process(argv_, env_, actions);
    } catch (...) {
      posix_spawn_file_actions_destroy(&actions);
      for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
      throw;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(out_pipe[1]);
    close(err_pipe[1]);
    pid_ = pid;
    err_text_ = std::make_shared<std::string>();
    out_text_ = std::make_shared<std::string>();
    err_reader_ =
        std::thread([fd = err_pipe[0], text = err_text_, mutex = err_mutex_] { drain(fd, *text, *mutex); });

    // Stdout up to the listening line; the rest is drained by a thread so that the pipe never fills.
    std::string buffer;
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    std::string failure;
    for (;;) {
      const std::size_t newline = buffer.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer.substr(0, newline);
        buffer.erase(0, newline + 1);
        if (line.rfind(prefix_, 0) == 0 && parse_url(line)) {
          line_ = std::move(line);
          break;
        }
        continue;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        failure = "no listening line within " + std::to_string(timeout_.count()) + " ms";
        break;
      }
      pollfd waiting{out_pipe[0], POLLIN, 0};
      if (poll(&waiting, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      const ssize_t n = read(out_pipe[0], chunk, sizeof chunk);
      if (n <= 0) {
        failure = "it exited before its listening line";
        break;
      }
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    {
      std::lock_guard lock(*err_mutex_);
      *out_text_ = buffer;
    }
    out_reader_ =
        std::thread([fd = out_pipe[0], text = out_text_, mutex = err_mutex_] { drain(fd, *text, *mutex); });
    if (!failure.empty()) {
      const int status = finish(SIGKILL);
      throw std::runtime_error(argv_[0] + ": " + failure + " (exit status " + std::to_string(status) +
                               "); stderr: " + err());
    }
  }

  // "http://host:port" anywhere in the line.
  bool parse_url(const std::string& line) {
    const std::size_t scheme = line.find("http://");
    if (scheme == std::string::npos) return false;
    const std::size_t start = scheme + 7;
    std::size_t end = start;
    while (end < line.size() && line[end] != '/' && line[end] != ' ' && line[end] != ')') ++end;
    const std::string authority = line.substr(start, end - start);
    const std::size_t colon = authority.rfind(':');
    if (colon == std::string::npos) return false;
    try {
      port_ = std::stoi(authority.substr(colon + 1));
    } catch (...) {
      return false;
    }
    host_ = authority.substr(0, colon);
    // A server bound to every address is reached on loopback.
    if (host_ == "0.0.0.0") host_ = "127.0.0.1";
    if (host_ == "[::]") host_ = "[::1]";
    return port_ > 0;
  }

  static void drain(int fd, std::string& into, std::mutex& mutex) {
    char buffer[4096];
    for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) {
      std::lock_guard lock(mutex);
      into.append(buffer, static_cast<std::size_t>(n));
    }
    close(fd);
  }

  int finish(int signal) {
    if (pid_ <= 0) return -1;
    kill(pid_, signal);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
    if (out_reader_.joinable()) out_reader_.join();
    if (err_reader_.joinable()) err_reader_.join();
    return exit_status(status);
  }

  std::vector<std::string> argv_;
  std::string prefix_;
  std::map<std::string, std::string> env_;
  std::chrono::milliseconds timeout_;
  pid_t pid_ = -1;
  std::string line_;
  std::string host_;
  int port_ = 0;
  std::shared_ptr<std::mutex> err_mutex_ = std::make_shared<std::mutex>();
  std::shared_ptr<std::string> err_text_ = std::make_shared<std::string>();
  std::shared_ptr<std::string> out_text_ = std::make_shared<std::string>();
  std::thread err_reader_;
  std::thread out_reader_;
};

// `tlb server` on loopback, port 0, on `data_dir`, with a safety net (--exit-after 600) and `extra` flags. On
// the tests' PostgreSQL run, on a database of its own for `data_dir` instead (postgres_cluster.hpp).
inline std::vector<std::string> tlb_server_command(const std::string& tlb, const std::string& data_dir,
                                                   std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{tlb, "server",     "--bind", "127.0.0.1",    "--port",
                                "0", "--data-dir", data_dir, "--exit-after", "600"};
  if (const auto database = test_postgres_database(data_dir))
    argv.insert(argv.end(), {"--database", *database});
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

inline constexpr const char* kTlbServerListening = "tlb server: listening on http://";

}  // namespace tlb::testing
