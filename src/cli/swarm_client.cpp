#include "cli/swarm_client.hpp"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <sstream>
#include <string_view>

#include "cli/child_process.hpp"
#include "io/record.hpp"
#include "io/test_list.hpp"
#include "io/text.hpp"
#include "store/http_client.hpp"
#include "store/store.hpp"

namespace tlb::cli {
namespace {

constexpr std::string_view kApi = "/api/v1/swarm";

Answer answer_of(const httplib::Result& result, const SwarmServer& server) {
  if (!result) throw NoAnswer(server.url + ": " + store::no_answer_reason(result.error()));
  Answer answer;
  answer.status = result->status;
  answer.body = nlohmann::json::parse(result->body, nullptr, false);
  if (answer.body.is_discarded()) answer.body = nlohmann::json::object();
  if (!answer.ok()) answer.reason = store::refusal_reason(*result);
  return answer;
}

httplib::Client client_for(const SwarmServer& server) {
  return store::http_client(server.origin, server.timeout_seconds, server.token);
}

// A fixed amount of integer work, timed: iterations per millisecond, bigger is faster. The work is the same
// on every machine, so scores compare; the best of a few rounds, so a scheduler hiccup does not count.
double benchmark() {
  constexpr std::uint64_t kIterations = 1 << 22;
  constexpr int kRounds = 4;
  double best_ms = 0;
  std::uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (int round = 0; round < kRounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    // A dependency chain of multiplies and shifts (a 64-bit finaliser): nothing to vectorise or fold.
    for (std::uint64_t i = 0; i < kIterations; ++i) {
      x ^= x >> 33;
      x *= 0xFF51AFD7ED558CCDULL;
      x ^= i;
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (round == 0 || ms < best_ms) best_ms = ms;
  }
  // A volatile store of the result, so that the compiler cannot drop the loop.
  [[maybe_unused]] volatile std::uint64_t sink = x;
  return std::round(static_cast<double>(kIterations) / std::max(best_ms, 1e-3));
}

std::string seconds_attribute(double seconds) {
  std::ostringstream text;
  text.imbue(std::locale::classic());
  text.setf(std::ios::fixed);
  text.precision(3);
  text << seconds;
  return text.str();
}

}  // namespace

Lifetime::Lifetime() {
  watcher_ = std::thread([this] {
    while (!finished_) {
      const int caught = signals_.wait(std::chrono::milliseconds(200));
      if (caught > 0) {
        signal_ = caught;
        stop();
      }
    }
  });
}

Lifetime::~Lifetime() {
  finished_ = true;
  watcher_.join();
}

void Lifetime::stop() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  wake_.notify_all();
}

bool Lifetime::stopping() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

bool Lifetime::sleep(double seconds) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return stopping_; });
}

nlohmann::json Session::join(const nlohmann::json& registration) {
  Answer answer;
  try {
    answer = client_.post("/agents", registration);
  } catch (const NoAnswer& e) {
    throw io::InputError(url(), 0, std::string("cannot join the swarm: ") + e.what());
  }
  if (!answer.ok()) throw io::InputError(url(), 0, "cannot join the swarm: " + answer.error());
  id_ = answer.body.value("agent", "");
  secret_ = answer.body.value("secret", "");
  if (id_.empty()) throw io::InputError(url(), 0, "cannot join the swarm: the answer names no agent");
  return answer.body;
}

nlohmann::json Session::with_secret(nlohmann::json body) const {
  body["secret"] = secret_;
  return body;
}

void Session::start_heartbeat(double seconds) {
  heartbeat_ = std::thread([this, seconds] {
    while (lifetime_.sleep(seconds)) {
      try {
        const Answer answer = client_.post("/agents/" + id_ + "/heartbeat", with_secret({}));
        if (answer.status == 410) {
          set_evicted(answer.reason);
          lifetime_.stop();
        }
      } catch (const NoAnswer&) {
        // The main loop's calls notice a coordinator that stays silent.
      }
    }
  });
}

void Session::stop_heartbeat() {
  if (!heartbeat_.joinable()) return;
  lifetime_.stop();
  heartbeat_.join();
}

std::optional<nlohmann::json> Session::call(const std::string& route, const nlohmann::json& body,
                                            const std::string& what) {
  const nlohmann::json sent = with_secret(body);
  return retried([&] { return client_.post("/agents/" + id_ + route, sent); }, what);
}

