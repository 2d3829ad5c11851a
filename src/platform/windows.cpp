// The platform layer on Windows (mingw-w64, MSVC): CreateProcess with pipes read by two threads, console
// control handlers for the stop signals, MoveFileEx, a named mutex as the directory lock.
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
// After windows.h:
#include <io.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "platform/platform.hpp"

namespace tlb::platform {
namespace {

std::string system_message(DWORD error) {
  char* text = nullptr;
  const DWORD length = FormatMessageA(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
      error, 0, reinterpret_cast<char*>(&text), 0, nullptr);
  std::string message =
      length > 0 && text != nullptr ? std::string(text, length) : "error " + std::to_string(error);
  LocalFree(text);
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r' || message.back() == '.')) {
    message.pop_back();
  }
  return message;
}

[[noreturn]] void fail(const std::string& step, DWORD error = GetLastError()) {
  throw Failure(step, system_message(error));
}

// One argument as the C runtime's command-line parser reads it back: quoted when it has blanks or quotes,
// with the backslashes before a quote (and at the end) doubled.
std::string quoted(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n\v\"") == std::string::npos) return arg;
  std::string out = "\"";
  std::size_t backslashes = 0;
  for (char c : arg) {
    if (c == '\\') {
      ++backslashes;
      continue;
    }
    out.append(c == '"' ? 2 * backslashes + 1 : backslashes, '\\');
    backslashes = 0;
    out += c;
  }
  out.append(2 * backslashes, '\\');
  return out + "\"";
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) line += (line.empty() ? "" : " ") + quoted(arg);
  return line;
}

HANDLE inheritable(HANDLE handle) {
  SetHandleInformation(handle, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
  return handle;
}

void close(HANDLE& handle) {
  if (handle != nullptr && handle != INVALID_HANDLE_VALUE) CloseHandle(handle);
  handle = nullptr;
}

// What the reader threads read, for the thread that drains: each chunk with its stream, and the streams that
// closed.
struct Inbox {
  std::mutex mutex;
  std::condition_variable arrived;
  std::deque<std::pair<int, std::string>> chunks;
  int open = 2;
};

}  // namespace

struct Child::State {
  PROCESS_INFORMATION process{};
  HANDLE out = nullptr;
  HANDLE err = nullptr;
  std::thread feeder;  // Writes the input to the child's stdin.
  bool waited = false;
  int status = 0;
};

Child::Child(const std::vector<std::string>& argv, const std::vector<std::string>& environment,
             std::optional<std::string> input)
    : state_(std::make_unique<State>()) {
  HANDLE out_write = nullptr, err_write = nullptr, in_write = nullptr, in_read = nullptr;
  if (!CreatePipe(&state_->out, &out_write, nullptr, 0)) fail("no pipe");
  if (!CreatePipe(&state_->err, &err_write, nullptr, 0) ||
      (input && !CreatePipe(&in_read, &in_write, nullptr, 0))) {
    const DWORD error = GetLastError();
    for (HANDLE* handle : {&state_->out, &out_write, &state_->err, &err_write}) close(*handle);
    fail("no pipe", error);
  }
  HANDLE nul = input ? in_read
                     : CreateFileA("NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                                   OPEN_EXISTING, 0, nullptr);
  HANDLE handles[3] = {inheritable(nul), inheritable(out_write), inheritable(err_write)};

  // Only these three handles are inherited, so that a child started meanwhile by another thread does not
  // keep this one's pipes open.
  SIZE_T size = 0;
  InitializeProcThreadAttributeList(nullptr, 1, 0, &size);
  std::vector<char> attribute_storage(size);
  auto* attributes = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attribute_storage.data());
  InitializeProcThreadAttributeList(attributes, 1, 0, &size);
  UpdateProcThreadAttribute(attributes, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, handles, sizeof handles,
                            nullptr, nullptr);
  STARTUPINFOEXA startup{};
  startup.StartupInfo.cb = sizeof startup;
  startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  startup.StartupInfo.hStdInput = nul;
  startup.StartupInfo.hStdOutput = out_write;
  startup.StartupInfo.hStdError = err_write;
  startup.lpAttributeList = attributes;

  std::string block;  // "NAME=value\0...\0\0"
  for (const std::string& entry : environment) block += entry + '\0';
  block += '\0';
  std::string line = command_line(argv);
  const BOOL started =
      CreateProcessA(nullptr, line.data(), nullptr, nullptr, TRUE, EXTENDED_STARTUPINFO_PRESENT, block.data(),
                     nullptr, &startup.StartupInfo, &state_->process);
  const DWORD error = GetLastError();
  DeleteProcThreadAttributeList(attributes);
  close(nul);
  close(out_write);
  close(err_write);
  if (!started) {
    close(state_->out);
    close(state_->err);
    close(in_write);
    fail("cannot start", error);
  }
  close(state_->process.hThread);
  if (input) {
    state_->feeder = std::thread([pipe = in_write, text = std::move(*input)]() mutable {
      for (std::size_t written = 0; written < text.size();) {
        DWORD n = 0;
        const auto chunk = static_cast<DWORD>(std::min<std::size_t>(text.size() - written, 1 << 20));
        if (!WriteFile(pipe, text.data() + written, chunk, &n, nullptr) || n == 0) break;
        written += n;
      }
      close(pipe);
    });
  }
}

