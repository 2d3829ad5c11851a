#include "cli/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ostream>
#include <string_view>

extern char** environ;

namespace tlb::cli {
namespace {

// Every variable a partition is read from (settings.cpp).
constexpr std::array<std::string_view, 9> kPartitionVariables = {
    "TLB_TOTAL_PARTITIONS", "TLB_PARTITION_NUMBER",   "TLB_PARTITION",
    "CI_NODE_INDEX",        "CI_NODE_TOTAL",          "CIRCLE_NODE_INDEX",
    "CIRCLE_NODE_TOTAL",    "BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT"};

bool partition_variable(std::string_view entry) {
  const std::string_view name = entry.substr(0, entry.find('='));
  for (std::string_view variable : kPartitionVariables) {
    if (name == variable) return true;
  }
  return false;
}

// A started child, its stdout and stderr on pipes.
struct Spawned {
  pid_t pid = 0;
  int out = -1;
  int err = -1;
};

// Starts `argv` as run_child() documents.
Spawned spawn(const std::vector<std::string>& argv, const ChildEnvironment& environment) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw io::InputError(argv[0], 0, "cannot start: no pipe");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw io::InputError(argv[0], 0, "cannot start: no pipe");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  // The caller may block SIGINT and SIGTERM to take them in a thread; the child must die of them as usual.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> args = argv, extra = environment.extra;
  std::vector<char*> c_env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (environment.keep_partition || !partition_variable(*entry)) c_env.push_back(*entry);
  }
  for (std::string& entry : extra) c_env.push_back(entry.data());
  c_env.push_back(nullptr);
  std::vector<char*> c_argv;
  for (std::string& arg : args) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);

  Spawned child;
  const int spawned = posix_spawnp(&child.pid, c_argv[0], &actions, &attributes, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawned != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    throw CannotStart(argv[0], 0, std::string("cannot start: ") + std::strerror(spawned));
  }
  child.out = out_pipe[0];
  child.err = err_pipe[0];
  return child;
}

// Reads the child's stdout (stream 0) and stderr (stream 1) into `take` until both close, then waits for it;
// returns its exit status. Both pipes at once: a child that fills one while we wait on the other would never
// finish. `tick`, when given, runs every `tick_ms` milliseconds or so.
int drain_and_wait(const Spawned& child, const std::function<void(int, std::string_view)>& take,
                   const std::function<void()>& tick = {}, int tick_ms = 200) {
  pollfd fds[2] = {{child.out, POLLIN, 0}, {child.err, POLLIN, 0}};
  int open_pipes = 2;
  while (open_pipes > 0) {
    const int ready = poll(fds, 2, tick ? tick_ms : -1);
    if (tick) tick();
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[65536];
      const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        take(i, std::string_view(buffer, static_cast<std::size_t>(n)));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  for (const pollfd& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  int status = 0;
  while (waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

ChildResult run_child(const std::vector<std::string>& argv, const ChildEnvironment& environment) {
  ChildResult result;
  std::string* into[2] = {&result.out, &result.err};
  result.status = drain_and_wait(spawn(argv, environment),
                                 [&](int stream, std::string_view text) { into[stream]->append(text); });
  return result;
}

int stream_child(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
                 const std::function<int()>& stop) {
  const Spawned child = spawn(argv, {});
  std::ostream* into[2] = {&out, &err};
  bool passed_on = false;
  return drain_and_wait(
      child, [&](int stream, std::string_view text) { *into[stream] << text << std::flush; },
      [&] {
        if (passed_on) return;
        if (const int signal = stop()) {
          kill(child.pid, signal);
          passed_on = true;
        }
      });
}

}  // namespace tlb::cli
