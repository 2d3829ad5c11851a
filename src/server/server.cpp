#include "server/server.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <exception>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <thread>

#include "io/record.hpp"
#include "io/text.hpp"
#include "io/verification.hpp"
#include "server/dashboard.hpp"
#include "server/names.hpp"
#include "server/original.hpp"
#include "server/swarm_routes.hpp"
#include "store/file_store.hpp"

namespace tlb::server {
namespace {

using nlohmann::ordered_json;

constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr std::string_view kJson = "application/json";
constexpr int kMaxPartitions = 100'000;  // Far beyond any CI; keeps a hostile total from sizing arrays.

// A request the server refuses: the status and one line. Turned into the body of the path's kind.
struct Refusal {
  int status;
  std::string message;
  std::string allow = {};  // The Allow header of a 405.
};

[[noreturn]] void refuse(int status, std::string message) {
  throw Refusal{status, std::move(message)};
}

// `text` on one line (a message from a library may hold line breaks).
std::string one_line(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return text;
}

std::string dump(const ordered_json& document) {
  return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Reply json_reply(int status, const ordered_json& document) {
  return Reply{status, std::string(kJson), dump(document), {}};
}

Reply text_reply(int status, std::string body) {
  return Reply{status, std::string(kText), std::move(body), {}};
}

std::string partition_text(PartitionId id) {
  return std::to_string(id.partition) + "/" + std::to_string(id.total);
}

// FNV-1a 64 of a request body, with its length: what identifies a results body already applied.
std::string body_digest(std::string_view body) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : body) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  constexpr char kDigits[] = "0123456789abcdef";
  std::string text = "fnv1a64:";
  for (int shift = 60; shift >= 0; shift -= 4) text += kDigits[(hash >> shift) & 0xF];
  return text + ":" + std::to_string(body.size());
}

std::optional<Outcome> outcome_named(std::string_view name) {
  if (name == "passed") return Outcome::passed;
  if (name == "failed") return Outcome::failed;
  if (name == "skipped") return Outcome::skipped;
  if (name == "unknown") return Outcome::unknown;
  return std::nullopt;
}

// --- Paths ---

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

struct Target {
  std::vector<std::string> segments;         // Decoded; "/" is none, a trailing '/' adds none.
  std::map<std::string, std::string> query;  // Decoded; a name given twice keeps the first.
  bool api = false;                          // Under /api/v1: errors are JSON.
};

Target parse_target(std::string_view target) {
  Target parsed;
  const std::size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);
  parsed.api = path == "/api/v1" || path.starts_with("/api/v1/");
  if (path.empty() || path.front() != '/') refuse(400, "the request target is not a path");
  path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    auto segment = percent_decode(path.substr(0, slash));
    if (!segment) refuse(400, "malformed percent-escape in the path");
    parsed.segments.push_back(std::move(*segment));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty()) parsed.segments.emplace_back();  // "a//": the empty name is kept, and refused.
  }
  for (std::string_view rest = query; !rest.empty();) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? "" : rest.substr(amp + 1);
    const std::size_t equals = pair.find('=');
    auto name = percent_decode(pair.substr(0, equals));
    auto value = percent_decode(equals == std::string_view::npos ? "" : pair.substr(equals + 1));
    if (!name || !value) refuse(400, "malformed percent-escape in the query");
    parsed.query.emplace(std::move(*name), std::move(*value));
  }
  return parsed;
}

enum class RouteId {
  home,
  routes,
  status,
  history,
  version_history,
  partitions,
  results,
  job_results,
  records,
  verify,
  suite_time,
  version_suite_time,
  suite_result,
  subset_size,
  universal_set,
  sub_set,
  completeness,
  swarm_runs,
  swarm_run,
  swarm_results,
  swarm_agents,
  swarm_heartbeat,
  swarm_pull,
  swarm_report,
  swarm_leave,
};

struct Route {
  std::vector<std::string_view> pattern;  // Literals, or "{job}", "{version}", "{module}", "{total}", ...
  std::vector<std::string_view> methods;
  RouteId id;
  std::string_view help;
};

const std::vector<Route>& routes() {
  static const std::vector<Route> table{
      {{},
       {"GET"},
       RouteId::home,
       "the dashboard (HTML): jobs and their recent runs; ?job=J a job's runs; ?job=J&version=V a run's "
       "report"},
      {{"api", "v1", "routes"}, {"GET"}, RouteId::routes, "this list"},
      {{"api", "v1", "status"}, {"GET"}, RouteId::status, "{\"service\":\"tlb\",\"version\":...}"},
      {{"api", "v1", "jobs", "{job}", "history"}, {"GET"}, RouteId::history, "live history of a job (JSON)"},
      {{"api", "v1", "jobs", "{job}", "versions", "{version}", "history"},
       {"GET"},
       RouteId::version_history,
       "the version's snapshot of the history, frozen on first read (JSON)"},
      {{"api", "v1", "jobs", "{job}", "versions", "{version}", "partitions"},
       {"POST"},
       RouteId::partitions,
       "a partition record (tlb split --record), checked against the others"},
      {{"api", "v1", "jobs", "{job}", "versions", "{version}", "results"},
       {"POST"},
       RouteId::results,
       "a run report (tlb record), folded into the live history once"},
      {{"api", "v1", "jobs", "{job}", "results"},
       {"POST"},
       RouteId::job_results,
       "a run report outside any CI run (no job version), folded into the live history once"},
      {{"api", "v1", "jobs", "{job}", "versions", "{version}", "records"},
       {"GET"},
       RouteId::records,
       "the version's partition records (JSON)"},
      {{"api", "v1", "jobs", "{job}", "versions", "{version}", "verify"},
       {"GET"},
       RouteId::verify,
       "tlb verify --json of the version's records [?strict=1]"},
      {{"api", "v1", "swarm", "runs"}, {"POST"}, RouteId::swarm_runs, "submit a suite to the swarm (JSON)"},
      {{"api", "v1", "swarm", "runs", "{run}"}, {"GET"}, RouteId::swarm_run, "a swarm run's progress (JSON)"},
      {{"api", "v1", "swarm", "runs", "{run}", "results"},
       {"GET"},
       RouteId::swarm_results,
       "a swarm run's results per test, agents and duplicates (JSON)"},
      {{"api", "v1", "swarm", "agents"}, {"POST"}, RouteId::swarm_agents, "register an agent (JSON)"},
      {{"api", "v1", "swarm", "agents", "{agent}", "heartbeat"},
       {"POST"},
       RouteId::swarm_heartbeat,
       "an agent is alive"},
      {{"api", "v1", "swarm", "agents", "{agent}", "pull"},
       {"POST"},
       RouteId::swarm_pull,
       "an agent's next tests"},
      {{"api", "v1", "swarm", "agents", "{agent}", "report"},
       {"POST"},
       RouteId::swarm_report,
       "one test's result under its lease"},
      {{"api", "v1", "swarm", "agents", "{agent}", "leave"},
       {"POST"},
       RouteId::swarm_leave,
       "an agent leaves; its tests go back to the queue"},
      {{"{job}", "suite_time"}, {"GET", "PUT"}, RouteId::suite_time, "'name: ms' lines of the live history"},
      {{"{job}", "suite_time", "{version}"},
       {"GET"},
       RouteId::version_suite_time,
       "'name: ms' lines of the version's snapshot"},
      {{"{job}", "suite_result"},
       {"GET", "PUT"},
       RouteId::suite_result,
       "'name: true|false' lines (true = failed)"},
      {{"{job}", "subset_size"}, {"GET", "POST"}, RouteId::subset_size, "subset sizes, one a line"},
      {{"{job}", "correctness_check", "{version}", "universal_set", "{module}"},
       {"POST"},
       RouteId::universal_set,
       "the full suite list: 201 first, 200 same, 409 different"},
      {{"{job}", "correctness_check", "{version}", "{total}", "{partition}", "sub_set", "{module}"},
       {"POST"},
       RouteId::sub_set,
       "a partition's suites: 406 no universal set, 200 consistent, 409 not"},
      {{"{job}", "correctness_check", "{version}", "verify_partition_completeness", "{module}"},
       {"GET"},
       RouteId::completeness,
       "200 when every partition posted its subset, else 417"},
  };
  return table;
}

