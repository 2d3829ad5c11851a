#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "io/text.hpp"

namespace tlb::io {
namespace {

namespace fs = std::filesystem;

// Closes the descriptor and removes the temporary file unless the rename went through.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string pattern) : path_(std::move(pattern)) {
    fd_ = mkostemp(path_.data(), O_CLOEXEC);
    if (fd_ < 0) path_.clear();
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

[[noreturn]] void fail(const std::string& path, const std::string& what, int error) {
  throw InputError(path, 0, what + ": " + std::strerror(error));
}

mode_t mode_for(const std::string& path) {
  struct stat existing {};
  if (stat(path.c_str(), &existing) == 0) return existing.st_mode & 07777;
  const mode_t mask = umask(0);
  umask(mask);
  return 0666 & ~mask;
}

}  // namespace

void write_file_atomically(const std::string& path, std::string_view content) {
  const fs::path target(path);
  const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code error;
  fs::create_directories(directory, error);
  if (error)
    throw InputError(path, 0, "cannot create directory " + directory.string() + ": " + error.message());

  TemporaryFile temporary((directory / ("." + target.filename().string() + ".tmp-XXXXXX")).string());
  if (temporary.fd() < 0) fail(path, "cannot create a temporary file in " + directory.string(), errno);
  for (std::size_t written = 0; written < content.size();) {
    const ssize_t n = write(temporary.fd(), content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(path, "cannot write", n < 0 ? errno : EIO);
    written += static_cast<std::size_t>(n);
  }
  if (fchmod(temporary.fd(), mode_for(path)) != 0) fail(path, "cannot set permissions", errno);
  if (fsync(temporary.fd()) != 0) fail(path, "cannot flush to disk", errno);
  if (!temporary.close()) fail(path, "cannot write", errno);
  if (rename(temporary.path().c_str(), path.c_str()) != 0) fail(path, "cannot replace", errno);
  temporary.release();

  // The rename is durable once the directory is flushed too; a failure here loses nothing already written.
  const int dir_fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace tlb::io