Child::~Child() {
  close(state_->out);
  close(state_->err);
  wait();
  close(state_->process.hProcess);
}

void Child::drain(const std::function<void(int, std::string_view)>& take, const std::function<void()>& tick,
                  int tick_ms) {
  // Windows cannot poll anonymous pipes: a thread per pipe reads, and this thread hands on what they read.
  auto inbox = std::make_shared<Inbox>();
  std::thread readers[2];
  HANDLE pipes[2] = {state_->out, state_->err};
  for (int stream = 0; stream < 2; ++stream) {
    readers[stream] = std::thread([inbox, stream, pipe = pipes[stream]] {
      char buffer[65536];
      DWORD n = 0;
      while (ReadFile(pipe, buffer, sizeof buffer, &n, nullptr) && n > 0) {
        std::lock_guard lock(inbox->mutex);
        inbox->chunks.emplace_back(stream, std::string(buffer, n));
        inbox->arrived.notify_all();
      }
      std::lock_guard lock(inbox->mutex);
      --inbox->open;
      inbox->arrived.notify_all();
    });
  }
  std::unique_lock lock(inbox->mutex);
  while (inbox->open > 0 || !inbox->chunks.empty()) {
    const auto ready = [&] { return !inbox->chunks.empty() || inbox->open == 0; };
    if (tick) {
      inbox->arrived.wait_for(lock, std::chrono::milliseconds(tick_ms), ready);
    } else {
      inbox->arrived.wait(lock, ready);
    }
    std::deque<std::pair<int, std::string>> chunks;
    chunks.swap(inbox->chunks);
    lock.unlock();
    if (tick) tick();
    for (const auto& [stream, text] : chunks) take(stream, text);
    lock.lock();
  }
  lock.unlock();
  for (std::thread& reader : readers) reader.join();
  close(state_->out);
  close(state_->err);
}

int Child::wait() {
  if (state_->feeder.joinable()) state_->feeder.join();
  if (state_->waited || state_->process.hProcess == nullptr) return state_->status;
  WaitForSingleObject(state_->process.hProcess, INFINITE);
  DWORD code = 0;
  GetExitCodeProcess(state_->process.hProcess, &code);
  state_->waited = true;
  state_->status = static_cast<int>(code);
  return state_->status;
}

void Child::interrupt(int signal) {
  if (!state_->waited) TerminateProcess(state_->process.hProcess, static_cast<UINT>(128 + signal));
}

std::vector<std::string> environment() {
  std::vector<std::string> entries;
  char* block = GetEnvironmentStringsA();
  if (block == nullptr) return entries;
  for (const char* entry = block; *entry != '\0'; entry += std::strlen(entry) + 1)
    entries.emplace_back(entry);
  FreeEnvironmentStringsA(block);
  return entries;
}

void set_environment(const std::string& name, const std::string& value) {
  _putenv_s(name.c_str(), value.c_str());  // The C runtime's copy (getenv) and the process's.
  SetEnvironmentVariableA(name.c_str(), value.c_str());
}

std::string run_in_place(const std::vector<std::string>& argv) {
  STARTUPINFOA startup{};
  startup.cb = sizeof startup;
  PROCESS_INFORMATION process{};
  std::string line = command_line(argv);
  if (!CreateProcessA(nullptr, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &startup,
                      &process)) {
    return system_message(GetLastError());
  }
  CloseHandle(process.hThread);
  WaitForSingleObject(process.hProcess, INFINITE);
  DWORD code = 0;
  GetExitCodeProcess(process.hProcess, &code);
  std::fflush(nullptr);
  std::exit(static_cast<int>(code));
}