namespace {

nlohmann::json report_body(const nlohmann::json& assignment, const TestOutcome& outcome) {
  return {{"lease", assignment.at("lease")},
          {"test", assignment.at("test")},
          {"status", outcome.status},
          {"seconds", outcome.seconds}};
}

}  // namespace

std::optional<nlohmann::json> Session::report(const nlohmann::json& assignment, const TestOutcome& outcome) {
  return call("/report", report_body(assignment, outcome),
              "report " + assignment.at("test").get<std::string>());
}

std::optional<nlohmann::json> Session::report_all(const nlohmann::json& assignments,
                                                  const std::map<std::string, TestOutcome>& outcomes) {
  nlohmann::json reports = nlohmann::json::array();
  for (const nlohmann::json& assignment : assignments)
    reports.push_back(report_body(assignment, outcomes.at(assignment.at("test").get<std::string>())));
  const std::optional<nlohmann::json> answer =
      call("/report", {{"reports", reports}}, "report " + std::to_string(reports.size()) + " tests");
  if (!answer) return std::nullopt;
  return answer->at("results");
}

std::optional<nlohmann::json> Session::fetch(const std::string& path, const std::string& what) {
  return retried([&] { return client_.get(path); }, what);
}

std::optional<nlohmann::json> Session::retried(const std::function<Answer()>& send, const std::string& what) {
  const auto give_up = std::chrono::steady_clock::now() + kPatience;
  double backoff = kFirstBackoffSeconds;
  for (bool warned = false;; warned = true) {
    std::string why;
    try {
      const Answer answer = send();
      if (answer.status == 410) throw Evicted(answer.reason);
      if (answer.ok()) return answer.body;
      if (answer.status < 500) throw io::InputError(url(), 0, "cannot " + what + ": " + answer.error());
      why = answer.error();
    } catch (const NoAnswer& e) {
      why = e.what();
    }
    if (std::chrono::steady_clock::now() >= give_up) {
      throw io::InputError(url(), 0,
                           "cannot " + what + " for " + std::to_string(kPatience.count()) + " s: " + why);
    }
    if (!warned) err_ << who_ << ": warning: cannot " << what << " (" << why << "); retrying\n" << std::flush;
    if (!lifetime_.sleep(backoff)) return std::nullopt;
    backoff = std::min(backoff * 2, kLastBackoffSeconds);
  }
}

void Session::leave() {
  try {
    const Answer answer = client_.post("/agents/" + id_ + "/leave", with_secret({}));
    if (!answer.ok() && answer.status != 410) err_ << who_ << ": warning: leave: " << answer.error() << "\n";
  } catch (const NoAnswer& e) {
    err_ << who_ << ": warning: leave: " << e.what() << "\n";
  }
}

std::optional<std::string> Session::evicted() {
  std::lock_guard lock(mutex_);
  return evicted_;
}

void Session::set_evicted(std::string why) {
  std::lock_guard lock(mutex_);
  if (!evicted_) evicted_ = std::move(why);
}

std::string random_key() {
  return io::random_hex(16);
}

nlohmann::json machine_attributes() {
  const platform::Machine system = platform::machine();
  return {{"os", system.os},
          {"arch", system.arch},
          {"cores", std::max(1U, std::thread::hardware_concurrency())},
          {"ram_mb", system.ram_mb},
          {"bench", benchmark()},
          {"rtt_ms", 0}};
}

SwarmServer resolve_swarm_server(const std::optional<std::string>& flag, const Environment& env) {
  std::optional<Setting> setting = pick(flag, "--server", env, "TLB_STORE");
  if (!setting) setting = pick(std::nullopt, "", env, "TLB_BASE_URL");
  if (!setting) {
    throw UsageError("no coordinator: pass --server http://host:port (a tlb server), or set TLB_STORE");
  }
  const std::string named = setting->name + "=" + setting->value;
  if (!store::is_server_url(setting->value)) {
    throw UsageError(named + ": the swarm's coordinator is a tlb server: an http:// or https:// URL");
  }
  SwarmServer server;
  try {
    store::ServerUrl parsed = store::parse_server_url(setting->value);
    server.url = std::move(parsed.url);
    server.origin = std::move(parsed.origin);
    server.prefix = std::move(parsed.prefix);
  } catch (const store::UnsupportedStore& e) {
    throw UsageError(named + ": " + e.what());
  }
  const store::ServerOptions options = resolve_server_options(env);
  server.token = options.token;
  server.timeout_seconds = options.timeout_seconds;
  return server;
}

