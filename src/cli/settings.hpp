// Settings of the `tlb` command, resolved from flags and the environment (a flag wins over its variable).
// A bad value is a UsageError whose message names the flag or variable and the value.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"
#include "tlb/order.hpp"
#include "tlb/split.hpp"

namespace tlb::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads one environment variable; unset and empty are both "not set".
using Environment = std::function<std::optional<std::string>(std::string_view)>;
Environment process_environment();

struct PartitionChoice {
  int number = 1;  // 1-based.
  int total = 1;
  std::string source;  // Where it came from, for messages: "--partition", "TLB_PARTITION", "GitLab
                       // (CI_NODE_INDEX)"...
};

// The partition from `--partition k` + `--total N` (or `--partition k/N`), else TLB_PARTITION=k/N or
// TLB_PARTITION_NUMBER + TLB_TOTAL_PARTITIONS, else, only with TLB_TOTAL_PARTITIONS=auto, the CI-native
// variables of GitLab, CircleCI and Buildkite (without it they add a warning and give no partition; a CI
// total of 1 is no partition). nullopt when nothing is set. Appends a warning when GTEST_SHARD_INDEX or
// GTEST_TOTAL_SHARDS is set.
std::optional<PartitionChoice> resolve_partition(const std::optional<std::string>& partition_flag,
                                                 const std::optional<std::string>& total_flag,
                                                 const Environment& env, std::vector<std::string>& warnings);

// TLB_SPLITTER names one splitter, or "default" for the TLB_PREFERRED_SPLITTERS chain (default "time:count").
std::vector<Splitter> resolve_splitters(const std::optional<std::string>& splitter_flag,
                                        const std::optional<std::string>& preferred_flag,
                                        const Environment& env);

// TLB_ORDERER: orderers separated by ':' or ',', or "none"; default "failed-first:longest-first".
std::vector<Orderer> resolve_orderers(const std::optional<std::string>& flag, const Environment& env);

// TLB_PARTITION_WEIGHTS: `total` positive numbers separated by ','; empty when unset.
std::vector<double> resolve_weights(const std::optional<std::string>& flag, int total,
                                    const Environment& env);

// The J of `ctest -j J` partitions run with: TLB_PARALLEL_LEVEL, else CTEST_PARALLEL_LEVEL (which ctest reads
// too), else 1. The hook cannot see ctest's own -j flag.
int resolve_parallel_level(const std::optional<std::string>& flag, const Environment& env);

// TLB_STRICT: 1/true/yes/on or 0/false/no/off.
bool resolve_strict(bool flag, const Environment& env);

// A value from its flag, else its variable: with the name to use in messages.
struct Setting {
  std::string value;
  std::string name;
};
std::optional<Setting> pick(const std::optional<std::string>& flag, std::string_view flag_name,
                            const Environment& env, std::string_view variable);

// TLB_STORE (--store), else TLB_BASE_URL (the original TLB's name for the server): where history lives, a
// timing file's path or file://path, or a TLB server's http://host:port. nullopt when unset.
std::optional<Setting> resolve_store(const std::optional<std::string>& flag, const Environment& env);

// TLB_JOB_NAME; TLB_JOB_VERSION, else the CI's run id (GITHUB_RUN_ID, CI_PIPELINE_ID, CIRCLE_WORKFLOW_ID,
// BUILDKITE_BUILD_ID); the run key (resolve_run_key); TLB_TOKEN; TLB_SERVER_TIMEOUT (seconds, default 5);
// TLB_SERVER_RETRY_SECONDS (default 10).
store::ServerOptions resolve_server_options(const Environment& env);

// Opens the store a setting names; a URL no backend serves is a UsageError naming the setting.
std::unique_ptr<store::Store> open_store(const Setting& store, const store::HistoryPolicy& policy,
                                         const store::ServerOptions& server = {});

// The same, with the history policy and server options from the environment.
std::unique_ptr<store::Store> open_store(const Setting& store, const Environment& env);

// TLB_SMOOTHING_FACTOR (alpha in (0, 1], default 0.5) and TLB_FORGET_AFTER_DAYS (0 or more, default 30).
store::HistoryPolicy resolve_history_policy(const Environment& env);

// Today's date in UTC, or the day of SOURCE_DATE_EPOCH (seconds since 1970, the reproducible-builds
// convention) when it is set: the date `tlb record` and `tlb merge` write as a test's last run.
store::Date resolve_today(const Environment& env);

// The flags of a split's settings, shared by `tlb split` and `tlb balancer`. Each is kept as text, so that a
// flag given on the command line is told from one left out, and resolved like its variable.
struct SplitFlags {
  std::string partition;
  std::string total;
  std::string weights;
  std::string splitter;
  std::string preferred;
  std::string orderer;
  std::string parallel_level;
  CLI::App* command = nullptr;  // Set by add_split_flags.

  // `value` when the flag `name` was given, else nullopt.
  std::optional<std::string> flag(const std::string& name, const std::string& value) const;
};

// Adds --partition, --total, --weights, --splitter, --preferred-splitters, --orderer and --parallel-level to
// `command`, bound to `flags`.
void add_split_flags(CLI::App* command, SplitFlags& flags);

// The split options for `total` partitions (weights, splitters, parallel level) from the flags and variables.
SplitOptions resolve_split_options(const SplitFlags& flags, int total, const Environment& env);

}  // namespace tlb::cli