int process_id() {
  return static_cast<int>(GetCurrentProcessId());
}

bool stdin_is_terminal() {
  return _isatty(_fileno(stdin)) != 0;
}

bool stdout_is_terminal() {
  return _isatty(_fileno(stdout)) != 0;
}

namespace {

std::atomic<int> g_stop_signal{0};

BOOL WINAPI on_console_event(DWORD event) {
  g_stop_signal = event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT ? SIGINT : SIGTERM;
  return TRUE;
}

}  // namespace

StopSignals::StopSignals() {
  SetConsoleCtrlHandler(on_console_event, TRUE);
}

int StopSignals::wait(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  do {
    if (const int signal = g_stop_signal.exchange(0)) return signal;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < until);
  return 0;
}

void replace_file(const std::filesystem::path& path, std::string_view content) {
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path temporary =
      directory / ("." + path.filename().string() + ".tmp-" + std::to_string(GetCurrentProcessId()) + "-" +
                   std::to_string(counter++) + "-" + std::to_string(GetTickCount64()));
  HANDLE file =
      CreateFileW(temporary.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (file == INVALID_HANDLE_VALUE) fail("cannot create a temporary file in " + directory.string());
  const auto give_up = [&](const std::string& step) {
    const DWORD error = GetLastError();
    close(file);
    DeleteFileW(temporary.c_str());
    fail(step, error);
  };
  for (std::size_t written = 0; written < content.size();) {
    DWORD n = 0;
    const auto chunk = static_cast<DWORD>(std::min<std::size_t>(content.size() - written, 1 << 30));
    if (!WriteFile(file, content.data() + written, chunk, &n, nullptr) || n == 0) give_up("cannot write");
    written += n;
  }
  if (!FlushFileBuffers(file)) give_up("cannot flush to disk");
  close(file);
  // Write-through: the rename is on disk when MoveFileEx returns.
  if (!MoveFileExW(temporary.c_str(), path.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    const DWORD error = GetLastError();
    DeleteFileW(temporary.c_str());
    fail("cannot replace", error);
  }
}

// A mutex named after the directory's absolute path (its FNV-1a hash; the path could be longer than a name),
// shared by every process of this login session, as flock is by every process on the machine.
DirectoryLock::DirectoryLock(const std::filesystem::path& directory) : handle_(0) {
  std::error_code error;
  std::string key = std::filesystem::weakly_canonical(directory, error).string();
  if (error) key = std::filesystem::absolute(directory).string();
  std::uint64_t hash = 14695981039346656037ULL;
  for (char c : key) {
    hash ^= static_cast<unsigned char>(
        c == '/' ? '\\' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    hash *= 1099511628211ULL;
  }
  const std::string name = "Local\\tlb-directory-lock-" + std::to_string(hash);
  HANDLE mutex = CreateMutexA(nullptr, FALSE, name.c_str());
  if (mutex == nullptr) return;
  WaitForSingleObject(mutex, INFINITE);  // WAIT_ABANDONED (a holder died) gives it to us too.
  handle_ = reinterpret_cast<std::intptr_t>(mutex);
}

DirectoryLock::~DirectoryLock() {
  if (handle_ == 0) return;
  HANDLE mutex = reinterpret_cast<HANDLE>(handle_);
  ReleaseMutex(mutex);
  CloseHandle(mutex);
}

std::string host_name() {
  char host[MAX_COMPUTERNAME_LENGTH + 1] = {};
  DWORD size = sizeof host;
  if (!GetComputerNameA(host, &size)) return "";
  return std::string(host, size);
}

Machine machine() {
  SYSTEM_INFO system{};
  GetNativeSystemInfo(&system);
  Machine result{"Windows", "unknown", 0};
  switch (system.wProcessorArchitecture) {
    case PROCESSOR_ARCHITECTURE_AMD64:
      result.arch = "x86_64";
      break;
    case PROCESSOR_ARCHITECTURE_ARM64:
      result.arch = "aarch64";
      break;
    case PROCESSOR_ARCHITECTURE_INTEL:
      result.arch = "x86";
      break;
    default:
      break;
  }
  MEMORYSTATUSEX memory{};
  memory.dwLength = sizeof memory;
  if (GlobalMemoryStatusEx(&memory)) {
    result.ram_mb = static_cast<double>(memory.ullTotalPhys / (1024 * 1024));
  }
  return result;
}

}  // namespace tlb::platform