std::string route_path(const Route& route) {
  std::string path;
  for (std::string_view part : route.pattern) path.append("/").append(part);
  return path.empty() ? "/" : path;
}

struct Match {
  const Route* route = nullptr;
  std::map<std::string_view, std::string> values;
};

std::optional<Match> match(const std::vector<std::string>& segments) {
  for (const Route& route : routes()) {
    if (route.pattern.size() != segments.size()) continue;
    Match found{&route, {}};
    bool same = true;
    for (std::size_t i = 0; i < segments.size() && same; ++i) {
      const std::string_view part = route.pattern[i];
      if (part.starts_with("{")) {
        found.values.emplace(part, segments[i]);
      } else {
        same = part == segments[i];
      }
    }
    if (same) return found;
  }
  return std::nullopt;
}

// --- Request bodies of the JSON API ---

struct ResultsRequest {
  store::RunReport report;
  store::HistoryPolicy policy;
};

ResultsRequest parse_results(std::string_view body) {
  ordered_json document;
  try {
    document = ordered_json::parse(body.begin(), body.end());
  } catch (const ordered_json::exception& e) {
    refuse(400, "request body is not JSON: " + one_line(e.what()));
  }
  if (!document.is_object()) refuse(400, "request body is not a JSON object");
  if (document.value("kind", ordered_json()) != "tlb-run-report") {
    refuse(400, "request body is not a run report (no \"kind\": \"tlb-run-report\")");
  }
  const ordered_json version = document.value("version", ordered_json());
  if (!version.is_number_integer() || version.get<std::int64_t>() < 1) {
    refuse(400, "run report without a valid \"version\"");
  }
  if (version.get<std::int64_t>() > 1) {
    refuse(400, "run report version " + version.dump() +
                    " was written by a newer tlb; this server reads version 1");
  }
  const auto whole = [&](const char* key, std::int64_t low, std::int64_t high, std::int64_t fallback) {
    if (!document.contains(key)) return fallback;
    const ordered_json& value = document[key];
    if (!value.is_number_integer() || value.get<std::int64_t>() < low || value.get<std::int64_t>() > high) {
      refuse(400, std::string("run report: \"") + key + "\" should be a whole number from " +
                      std::to_string(low) + " to " + std::to_string(high));
    }
    return value.get<std::int64_t>();
  };
  ResultsRequest request;
  request.report.partition = static_cast<int>(whole("partition", 0, kMaxPartitions, 0));
  request.report.total = static_cast<int>(whole("total", 0, kMaxPartitions, 0));
  if (request.report.partition > request.report.total) {
    refuse(400, "run report: partition " + std::to_string(request.report.partition) + " of " +
                    std::to_string(request.report.total) + ": partitions are numbered 1 to the total");
  }
  request.policy.forget_after_days = static_cast<int>(whole("forget_after_days", 0, 1'000'000, 30));
  if (document.contains("smoothing_factor")) {
    const ordered_json& alpha = document["smoothing_factor"];
    if (!alpha.is_number() || !(alpha.get<double>() > 0 && alpha.get<double>() <= 1)) {
      refuse(400, "run report: \"smoothing_factor\" should be a number in (0, 1]");
    }
    request.policy.smoothing_factor = alpha.get<double>();
  }
  const ordered_json date = document.value("date", ordered_json());
  const auto parsed_date = date.is_string() ? store::parse_date(date.get<std::string>()) : std::nullopt;
  if (!parsed_date) refuse(400, "run report: \"date\" should be a date YYYY-MM-DD");
  request.report.date = *parsed_date;
  if (document.contains("test_list_hash")) {
    if (!document["test_list_hash"].is_string())
      refuse(400, "run report: \"test_list_hash\" should be a string");
    request.report.test_list_hash = document["test_list_hash"].get<std::string>();
  }
  const ordered_json observations = document.value("observations", ordered_json());
  if (!observations.is_array()) refuse(400, "run report: \"observations\" should be a list");
  std::size_t index = 0;
  for (const ordered_json& item : observations) {
    ++index;
    const std::string where = "run report: observation " + std::to_string(index);
    if (!item.is_object()) refuse(400, where + " should be {\"name\", \"seconds\", \"outcome\"}");
    store::Observation observation;
    const ordered_json name = item.value("name", ordered_json());
    if (!name.is_string()) refuse(400, where + " has no \"name\"");
    observation.name = name.get<std::string>();
    if (auto reason = check_test_name(observation.name)) refuse(400, where + ": " + *reason);
    const ordered_json seconds = item.value("seconds", ordered_json());
    if (!seconds.is_null()) {
      if (!seconds.is_number() || !std::isfinite(seconds.get<double>())) {
        refuse(400,
               where + " ('" + printable(observation.name) + "'): \"seconds\" should be a number or null");
      }
      if (seconds.get<double>() < 0) {
        refuse(400, where + " ('" + printable(observation.name) + "'): negative seconds " + seconds.dump());
      }
      observation.seconds = seconds.get<double>();
    }
    const ordered_json outcome = item.value("outcome", ordered_json("unknown"));
    const auto known = outcome.is_string() ? outcome_named(outcome.get<std::string>()) : std::nullopt;
    if (!known) {
      refuse(400, where + " ('" + printable(observation.name) +
                      "'): \"outcome\" should be passed, failed, skipped or unknown");
    }
    observation.outcome = *known;
    request.report.observations.push_back(std::move(observation));
  }
  return request;
}

