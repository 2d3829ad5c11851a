// A program run in the background as a CI runner or a swarm machine runs it: in a process group of its own,
// stdin from /dev/null, stdout and stderr in files (kept afterwards for a look at the logs). kill9() kills
// the group, the program and the processes it started, as a machine that dies takes all its processes along;
// the destructor does the same, so nothing outlives the test.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"

namespace tlb::testing {

// The file's text; "" when there is no file (yet).
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class ChildProcess {
 public:
  // Starts `argv` (argv[0] is the executable's path) with exactly `env` plus PATH=`path`, writing
  // `log_stem`.out and `log_stem`.err. Throws when it cannot start.
  ChildProcess(std::vector<std::string> argv, const std::map<std::string, std::string>& env,
               const std::string& path, const std::filesystem::path& log_stem)
      : argv_(std::move(argv)), out_path_(log_stem.string() + ".out"), err_path_(log_stem.string() + ".err") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    try {
      pid_ = spawn_process(argv_, env, actions, path, /*own_group=*/true);
    } catch (...) {
      posix_spawn_file_actions_destroy(&actions);
      throw;
    }
    posix_spawn_file_actions_destroy(&actions);
    started_ = std::chrono::steady_clock::now();
  }

  ~ChildProcess() {
    kill9();
    if (!status_) waitpid(pid_, nullptr, 0);
  }

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  std::string out() const { return read_text(out_path_); }
  std::string err() const { return read_text(err_path_); }
  // For failure messages: the command and what it printed.
  std::string describe() const {
    std::string text = "$";
    for (const std::string& arg : argv_) text += " " + arg;
    return text + "\n--- stdout:\n" + out() + "--- stderr:\n" + err();
  }

  // Its exit status once it has exited (128 + signal when killed), or nothing while it runs.
  std::optional<int> exited() {
    if (status_) return status_;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = exit_status(status);
      lasted_ = std::chrono::steady_clock::now() - started_;
    }
    return status_;
  }

  // Waits up to `timeout` for it to exit.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!exited() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return status_;
  }

  // How long it ran, once it has exited.
  std::chrono::duration<double> lasted() const { return lasted_; }

  // Waits up to `timeout` for a match of `pattern` in its stdout; returns the match's first group (the whole
  // match when it has none), or nothing when it exited or time ran out first.
  std::optional<std::string> wait_for_match(const std::regex& pattern, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      // Read before the exit check: what a child printed just before it exited still counts.
      const bool gone = exited() || std::chrono::steady_clock::now() > deadline;
      const std::string text = out();
      std::smatch found;
      if (std::regex_search(text, found, pattern)) return found[found.size() > 1 ? 1 : 0].str();
      if (gone) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Waits up to `timeout` for `text` in its stdout.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const bool gone = exited() || std::chrono::steady_clock::now() > deadline;
      if (out().find(text) != std::string::npos) return true;
      if (gone) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void signal(int number) { kill(pid_, number); }
  void kill9() { kill(-pid_, SIGKILL); }

 private:
  std::vector<std::string> argv_;
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::duration<double> lasted_{0};
};

}  // namespace tlb::testing
