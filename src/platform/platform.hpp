// What differs between operating systems, behind one small interface: child processes and their pipes, the
// stop signals, the environment, durable file replacement, a directory lock and what the machine is.
// posix.cpp implements it with POSIX calls (Linux, macOS), windows.cpp with the Win32 API (mingw-w64, MSVC).
// Nothing else in TLB calls the system directly; everything else is standard C++.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tlb::platform {

// A system call failed: `step` says what was being done ("cannot write"), what() the system's reason.
class Failure : public std::runtime_error {
 public:
  Failure(std::string step, const std::string& reason) : std::runtime_error(reason), step_(std::move(step)) {}
  const std::string& step() const { return step_; }

 private:
  std::string step_;
};

// A running child process, its stdout and stderr on pipes to this process.
class Child {
 public:
  // Starts `argv` (argv[0] looked up on PATH) with exactly `environment` ("NAME=value" entries), and `input`
  // on its stdin (by a thread of its own; the tests feed tlb this way); without input, stdin is empty. On
  // POSIX, signals are unblocked in the child. Throws Failure with step "cannot start" or "no pipe".
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& environment,
        std::optional<std::string> input = std::nullopt);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Reads stdout (stream 0) and stderr (stream 1) into `take` until both close, both at once: a child that
  // fills one while we wait on the other would never finish. `tick`, when given, runs every `tick_ms` or so.
  void drain(const std::function<void(int, std::string_view)>& take, const std::function<void()>& tick,
             int tick_ms);
  // Waits for the child to end; its exit status, or 128 + the signal that ended it.
  int wait();
  // Passes on a stop signal (SIGINT, SIGTERM). Windows has no signals: the child is ended, with status
  // 128 + `signal`, as a POSIX child killed by it would show.
  void interrupt(int signal);

  struct State;

 private:
  std::unique_ptr<State> state_;
};

// This process's environment, "NAME=value" entries.
std::vector<std::string> environment();
void set_environment(const std::string& name, const std::string& value);

// Runs `argv` (argv[0] looked up on PATH) with this process's environment and standard streams, and ends this
// process with its exit status: on POSIX it replaces this process (exec), on Windows it is a child waited
// for. Returns only when it cannot start, with the system's reason.
std::string run_in_place(const std::vector<std::string>& argv);

int process_id();
bool stdin_is_terminal();
bool stdout_is_terminal();

// SIGINT and SIGTERM (on Windows: Ctrl+C, Ctrl+Break, the console closing), taken by whoever calls wait().
// On POSIX they are blocked in every thread (threads started later inherit the mask) and stay blocked when
// the object goes: the process ends right after, and a second signal must not turn a clean exit into a kill.
class StopSignals {
 public:
  StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  // The signal that came within `timeout` (SIGINT or SIGTERM), or 0.
  int wait(std::chrono::milliseconds timeout);
};

// Writes `content` to a new temporary file beside `path` (whose directory must exist), flushes it to disk,
// with `path`'s permissions when it exists, then renames it over `path` and flushes the directory. Removes
// the temporary file when a step fails, and throws Failure naming the step.
void replace_file(const std::filesystem::path& path, std::string_view content);

// An advisory lock on a directory, held while a file in it is read, changed and replaced. Without a lock (a
// file system that has none) a replace is still atomic; only concurrent updates could lose each other's.
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::filesystem::path& directory);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  std::intptr_t handle_;
};

// This machine's name ("" when the system gives none).
std::string host_name();

struct Machine {
  std::string os;    // "Linux", "Darwin", "Windows"
  std::string arch;  // "x86_64", "aarch64"...
  double ram_mb = 0;
};
Machine machine();

}  // namespace tlb::platform