Answer SwarmClient::post(const std::string& path, const nlohmann::json& body) const {
  return answer_of(
      client_for(server_).Post(server_.prefix + std::string(kApi) + path,
                               body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                               "application/json"),
      server_);
}

Answer SwarmClient::get(const std::string& path) const {
  return answer_of(client_for(server_).Get(server_.prefix + std::string(kApi) + path), server_);
}

void check_build_tree(const std::string& dir, std::string_view setting) {
  const std::string named = std::string(setting) + " " + dir;
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) throw UsageError(named + ": no such directory");
  if (!std::filesystem::is_regular_file(std::filesystem::path(dir) / "CTestTestfile.cmake", error)) {
    throw UsageError(named +
                     ": not a ctest build tree (no CTestTestfile.cmake; configure the project with "
                     "enable_testing() first)");
  }
}

std::vector<Test> list_tests(const BuildTree& tree) {
  std::vector<std::string> argv{tree.ctest, "--show-only=json-v1", "--test-dir", tree.dir};
  if (tree.config) argv.insert(argv.end(), {"-C", *tree.config});
  const ChildResult listed = run_child(argv);
  if (listed.status != 0) {
    const std::string_view why = io::trim(listed.err.substr(0, listed.err.find('\n')));
    throw io::InputError(tree.dir, 0,
                         tree.ctest + " --show-only=json-v1 failed (exit status " +
                             std::to_string(listed.status) + ")" +
                             (why.empty() ? "" : ": " + std::string(why)));
  }
  return io::parse_test_list(listed.out, tree.ctest + " --show-only=json-v1 --test-dir " + tree.dir);
}

std::vector<std::string> sorted_names(const std::vector<Test>& tests) {
  std::vector<std::string> names;
  names.reserve(tests.size());
  for (const Test& test : tests) names.push_back(test.name);
  std::sort(names.begin(), names.end());
  return names;
}

std::map<std::string, TestOutcome> junit_outcomes(const std::string& path, const std::set<std::string>& names,
                                                  double untimed, std::ostream& err, std::string_view who) {
  std::map<std::string, TestOutcome> outcomes;
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored)) return outcomes;
  try {
    const io::ResultFile file = io::read_results(path);
    for (const io::TestResult& result : file.results) {
      const std::string name = io::ctest_name(result, file.format);
      if (!names.contains(name)) continue;
      const std::string status = result.status == io::ResultStatus::passed    ? "passed"
                                 : result.status == io::ResultStatus::skipped ? "skipped"
                                                                              : "failed";
      outcomes[name] = TestOutcome{status, result.seconds.value_or(untimed)};
    }
  } catch (const io::InputError& e) {
    err << who << ": warning: " << e.what() << "\n";
  }
  return outcomes;
}

std::string exactly(const std::vector<std::string>& names) {
  std::string regex = "^(";
  for (const std::string& name : names) {
    if (regex.size() > 2) regex += '|';
    for (char c : name) {
      if (std::string_view("^$.[]*+?|(){}\\").find(c) != std::string_view::npos) regex += '\\';
      regex += c;
    }
  }
  return regex + ")$";
}

nlohmann::json submission(const std::vector<Test>& tests, const std::string& job, const std::string& version,
                          std::string_view mode) {
  nlohmann::json listed = nlohmann::json::array();
  for (const Test& test : tests) {
    nlohmann::json entry{{"name", test.name}, {"labels", test.labels}, {"disabled", test.disabled}};
    if (test.cost) entry["cost"] = *test.cost;
    listed.push_back(std::move(entry));
  }
  nlohmann::json body{{"job", job},
                      {"mode", mode},
                      {"test_list_hash", io::hash_names(sorted_names(tests))},
                      {"tests", std::move(listed)}};
  if (!version.empty()) body["version"] = version;
  return body;
}

std::string run_id(const nlohmann::json& run) {
  return run.is_number_integer() ? std::to_string(run.get<long long>()) : run.get<std::string>();
}

std::string RunResults::agent_name(const std::string& id) const {
  for (const AgentSummary& agent : agents) {
    if (agent.id == id) return agent.name.empty() ? id : agent.name;
  }
  return id;
}

