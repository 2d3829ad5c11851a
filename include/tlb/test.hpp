// The test model: one CTest test with the properties that matter for splitting.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace tlb {

// A test as ctest sees it (`ctest --show-only=json-v1`). Only properties that change where or how long a test
// runs are kept; the command line and working directory are ctest's business.
struct Test {
  std::string name;
  std::vector<std::string> labels;
  std::optional<double>
      cost;  // The COST property, in seconds; used as the estimate when there is no history.
  int processors = 1;
  bool run_serial = false;
  bool disabled = false;
  std::vector<std::string> resource_locks;
  std::vector<std::string> fixtures_setup;
  std::vector<std::string> fixtures_cleanup;
  std::vector<std::string> fixtures_required;
  std::vector<std::string> depends;

  // A test carrying only a name, as read from a one-name-per-line list.
  static Test named(std::string name) {
    Test test;
    test.name = std::move(name);
    return test;
  }
};

}  // namespace tlb
