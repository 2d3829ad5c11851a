// A test whose behaviour the driving test controls: `fake_test NAME MILLISECONDS` sleeps, appends NAME and a
// newline to the file named by TLB_FAKE_LOG (one write, so lines from parallel tests do not mix), and fails
// when NAME is listed, one per line, in the file named by TLB_FAKE_FAIL.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const std::string name = argv[1];
  std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(argv[2])));
  if (const char* log = std::getenv("TLB_FAKE_LOG")) {
    const int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return 3;
    const std::string line = name + "\n";
    if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 3;
    close(fd);
  }
  if (const char* failing = std::getenv("TLB_FAKE_FAIL")) {
    std::ifstream list(failing);
    for (std::string line; std::getline(list, line);) {
      if (line == name) return 1;
    }
  }
  return 0;
}
