#include "cli/settings.hpp"

#include <charconv>
#include <chrono>
#include <cstdlib>

#include "cli/run_key.hpp"
#include "io/text.hpp"

namespace tlb::cli {

Environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

std::optional<Setting> pick(const std::optional<std::string>& flag, std::string_view flag_name,
                            const Environment& env, std::string_view variable) {
  if (flag) return Setting{*flag, std::string(flag_name)};
  if (auto value = env(variable)) return Setting{*value, std::string(variable)};
  return std::nullopt;
}

namespace {

constexpr int kMaxPartitions = 100'000;

std::string quoted(const Setting& s) {
  return s.name + "=" + s.value;
}

int whole_number(const Setting& s) {
  auto n = io::parse_int(io::trim(s.value));
  if (!n) throw UsageError(quoted(s) + ": not a whole number");
  return *n;
}

std::vector<std::string> split_list(std::string_view text, std::string_view separators) {
  std::vector<std::string> items;
  while (true) {
    auto end = text.find_first_of(separators);
    items.emplace_back(io::trim(text.substr(0, end)));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return items;
}

// Validates and builds a choice. `base` is 1 for 1-based indices, 0 for 0-based ones.
PartitionChoice checked(const Setting& index, const Setting& total, int base, std::string source) {
  const int n = whole_number(total);
  if (n < 1) throw UsageError(quoted(total) + ": the number of partitions must be at least 1");
  if (n > kMaxPartitions)
    throw UsageError(quoted(total) + ": more than " + std::to_string(kMaxPartitions) + " partitions");
  const int k = whole_number(index);
  if (k < base || k > n - 1 + base) {
    const std::string range = std::to_string(base) + " to " + std::to_string(n - 1 + base);
    throw UsageError(quoted(index) + ": out of range for " + quoted(total) + " (partitions are numbered " +
                     range + (base == 0 ? ", counting from 0 as this CI does)" : ")"));
  }
  return PartitionChoice{k - base + 1, n, std::move(source)};
}

// "k/N" in one value.
PartitionChoice from_fraction(const Setting& s) {
  auto slash = s.value.find('/');
  if (slash == std::string::npos) throw UsageError(quoted(s) + ": expected k/N, for example 2/4");
  return checked(Setting{s.value.substr(0, slash), s.name + " (k)"},
                 Setting{s.value.substr(slash + 1), s.name + " (N)"}, 1, s.name);
}

// TLB_PARTITION=k/N with only one of TLB_PARTITION_NUMBER and TLB_TOTAL_PARTITIONS, which must agree with it.
PartitionChoice fraction_and_one_part(const std::string& fraction, const std::optional<std::string>& number,
                                      const std::optional<std::string>& total) {
  PartitionChoice choice = from_fraction(Setting{fraction, "TLB_PARTITION"});
  const Setting part =
      number ? Setting{*number, "TLB_PARTITION_NUMBER"} : Setting{*total, "TLB_TOTAL_PARTITIONS"};
  if (whole_number(part) != (number ? choice.number : choice.total)) {
    throw UsageError("TLB_PARTITION=" + fraction + " disagrees with " + quoted(part) +
                     "; set one or the other");
  }
  return choice;
}

struct CiVariables {
  std::string_view ci, index, total;
  int base;
};
constexpr CiVariables kCiVariables[] = {
    {"GitLab", "CI_NODE_INDEX", "CI_NODE_TOTAL", 1},
    {"CircleCI", "CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", 0},
    {"Buildkite", "BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT", 0},
};

// The partition the CI's own variables give (the first CI that sets any). GitLab sets them on every job of a
// `parallel: matrix:`, where nobody asked for a split, so they count only when `use`
// (TLB_TOTAL_PARTITIONS=auto); otherwise they add a warning and give no partition. A total of 1 is no
// partition either way.
std::optional<PartitionChoice> ci_partition(const Environment& env, bool use,
                                            std::vector<std::string>& warnings) {
  for (const CiVariables& ci : kCiVariables) {
    auto index = env(ci.index);
    auto count = env(ci.total);
    if (!index && !count) continue;
    // GitLab sets CI_NODE_TOTAL=1 on every job that is not parallel, with no index; CircleCI index 0 of 1.
    if (count && io::parse_int(io::trim(*count)) == 1) return std::nullopt;
    const std::string set =
        std::string(ci.ci) + "'s " + (index ? std::string(ci.index) + "=" + *index : std::string()) +
        (index && count ? " and " : "") + (count ? std::string(ci.total) + "=" + *count : std::string());
    if (!use) {
      warnings.push_back(set + " ignored: TLB splits by the CI's own variables only with " +
                         "TLB_TOTAL_PARTITIONS=auto, so this job runs every test");
      return std::nullopt;
    }
    if (!index || !count) {
      throw UsageError(std::string(ci.ci) + ": " + std::string(index ? ci.index : ci.total) + " is set but " +
                       std::string(index ? ci.total : ci.index) + " is not");
    }
    return checked(Setting{*index, std::string(ci.index)}, Setting{*count, std::string(ci.total)}, ci.base,
                   std::string(ci.ci) + "'s " + std::string(ci.index));
  }
  if (use) {
    throw UsageError(
        "TLB_TOTAL_PARTITIONS=auto, but no CI partition variable is set (GitLab's CI_NODE_INDEX and "
        "CI_NODE_TOTAL, CircleCI's CIRCLE_NODE_INDEX and CIRCLE_NODE_TOTAL, Buildkite's "
        "BUILDKITE_PARALLEL_JOB and BUILDKITE_PARALLEL_JOB_COUNT)");
  }
  return std::nullopt;
}

}  // namespace

std::optional<PartitionChoice> resolve_partition(const std::optional<std::string>& partition_flag,
                                                 const std::optional<std::string>& total_flag,
                                                 const Environment& env, std::vector<std::string>& warnings) {
  for (std::string_view gtest : {"GTEST_SHARD_INDEX", "GTEST_TOTAL_SHARDS"}) {
    if (auto value = env(gtest)) {
      warnings.push_back(
          std::string(gtest) + "=" + *value +
          " is set: every GoogleTest binary would shard itself again inside this partition. TLB never "
          "uses it; unset it and use TLB_PARTITION_NUMBER and TLB_TOTAL_PARTITIONS.");
    }
  }

  if (partition_flag || total_flag) {
    if (partition_flag && partition_flag->find('/') != std::string::npos) {
      if (total_flag)
        throw UsageError("--partition " + *partition_flag + " already gives the total; drop --total");
      return from_fraction(Setting{*partition_flag, "--partition"});
    }
    if (!partition_flag)
      throw UsageError("--total " + *total_flag + " needs --partition (or write --partition k/N)");
    if (!total_flag)
      throw UsageError("--partition " + *partition_flag + " needs --total (or write --partition k/N)");
    return checked(Setting{*partition_flag, "--partition"}, Setting{*total_flag, "--total"}, 1,
                   "--partition");
  }

  auto fraction = env("TLB_PARTITION");
  auto number = env("TLB_PARTITION_NUMBER");
  auto total = env("TLB_TOTAL_PARTITIONS");
  const bool automatic = total && io::trim(*total) == "auto";
  if (automatic) {
    if (number || fraction) {
      throw UsageError(
          "TLB_TOTAL_PARTITIONS=auto takes the partition from the CI's own variables; unset " +
          std::string(number ? "TLB_PARTITION_NUMBER=" + *number : "TLB_PARTITION=" + *fraction));
    }
    return ci_partition(env, true, warnings);
  }
  if (fraction && number.has_value() != total.has_value())
    return fraction_and_one_part(*fraction, number, total);
  if (number || total) {
    if (!number)
      throw UsageError("TLB_TOTAL_PARTITIONS=" + *total + " is set but TLB_PARTITION_NUMBER is not");
    if (!total)
      throw UsageError("TLB_PARTITION_NUMBER=" + *number + " is set but TLB_TOTAL_PARTITIONS is not");
    PartitionChoice choice = checked(Setting{*number, "TLB_PARTITION_NUMBER"},
                                     Setting{*total, "TLB_TOTAL_PARTITIONS"}, 1, "TLB_PARTITION_NUMBER");
    if (fraction) {
      PartitionChoice other = from_fraction(Setting{*fraction, "TLB_PARTITION"});
      if (other.number != choice.number || other.total != choice.total) {
        throw UsageError("TLB_PARTITION=" + *fraction + " disagrees with TLB_PARTITION_NUMBER=" + *number +
                         " and TLB_TOTAL_PARTITIONS=" + *total + "; set one or the other");
      }
    }
    return choice;
  }
  if (fraction) return from_fraction(Setting{*fraction, "TLB_PARTITION"});
  return ci_partition(env, false, warnings);
}

namespace {

// The original TLB named splitters and orderers by Java class; those names keep working.
std::optional<Splitter> splitter_named(std::string_view name) {
  if (auto s = parse_splitter(name)) return s;
  if (name == "tlb.splitter.TimeBasedTestSplitter") return Splitter::time;
  if (name == "tlb.splitter.CountBasedTestSplitter") return Splitter::count;
  if (name == "round_robin" || name == "roundrobin") return Splitter::round_robin;
  return std::nullopt;
}

std::vector<Splitter> splitter_list(const Setting& s) {
  std::vector<Splitter> chain;
  for (const std::string& name : split_list(s.value, ":,")) {
    auto splitter = splitter_named(name);
    if (!splitter) {
      throw UsageError(quoted(s) + ": unknown splitter '" + name + "' (known: time, count, round-robin)");
    }
    chain.push_back(*splitter);
  }
  return chain;
}

}  // namespace

std::vector<Splitter> resolve_splitters(const std::optional<std::string>& splitter_flag,
                                        const std::optional<std::string>& preferred_flag,
                                        const Environment& env) {
  auto splitter = pick(splitter_flag, "--splitter", env, "TLB_SPLITTER");
  if (splitter && splitter->value != "default" && splitter->value != "tlb.splitter.DefaultingTestSplitter") {
    auto chosen = splitter_named(io::trim(splitter->value));
    if (!chosen) {
      throw UsageError(quoted(*splitter) + ": unknown splitter (known: time, count, round-robin, default)");
    }
    return {*chosen};
  }
  auto preferred = pick(preferred_flag, "--preferred-splitters", env, "TLB_PREFERRED_SPLITTERS");
  if (!preferred) return {Splitter::time, Splitter::count};
  return splitter_list(*preferred);
}

std::vector<Orderer> resolve_orderers(const std::optional<std::string>& flag, const Environment& env) {
  auto setting = pick(flag, "--orderer", env, "TLB_ORDERER");
  if (!setting) return default_orderers();
  std::vector<Orderer> orderers;
  for (const std::string& name : split_list(setting->value, ":,")) {
    if (name == "none" || name == "tlb.orderer.TestOrderer.NO_OP") continue;
    auto orderer = name == "tlb.orderer.FailedFirstOrderer" ? Orderer::failed_first : parse_orderer(name);
    if (!orderer) {
      throw UsageError(quoted(*setting) + ": unknown orderer '" + name +
                       "' (known: failed-first, longest-first, none)");
    }
    orderers.push_back(*orderer);
  }
  return orderers;
}

std::vector<double> resolve_weights(const std::optional<std::string>& flag, int total,
                                    const Environment& env) {
  auto setting = pick(flag, "--weights", env, "TLB_PARTITION_WEIGHTS");
  if (!setting) return {};
  std::vector<double> weights;
  for (const std::string& item : split_list(setting->value, ",")) {
    auto weight = io::parse_number(item);
    if (!weight || *weight < 0.001 || *weight > 1e6) {
      throw UsageError(quoted(*setting) + ": '" + item +
                       "' is not a weight (a number from 0.001 to 1000000)");
    }
    weights.push_back(*weight);
  }
  if (weights.size() != static_cast<std::size_t>(total)) {
    throw UsageError(quoted(*setting) + ": " + std::to_string(weights.size()) + " weights for " +
                     std::to_string(total) + " partitions");
  }
  return weights;
}

bool resolve_strict(bool flag, const Environment& env) {
  if (flag) return true;
  auto value = env("TLB_STRICT");
  if (!value) return false;
  for (std::string_view yes : {"1", "true", "TRUE", "yes", "YES", "on", "ON"}) {
    if (*value == yes) return true;
  }
  for (std::string_view no : {"0", "false", "FALSE", "no", "NO", "off", "OFF"}) {
    if (*value == no) return false;
  }
  throw UsageError("TLB_STRICT=" + *value + ": expected 1 or 0");
}

int resolve_parallel_level(const std::optional<std::string>& flag, const Environment& env) {
  std::optional<Setting> level = pick(flag, "--parallel-level", env, "TLB_PARALLEL_LEVEL");
  if (!level) {
    if (auto ctest = env("CTEST_PARALLEL_LEVEL")) level = Setting{*ctest, "CTEST_PARALLEL_LEVEL"};
  }
  if (!level) return 1;
  const int j = whole_number(*level);
  if (j < 1) throw UsageError(quoted(*level) + ": the number of tests run at once must be at least 1");
  return j;
}

std::optional<Setting> resolve_store(const std::optional<std::string>& flag, const Environment& env) {
  if (auto store = pick(flag, "--store", env, "TLB_STORE")) return store;
  return pick(std::nullopt, "", env, "TLB_BASE_URL");
}

store::ServerOptions resolve_server_options(const Environment& env) {
  store::ServerOptions options;
  options.job = env("TLB_JOB_NAME").value_or("");
  if (auto version = env("TLB_JOB_VERSION")) {
    options.job_version = *version;
  } else {
    // The CI's id of the whole run (not of one job, nor of one attempt: a retried job rejoins its run).
    for (std::string_view variable :
         {"GITHUB_RUN_ID", "CI_PIPELINE_ID", "CIRCLE_WORKFLOW_ID", "BUILDKITE_BUILD_ID"}) {
      if (auto id = env(variable)) {
        options.job_version = *id;
        break;
      }
    }
  }
  options.run_key = resolve_run_key(env);
  options.token = env("TLB_TOKEN").value_or("");
  if (auto timeout = pick(std::nullopt, "", env, "TLB_SERVER_TIMEOUT")) {
    auto value = io::parse_number(io::trim(timeout->value));
    if (!value || !(*value > 0 && *value <= 3600)) {
      throw UsageError(quoted(*timeout) + ": not a number of seconds (more than 0, at most 3600)");
    }
    options.timeout_seconds = *value;
  }
  if (auto retry = pick(std::nullopt, "", env, "TLB_SERVER_RETRY_SECONDS")) {
    auto value = io::parse_number(io::trim(retry->value));
    if (!value || !(*value >= 0 && *value <= 3600)) {
      throw UsageError(quoted(*retry) + ": not a number of seconds (0 to 3600)");
    }
    options.retry_seconds = *value;
  }
  return options;
}

std::unique_ptr<store::Store> open_store(const Setting& store, const store::HistoryPolicy& policy,
                                         const store::ServerOptions& server) {
  try {
    return store::open_store(store.value, policy, server);
  } catch (const store::UnsupportedStore& e) {
    throw UsageError(quoted(store) + ": " + e.what());
  }
}

std::unique_ptr<store::Store> open_store(const Setting& store, const Environment& env) {
  return open_store(store, resolve_history_policy(env), resolve_server_options(env));
}

store::HistoryPolicy resolve_history_policy(const Environment& env) {
  store::HistoryPolicy policy;
  if (auto alpha = pick(std::nullopt, "", env, "TLB_SMOOTHING_FACTOR")) {
    auto value = io::parse_number(io::trim(alpha->value));
    if (!value) {
      throw UsageError(quoted(*alpha) + ": not a number (a smoothing factor in (0, 1] such as 0.5, written " +
                       "with a point)");
    }
    if (!(*value > 0 && *value <= 1)) {
      throw UsageError(
          quoted(*alpha) +
          ": the smoothing factor must be greater than 0 and at most 1 (1 keeps only the latest run)");
    }
    policy.smoothing_factor = *value;
  }
  if (auto days = pick(std::nullopt, "", env, "TLB_FORGET_AFTER_DAYS")) {
    auto value = io::parse_int(io::trim(days->value));
    if (!value) throw UsageError(quoted(*days) + ": not a whole number of days (0 or more)");
    policy.forget_after_days = *value;
  }
  return policy;
}

store::Date resolve_today(const Environment& env) {
  if (auto epoch = env("SOURCE_DATE_EPOCH")) {
    long long seconds = -1;
    const std::string text(io::trim(*epoch));
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (error != std::errc() || end != text.data() + text.size() || text.empty() || seconds < 0 ||
        seconds > 253'402'300'799LL) {  // 9999-12-31T23:59:59Z
      throw UsageError("SOURCE_DATE_EPOCH=" + *epoch + ": not a whole number of seconds since 1970-01-01");
    }
    return std::chrono::floor<std::chrono::days>(std::chrono::sys_seconds(std::chrono::seconds(seconds)));
  }
  return std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
}

std::optional<std::string> SplitFlags::flag(const std::string& name, const std::string& value) const {
  if (command == nullptr || command->count(name) == 0) return std::nullopt;
  return value;
}

void add_split_flags(CLI::App* command, SplitFlags& flags) {
  flags.command = command;
  command
      ->add_option("--partition", flags.partition, "This partition, 1-based: k or k/N [TLB_PARTITION_NUMBER]")
      ->type_name("K");
  command->add_option("--total", flags.total, "Number of partitions [TLB_TOTAL_PARTITIONS]")->type_name("N");
  command
      ->add_option("--weights", flags.weights,
                   "Relative work per partition, e.g. 1,1,2 [TLB_PARTITION_WEIGHTS]")
      ->type_name("W,...");
  command->add_option("--splitter", flags.splitter, "time, count, round-robin, or default [TLB_SPLITTER]")
      ->type_name("NAME");
  command
      ->add_option("--preferred-splitters", flags.preferred,
                   "Chain tried in order by 'default' [TLB_PREFERRED_SPLITTERS: time:count]")
      ->type_name("A:B");
  command
      ->add_option("--orderer", flags.orderer,
                   "failed-first, longest-first or none [TLB_ORDERER: failed-first:longest-first]")
      ->type_name("A:B");
  command
      ->add_option(
          "--parallel-level", flags.parallel_level,
          "The J of the ctest -j J each partition runs with [TLB_PARALLEL_LEVEL, CTEST_PARALLEL_LEVEL: 1]")
      ->type_name("J");
}

SplitOptions resolve_split_options(const SplitFlags& flags, int total, const Environment& env) {
  SplitOptions options;
  options.total = total;
  options.weights = resolve_weights(flags.flag("--weights", flags.weights), total, env);
  options.splitters = resolve_splitters(flags.flag("--splitter", flags.splitter),
                                        flags.flag("--preferred-splitters", flags.preferred), env);
  options.parallel_level = resolve_parallel_level(flags.flag("--parallel-level", flags.parallel_level), env);
  return options;
}

}  // namespace tlb::cli
