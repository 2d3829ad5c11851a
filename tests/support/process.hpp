// Runs a program as a real child process and captures what it printed.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace tlb::testing {

// A wait status as a shell shows it: the exit status, or 128 + the signal that killed the process.
inline int exit_status(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

// Starts `argv` (argv[0] is the executable's path) with exactly the variables in `env` plus PATH=`path`, its
// files set up by `actions`, and no signal blocked (the tests send signals); in a process group of its own
// when `own_group`, so that killing the group takes along what it started. Throws when it cannot start.
inline pid_t spawn_process(const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& env,
                           const posix_spawn_file_actions_t& actions,
                           const std::string& path = "/usr/bin:/bin", bool own_group = false) {
  std::vector<std::string> env_strings{"PATH=" + path};
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<char*> c_env, c_argv;
  for (auto& s : env_strings) c_env.push_back(s.data());
  c_env.push_back(nullptr);
  std::vector<std::string> args = argv;
  for (auto& s : args) c_argv.push_back(s.data());
  c_argv.push_back(nullptr);

  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  short flags = POSIX_SPAWN_SETSIGMASK;
  if (own_group) {
    posix_spawnattr_setpgroup(&attributes, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(&attributes, flags);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, c_argv[0], &actions, &attributes, c_argv.data(), c_env.data());
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) throw std::runtime_error("cannot start " + argv[0]);
  return pid;
}

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` with exactly the variables in `env` (plus PATH), feeding `input` on stdin.
inline ProcessResult run_process(const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& env = {},
                                 const std::string& input = "") {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0 || pipe(err_pipe) != 0)
    throw std::runtime_error("pipe failed");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
    posix_spawn_file_actions_addclose(&actions, fd);
  }

  pid_t pid = 0;
  try {
    pid = spawn_process(argv, env, actions);
  } catch (...) {
    posix_spawn_file_actions_destroy(&actions);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    throw;
  }
  posix_spawn_file_actions_destroy(&actions);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);

  auto drain = [](int fd, std::string& into) {
    char buffer[65536];
    for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;)
      into.append(buffer, static_cast<std::size_t>(n));
    close(fd);
  };
  ProcessResult result;
  std::thread out_reader(drain, out_pipe[0], std::ref(result.out));
  std::thread err_reader(drain, err_pipe[0], std::ref(result.err));
  for (std::size_t written = 0; written < input.size();) {
    ssize_t n = write(in_pipe[1], input.data() + written, input.size() - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  close(in_pipe[1]);
  out_reader.join();
  err_reader.join();
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = exit_status(status);
  return result;
}

}  // namespace tlb::testing