RunResults parse_run_results(const nlohmann::json& body) {
  RunResults results;
  for (const nlohmann::json& test : body.at("tests")) {
    FinalResult result;
    result.name = test.at("name").get<std::string>();
    result.status = io::result_status_named(test.value("status", "error")).value_or(io::ResultStatus::error);
    if (test.contains("seconds") && test["seconds"].is_number())
      result.seconds = test["seconds"].get<double>();
    if (test.contains("agent") && test["agent"].is_string()) result.agent = test["agent"].get<std::string>();
    result.flaky = test.value("flaky", false);
    results.tests.push_back(std::move(result));
  }
  std::sort(results.tests.begin(), results.tests.end(),
            [](const FinalResult& a, const FinalResult& b) { return a.name < b.name; });
  for (const nlohmann::json& agent : body.value("agents", nlohmann::json::array())) {
    results.agents.push_back(AgentSummary{agent.at("agent").get<std::string>(), agent.value("name", ""),
                                          agent.value("state", ""), agent.value("evicted_because", "")});
  }
  for (const nlohmann::json& duplicate : body.value("duplicates", nlohmann::json::array())) {
    results.duplicates.push_back(Duplicate{duplicate.at("name").get<std::string>(),
                                           duplicate.at("agents").get<std::vector<std::string>>()});
  }
  return results;
}

bool is_failure(const FinalResult& result) {
  return result.status == io::ResultStatus::failed || result.status == io::ResultStatus::error;
}

std::string unproven_because(const RunResults& results) {
  // "2 tests ran twice (a, ...)".
  auto some = [](std::size_t count, const std::string& first, const std::string& what) {
    return std::to_string(count) + (count == 1 ? " test " : " tests ") + what + " (" + first +
           (count > 1 ? ", ...)" : ")");
  };
  std::string why;
  if (!results.duplicates.empty()) {
    why = some(results.duplicates.size(), results.duplicates.front().name, "ran on two agents");
  }
  std::vector<std::string> lost;
  for (const FinalResult& test : results.tests) {
    if (test.status == io::ResultStatus::error) lost.push_back(test.name);
  }
  if (!lost.empty()) why += (why.empty() ? "" : "; ") + some(lost.size(), lost.front(), "got no result");
  return why;
}

std::string ctest_summary(const std::vector<FinalResult>& tests) {
  const std::size_t total = tests.size();
  const auto failures = static_cast<std::size_t>(std::count_if(tests.begin(), tests.end(), is_failure));
  float percent =
      total == 0 ? 100.0f : static_cast<float>(total - failures) * 100.0f / static_cast<float>(total);
  if (failures > 0 && percent > 99) percent = 99;  // ctest never rounds a failure up to 100%.
  return std::to_string(std::lround(percent)) + "% tests passed, " + std::to_string(failures) +
         " tests failed out of " + std::to_string(total);
}

std::string junit_xml(const RunResults& results, const std::string& suite) {
  std::size_t failures = 0, skipped = 0;
  double total_seconds = 0;
  for (const FinalResult& test : results.tests) {
    failures += is_failure(test);
    skipped += test.status == io::ResultStatus::skipped;
    total_seconds += test.seconds.value_or(0);
  }
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  xml += "<testsuite name=\"" + io::escape_markup(suite) + "\" tests=\"" +
         std::to_string(results.tests.size()) + "\" failures=\"" + std::to_string(failures) +
         "\" errors=\"0\" skipped=\"" + std::to_string(skipped) + "\" time=\"" +
         seconds_attribute(total_seconds) + "\">\n";
  for (const FinalResult& test : results.tests) {
    const std::string name = io::escape_markup(test.name);
    xml += "  <testcase name=\"" + name + "\" classname=\"" + name + "\" time=\"" +
           seconds_attribute(test.seconds.value_or(0)) + "\"";
    if (test.status == io::ResultStatus::failed) {
      xml += ">\n    <failure message=\"failed on " + io::escape_markup(results.agent_name(test.agent)) +
             "\"/>\n  </testcase>\n";
    } else if (test.status == io::ResultStatus::error) {
      xml += ">\n    <failure message=\"no result: the swarm gave up after its retries\"/>\n  </testcase>\n";
    } else if (test.status == io::ResultStatus::skipped) {
      xml += ">\n    <skipped/>\n  </testcase>\n";
    } else {
      xml += "/>\n";
    }
  }
  return xml + "</testsuite>\n";
}

}  // namespace tlb::cli
