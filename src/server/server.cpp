#include "server/server.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "io/text.hpp"
#include "server/names.hpp"
#include "server/original.hpp"
#include "server/replies.hpp"
#include "server/request_limits.hpp"
#include "server/server_impl.hpp"

namespace tlb::server {
namespace {

using nlohmann::ordered_json;

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
       "tlb verify --json of the version's records and its cells' (V.<hash of a run key>) [?strict=1]"},
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

bool truthy(std::string_view value) {
  return value == "1" || value == "true" || value == "yes" || value == "on";
}

}  // namespace

Server::Impl::Impl(Database& db, ServerOptions opts) : database(db), options(std::move(opts)) {
  database.set_max_jobs(options.max_jobs);
  if (!options.today) {
    options.today = [] { return std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()); };
  }
  // The swarm's leases are measured by the database's clock, which every server sharing it reads alike.
  if (!options.clock) options.clock = [&db] { return db.now(); };
  swarm = std::make_unique<SwarmRoutes>(
      database, options.swarm, options.clock,
      [this](const std::string& job, const std::string& version) { return snapshot(job, version); },
      options.today);
  if (!options.now) options.now = [&db] { return static_cast<std::int64_t>(db.now()); };
}

Reply Server::Impl::handle(std::string_view method, std::string_view target, std::string_view authorization,
                           std::string_view body) {
  bool api = target.starts_with("/api/v1/") || target == "/api/v1" || target.starts_with("/api/v1?");
  reset_parse_count();
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
  } catch (const JobLimitError& e) {
    const std::string message = one_line(e.what());
    return api ? json_reply(403, ordered_json{{"error", message}}) : text_reply(403, message + "\n");
  } catch (const DatabaseUnavailable& e) {
    // PostgreSQL restarting or out of reach: the request is not acknowledged; a retry connects again.
    const std::string message = one_line(e.what());
    std::cerr << "tlb server: " << message << std::endl;
    Reply reply = api ? json_reply(503, ordered_json{{"error", message}}) : text_reply(503, message + "\n");
    reply.headers.emplace_back("Retry-After", "1");
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
  if (effective == "POST" || effective == "PUT") check_token(options.token, authorization);
  // A read freezes a version's snapshot only with the token (when the server has one): reads are open, and
  // 200 reads of made-up versions grew the database by 178 MB.
  const auto may_freeze = [&] { return !options.token || has_token(options.token, authorization); };
  if (target.api && !body.empty()) check_json_depth(body);

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
      return reads.heavy([&] { return dashboard_page(target.query); });
    case RouteId::routes:
      return route_list();
    case RouteId::status:
      return status();
    case RouteId::history:
      return history(name("{job}", "job"));
    case RouteId::version_history:
      return version_history(name("{job}", "job"), name("{version}", "version"), may_freeze());
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
      const std::string& version = name("{version}", "version");
      std::optional<Reply> frozen =
          frozen_read("suite_time", job, version, may_freeze(), kText, original::format_suite_times);
      return frozen ? std::move(*frozen) : suite_time("GET", job, "");
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
      return swarm->heartbeat(name("{agent}", "agent"), body);
    case RouteId::swarm_pull:
      return swarm->pull(name("{agent}", "agent"), body);
    case RouteId::swarm_report:
      return swarm->report(name("{agent}", "agent"), body);
    case RouteId::swarm_leave:
      return swarm->leave(name("{agent}", "agent"), body);
    case RouteId::completeness:
      return completeness(name("{job}", "job"), name("{version}", "version"), name("{module}", "module"));
  }
  refuse(404, "no such resource");
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

Reply Server::Impl::status() const {
  return json_reply(200, ordered_json{{"service", "tlb"}, {"version", options.tlb_version}});
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
  if (purged > 0) {
    impl_->reads.clear();
    impl_->ledgers.clear();
    impl_->checks.clear();
  }
  return purged;
}

Reply Server::handle(std::string_view method, std::string_view target, std::string_view authorization,
                     std::string_view body) {
  Reply reply = impl_->handle(method, target, authorization, body);
  if (reply.shared_body) {
    reply.body = *reply.shared_body;
    reply.shared_body.reset();
  }
  return reply;
}

}  // namespace tlb::server
