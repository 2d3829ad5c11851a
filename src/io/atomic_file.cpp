#include "io/atomic_file.hpp"

#include <filesystem>
#include <system_error>

#include "io/text.hpp"
#include "platform/platform.hpp"

namespace tlb::io {

void write_file_atomically(const std::string& path, std::string_view content) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code error;
  fs::create_directories(directory, error);
  if (error)
    throw InputError(path, 0, "cannot create directory " + directory.string() + ": " + error.message());
  try {
    platform::replace_file(target, content);
  } catch (const platform::Failure& e) {
    throw InputError(path, 0, e.step() + ": " + e.what());
  }
}

}  // namespace tlb::io
