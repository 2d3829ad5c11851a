#include "cli/child_process.hpp"

#include <array>
#include <ostream>
#include <string_view>

#include "platform/platform.hpp"

namespace tlb::cli {
namespace {

// Every variable a partition is read from (settings.cpp).
constexpr std::array<std::string_view, 9> kPartitionVariables = {
    "TLB_TOTAL_PARTITIONS", "TLB_PARTITION_NUMBER",   "TLB_PARTITION",
    "CI_NODE_INDEX",        "CI_NODE_TOTAL",          "CIRCLE_NODE_INDEX",
    "CIRCLE_NODE_TOTAL",    "BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT"};

bool partition_variable(std::string_view entry) {
  const std::string_view name = entry.substr(0, entry.find('='));
  for (std::string_view variable : kPartitionVariables) {
    if (name == variable) return true;
  }
  return false;
}

// Starts `argv` as run_child() documents.
std::unique_ptr<platform::Child> spawn(const std::vector<std::string>& argv,
                                       const ChildEnvironment& environment) {
  std::vector<std::string> entries;
  for (std::string& entry : platform::environment()) {
    if (environment.keep_partition || !partition_variable(entry)) entries.push_back(std::move(entry));
  }
  entries.insert(entries.end(), environment.extra.begin(), environment.extra.end());
  try {
    return std::make_unique<platform::Child>(argv, entries);
  } catch (const platform::Failure& e) {
    if (e.step() == "cannot start") throw CannotStart(argv[0], 0, "cannot start: " + std::string(e.what()));
    throw io::InputError(argv[0], 0, "cannot start: no pipe");
  }
}

}  // namespace

ChildResult run_child(const std::vector<std::string>& argv, const ChildEnvironment& environment) {
  ChildResult result;
  std::string* into[2] = {&result.out, &result.err};
  const std::unique_ptr<platform::Child> child = spawn(argv, environment);
  child->drain([&](int stream, std::string_view text) { into[stream]->append(text); }, {}, 0);
  result.status = child->wait();
  return result;
}

int stream_child(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
                 const std::function<int()>& stop) {
  const std::unique_ptr<platform::Child> child = spawn(argv, {});
  std::ostream* into[2] = {&out, &err};
  bool passed_on = false;
  child->drain([&](int stream, std::string_view text) { *into[stream] << text << std::flush; },
               [&] {
                 if (passed_on) return;
                 if (const int signal = stop()) {
                   child->interrupt(signal);
                   passed_on = true;
                 }
               },
               200);
  return child->wait();
}

}  // namespace tlb::cli
