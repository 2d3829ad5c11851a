#include "io/fingerprint.hpp"

#include <algorithm>
#include <cmath>
#include <locale>
#include <sstream>
#include <string_view>

#include "io/fingerprint_json.hpp"
#include "io/record.hpp"
#include "io/text.hpp"

namespace tlb::io {
namespace {

std::string joined(const std::vector<std::string>& items, std::string_view separator) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) text.append(i == 0 ? "" : separator).append(items[i]);
  return text;
}

// One line for a test, with what the split reads of it: its name, COST (in microseconds), PROCESSORS,
// RUN_SERIAL, DISABLED, fixtures and DEPENDS.
std::string test_line(const Test& test) {
  std::ostringstream line;
  line.imbue(std::locale::classic());
  line << test.name << '\t' << (test.cost ? std::to_string(std::llround(*test.cost * 1e6)) : std::string("-"))
       << '\t' << test.processors << '\t' << test.run_serial << test.disabled;
  for (const auto* list :
       {&test.fixtures_setup, &test.fixtures_cleanup, &test.fixtures_required, &test.depends}) {
    std::vector<std::string> sorted = *list;
    std::sort(sorted.begin(), sorted.end());
    line << '\t' << joined(sorted, ";");
  }
  return line.str();
}

std::string history_text(const std::string& hash) {
  return hash.empty() ? "none" : hash;
}

}  // namespace

SplitFingerprint fingerprint_split(const std::vector<Test>& tests, const std::string& history_hash,
                                   const SplitOptions& options) {
  SplitFingerprint fingerprint;
  std::vector<std::string> lines;
  lines.reserve(tests.size());
  for (const Test& test : tests) lines.push_back(test_line(test));
  std::sort(lines.begin(), lines.end());
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  fingerprint.tests = lines.size();
  fingerprint.test_list = hash_names(lines);
  fingerprint.history = history_hash;
  fingerprint.total = options.total;
  std::vector<std::string> weights;
  for (double weight : options.weights) weights.push_back(std::to_string(std::llround(weight * 1000)));
  fingerprint.weights = joined(weights, ",");
  std::vector<std::string> splitters;
  for (Splitter splitter : options.splitters) splitters.emplace_back(to_string(splitter));
  fingerprint.splitters = joined(splitters, ":");
  fingerprint.parallel_level = options.parallel_level;
  fingerprint.hash = fingerprint_hash(fingerprint);
  return fingerprint;
}

std::string fingerprint_hash(const SplitFingerprint& f) {
  return hash_names({std::to_string(f.tests), f.test_list, f.history, std::to_string(f.total), f.weights,
                     f.splitters, std::to_string(f.parallel_level), std::to_string(f.algorithm)});
}

std::optional<std::string> fingerprint_difference(const SplitFingerprint& mine,
                                                  const SplitFingerprint& theirs) {
  std::vector<std::string> differences;
  const auto differ = [&](bool different, const std::string& what, const std::string& a,
                          const std::string& b) {
    if (different) differences.push_back(what + ": " + a + " against " + b);
  };
  differ(mine.tests != theirs.tests, "the number of tests", std::to_string(mine.tests),
         std::to_string(theirs.tests));
  differ(mine.tests == theirs.tests && mine.test_list != theirs.test_list,
         "the test list (same count, other names or properties)", mine.test_list, theirs.test_list);
  differ(mine.history != theirs.history, "the history", history_text(mine.history),
         history_text(theirs.history));
  differ(mine.total != theirs.total, "the number of partitions", std::to_string(mine.total),
         std::to_string(theirs.total));
  differ(mine.weights != theirs.weights, "the weights (TLB_PARTITION_WEIGHTS, in thousandths)",
         mine.weights.empty() ? "equal" : mine.weights, theirs.weights.empty() ? "equal" : theirs.weights);
  differ(mine.splitters != theirs.splitters, "the splitters (TLB_SPLITTER, TLB_PREFERRED_SPLITTERS)",
         mine.splitters, theirs.splitters);
  differ(mine.parallel_level != theirs.parallel_level,
         "the parallel level (TLB_PARALLEL_LEVEL, CTEST_PARALLEL_LEVEL)", std::to_string(mine.parallel_level),
         std::to_string(theirs.parallel_level));
  differ(mine.algorithm != theirs.algorithm, "the split algorithm's version (another tlb)",
         std::to_string(mine.algorithm), std::to_string(theirs.algorithm));
  if (differences.empty()) {
    if (mine.hash == theirs.hash) return std::nullopt;
    differences.push_back("the fingerprint: " + mine.hash + " against " + theirs.hash);
  }
  return joined(differences, ", ");
}

nlohmann::ordered_json fingerprint_json(const SplitFingerprint& f) {
  return nlohmann::ordered_json{{"hash", f.hash},           {"tests", f.tests},
                                {"test_list", f.test_list}, {"history", f.history},
                                {"total", f.total},         {"weights", f.weights},
                                {"splitters", f.splitters}, {"parallel_level", f.parallel_level},
                                {"algorithm", f.algorithm}};
}

SplitFingerprint fingerprint_from_json(const nlohmann::json& document, const std::string& source) {
  SplitFingerprint f;
  try {
    f.hash = document.at("hash").get<std::string>();
    f.tests = document.at("tests").get<std::size_t>();
    f.test_list = document.at("test_list").get<std::string>();
    f.history = document.at("history").get<std::string>();
    f.total = document.at("total").get<int>();
    f.weights = document.at("weights").get<std::string>();
    f.splitters = document.at("splitters").get<std::string>();
    f.parallel_level = document.at("parallel_level").get<int>();
    f.algorithm = document.at("algorithm").get<int>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source, 0, std::string("\"fingerprint\": ") + e.what());
  }
  if (fingerprint_hash(f) != f.hash) {
    throw InputError(source, 0, "\"fingerprint\" does not match its \"hash\" " + f.hash);
  }
  return f;
}

}  // namespace tlb::io