ordered_json history_json(const std::string& job, const std::optional<std::string>& snapshot,
                          const store::Timings& timings) {
  ordered_json tests = ordered_json::array();
  for (const auto& [name, entry] : timings) {
    tests.push_back(ordered_json{{"name", name},
                                 {"seconds", entry.record.seconds},
                                 {"runs", entry.record.runs},
                                 {"last_result", to_string(entry.record.last)},
                                 {"last_seen", store::format_date(entry.last_seen)}});
  }
  return ordered_json{{"kind", "tlb-history"},
                      {"version", 1},
                      {"job", job},
                      {"snapshot", snapshot ? ordered_json(*snapshot) : ordered_json(nullptr)},
                      {"tests", std::move(tests)}};
}

std::string record_source(const std::string& job, const std::string& version, PartitionId id) {
  return job + "/" + version + "/partition-" + std::to_string(id.partition) + "-of-" +
         std::to_string(id.total);
}

// Up to 10 names, quoted, then how many more.
std::string some_names(const std::vector<std::string>& names) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < 10; ++i) {
    text += (i == 0 ? "'" : ", '") + printable(names[i]) + "'";
  }
  if (names.size() > 10) text += " and " + std::to_string(names.size() - 10) + " more";
  return text;
}

bool truthy(std::string_view value) {
  return value == "1" || value == "true" || value == "yes" || value == "on";
}

constexpr std::string_view kHtml = "text/html; charset=utf-8";
constexpr std::size_t kIndexRuns = 10;     // Runs per job on the index.
constexpr std::size_t kJobPageRuns = 200;  // Runs on a job's page (versions are purged after a week anyway).
constexpr std::size_t kEarlierRuns = 10;   // Earlier runs whose records a run's report compares with.

// The dashboard's pages fetch nothing and run no script (inline CSS and SVG only); the policy holds them to
// it, so that a name that slipped through escaping could still not run.
Reply html_reply(int status, std::string body) {
  Reply reply{status, std::string(kHtml), std::move(body), {}};
  reply.headers.emplace_back("Content-Security-Policy",
                             "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return reply;
}

}  // namespace

// --- The server ---

// httplib's server with the listening socket's backlog widened: httplib listens with a backlog of 5, which
// makes a burst of partitions connecting at once wait for SYN retries.
class HttpServer : public httplib::Server {
 public:
  void widen_backlog() {
    const auto socket = svr_sock_.load();
    if (socket != INVALID_SOCKET) ::listen(socket, SOMAXCONN);
  }
};

// Each keep-alive connection holds a thread while it is open, and writes wait on the disk, not on a core:
// with 64 threads, 100 clients at once see a quarter of the p99 latency they see with 8 (bench/server.cpp).
constexpr int kDefaultThreads = 64;

struct Server::Impl {
  Impl(Database& db, ServerOptions opts) : database(db), options(std::move(opts)) {
    if (!options.today) {
      options.today = [] { return std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()); };
    }
    if (!options.clock) {
      options.clock = [] {
        return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      };
    }
    swarm = std::make_unique<SwarmRoutes>(
        database, options.swarm, options.clock,
        [this](const std::string& job, const std::string& version) { return snapshot(job, version); },
        options.today);
    if (!options.now) {
      options.now = [] {
        return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      };
    }
  }

  Reply handle(std::string_view method, std::string_view target, std::string_view authorization,
               std::string_view body);
  Reply dispatch(std::string_view method, const Target& target, std::string_view authorization,
                 std::string_view body);

  void check_token(std::string_view authorization) const;
  Reply status() const;
  Reply history(const std::string& job);
  store::Timings snapshot(const std::string& job, const std::string& version);
  Reply version_history(const std::string& job, const std::string& version);
  Reply post_partition(const std::string& job, const std::string& version, std::string_view body);
  Reply post_results(const std::string& job, const std::string& version, std::string_view body);
  Reply records(const std::string& job, const std::string& version);
  Reply verify(const std::string& job, const std::string& version, bool strict);
  Reply suite_time(std::string_view method, const std::string& job, std::string_view body);
  Reply suite_result(std::string_view method, const std::string& job, std::string_view body);
  Reply subset_size(std::string_view method, const std::string& ns, std::string_view body);
  Reply universal_set(const std::string& job, const std::string& version, const std::string& module,
                      std::string_view body);
  Reply sub_set(const std::string& job, const std::string& version, PartitionId id, const std::string& module,
                std::string_view body);
  Reply completeness(const std::string& job, const std::string& version, const std::string& module);
  Reply route_list() const;
  Reply dashboard_page(const std::map<std::string, std::string>& query);
  // A job's versions, newest first, and the records of the first ones, as the database holds them.
  struct StoredRuns {
    std::string job;
    std::vector<VersionSummary> versions;
    std::vector<std::vector<StoredRecord>> records;  // Of versions[0..records.size()).
  };
  static dashboard::JobRuns job_runs(const StoredRuns& stored);
  Reply run_report(const std::string& job, const std::string& version);
  std::string generated() const;

  Database& database;
  ServerOptions options;
  HttpServer http;
  std::atomic<bool> stopping{false};

  // A frozen snapshot never changes, and every partition of a CI run reads it: its JSON is kept, so that the
  // reads after the first cost a copy instead of a database read and a serialization. Bounded by bytes; the
  // oldest entry goes first; emptied when versions are purged.
  class SnapshotCache {
   public:
    std::optional<std::string> find(const std::string& job, const std::string& version) {
      std::lock_guard lock(mutex_);
      auto it = bodies_.find({job, version});
      if (it == bodies_.end()) return std::nullopt;
      return it->second;
    }
    void put(const std::string& job, const std::string& version, const std::string& body) {
      if (body.size() > kMaxBytes / 4) return;
      std::lock_guard lock(mutex_);
      if (!bodies_.emplace(std::pair(job, version), body).second) return;
      order_.emplace_back(job, version);
      bytes_ += body.size();
      while (bytes_ > kMaxBytes && !order_.empty()) {
        auto oldest = bodies_.find(order_.front());
        bytes_ -= oldest->second.size();
        bodies_.erase(oldest);
        order_.pop_front();
      }
    }
    void clear() {
      std::lock_guard lock(mutex_);
      bodies_.clear();
      order_.clear();
      bytes_ = 0;
    }

   private:
    static constexpr std::size_t kMaxBytes = std::size_t{256} << 20;
    std::mutex mutex_;
    std::map<std::pair<std::string, std::string>, std::string> bodies_;
    std::deque<std::pair<std::string, std::string>> order_;
    std::size_t bytes_ = 0;
  };
  SnapshotCache snapshots;
  std::unique_ptr<SwarmRoutes> swarm;  // The swarm's coordinator (docs/swarm-protocol.md).
};

