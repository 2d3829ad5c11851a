// Appends a CTest name and a newline to the file named by TLB_FAKE_LOG, in one write (see fake_test.cpp).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

inline void log_name(const std::string& name) {
  const char* log = std::getenv("TLB_FAKE_LOG");
  if (log == nullptr) return;
  const std::string line = name + "\n";
  const int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0) return;
  if (write(fd, line.data(), line.size()) < 0) {
  }
  close(fd);
}
