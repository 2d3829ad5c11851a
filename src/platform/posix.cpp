// The platform layer on POSIX (Linux, macOS): posix_spawn, poll, waitpid, sigtimedwait-like waiting, flock.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "platform/platform.hpp"

extern char** environ;

namespace tlb::platform {
namespace {

[[noreturn]] void fail(const std::string& step, int error) {
  throw Failure(step, std::strerror(error));
}

// A pipe whose ends are closed on exec (set at once where pipe2 exists, as on Linux).
bool close_on_exec_pipe(int ends[2]) {
#ifdef __linux__
  return pipe2(ends, O_CLOEXEC) == 0;
#else
  if (pipe(ends) != 0) return false;
  fcntl(ends[0], F_SETFD, FD_CLOEXEC);
  fcntl(ends[1], F_SETFD, FD_CLOEXEC);
  return true;
#endif
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

struct Child::State {
  pid_t pid = 0;
  int out = -1;
  int err = -1;
  std::thread feeder;  // Writes the input to the child's stdin.
  bool waited = false;
  int status = 0;
};

namespace {

// Writes `input` to `fd` and closes it. SIGPIPE is blocked in this thread: a child that exits without reading
// all of it must not kill this process.
void feed(int fd, const std::string& input) {
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
  for (std::size_t written = 0; written < input.size();) {
    const ssize_t n = write(fd, input.data() + written, input.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  close(fd);
}

}  // namespace

Child::Child(const std::vector<std::string>& argv, const std::vector<std::string>& environment,
             std::optional<std::string> input)
    : state_(std::make_unique<State>()) {
  int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};  // stdin (when there is input), stdout, stderr
  for (int i = input ? 0 : 1; i < 3; ++i) {
    if (!close_on_exec_pipe(pipes[i])) {
      const int error = errno;
      for (auto& ends : pipes) {
        for (int fd : ends) {
          if (fd >= 0) close(fd);
        }
      }
      fail("no pipe", error);
    }
  }
  int(&in_pipe)[2] = pipes[0];
  int(&out_pipe)[2] = pipes[1];
  int(&err_pipe)[2] = pipes[2];
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (input) {
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  // The caller may block SIGINT and SIGTERM to take them in a thread; the child must die of them as usual.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> args = argv, env = environment;
  std::vector<char*> c_argv = c_strings(args), c_env = c_strings(env);
  const int spawned =
      posix_spawnp(&state_->pid, c_argv[0], &actions, &attributes, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (input) close(in_pipe[0]);
  if (spawned != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    if (input) close(in_pipe[1]);
    fail("cannot start", spawned);
  }
  state_->out = out_pipe[0];
  state_->err = err_pipe[0];
  if (input) state_->feeder = std::thread(feed, in_pipe[1], std::move(*input));
}

Child::~Child() {
  for (int fd : {state_->out, state_->err}) {
    if (fd >= 0) close(fd);
  }
  wait();  // No zombie left behind.
}

void Child::drain(const std::function<void(int, std::string_view)>& take, const std::function<void()>& tick,
                  int tick_ms) {
  pollfd fds[2] = {{state_->out, POLLIN, 0}, {state_->err, POLLIN, 0}};
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
  state_->out = fds[0].fd;
  state_->err = fds[1].fd;
}

int Child::wait() {
  if (state_->feeder.joinable()) state_->feeder.join();
  if (state_->waited) return state_->status;
  int status = 0;
  while (waitpid(state_->pid, &status, 0) < 0 && errno == EINTR) {
  }
  state_->waited = true;
  state_->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return state_->status;
}

void Child::interrupt(int signal) {
  if (!state_->waited) kill(state_->pid, signal);
}

std::vector<std::string> environment() {
  std::vector<std::string> entries;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) entries.emplace_back(*entry);
  return entries;
}

void set_environment(const std::string& name, const std::string& value) {
  setenv(name.c_str(), value.c_str(), 1);
}

std::string run_in_place(const std::vector<std::string>& argv) {
  std::vector<std::string> args = argv;
  std::vector<char*> c_argv = c_strings(args);
  execvp(c_argv[0], c_argv.data());
  return std::strerror(errno);
}

int process_id() {
  return static_cast<int>(getpid());
}

bool stdin_is_terminal() {
  return isatty(STDIN_FILENO) != 0;
}

bool stdout_is_terminal() {
  return isatty(STDOUT_FILENO) != 0;
}

namespace {

sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

StopSignals::StopSignals() {
  const sigset_t set = stop_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int StopSignals::wait(std::chrono::milliseconds timeout) {
  const sigset_t set = stop_set();
#ifdef __linux__
  const timespec wait_for{static_cast<time_t>(timeout.count() / 1000),
                          static_cast<long>(timeout.count() % 1000) * 1'000'000};
  const int signal = sigtimedwait(&set, nullptr, &wait_for);
  return signal > 0 ? signal : 0;
#else
  // No sigtimedwait (macOS): look for a pending one every few milliseconds, and take it with sigwait.
  const auto until = std::chrono::steady_clock::now() + timeout;
  do {
    sigset_t pending;
    sigpending(&pending);
    for (int signal : {SIGINT, SIGTERM}) {
      if (sigismember(&pending, signal) == 1) {
        int taken = 0;
        sigwait(&set, &taken);
        return taken;
      }
    }
    usleep(20'000);
  } while (std::chrono::steady_clock::now() < until);
  return 0;
#endif
}

namespace {

mode_t mode_for(const std::filesystem::path& path) {
  struct stat existing {};
  if (stat(path.c_str(), &existing) == 0) return existing.st_mode & 07777;
  const mode_t mask = umask(0);
  umask(mask);
  return 0666 & ~mask;
}

// Closes the descriptor and removes the temporary file unless the rename went through.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string pattern) : path_(std::move(pattern)) {
    fd_ = mkstemp(path_.data());
    if (fd_ < 0) {
      path_.clear();
    } else {
      fcntl(fd_, F_SETFD, FD_CLOEXEC);
    }
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    close();
    if (!path_.empty()) unlink(path_.c_str());
  }

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  bool close() {
    if (fd_ < 0) return true;
    const bool closed = ::close(fd_) == 0;
    fd_ = -1;
    return closed;
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

void replace_file(const std::filesystem::path& path, std::string_view content) {
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";
  TemporaryFile temporary((directory / ("." + path.filename().string() + ".tmp-XXXXXX")).string());
  if (temporary.fd() < 0) fail("cannot create a temporary file in " + directory.string(), errno);
  for (std::size_t written = 0; written < content.size();) {
    const ssize_t n = write(temporary.fd(), content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot write", n < 0 ? errno : EIO);
    written += static_cast<std::size_t>(n);
  }
  if (fchmod(temporary.fd(), mode_for(path)) != 0) fail("cannot set permissions", errno);
  if (fsync(temporary.fd()) != 0) fail("cannot flush to disk", errno);
  if (!temporary.close()) fail("cannot write", errno);
  if (rename(temporary.path().c_str(), path.c_str()) != 0) fail("cannot replace", errno);
  temporary.release();

  // The rename is durable once the directory is flushed too; a failure here loses nothing already written.
  const int dir_fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    ::close(dir_fd);
  }
}

DirectoryLock::DirectoryLock(const std::filesystem::path& directory)
    : handle_(open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
  if (handle_ >= 0) {
    while (flock(static_cast<int>(handle_), LOCK_EX) != 0 && errno == EINTR) {
    }
  }
}

DirectoryLock::~DirectoryLock() {
  if (handle_ >= 0) close(static_cast<int>(handle_));  // Closing releases the lock.
}

std::string host_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "";
  return host;
}

Machine machine() {
  utsname system{};
  uname(&system);
  Machine result{system.sysname, system.machine, 0};
#ifdef _SC_PHYS_PAGES
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0) {
    result.ram_mb =
        std::floor(static_cast<double>(pages) * static_cast<double>(page_size) / (1024.0 * 1024.0));
  }
#endif
  return result;
}

}  // namespace tlb::platform