Reply Server::Impl::handle(std::string_view method, std::string_view target, std::string_view authorization,
                           std::string_view body) {
  bool api = target.starts_with("/api/v1/") || target == "/api/v1" || target.starts_with("/api/v1?");
  try {
    const Target parsed = parse_target(target);
    api = parsed.api;
    return dispatch(method, parsed, authorization, body);
  } catch (const Refusal& refusal) {
    Reply reply = api ? json_reply(refusal.status, ordered_json{{"error", one_line(refusal.message)}})
                      : text_reply(refusal.status, one_line(refusal.message) + "\n");
    if (refusal.status == 401) reply.headers.emplace_back("WWW-Authenticate", "Bearer");
    if (!refusal.allow.empty()) reply.headers.emplace_back("Allow", refusal.allow);
    return reply;
  } catch (const std::exception& e) {
    const std::string message = one_line(e.what());
    std::cerr << "tlb server: error: " << method << " " << printable(target, 200) << ": " << message
              << std::endl;
    return api ? json_reply(500, ordered_json{{"error", message}}) : text_reply(500, message + "\n");
  } catch (...) {
    return api ? json_reply(500, ordered_json{{"error", "internal error"}})
               : text_reply(500, "internal error\n");
  }
}

Reply Server::Impl::dispatch(std::string_view method, const Target& target, std::string_view authorization,
                             std::string_view body) {
  const std::optional<Match> found = match(target.segments);
  if (!found) {
    std::string path;
    for (const std::string& segment : target.segments) path += "/" + printable(segment, 60);
    refuse(404, "no such resource: " + (path.empty() ? "/" : path) + " (GET /api/v1/routes lists them)");
  }
  const Route& route = *found->route;
  const std::string_view effective = method == "HEAD" ? "GET" : method;
  if (std::find(route.methods.begin(), route.methods.end(), effective) == route.methods.end()) {
    std::string allowed;
    for (std::string_view m : route.methods) allowed += (allowed.empty() ? "" : ", ") + std::string(m);
    throw Refusal{
        405, std::string(method) + " is not allowed on " + route_path(route) + " (allowed: " + allowed + ")",
        allowed};
  }
  if (effective == "POST" || effective == "PUT") check_token(authorization);

  // Names first: nothing unchecked reaches the database or a message.
  const auto value = [&](std::string_view key) -> const std::string& { return found->values.at(key); };
  const auto name = [&](std::string_view key, std::string_view what) -> const std::string& {
    const std::string& text = value(key);
    if (auto reason = check_name(what, text)) refuse(400, *reason);
    return text;
  };
  const auto number = [&](std::string_view key, std::string_view what) {
    const auto parsed = io::parse_int(value(key));
    if (!parsed || *parsed < 1 || *parsed > kMaxPartitions) {
      refuse(400, std::string(what) + " '" + printable(value(key), 40) +
                      "' should be a whole number from 1 to " + std::to_string(kMaxPartitions));
    }
    return *parsed;
  };

  switch (route.id) {
    case RouteId::home:
      return dashboard_page(target.query);
    case RouteId::routes:
      return route_list();
    case RouteId::status:
      return status();
    case RouteId::history:
      return history(name("{job}", "job"));
    case RouteId::version_history:
      return version_history(name("{job}", "job"), name("{version}", "version"));
    case RouteId::partitions:
      return post_partition(name("{job}", "job"), name("{version}", "version"), body);
    case RouteId::results:
      return post_results(name("{job}", "job"), name("{version}", "version"), body);
    case RouteId::job_results:
      return post_results(name("{job}", "job"), "", body);
    case RouteId::records:
      return records(name("{job}", "job"), name("{version}", "version"));
    case RouteId::verify: {
      const auto strict = target.query.find("strict");
      return verify(name("{job}", "job"), name("{version}", "version"),
                    strict != target.query.end() && truthy(strict->second));
    }
    case RouteId::suite_time:
      return suite_time(effective, name("{job}", "job"), body);
    case RouteId::version_suite_time: {
      const std::string& job = name("{job}", "job");
      return text_reply(200, original::format_suite_times(snapshot(job, name("{version}", "version"))));
    }
    case RouteId::suite_result:
      return suite_result(effective, name("{job}", "job"), body);
    case RouteId::subset_size:
      return subset_size(effective, name("{job}", "job"), body);
    case RouteId::universal_set:
      return universal_set(name("{job}", "job"), name("{version}", "version"), name("{module}", "module"),
                           body);
    case RouteId::sub_set: {
      const std::string& job = name("{job}", "job");
      const std::string& version = name("{version}", "version");
      const int total = number("{total}", "total");
      const int partition = number("{partition}", "partition");
      if (partition > total) {
        refuse(400, "partition " + std::to_string(partition) + " of " + std::to_string(total) +
                        ": partitions are numbered 1 to the total");
      }
      return sub_set(job, version, PartitionId{partition, total}, name("{module}", "module"), body);
    }
    case RouteId::swarm_runs:
      return swarm->submit(body);
    case RouteId::swarm_run:
      return swarm->progress(value("{run}"));
    case RouteId::swarm_results:
      return swarm->results(value("{run}"));
    case RouteId::swarm_agents:
      return swarm->enroll(body);
    case RouteId::swarm_heartbeat:
      return swarm->heartbeat(name("{agent}", "agent"));
    case RouteId::swarm_pull:
      return swarm->pull(name("{agent}", "agent"), body);
    case RouteId::swarm_report:
      return swarm->report(name("{agent}", "agent"), body);
    case RouteId::swarm_leave:
      return swarm->leave(name("{agent}", "agent"));
    case RouteId::completeness:
      return completeness(name("{job}", "job"), name("{version}", "version"), name("{module}", "module"));
  }
  refuse(404, "no such resource");
}

