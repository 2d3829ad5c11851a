#include "cli/split_inputs.hpp"

#include <filesystem>

#include "io/durations.hpp"
#include "io/test_list.hpp"
#include "io/text.hpp"
#include "platform/platform.hpp"

namespace tlb::cli {

std::vector<Test> read_tests(const std::optional<std::string>& path, const std::string& no_input) {
  const std::string tests_path = path.value_or("-");
  if (tests_path == "-" && platform::stdin_is_terminal()) throw UsageError(no_input);
  return io::read_test_list(tests_path);
}

HistorySource load_history(const std::optional<std::string>& store_flag,
                           const std::optional<std::string>& durations, const Environment& env, bool strict,
                           std::vector<std::string>& warnings) {
  HistorySource source;
  const std::optional<Setting> store_url = resolve_store(store_flag, env);
  if (store_url && durations) {
    throw UsageError("--durations and " + store_url->name + " both name a history; give one");
  }
  if (store_url && env("TLB_STATIC_SPLIT")) {
    // `tlb run --queue` could not reach the server: every job it fell back on splits on no history, alike,
    // whatever the server answers by the time this one asks (one reading it would split apart from the
    // others).
    source.given = true;
    source.loaded.source = store_url->value;
    source.loaded.status = store::HistoryStatus::unavailable;
    source.loaded.warning =
        store_url->value + ": not read (TLB_STATIC_SPLIT: the queue's static split uses no history)";
    warnings.push_back(source.loaded.warning);
    source.origin = "none (" + source.loaded.warning + ")";
    return source;
  }
  if (store_url) {
    source.given = true;
    source.from_store = true;
    source.server = resolve_server_options(env);
    source.store = open_store(*store_url, resolve_history_policy(env), source.server);
    source.loaded = source.store->load();
    if (source.loaded.status != store::HistoryStatus::ok) {
      if (strict) {
        // The warning names its source already.
        std::string why = source.loaded.warning;
        if (why.starts_with(source.loaded.source + ": ")) why.erase(0, source.loaded.source.size() + 2);
        throw io::InputError(source.loaded.source, 0,
                             why + " (TLB_STRICT is set, so tlb does not split without it)");
      }
      warnings.push_back(source.loaded.warning);
      source.origin = "none (" + source.loaded.warning + ")";
    } else {
      const std::size_t count = source.loaded.history.size();
      source.origin =
          std::to_string(count) + " test" + (count == 1 ? "" : "s") + " from " + source.loaded.source;
    }
    return source;
  }
  source.loaded.status = store::HistoryStatus::missing;
  source.origin = "none (no --durations given)";
  if (!durations) return source;
  const std::string& path = *durations;
  source.given = true;
  source.loaded.source = io::display_name(path);
  if (path != "-" && !std::filesystem::exists(path)) {
    if (strict) throw io::InputError(path, 0, "no such durations file (TLB_STRICT is set)");
    warnings.push_back(path + ": no such durations file yet; splitting without history");
    source.origin = "none (" + path + " does not exist yet)";
    return source;
  }
  io::Durations read = io::read_durations(path);
  source.loaded.history = std::move(read.history);
  source.loaded.status = store::HistoryStatus::ok;
  source.loaded.hash = store::history_hash(source.loaded.history);
  source.origin = std::to_string(source.loaded.history.size()) + " test" +
                  (source.loaded.history.size() == 1 ? "" : "s") + " from " + source.loaded.source + " (" +
                  std::string(io::to_string(read.format)) + ")";
  return source;
}

}  // namespace tlb::cli
