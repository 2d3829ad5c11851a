// Runs a program as a real child process and captures what it printed (run_process, on every platform).
#pragma once

#ifndef _WIN32
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "platform/platform.hpp"

namespace tlb::testing {

#ifndef _WIN32
// For ChildProcess (child_process.hpp), which the POSIX-only tests use: processes in groups of their own,
// killed with signals.

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
#endif

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// The variables every child gets besides the test's own: PATH, and on Windows those a process needs to start
// and to find its temporary directory.
inline std::vector<std::string> base_environment() {
#ifdef _WIN32
  std::vector<std::string> entries;
  for (const char* name : {"PATH", "SystemRoot", "WINDIR", "TEMP", "TMP"}) {
    if (const char* value = std::getenv(name)) entries.push_back(std::string(name) + "=" + value);
  }
  return entries;
#else
  return {"PATH=/usr/bin:/bin"};
#endif
}

// Runs `argv` with exactly the variables in `env` (plus base_environment()), feeding `input` on stdin.
inline ProcessResult run_process(const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& env = {},
                                 const std::string& input = "") {
  std::vector<std::string> entries = base_environment();
  for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
  ProcessResult result;
  std::string* into[2] = {&result.out, &result.err};
  platform::Child child(argv, entries, input);
  child.drain([&](int stream, std::string_view text) { into[stream]->append(text); }, {}, 0);
  result.exit_code = child.wait();
#ifdef _WIN32
  // A Windows program prints text with "\r\n" line ends (the C runtime's text mode); the tests compare "\n".
  for (std::string* text : into) {
    std::string lf;
    for (std::size_t i = 0; i < text->size(); ++i) {
      if ((*text)[i] != '\r' || i + 1 == text->size() || (*text)[i + 1] != '\n') lf += (*text)[i];
    }
    *text = std::move(lf);
  }
#endif
  return result;
}

}  // namespace tlb::testing