void Server::Impl::check_token(std::string_view authorization) const {
  if (!options.token) return;
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.empty() || !authorization.starts_with(kBearer)) {
    refuse(401, "a token is required for writes: send Authorization: Bearer <TLB_TOKEN>");
  }
  const std::string_view given = authorization.substr(kBearer.size());
  const std::string& expected = *options.token;
  // Compared in time that does not depend on where they differ.
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    difference |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  }
  if (difference != 0) refuse(401, "wrong token");
}

Reply Server::Impl::route_list() const {
  std::string text = "tlb server " + options.tlb_version +
                     ": test history and partition records for tlb, and the original TLB's clients\n";
  for (const Route& route : routes()) {
    std::string methods;
    for (std::string_view m : route.methods) methods += (methods.empty() ? "" : ",") + std::string(m);
    text += methods + " " + route_path(route) + "  " + std::string(route.help) + "\n";
  }
  return text_reply(200, std::move(text));
}

// --- The dashboard (read-only HTML) ---

Reply Server::Impl::dashboard_page(const std::map<std::string, std::string>& query) {
  const auto given = [&](const char* key) -> std::optional<std::string> {
    const auto it = query.find(key);
    if (it == query.end()) return std::nullopt;
    return it->second;
  };
  const std::optional<std::string> job = given("job"), version = given("version");
  for (const auto& [what, name] : {std::pair{"job", job}, std::pair{"version", version}}) {
    if (!name) continue;
    if (auto reason = check_name(what, *name)) return html_reply(400, dashboard::error_page(400, *reason));
  }
  if (version && !job)
    return html_reply(400, dashboard::error_page(400, "a version needs its job: ?job=J&version=V"));
  if (job && version) return run_report(*job, *version);

  // Read under the lock; parsed and verified after it, so that writers do not wait for the page.
  const std::size_t shown = job ? kJobPageRuns : kIndexRuns;
  const std::vector<StoredRuns> stored = database.transaction(false, [&](Session& s) {
    std::vector<StoredRuns> jobs;
    for (const std::string& name : s.jobs()) {
      if (job && name != *job) continue;
      StoredRuns runs{name, s.versions(name), {}};
      for (std::size_t i = 0; i < runs.versions.size() && i < shown; ++i) {
        runs.records.push_back(s.records(name, runs.versions[i].version));
      }
      jobs.push_back(std::move(runs));
    }
    return jobs;
  });
  std::vector<dashboard::JobRuns> pages;
  pages.reserve(stored.size());
  for (const StoredRuns& runs : stored) pages.push_back(job_runs(runs));
  if (!job) return html_reply(200, dashboard::index_page(pages, options.tlb_version, generated()));
  if (pages.empty()) {
    return html_reply(404,
                      dashboard::error_page(404, "the server holds no history and no run of job " + *job));
  }
  return html_reply(200, dashboard::job_page(pages.front(), options.tlb_version, generated()));
}

// The runs read, each verified from its records as `tlb verify` would.
dashboard::JobRuns Server::Impl::job_runs(const StoredRuns& stored) {
  dashboard::JobRuns runs{stored.job, {}, stored.versions.size()};
  for (std::size_t i = 0; i < stored.records.size(); ++i) {
    const VersionSummary& version = stored.versions[i];
    dashboard::RunRow row{version.version, version.created, version.partitions, false, 0};
    if (!stored.records[i].empty()) {
      std::vector<io::LoadedRecord> loaded;
      for (const StoredRecord& record : stored.records[i]) {
        const std::string source = record_source(stored.job, version.version, record.id);
        loaded.push_back(io::LoadedRecord{source, io::parse_record(record.text, source)});
      }
      const io::Verification verification = io::verify_records(std::move(loaded), false);
      row.proven = verification.proven();
      row.problems = verification.problems.size();
    }
    runs.runs.push_back(std::move(row));
  }
  return runs;
}

// The report library's page of one run: its records, the job's live history, and the records of up to
// kEarlierRuns runs before it (for the tests that both passed and failed).
Reply Server::Impl::run_report(const std::string& job, const std::string& version) {
  struct Found {
    bool known = false;
    std::vector<StoredRecord> records;
    std::vector<std::pair<std::string, StoredRecord>> earlier;
    store::Timings history;
  };
  const Found found = database.transaction(false, [&](Session& s) {
    Found f;
    const std::vector<VersionSummary> versions = s.versions(job);
    const auto mine = std::find_if(versions.begin(), versions.end(),
                                   [&](const VersionSummary& v) { return v.version == version; });
    f.known = mine != versions.end();
    if (!f.known) return f;
    f.records = s.records(job, version);
    std::size_t runs = 0;
    for (auto older = std::next(mine); older != versions.end() && runs < kEarlierRuns; ++older) {
      if (older->partitions == 0) continue;
      ++runs;
      for (StoredRecord& record : s.records(job, older->version))
        f.earlier.emplace_back(older->version, std::move(record));
    }
    f.history = s.history(job);
    return f;
  });
  if (!found.known) {
    return html_reply(404,
                      dashboard::error_page(404, "the server holds no run " + version + " of job " + job));
  }
  if (found.records.empty()) {
    return html_reply(
        404, dashboard::error_page(404, "no partition of " + job + " run " + version + " has reported"));
  }
  report::RunData run;
  run.title = job + ", run " + version;
  for (const StoredRecord& stored : found.records) {
    run.records.push_back(io::parse_record(stored.text, record_source(job, version, stored.id)));
  }
  for (const auto& [older, stored] : found.earlier) {
    run.earlier.push_back(io::parse_record(stored.text, record_source(job, older, stored.id)));
  }
  run.history = store::to_history(found.history);
  run.generated = generated();
  return html_reply(200, dashboard::run_page(job, run));
}

// The footer's date: the day the server takes as today (SOURCE_DATE_EPOCH's when set, for reproducible
// pages), with the time of day only when that is the clock's own day.
std::string Server::Impl::generated() const {
  const store::Date today = options.today();
  const std::string now = dashboard::format_time(options.now());
  const std::string day = store::format_date(today);
  return now.starts_with(day) ? now : day;
}

Reply Server::Impl::status() const {
  return json_reply(200, ordered_json{{"service", "tlb"}, {"version", options.tlb_version}});
}

Reply Server::Impl::history(const std::string& job) {
  const store::Timings timings = database.transaction(false, [&](Session& s) { return s.history(job); });
  return json_reply(200, history_json(job, std::nullopt, timings));
}

