#include "cli/plan_file.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "io/atomic_file.hpp"
#include "io/fingerprint_json.hpp"
#include "io/record.hpp"
#include "io/text.hpp"

namespace tlb::cli {
namespace {

constexpr std::string_view kKind = "tlb-plan-file";
constexpr int kVersion = 1;

using nlohmann::ordered_json;

ordered_json partition_json(const Partition& partition, const std::vector<std::string>& run_order) {
  ordered_json tests = ordered_json::array();
  for (const PlannedTest& t : partition.tests) {
    tests.push_back(ordered_json{{"name", t.name},
                                 {"seconds", t.seconds},
                                 {"estimate", io::to_string(t.estimate)},
                                 {"fixture", t.fixture}});
  }
  return ordered_json{{"number", partition.number},
                      {"weight", partition.weight},
                      {"predicted_seconds", partition.predicted_seconds},
                      {"tests", std::move(tests)},
                      {"run_order", run_order}};
}

Estimate estimate_named(const std::string& name) {
  for (Estimate e : {Estimate::history, Estimate::cost, Estimate::fallback, Estimate::disabled}) {
    if (io::to_string(e) == name) return e;
  }
  throw std::invalid_argument("unknown estimate '" + name + "'");
}

Partition partition_from(const nlohmann::json& entry, std::vector<std::string>& run_order) {
  Partition partition;
  partition.number = entry.at("number").get<int>();
  partition.weight = entry.at("weight").get<double>();
  partition.predicted_seconds = entry.at("predicted_seconds").get<double>();
  for (const nlohmann::json& t : entry.at("tests")) {
    partition.tests.push_back(PlannedTest{t.at("name").get<std::string>(), t.at("seconds").get<double>(),
                                          estimate_named(t.at("estimate").get<std::string>()),
                                          t.at("fixture").get<bool>()});
  }
  run_order = entry.at("run_order").get<std::vector<std::string>>();
  std::vector<std::string> names, ordered = run_order;
  for (const PlannedTest& t : partition.tests) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  std::sort(ordered.begin(), ordered.end());
  if (names != ordered) {
    throw std::invalid_argument("partition " + std::to_string(partition.number) +
                                "'s run_order is not its tests");
  }
  return partition;
}

}  // namespace

void write_plan_file(const std::string& path, const PlanFile& file) {
  ordered_json partitions = ordered_json::array();
  for (std::size_t i = 0; i < file.plan.partitions.size(); ++i) {
    partitions.push_back(partition_json(file.plan.partitions[i], file.run_order[i]));
  }
  const ordered_json document{{"kind", std::string(kKind)},
                              {"version", kVersion},
                              {"fingerprint", io::fingerprint_json(file.fingerprint)},
                              {"history_source", file.history_source},
                              {"history_status", file.history_status},
                              {"splitter", std::string(to_string(file.plan.splitter))},
                              {"lower_bound_seconds", file.plan.lower_bound_seconds},
                              {"predicted_makespan_seconds", file.plan.predicted_makespan_seconds},
                              {"partitions", std::move(partitions)}};
  std::string text;
  try {
    text = document.dump(2) + "\n";
  } catch (const nlohmann::json::exception&) {
    throw io::InputError(path, 0, "a test name is not valid UTF-8; cannot write the plan");
  }
  io::write_file_atomically(path, text);
}

PlanFile read_plan_file(const std::string& path) {
  const std::string source = io::display_name(path);
  PlanFile file;
  try {
    const nlohmann::json document = nlohmann::json::parse(io::strip_bom(io::read_file(path)));
    if (!document.is_object() || document.value("kind", "") != kKind) {
      throw io::InputError(source, 0, "not a tlb plan file (write one with tlb plan --out FILE)");
    }
    if (document.at("version").get<int>() > kVersion) {
      throw io::InputError(source, 0, "a plan file of a newer tlb; this one reads version 1");
    }
    file.fingerprint = io::fingerprint_from_json(document.at("fingerprint"), source);
    file.history_source = document.at("history_source").get<std::string>();
    file.history_status = document.at("history_status").get<std::string>();
    const auto splitter = parse_splitter(document.at("splitter").get<std::string>());
    if (!splitter) throw std::invalid_argument("unknown splitter");
    file.plan.splitter = *splitter;
    file.plan.lower_bound_seconds = document.at("lower_bound_seconds").get<double>();
    file.plan.predicted_makespan_seconds = document.at("predicted_makespan_seconds").get<double>();
    for (const nlohmann::json& entry : document.at("partitions")) {
      file.run_order.emplace_back();
      file.plan.partitions.push_back(partition_from(entry, file.run_order.back()));
    }
  } catch (const nlohmann::json::exception& e) {
    throw io::InputError(source, 0, std::string("not a tlb plan file: ") + e.what());
  } catch (const std::invalid_argument& e) {
    throw io::InputError(source, 0, std::string("not a tlb plan file: ") + e.what());
  }
  if (static_cast<int>(file.plan.partitions.size()) != file.fingerprint.total) {
    throw io::InputError(source, 0, "not a tlb plan file: its partitions are not its total");
  }
  return file;
}

void check_plan_file(const PlanFile& file, const std::string& path, const std::vector<Test>& tests,
                     int total) {
  const io::SplitFingerprint mine = io::fingerprint_split(tests, file.fingerprint.history, SplitOptions{});
  const io::SplitFingerprint& planned = file.fingerprint;
  if (mine.tests != planned.tests || mine.test_list != planned.test_list) {
    throw io::InputError(io::display_name(path), 0,
                         "the plan was made for another test list (" + std::to_string(planned.tests) +
                             " tests, " + planned.test_list + ") than this build tree's (" +
                             std::to_string(mine.tests) + " tests, " + mine.test_list +
                             "); no test was run. Write the plan again from this build tree");
  }
  if (total != planned.total) {
    throw io::InputError(io::display_name(path), 0,
                         "the plan has " + std::to_string(planned.total) +
                             " partitions, this job's partition " + "setting " + std::to_string(total) +
                             "; no test was run");
  }
}

}  // namespace tlb::cli
