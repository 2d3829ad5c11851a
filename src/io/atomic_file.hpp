// Replacing a file atomically: a reader sees the old content or the new one, never a mix or a truncated file.
#pragma once

#include <string>
#include <string_view>

namespace tlb::io {

// Writes `content` to a temporary file in `path`'s directory, flushes it to disk, and renames it over `path`
// (creating missing parent directories). The file keeps its permissions, or gets 0666 less the umask when
// new. On failure `path` keeps its old content, no temporary file is left behind, and an InputError naming
// `path` is thrown.
void write_file_atomically(const std::string& path, std::string_view content);

}  // namespace tlb::io
