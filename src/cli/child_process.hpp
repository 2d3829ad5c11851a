// Running a program as a child process and collecting or passing on what it prints: ctest for `tlb plan
// --build-dir`, `tlb agent`, `tlb swarm run` and `tlb run`.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "io/text.hpp"

namespace tlb::cli {

struct ChildResult {
  int status = 0;  // The exit status, or 128 + the signal that ended it.
  std::string out;
  std::string err;
};

// The child's environment: this process's, less the partition variables (TLB_PARTITION_NUMBER,
// CI_NODE_INDEX...) unless `keep_partition`, plus `extra` ("NAME=value"). The swarm's clients run whole
// tests: a project that includes TLB's CMake hook would otherwise split the suite again inside the swarm.
struct ChildEnvironment {
  bool keep_partition = false;
  std::vector<std::string> extra;
};

// The child could not be started, most often because argv[0] is not on PATH.
class CannotStart : public io::InputError {
 public:
  using io::InputError::InputError;
};

// Runs `argv` (argv[0] looked up on PATH) with stdin empty and `environment`, and collects both
// outputs. Signals are unblocked in the child. Throws CannotStart when it cannot start, InputError when there
// is no pipe for it.
ChildResult run_child(const std::vector<std::string>& argv, const ChildEnvironment& environment = {});

// The same, with what the child prints copied to `out` and `err` as it comes; returns its exit status. A few
// times a second `stop` is asked for a signal to pass on to the child (0: none); it is passed on once.
int stream_child(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
                 const std::function<int()>& stop);

}  // namespace tlb::cli
