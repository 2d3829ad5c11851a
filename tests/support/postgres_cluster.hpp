// A private PostgreSQL cluster from Debian's `postgresql` package, for the tests of the server's PostgreSQL
// backend: made with initdb in a directory of its own, listening on a free loopback TCP port only (its unix
// socket inside that directory), fsync on, run as a non-root user (`nobody` through setpriv when the tests
// run as root). A watchdog process stops it and removes the directory when the process that started it dies,
// so a crashed test leaves nothing running.
//
// tlb_test_postgres (postgres_cluster_main.cpp) starts and stops one cluster per ctest run (a fixture); the
// durability test starts its own, to kill it.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <locale.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"

namespace tlb::testing {

// The bin directory of the newest PostgreSQL installed (/usr/lib/postgresql/N/bin with initdb), or nullopt.
inline std::optional<std::filesystem::path> postgres_bin_dir() {
  std::optional<std::filesystem::path> newest;
  int newest_version = -1;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!std::filesystem::exists(entry.path() / "bin" / "initdb")) continue;
    if (const int version = std::stoi(name); version > newest_version) {
      newest_version = version;
      newest = entry.path() / "bin";
    }
  }
  return newest;
}

// A free TCP port on 127.0.0.1 (the system's pick for port 0).
inline int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("no free loopback port");
  }
  close(fd);
  return ntohs(address.sin_port);
}

// The cluster's locale: German where setup.sh generated it, so that its default collation orders text unlike
// bytes ("a" before "B") and a query that forgets COLLATE "C" shows; else C.UTF-8.
inline std::string cluster_locale() {
  if (locale_t german = newlocale(LC_ALL_MASK, "de_DE.UTF-8", nullptr)) {
    freelocale(german);
    return "de_DE.UTF-8";
  }
  return "C.UTF-8";
}

class PostgresCluster {
 public:
  // A cluster in `dir` (created; removed by remove()). `bin`: postgres_bin_dir().
  PostgresCluster(std::filesystem::path dir, std::filesystem::path bin)
      : dir_(std::move(dir)), bin_(std::move(bin)) {}

  // Reopens a cluster that start() left running in `dir` (its port is in dir/port).
  static PostgresCluster attach(const std::filesystem::path& dir, const std::filesystem::path& bin) {
    PostgresCluster cluster(dir, bin);
    std::ifstream(dir / "port") >> cluster.port_;
    return cluster;
  }

  const std::filesystem::path& dir() const { return dir_; }
  int port() const { return port_; }
  // The URL of database `name` as its superuser, tlb (no password: trust on loopback).
  std::string url(const std::string& name = "postgres") const {
    return "postgresql://tlb@127.0.0.1:" + std::to_string(port_) + "/" + name;
  }

