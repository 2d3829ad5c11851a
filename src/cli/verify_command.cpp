#include "cli/verify_command.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <tuple>

#include "cli/app.hpp"
#include "cli/record_command.hpp"
#include "io/text.hpp"

namespace tlb::cli {
namespace {

namespace fs = std::filesystem;

struct VerifyArgs {
  std::vector<std::string> inputs;
  std::optional<std::string> store;
  bool json = false;
  bool strict = false;
};

// With no records named, the server the store settings name proves the run from what its partitions
// reported.
int verify_on_server(const VerifyArgs& args, std::ostream& out, const Environment& env, bool strict) {
  const std::optional<Setting> store = resolve_store(args.store, env);
  if (!store) {
    throw UsageError(
        "nothing to verify: name the partition records (tlb verify build-*/tlb), or set TLB_STORE to a TLB "
        "server to ask it");
  }
  // The CI run's version with no run key: the server verifies every cell of it (each configuration of a
  // matrix, under its own key), each on its own; this job's own key would name only its cell, or none.
  store::ServerOptions server = resolve_server_options(env);
  server.run_key.clear();
  std::unique_ptr<store::Store> opened = open_store(*store, resolve_history_policy(env), server);
  store::RunLedger* ledger = opened->run_ledger();
  if (ledger == nullptr) {
    throw UsageError(
        store::is_server_url(opened->location())
            ? "the server needs to know which run to verify: set TLB_JOB_VERSION (or run in a CI "
              "whose run id tlb knows)"
            : store->name + "=" + store->value +
                  " is a timing file, which keeps no partition records: name the records (tlb "
                  "verify build-*/tlb)");
  }
  std::size_t count = 0;
  const Verification verification = ledger->verify(strict, count);
  out << (args.json ? io::verification_json(verification, count)
                    : io::verification_text(verification, count));
  return verification.proven() ? kSuccess : kInputError;
}

int run_verify(const VerifyArgs& args, std::ostream& out, std::ostream& err, const Environment& env) {
  const bool strict = resolve_strict(args.strict, env);
  if (args.inputs.empty()) return verify_on_server(args, out, env, strict);
  std::vector<LoadedRecord> records;
  for (const std::string& input : args.inputs) {
    std::error_code error;
    if (fs::is_directory(input, error)) {
      const std::vector<std::string> paths = partition_records_in(input);
      if (paths.empty()) err << "tlb: warning: " << input << ": no partition records here\n";
      for (const std::string& path : paths) records.push_back(LoadedRecord{path, io::read_record(path)});
    } else if (!fs::exists(input, error)) {
      throw io::InputError(input, 0, "no such file or directory");
    } else {
      records.push_back(LoadedRecord{input, io::read_record(input)});
    }
  }
  if (records.empty()) {
    throw io::InputError(
        args.inputs.front(), 0,
        "no partition records found (the CMake hook writes <build>/tlb/partition-K-of-N.json)");
  }
  const std::size_t count = records.size();
  const Verification verification = verify_records(std::move(records), strict);
  out << (args.json ? io::verification_json(verification, count)
                    : io::verification_text(verification, count));
  return verification.proven() ? kSuccess : kInputError;
}

}  // namespace

std::function<int(std::ostream&, std::ostream&, const Environment&)> add_verify_command(CLI::App& app) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* cmd =
      app.add_subcommand("verify", "Prove that every test ran exactly once across the partitions.");
  cmd->description(
      "Prove from the partitions' records that every test ran exactly once and no partition is missing.\n\n"
      "Reports, grouped by kind: records that saw another total, test list or history snapshot\n"
      "(inconsistent), missing or duplicate partitions, records tlb record never completed, tests in no\n"
      "partition or in two, tests lost (assigned, no result), duplicated (ran in two partitions), and "
      "results\n"
      "for tests a partition was not given. Fixture setup/cleanup tests may run in every partition that\n"
      "needs them. Exit status 0 when proven, 1 when not.\n\n"
      "With a TLB server (TLB_STORE=http://host:7019) and no records named, the server proves the run\n"
      "TLB_JOB_NAME and TLB_JOB_VERSION name from what its partitions reported as they ran.\n\n"
      "Records of different run keys (the cells of a CI matrix: another configuration, compiler, system,\n"
      "CI job or TLB_RUN_KEY) are different runs, each checked on its own; with a server, every cell of\n"
      "the CI run is.\n\n"
      "Examples (the last job of a CI run):\n"
      "  tlb verify build-*/tlb/*.json      # each job's build/tlb/*.json, downloaded\n"
      "  TLB_STORE=http://tlb.ci:7019 tlb verify");
  cmd->add_option("inputs", args->inputs,
                  "Partition records, or directories holding them (and their tlb/); none: ask the server")
      ->type_name("RECORD_OR_DIR");
  cmd->add_option("--store", args->store, "With no records named: the TLB server to ask [TLB_STORE]")
      ->type_name("URL");
  cmd->add_flag("--json", args->json,
                "JSON: {\"proven\", \"problems\": [{kind, test, partitions, message}], ...}");
  cmd->add_flag("--strict", args->strict, "A partition split without its history is a problem [TLB_STRICT]");
  cmd->footer(
      "Exit status: 0 proven, 1 a problem found or a record that cannot be read, 2 bad flag or variable.");
  return [args](std::ostream& out, std::ostream& err, const Environment& env) {
    return run_verify(*args, out, err, env);
  };
}

}  // namespace tlb::cli
