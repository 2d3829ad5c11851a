// The run key: what tells one cell of a CI matrix from another under one CI run id ({gcc, clang} x 4
// partitions), so that each cell is a run of its own on the server and in `tlb verify`. It holds only what is
// the same in every partition of a cell: never a host, a path or the partition's number.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cli/settings.hpp"

namespace tlb::cli {

// The CI job's own name without the partition index the CI adds to it: GitLab's `parallel: N` names
// "test 2/4" -> "test"; a GitLab `parallel: matrix:` name "test: [gcc, 2]" loses the one value equal to
// `partition` -> "test: [gcc]". Other names are kept as they are, surrounding spaces trimmed.
std::string ci_job_name(std::string_view name, std::optional<int> partition);

// The readable run key, its parts joined by " / ": the build's identity the include(TLB) hook passes in
// TLB_BUILD_IDENTITY ("config Release / CXX GNU 12.2.0 / Linux x86_64"), "job NAME" for the CI job's
// ci_job_name (GITHUB_JOB, GitLab's CI_JOB_NAME, CIRCLE_JOB, BUILDKITE_STEP_KEY else BUILDKITE_LABEL), and
// "key VALUE" for TLB_RUN_KEY. Bytes outside printable ASCII become '?'. "" when none is set.
std::string resolve_run_key(const Environment& env);

// The build's part of the run key, as the hook passes it in TLB_BUILD_IDENTITY, for a command that runs ctest
// itself (`tlb run --queue`): read from the settings include(TLB) wrote into `build_dir` for `config` (else
// its only configuration). "" when there are none.
std::string build_identity(const std::string& build_dir, const std::optional<std::string>& config);

// Adds --run-key KEY to `command`, bound to `value` (with_variable(env, "TLB_RUN_KEY", value) applies it).
void add_run_key_option(CLI::App* command, std::string& value);

// `env` with `name` set to `value`, when `value` is not empty (a flag that was given).
Environment with_variable(Environment env, std::string name, std::string value);

}  // namespace tlb::cli