store::Timings Server::Impl::snapshot(const std::string& job, const std::string& version) {
  // Read first: once frozen (the common case) no write lock is taken.
  auto frozen = database.transaction(false, [&](Session& s) { return s.snapshot(job, version); });
  if (frozen) return *frozen;
  return database.transaction(true, [&](Session& s) {
    if (auto again = s.snapshot(job, version)) return *again;  // Another request froze it meanwhile.
    s.freeze_snapshot(job, version, options.now());
    return s.snapshot(job, version).value_or(store::Timings{});
  });
}

Reply Server::Impl::version_history(const std::string& job, const std::string& version) {
  if (std::optional<std::string> body = snapshots.find(job, version)) {
    return Reply{200, std::string(kJson), std::move(*body), {}};
  }
  Reply reply = json_reply(200, history_json(job, version, snapshot(job, version)));
  snapshots.put(job, version, reply.body);
  return reply;
}

Reply Server::Impl::post_partition(const std::string& job, const std::string& version,
                                   std::string_view body) {
  io::PartitionRecord record;
  try {
    record = io::parse_record(body, "request body");
  } catch (const io::InputError& e) {
    refuse(400, e.what());
  }
  for (const auto* names : {&record.all_tests, &record.tests, &record.attachments}) {
    for (const std::string& test : *names) {
      if (auto reason = check_test_name(test)) refuse(400, "partition record: " + *reason);
    }
  }
  for (const io::RecordedResult& result : record.results) {
    if (auto reason = check_test_name(result.name)) refuse(400, "partition record: " + *reason);
  }
  const std::string computed = io::hash_names(record.all_tests);
  if (computed != record.test_list_hash) {
    refuse(400, "partition record: its all_tests hash to " + computed + ", not to its test_list_hash " +
                    printable(record.test_list_hash));
  }
  const PartitionId id{record.partition, record.total};
  const std::string self = "partition " + partition_text(id);
  const std::string text = io::format_record(record, "request body");

  struct Stored {
    PartitionId id;
    io::PartitionRecord record;
  };
  return database.transaction(true, [&](Session& s) -> Reply {
    std::vector<Stored> stored;
    for (const StoredRecord& row : s.records(job, version)) {
      stored.push_back(Stored{row.id, io::parse_record(row.text, record_source(job, version, row.id))});
    }
    s.touch_version(job, version, options.now());
    if (!stored.empty()) {
      const Stored& first = stored.front();
      const std::string other = "partition " + partition_text(first.id);
      if (first.record.total != record.total) {
        refuse(409, self + " saw another total than " + other + " (" + std::to_string(record.total) +
                        " against " + std::to_string(first.record.total) + ")");
      }
      if (first.record.test_list_hash != record.test_list_hash) {
        refuse(409, self + " saw another test list than " + other + " (" + record.test_list_hash +
                        " against " + first.record.test_list_hash + ")");
      }
      if (auto difference = io::split_inputs_differ(record, first.record)) {
        refuse(409, self + " split on other inputs than " + other + ": " + *difference);
      }
    }
    const auto same = std::find_if(stored.begin(), stored.end(), [&](const Stored& r) { return r.id == id; });
    if (same != stored.end() && same->record.tests != record.tests) {
      refuse(409,
             self + " was already recorded with other tests (a retried job must be given the same tests)");
    }
    if (same == stored.end()) {
      const std::set<std::string, std::less<>> attachments(record.attachments.begin(),
                                                           record.attachments.end());
      for (const Stored& other : stored) {
        const std::set<std::string, std::less<>> theirs(other.record.tests.begin(), other.record.tests.end());
        std::vector<std::string> shared;
        for (const std::string& test : record.tests) {
          if (!attachments.contains(test) && theirs.contains(test)) shared.push_back(test);
        }
        if (!shared.empty()) {
          refuse(409, self + " was given " + std::to_string(shared.size()) + " test" +
                          (shared.size() == 1 ? "" : "s") + " that partition " + partition_text(other.id) +
                          " already has: " + some_names(shared));
        }
      }
    }
    // A retried job's record without results does not wipe the results already stored.
    if (same == stored.end() || record.has_results) s.put_record(job, version, id, text);

    std::set<int> present;
    std::size_t count = stored.size() + (same == stored.end() ? 1 : 0);
    for (const Stored& r : stored) {
      if (r.id.total == record.total) present.insert(r.id.partition);
    }
    present.insert(record.partition);
    const bool complete = static_cast<int>(present.size()) == record.total;
    return json_reply(stored.empty() ? 201 : 200, ordered_json{{"partition", record.partition},
                                                               {"total", record.total},
                                                               {"records", count},
                                                               {"complete", complete}});
  });
}

Reply Server::Impl::post_results(const std::string& job, const std::string& version, std::string_view body) {
  const ResultsRequest request = parse_results(body);
  const std::string digest = body_digest(body);
  return database.transaction(true, [&](Session& s) -> Reply {
    // A run outside any CI run (version "") has no version to purge; its digests are the job's own.
    if (!version.empty()) s.touch_version(job, version, options.now());
    if (s.applied(job, version, digest)) {
      const std::size_t stored = s.history(job).size();
      return json_reply(
          200, ordered_json{
                   {"observed", 0}, {"added", 0}, {"forgotten", 0}, {"stored", stored}, {"duplicate", true}});
    }
    const store::Timings before = s.history(job);
    store::Timings after = before;
    store::apply(after, request.report, request.policy.smoothing_factor);
    store::UpdateSummary summary;
    summary.observed = request.report.observations.size();
    summary.forgotten = store::forget_stale(after, request.policy.forget_after_days);
    for (const auto& [name, entry] : after) summary.added += !before.contains(name);
    summary.stored = after.size();
    s.replace_history(job, before, after);

    const PartitionId id{request.report.partition, request.report.total};
    if (id.partition > 0 && !version.empty()) {
      for (const StoredRecord& row : s.records(job, version)) {
        if (row.id != id) continue;
        io::PartitionRecord record = io::parse_record(row.text, record_source(job, version, id));
        std::map<std::string, io::RecordedResult> results;
        for (const store::Observation& observation : request.report.observations) {
          io::RecordedResult result{observation.name, io::ResultStatus::passed, observation.seconds};
          if (observation.outcome == Outcome::failed) result.status = io::ResultStatus::failed;
          if (observation.outcome == Outcome::skipped) result.status = io::ResultStatus::skipped;
          results[observation.name] = std::move(result);
        }
        record.results.clear();
        for (auto& [name, result] : results) record.results.push_back(std::move(result));
        record.has_results = true;
        record.recorded_on = store::format_date(request.report.date);
        s.put_record(job, version, id, io::format_record(record, record_source(job, version, id)));
      }
    }
    s.mark_applied(job, version, digest);
    return json_reply(200, ordered_json{{"observed", summary.observed},
                                        {"added", summary.added},
                                        {"forgotten", summary.forgotten},
                                        {"stored", summary.stored},
                                        {"duplicate", false}});
  });
}

