#include "cli/run_key.hpp"

#include <filesystem>
#include <vector>

#include "io/text.hpp"

namespace tlb::cli {
namespace {

// "2/4" as a whole: digits, a slash, digits.
bool is_index(std::string_view text) {
  const std::size_t slash = text.find('/');
  const auto digits = [](std::string_view part) {
    return !part.empty() && part.find_first_not_of("0123456789") == std::string_view::npos;
  };
  return slash != std::string_view::npos && digits(text.substr(0, slash)) && digits(text.substr(slash + 1));
}

// "test: [gcc, 2]" without the one value that is the partition's number.
std::string without_matrix_value(std::string_view name, int partition) {
  const std::size_t open = name.rfind(": [");
  if (open == std::string_view::npos || !name.ends_with(']')) return std::string(name);
  const std::string_view values = name.substr(open + 3, name.size() - open - 4);
  std::vector<std::string_view> kept;
  bool dropped = false;
  for (std::size_t start = 0; start <= values.size();) {
    std::size_t comma = values.find(',', start);
    if (comma == std::string_view::npos) comma = values.size();
    const std::string_view value = io::trim(values.substr(start, comma - start));
    if (!dropped && value == std::to_string(partition)) {
      dropped = true;
    } else {
      kept.push_back(value);
    }
    start = comma + 1;
  }
  if (!dropped) return std::string(name);
  std::string text(name.substr(0, open));
  if (kept.empty()) return text;
  text += ": [";
  for (std::size_t i = 0; i < kept.size(); ++i) text.append(i == 0 ? "" : ", ").append(kept[i]);
  return text + "]";
}

// The partition number the environment names, for ci_job_name; nothing when none (or a bad one, which the
// split itself reports).
std::optional<int> partition_number(const Environment& env) {
  std::vector<std::string> ignored;
  try {
    if (auto choice = resolve_partition(std::nullopt, std::nullopt, env, ignored)) return choice->number;
  } catch (const UsageError&) {
  }
  return std::nullopt;
}

std::string printable(std::string_view text) {
  std::string out(io::trim(text));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

// The value of `set(<name> [==[value]==])` in a settings file's text; nullopt when it is not there.
std::optional<std::string> bracket_setting(const std::string& text, const std::string& name) {
  const std::string open = "set(" + name + " [==[";
  const std::size_t at = text.find(open);
  if (at == std::string::npos) return std::nullopt;
  const std::size_t begin = at + open.size();
  const std::size_t end = text.find("]==])", begin);
  if (end == std::string::npos) return std::nullopt;
  return text.substr(begin, end - begin);
}

}  // namespace

std::string build_identity(const std::string& build_dir, const std::optional<std::string>& config) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(build_dir.empty() ? "." : build_dir) / "CMakeFiles" / "TLB";
  fs::path settings = dir / ("settings-" + config.value_or("") + ".cmake");
  std::error_code error;
  if (!config || !fs::exists(settings, error)) {
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(dir, error)) {
      const std::string file = entry.path().filename().string();
      if (file.starts_with("settings-") && file.ends_with(".cmake")) found.push_back(entry.path());
    }
    if (found.size() != 1) return "";
    settings = found.front();
  }
  const std::string text = io::read_file(settings.string());
  const std::string identity = bracket_setting(text, "_tlb_build_identity").value_or("");
  const std::string built = config.value_or(bracket_setting(text, "_tlb_build_config").value_or(""));
  // As TLBHook.cmake's _tlb_pass_build_identity makes it.
  if (built.empty()) return identity;
  return "config " + built + (identity.empty() ? "" : " / " + identity);
}

std::string ci_job_name(std::string_view name, std::optional<int> partition) {
  name = io::trim(name);
  if (const std::size_t space = name.rfind(' ');
      space != std::string_view::npos && is_index(name.substr(space + 1))) {
    name = io::trim(name.substr(0, space));
  }
  if (!partition) return std::string(name);
  // A job named by hand for its partition ("test-2", "test_2", "test 2" for partition 2) is the same job.
  const std::string number = std::to_string(*partition);
  if (name.size() > number.size() + 1 && name.ends_with(number)) {
    const char separator = name[name.size() - number.size() - 1];
    if (separator == '-' || separator == '_' || separator == ' ')
      return std::string(io::trim(name.substr(0, name.size() - number.size() - 1)));
  }
  return without_matrix_value(name, *partition);
}

std::string resolve_run_key(const Environment& env) {
  std::vector<std::string> parts;
  if (auto build = env("TLB_BUILD_IDENTITY")) parts.push_back(printable(*build));
  for (std::string_view variable :
       {"GITHUB_JOB", "CI_JOB_NAME", "CIRCLE_JOB", "BUILDKITE_STEP_KEY", "BUILDKITE_LABEL"}) {
    if (auto name = env(variable)) {
      parts.push_back("job " + printable(ci_job_name(*name, partition_number(env))));
      break;
    }
  }
  if (auto key = env("TLB_RUN_KEY")) parts.push_back("key " + printable(*key));
  std::string key;
  for (const std::string& part : parts) key.append(key.empty() ? "" : " / ").append(part);
  return key;
}

void add_run_key_option(CLI::App* command, std::string& value) {
  command
      ->add_option(
          "--run-key", value,
          "Tells this cell of a CI matrix from the others, beside the build's configuration, compiler "
          "and system and the CI job's name: each cell is a run of its own [TLB_RUN_KEY]")
      ->type_name("KEY");
}

Environment with_variable(Environment env, std::string name, std::string value) {
  if (value.empty()) return env;
  return [env = std::move(env), name = std::move(name),
          value = std::move(value)](std::string_view variable) -> std::optional<std::string> {
    if (variable == name) return value;
    return env(variable);
  };
}

}  // namespace tlb::cli