  // initdb, then start(); a watchdog (the program `watchdog`, tlb_test_postgres) stops the cluster and
  // removes its directory once `owner` (a process id) has exited.
  void create(pid_t owner, const std::string& watchdog) {
    if (std::filesystem::exists(dir_ / "port")) attach(dir_, bin_).remove();  // Left by a run that died.
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "socket");
    if (geteuid() == 0) {
      for (const auto& path : {dir_, dir_ / "socket"}) {
        if (chown(path.c_str(), 65534, 65534) != 0) throw std::runtime_error("cannot chown " + path.string());
      }
    }
    check(run({(bin_ / "initdb").string(), "--pgdata", (dir_ / "data").string(), "--username", "tlb",
               "--auth", "trust", "--encoding", "UTF8", "--locale", cluster_locale(), "--no-sync"}),
          "initdb");
    port_ = free_loopback_port();
    std::ofstream(dir_ / "port") << port_;
    std::ofstream(dir_ / "owner") << owner;
    start();
    watch(owner, watchdog);
  }

  // Starts the postmaster as a child of this process (not through pg_ctl, whose postmaster nobody may reap
  // once killed: its pid would stay and stop the next start), its output appended to dir/log; waits until it
  // accepts connections.
  void start() {
    std::vector<std::string> argv{(bin_ / "postgres").string(),
                                  "-D",
                                  (dir_ / "data").string(),
                                  "-c",
                                  "listen_addresses=127.0.0.1",
                                  "-c",
                                  "port=" + std::to_string(port_),
                                  "-c",
                                  "unix_socket_directories=" + (dir_ / "socket").string(),
                                  "-c",
                                  "fsync=on",
                                  "-c",
                                  "synchronous_commit=on",
                                  "-c",
                                  "max_connections=200"};
    if (geteuid() == 0) argv.insert(argv.begin(), kAsNobody.begin(), kAsNobody.end());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = (dir_ / "log").string();
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    try {
      postmaster_ = spawn_process(argv, {{"LC_ALL", "C.UTF-8"}}, actions, "/usr/bin:/bin", true);
    } catch (...) {
      posix_spawn_file_actions_destroy(&actions);
      throw;
    }
    posix_spawn_file_actions_destroy(&actions);
    for (int i = 0; i < 600; ++i) {
      const ProcessResult ready = run_process({(bin_ / "pg_isready").string(), "--host", "127.0.0.1",
                                               "--port", std::to_string(port_), "--timeout", "1"});
      if (ready.exit_code == 0) return;
      if (waitpid(postmaster_, nullptr, WNOHANG) == postmaster_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    check(ProcessResult{1, "", ""}, "postgres");
  }

  // SIGKILL to the postmaster and every process it started, as a crash would: nothing flushed, no shutdown.
  void kill9() {
    const pid_t postmaster = postmaster_pid();
    if (postmaster <= 0) return;
    ::kill(postmaster, SIGSTOP);  // Frozen, it starts no process between the listing and the kill.
    std::vector<pid_t> children;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(entry.path() / "stat");
      std::string pid, comm, state;
      pid_t parent = 0;
      stat >> pid >> comm >> state >> parent;
      if (parent == postmaster) children.push_back(std::stoi(name));
    }
    ::kill(postmaster, SIGKILL);
    for (pid_t child : children) ::kill(child, SIGKILL);
    for (pid_t pid : children) wait_gone(pid);
    if (postmaster == postmaster_) waitpid(postmaster_, nullptr, 0);
    wait_gone(postmaster);
  }

  // Stops the cluster (immediately) and removes its directory.
  void remove() {
    run({(bin_ / "pg_ctl").string(), "--pgdata", (dir_ / "data").string(), "--mode", "immediate", "--wait",
         "stop"});
    if (postmaster_ > 0) waitpid(postmaster_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }

  // Runs `sql` in database `database` with psql; returns its output (unaligned, tuples only). Throws on
  // error.
  std::string sql(const std::string& statement, const std::string& database = "postgres") const {
    const ProcessResult result =
        run_process({(bin_ / "psql").string(), "--no-psqlrc", "--quiet", "--tuples-only", "--no-align",
                     "--set", "ON_ERROR_STOP=1", "--command", statement, url(database)});
    if (result.exit_code != 0) throw std::runtime_error("psql: " + statement + ": " + result.err);
    return result.out;
  }

 private:
  // What runs the cluster's commands as `nobody` when we are root.
  static constexpr std::array<const char*, 4> kAsNobody{"/usr/bin/setpriv", "--reuid=nobody",
                                                        "--regid=nogroup", "--clear-groups"};

  // Runs a cluster command as the cluster's user: `nobody` when we are root.
  ProcessResult run(std::vector<std::string> argv) const {
    if (geteuid() == 0) argv.insert(argv.begin(), kAsNobody.begin(), kAsNobody.end());
    return run_process(argv, {{"LC_ALL", "C.UTF-8"}});
  }

  void check(const ProcessResult& result, const std::string& what) const {
    if (result.exit_code == 0) return;
    std::string log;
    std::ifstream file(dir_ / "log");
    log.assign(std::istreambuf_iterator<char>(file), {});
    throw std::runtime_error(what + " failed (exit " + std::to_string(result.exit_code) + "): " + result.err +
                             result.out + log);
  }

  pid_t postmaster_pid() const {
    std::ifstream file(dir_ / "data" / "postmaster.pid");
    pid_t pid = 0;
    file >> pid;
    return pid;
  }

  // Until `pid` has exited (a zombie counts: in a container nobody may reap what the postmaster left).
  static void wait_gone(pid_t pid) {
    const auto running = [pid] {
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string id, comm, state;
      return static_cast<bool>(stat >> id >> comm >> state) && state != "Z";
    };
    for (int i = 0; i < 1000 && running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  // Starts `watchdog watch OWNER DIR BIN` (tlb_test_postgres) in a session of its own, its output to
  // /dev/null (ctest waits for no pipe of it).
  void watch(pid_t owner, const std::string& watchdog) const {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    for (int fd = 0; fd < 3; ++fd) posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID);
    std::vector<std::string> argv{watchdog, "watch", std::to_string(owner), dir_.string(), bin_.string()};
    std::vector<char*> c_argv;
    for (auto& arg : argv) c_argv.push_back(arg.data());
    c_argv.push_back(nullptr);
    char* no_env[] = {nullptr};
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, watchdog.c_str(), &actions, &attributes, c_argv.data(), no_env);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (spawned != 0) throw std::runtime_error("cannot start " + watchdog);
  }

 public:
  // The watchdog's loop: once `owner` has exited (or the cluster is gone), removes the cluster.
  void watch_loop(pid_t owner) const {
    const auto mine = [&] {
      pid_t written = 0;
      std::ifstream(dir_ / "owner") >> written;
      return written == owner;  // Else the cluster is gone, or another run made a new one here.
    };
    while (::kill(owner, 0) == 0 && mine()) std::this_thread::sleep_for(std::chrono::seconds(1));
    if (mine()) PostgresCluster(dir_, bin_).remove();
  }

 private:
  std::filesystem::path dir_;
  std::filesystem::path bin_;
  int port_ = 0;
  pid_t postmaster_ = -1;  // Started by this object: its child, reaped once stopped.
};

// The tests' run on PostgreSQL (ctest's postgres.* tests set TLB_TEST_POSTGRES_DIR, the fixture's cluster):
// the URL of a schema of its own for `key` (a server's data directory), created when first asked for; a
// schema, not a database, because a database is megabytes to write and to remove. nullopt on the SQLite run.
inline std::optional<std::string> test_postgres_database(const std::string& key) {
  const char* dir = std::getenv("TLB_TEST_POSTGRES_DIR");
  if (dir == nullptr || *dir == '\0') return std::nullopt;
  const auto bin = postgres_bin_dir();
  if (!bin || !std::filesystem::exists(std::filesystem::path(dir) / "port")) {
    throw std::runtime_error(std::string("TLB_TEST_POSTGRES_DIR=") + dir +
                             " holds no cluster (did postgres.start fail?)");
  }
  const PostgresCluster cluster = PostgresCluster::attach(dir, *bin);
  char name[32];
  std::snprintf(name, sizeof name, "t%016zx", std::hash<std::string>{}(key));
  cluster.sql(std::string("CREATE SCHEMA IF NOT EXISTS ") + name);
  return cluster.url() + "?options=-csearch_path%3D" + name;
}

}  // namespace tlb::testing