Reply Server::Impl::records(const std::string& job, const std::string& version) {
  const std::vector<StoredRecord> rows =
      database.transaction(false, [&](Session& s) { return s.records(job, version); });
  // The stored texts are io::format_record's JSON: they go out as they are.
  std::string body = "{\"records\":[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::string_view text = rows[i].text;
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    body.append(i == 0 ? "" : ",").append(text);
  }
  body += "]}\n";
  return Reply{200, std::string(kJson), std::move(body), {}};
}

Reply Server::Impl::verify(const std::string& job, const std::string& version, bool strict) {
  const std::vector<StoredRecord> rows =
      database.transaction(false, [&](Session& s) { return s.records(job, version); });
  if (rows.empty()) refuse(404, "no partition of " + job + " version " + version + " has reported");
  std::vector<io::LoadedRecord> loaded;
  for (const StoredRecord& row : rows) {
    const std::string source = record_source(job, version, row.id);
    loaded.push_back(io::LoadedRecord{source, io::parse_record(row.text, source)});
  }
  const std::size_t count = loaded.size();
  const io::Verification verification = io::verify_records(std::move(loaded), strict);
  return Reply{200, std::string(kJson), io::verification_json(verification, count), {}};
}

Reply Server::Impl::suite_time(std::string_view method, const std::string& job, std::string_view body) {
  if (method == "GET") {
    const store::Timings timings = database.transaction(false, [&](Session& s) { return s.history(job); });
    return text_reply(200, original::format_suite_times(timings));
  }
  std::vector<std::pair<std::string, std::int64_t>> times;
  try {
    times = original::parse_suite_times(body);
  } catch (const original::BadInput& e) {
    refuse(400, e.what());
  }
  // Merged by name (a name given twice keeps its last time): the original client already smoothed.
  std::map<std::string, std::int64_t> merged;
  for (auto& [name, ms] : times) merged[name] = ms;
  const store::Date today = options.today();
  database.transaction(true, [&](Session& s) {
    const store::Timings before = s.history(job);
    store::Timings after = before;
    for (const auto& [name, ms] : merged) {
      auto [it, inserted] = after.try_emplace(name, store::TimedRecord{TestRecord{}, today});
      it->second.record.seconds = static_cast<double>(ms) / 1000.0;
      if (it->second.record.runs < UINT32_MAX) ++it->second.record.runs;
      it->second.last_seen = today;
    }
    s.replace_history(job, before, after);
  });
  return text_reply(200, "");
}

Reply Server::Impl::suite_result(std::string_view method, const std::string& job, std::string_view body) {
  if (method == "GET") {
    const store::Timings timings = database.transaction(false, [&](Session& s) { return s.history(job); });
    return text_reply(200, original::format_suite_results(timings));
  }
  std::vector<std::pair<std::string, bool>> results;
  try {
    results = original::parse_suite_results(body);
  } catch (const original::BadInput& e) {
    refuse(400, e.what());
  }
  const store::Date today = options.today();
  database.transaction(true, [&](Session& s) {
    const store::Timings before = s.history(job);
    store::Timings after = before;
    for (const auto& [name, failed] : results) {
      auto [it, inserted] = after.try_emplace(name, store::TimedRecord{TestRecord{}, today});
      it->second.record.last = failed ? Outcome::failed : Outcome::passed;
      it->second.last_seen = std::max(it->second.last_seen, today);
    }
    s.replace_history(job, before, after);
  });
  return text_reply(200, "");
}

Reply Server::Impl::subset_size(std::string_view method, const std::string& ns, std::string_view body) {
  if (method == "GET") {
    const std::vector<std::int64_t> sizes =
        database.transaction(false, [&](Session& s) { return s.subset_sizes(ns); });
    std::string text;
    for (std::int64_t size : sizes) text += std::to_string(size) + "\n";
    return text_reply(200, std::move(text));
  }
  const std::string_view trimmed = io::trim(body);
  const auto size = io::parse_int(trimmed);
  if (!size) refuse(400, "subset size '" + printable(trimmed, 40) + "' is not a whole number");
  database.transaction(true, [&](Session& s) { s.add_subset_size(ns, *size); });
  return text_reply(200, "");
}

// The original's suite list of a correctness check; a malformed one is refused with 400 naming the line.
std::vector<SetEntry> suite_list(std::string_view body) {
  try {
    return original::parse_suite_list(body);
  } catch (const original::BadInput& e) {
    refuse(400, e.what());
  }
}

Reply Server::Impl::universal_set(const std::string& job, const std::string& version,
                                  const std::string& module, std::string_view body) {
  const std::vector<SetEntry> posted = suite_list(body);
  return database.transaction(true, [&](Session& s) -> Reply {
    const std::vector<SetEntry> stored = s.universal_set(job, version, module);
    if (stored.empty()) {
      s.touch_version(job, version, options.now());
      s.put_universal_set(job, version, module, posted);
      return text_reply(201, "");
    }
    if (auto mismatch = original::universal_set_mismatch(stored, posted)) return text_reply(409, *mismatch);
    return text_reply(200, "");
  });
}

Reply Server::Impl::sub_set(const std::string& job, const std::string& version, PartitionId id,
                            const std::string& module, std::string_view body) {
  const std::vector<SetEntry> posted = suite_list(body);
  return database.transaction(true, [&](Session& s) -> Reply {
    std::vector<SetEntry> universal = s.universal_set(job, version, module);
    if (universal.empty()) {
      return text_reply(
          406, "Universal set for given job-name, job-version and module-name combination doesn't exist.\n");
    }
    s.add_subset_report(job, version, module, id);
    const original::SubsetOutcome outcome =
        original::check_subset(universal, posted, id, s.subset_reports(job, version, module), module);
    for (const std::string& name : outcome.marked) s.mark(job, version, module, name, id);
    return outcome.success ? text_reply(200, "") : text_reply(409, outcome.message);
  });
}

Reply Server::Impl::completeness(const std::string& job, const std::string& version,
                                 const std::string& module) {
  const std::vector<PartitionId> reports =
      database.transaction(false, [&](Session& s) { return s.subset_reports(job, version, module); });
  const original::Completeness result = original::check_completeness(reports, module);
  return text_reply(result.complete ? 200 : 417, result.message);
}

Server::Server(Database& database, ServerOptions options)
    : impl_(std::make_unique<Impl>(database, std::move(options))) {
  HttpServer& http = impl_->http;
  Impl* impl = impl_.get();
  http.set_payload_max_length(impl->options.max_request_bytes);
  // An idle keep-alive connection holds a request thread: let it go soon, so that a burst of partitions
  // connecting at once is not kept waiting by connections that have nothing more to ask.
  http.set_keep_alive_timeout(1);
  // Headers and body go out as separate writes: without this, Nagle's algorithm and delayed ACKs add ~40 ms.
  http.set_tcp_nodelay(true);
  // Not httplib's default, which adds SO_REUSEPORT: a second server started on the same port would bind it
  // too, and the kernel would share the clients out between two databases. SO_REUSEADDR alone lets a server
  // restart on its port while old connections linger; a port in use is an error.
  http.set_socket_options([](socket_t socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  const int threads = impl->options.threads > 0 ? impl->options.threads : kDefaultThreads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  const auto answer = [impl](const httplib::Request& request, std::string_view body,
                             httplib::Response& response) {
    Reply reply =
        impl->handle(request.method, request.target, request.get_header_value("Authorization"), body);
    response.status = reply.status;
    for (const auto& [name, value] : reply.headers) response.set_header(name, value);
    response.set_content(std::move(reply.body), reply.content_type.c_str());
  };
  const auto respond = [answer](const httplib::Request& request, httplib::Response& response) {
    answer(request, request.body, response);
  };
  // Bodies of writes are read here rather than by httplib, which would parse a form-urlencoded body (what
  // curl
  // --data sends by default) as query parameters and refuse it over 8 KiB. httplib still enforces the limit.
  const auto respond_reading = [answer](const httplib::Request& request, httplib::Response& response,
                                        const httplib::ContentReader& reader) {
    std::string body;
    const auto append = [&body](const char* data, std::size_t size) {
      body.append(data, size);
      return true;
    };
    const bool read = request.is_multipart_form_data()
                          ? reader([](const httplib::MultipartFormData&) { return true; }, append)
                          : reader(append);
    if (!read) {
      // httplib set 413 (over the limit) or 400; the error handler writes the line.
      if (response.status < 400) response.status = 400;
      return;
    }
    if (request.is_multipart_form_data()) {
      const bool api = request.target.starts_with("/api/v1");
      const std::string message = "multipart form bodies are not read here: send the text itself";
      response.status = 415;
      if (api) {
        response.set_content(dump(ordered_json{{"error", message}}), std::string(kJson).c_str());
      } else {
        response.set_content(message + "\n", std::string(kText).c_str());
      }
      return;
    }
    answer(request, body, response);
  };
  // Every path (httplib has decoded it, so it may hold a line break, which '.' does not match): the routing
  // is handle()'s, on the target as sent.
  const std::string any = "[\\s\\S]*";
  http.Get(any, respond);
  http.Post(any, respond_reading);
  http.Put(any, respond_reading);
  http.Patch(any, respond_reading);
  http.Delete(any, respond);
  http.Options(any, respond);
  // What httplib answers by itself (a body over the limit, a request it cannot parse, a method it has no
  // handler for) still gets one line.
  http.set_error_handler([impl](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;
    const bool api = request.target.starts_with("/api/v1");
    std::string message;
    switch (response.status) {
      case 413:
        message = "request body larger than the limit of " + std::to_string(impl->options.max_request_bytes) +
                  " bytes (tlb server --max-request-bytes)";
        break;
      case 404:
        message = request.method + " is not allowed here";
        response.status = 405;
        break;
      case 414:
        message = "request target too long";
        break;
      case 400: {
        // httplib has no handler for methods such as TRACE or CONNECT and calls the request bad.
        const std::string& method = request.method;
        const bool served = method == "GET" || method == "HEAD" || method == "POST" || method == "PUT" ||
                            method == "DELETE" || method == "PATCH" || method == "OPTIONS";
        const bool word = !served && !method.empty() && std::all_of(method.begin(), method.end(), [](char c) {
          return c >= 'A' && c <= 'Z';
        });
        if (word) {
          response.status = 405;
          message = method + " is not allowed here";
        } else {
          message = "bad request";
        }
        break;
      }
      default:
        message = "bad request (" + std::to_string(response.status) + ")";
        break;
    }
    if (api) {
      response.set_content(dump(ordered_json{{"error", message}}), std::string(kJson).c_str());
    } else {
      response.set_content(message + "\n", std::string(kText).c_str());
    }
  });
  http.set_exception_handler(
      [](const httplib::Request& request, httplib::Response& response, std::exception_ptr ep) {
        std::string message = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          message = one_line(e.what());
        } catch (...) {
        }
        std::cerr << "tlb server: error: " << request.method << " " << printable(request.target, 200) << ": "
                  << message << std::endl;
        response.status = 500;
        response.set_content(message + "\n", std::string(kText).c_str());
      });
}

Server::~Server() = default;

int Server::bind(const std::string& address, int port) {
  HttpServer& http = impl_->http;
  int bound = -1;
  if (port == 0) {
    bound = http.bind_to_any_port(address);
  } else if (http.bind_to_port(address, port)) {
    bound = port;
  }
  if (bound <= 0) {
    throw std::runtime_error("cannot listen on " + address + ":" + std::to_string(port) +
                             " (address in use, not an address of this machine, or not allowed)");
  }
  http.widen_backlog();
  return bound;
}

void Server::serve() {
  if (impl_->stopping) return;
  impl_->http.listen_after_bind();
}

void Server::stop() {
  impl_->stopping = true;
  impl_->http.stop();
}

void Server::tick() {
  impl_->swarm->tick();
}

std::size_t Server::purge() {
  if (impl_->options.version_life_days < 0) return 0;
  const std::int64_t before =
      impl_->options.now() - static_cast<std::int64_t>(impl_->options.version_life_days) * 86'400;
  const std::size_t purged =
      impl_->database.transaction(true, [&](Session& s) { return s.purge_versions(before); });
  if (purged > 0) impl_->snapshots.clear();
  return purged;
}

Reply Server::handle(std::string_view method, std::string_view target, std::string_view authorization,
                     std::string_view body) {
  return impl_->handle(method, target, authorization, body);
}

}  // namespace tlb::server
