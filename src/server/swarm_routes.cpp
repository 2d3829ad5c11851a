#include "server/swarm_routes.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "io/record.hpp"
#include "io/text.hpp"
#include "server/names.hpp"
#include "server/request_limits.hpp"
#include "server/server.hpp"
#include "server/swarm_state.hpp"
#include "store/store.hpp"
#include "tlb/split.hpp"

namespace tlb::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using swarm::Refused;

// An answer of the swarm protocol: the document as one line of JSON.
Reply swarm_reply(int status, const ordered_json& document) {
  return Reply{status, "application/json", document.dump() + "\n", {}};
}

ordered_json parse_body(std::string_view body) {
  ordered_json document;
  try {
    document = ordered_json::parse(body.empty() ? std::string_view("{}") : body);
  } catch (const json::exception& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    throw Refused(400, "request body is not JSON: " + what);
  }
  if (!document.is_object()) throw Refused(400, "request body is not a JSON object");
  return document;
}

// A member of the request, of the JSON type `Value`; `fallback` when absent (nullopt: required).
template <class Value>
Value member(const ordered_json& document, const char* key, std::optional<Value> fallback = std::nullopt) {
  auto it = document.find(key);
  if (it == document.end() || it->is_null()) {
    if (fallback) return *fallback;
    throw Refused(400, std::string("request body has no \"") + key + "\"");
  }
  try {
    return it->template get<Value>();
  } catch (const json::exception&) {
    throw Refused(400, std::string("\"") + key + "\" has the wrong type");
  }
}

void check(std::optional<std::string> problem) {
  if (problem) throw Refused(400, *problem);
}

swarm::RunId run_id(const std::string& text) {
  swarm::RunId id = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || id > 1'000'000'000'000) throw Refused(404, "no swarm run '" + text + "'");
    id = id * 10 + (c - '0');
  }
  if (text.empty()) throw Refused(404, "no swarm run ''");
  return id;
}

// A version for a run submitted without one: unique enough, and a valid name.
std::string made_up_version() {
  return "swarm-" + io::random_hex(8);
}

ordered_json agent_json(const swarm::AgentSummary& agent) {
  ordered_json out{{"agent", agent.row.id},
                   {"name", agent.row.name},
                   {"state", swarm::to_string(agent.row.trust)},
                   {"live", agent.live},
                   {"speed", std::round(agent.row.speed * 1000) / 1000},
                   {"score", std::round(agent.score * 1000) / 1000},
                   {"done", agent.done},
                   {"running", agent.running}};
  out["evicted_because"] = agent.row.evicted_because;
  return out;
}

}  // namespace

struct SwarmRoutes::Impl {
  Impl(Database& db, swarm::Settings settings, std::function<double()> clock,
       std::function<store::Timings(const std::string&, const std::string&)> snapshot_of,
       std::function<store::Date()> date)
      : database(db),
        state(db),
        coordinator(state, std::move(settings), std::move(clock)),
        snapshot(std::move(snapshot_of)),
        today(std::move(date)) {}

  Database& database;
  SqliteSwarmState state;
  swarm::Coordinator coordinator;
  std::function<store::Timings(const std::string&, const std::string&)> snapshot;
  std::function<store::Date()> today;

  // The finished run's results become history: each duration normalised by its agent's speed.
  void record_history(swarm::RunId run) {
    const swarm::Outcome outcome = coordinator.outcome(run);
    store::RunReport report;
    report.date = today();
    report.test_list_hash = outcome.run.test_list_hash;
    for (const swarm::TestOutcome& test : outcome.tests) {
      if (test.status == swarm::Status::error) continue;  // The swarm got no result: nothing to learn.
      store::Observation observation;
      observation.name = test.name;
      if (test.status == swarm::Status::skipped) {
        observation.outcome = Outcome::skipped;
      } else {
        observation.outcome = test.status == swarm::Status::failed ? Outcome::failed : Outcome::passed;
        observation.seconds = test.reference_seconds;
      }
      report.observations.push_back(std::move(observation));
    }
    const std::vector<io::PartitionRecord> records = partition_records(outcome);
    const store::HistoryPolicy policy;
    database.transaction(true, [&](Session& s) {
      // Once per run, by whichever server gets here first: the flag is set in the transaction of the write.
      Statement update =
          s.prepare("UPDATE swarm_runs SET recorded = 1 WHERE id = ?1 AND recorded = 0 AND finished != 0");
      update.bind(1, run).run();
      if (update.changes() == 0) return;
      const store::Timings before = s.history(outcome.run.job);
      store::Timings after = before;
      store::apply(after, report, policy.smoothing_factor);
      store::forget_stale(after, policy.forget_after_days);
      s.replace_history(outcome.run.job, before, after);
      // The run's records, so `tlb verify` against the server proves it as it proves a partitioned run;
      // not over a version whose partitions reported records of their own.
      const std::string& job = outcome.run.job;
      const std::string& version = outcome.run.version;
      if (!s.records(job, version).empty()) return;
      s.touch_version(job, version, static_cast<std::int64_t>(outcome.run.finished));
      for (const io::PartitionRecord& record : records) {
        const PartitionId id{record.partition, record.total};
        s.put_record(job, version, id,
                     io::format_record(record, "swarm run " + std::to_string(outcome.run.id)));
      }
    });
  }

  // Finished runs whose results no server has put into the history yet: one was killed in between.
  std::vector<swarm::RunId> unrecorded() {
    return database.transaction(false, [](Session& s) {
      Statement rows =
          s.prepare("SELECT id FROM swarm_runs WHERE finished != 0 AND recorded = 0 ORDER BY id");
      std::vector<swarm::RunId> runs;
      while (rows.step()) runs.push_back(rows.integer(0));
      return runs;
    });
  }

  // One record per agent whose results count, as partition i of M: its tests and results. A test two agents
  // ran (a lease lost while its agent still ran it) is in both, so the proof reports it; disabled tests,
  // which no agent ran, go with the first; a test with no result is in none, so the proof reports it lost.
  std::vector<io::PartitionRecord> partition_records(const swarm::Outcome& outcome) const {
    std::vector<std::string> all_tests;
    for (const swarm::TestOutcome& test : outcome.tests) all_tests.push_back(test.name);
    std::sort(all_tests.begin(), all_tests.end());
    std::map<std::string, std::vector<const swarm::TestOutcome*>> by_agent;
    std::vector<const swarm::TestOutcome*> unassigned;
    for (const swarm::TestOutcome& test : outcome.tests) {
      if (!test.agent.empty()) {
        by_agent[test.agent].push_back(&test);
      } else if (test.status == swarm::Status::skipped) {
        unassigned.push_back(&test);
      }
    }
    for (const swarm::Duplicate& duplicate : outcome.duplicates) {
      const auto test = std::find_if(outcome.tests.begin(), outcome.tests.end(),
                                     [&](const swarm::TestOutcome& t) { return t.name == duplicate.name; });
      for (const std::string& agent : duplicate.agents) {
        auto& tests = by_agent[agent];
        if (std::find(tests.begin(), tests.end(), &*test) == tests.end()) tests.push_back(&*test);
      }
    }
    std::vector<std::string> order;
    for (const swarm::AgentSummary& agent : outcome.agents) {
      if (by_agent.contains(agent.row.id)) order.push_back(agent.row.id);
    }
    if (order.empty() && !unassigned.empty()) order.push_back("");
    std::vector<io::PartitionRecord> records;
    for (std::size_t i = 0; i < order.size(); ++i) {
      std::vector<const swarm::TestOutcome*> tests = by_agent[order[i]];
      if (i == 0) tests.insert(tests.end(), unassigned.begin(), unassigned.end());
      std::sort(tests.begin(), tests.end(), [](auto* a, auto* b) { return a->name < b->name; });
      io::PartitionRecord record;
      record.partition = static_cast<int>(i + 1);
      record.total = static_cast<int>(order.size());
      record.splitter = outcome.run.trusted ? "queue" : "swarm";
      record.all_tests = all_tests;
      record.test_list_hash = io::hash_names(all_tests);
      record.job = outcome.run.job;
      record.job_version = outcome.run.version;
      record.history_status = "ok";
      record.has_results = true;
      record.recorded_on = store::format_date(today());
      for (const swarm::TestOutcome* test : tests) {
        record.tests.push_back(test->name);
        io::RecordedResult result{test->name, io::ResultStatus::passed, test->seconds};
        if (test->status == swarm::Status::failed) result.status = io::ResultStatus::failed;
        if (test->status == swarm::Status::skipped) {
          result.status = io::ResultStatus::skipped;
          result.seconds.reset();
        }
        record.results.push_back(std::move(result));
      }
      records.push_back(std::move(record));
    }
    return records;
  }

  // Every call of an agent carries the secret its registration answered.
  void authenticate(const std::string& agent, const ordered_json& request) {
    coordinator.authenticate(agent, member<std::string>(request, "secret", std::string()));
  }

  // Runs one operation; then the runs it (or a lease it found expired) completed go into the history.
  template <class Work>
  Reply answer(Work&& work) {
    Reply reply;
    try {
      reply = work();
    } catch (const Refused& e) {
      reply = swarm_reply(e.status, ordered_json{{"error", e.what()}});
    } catch (const JobLimitError& e) {
      reply = swarm_reply(403, ordered_json{{"error", e.what()}});
    }
    for (swarm::RunId run : coordinator.take_finished()) record_or_say(run);
    return reply;
  }

  // record_history, after the call that finished the run committed: what fails is said on the server's
  // stderr, not answered to that call, and leaves the run for a later tick, but for the job limit, which no
  // tick will lift (the run is marked recorded, its history dropped).
  void record_or_say(swarm::RunId run) {
    try {
      record_history(run);
    } catch (const JobLimitError& e) {
      std::cerr << "tlb server: swarm run " << run << ": its results are not kept: " << e.what() << std::endl;
      database.transaction(true, [&](Session& s) {
        s.prepare("UPDATE swarm_runs SET recorded = 1 WHERE id = ?1").bind(1, run).run();
      });
    } catch (const std::exception& e) {
      std::cerr << "tlb server: swarm run " << run << ": not folded into the history yet: " << e.what()
                << std::endl;
    }
  }
};

SwarmRoutes::SwarmRoutes(Database& database, swarm::Settings settings, std::function<double()> clock,
                         std::function<store::Timings(const std::string&, const std::string&)> snapshot,
                         std::function<store::Date()> today)
    : impl_(std::make_unique<Impl>(database, std::move(settings), std::move(clock), std::move(snapshot),
                                   std::move(today))) {}

SwarmRoutes::~SwarmRoutes() = default;

const swarm::Settings& SwarmRoutes::settings() const {
  return impl_->coordinator.settings();
}

void SwarmRoutes::tick() {
  impl_->answer([&] {
    impl_->coordinator.tick();
    return Reply{};
  });
  for (swarm::RunId run : impl_->unrecorded()) impl_->record_or_say(run);
}

Reply SwarmRoutes::submit(std::string_view body) {
  return impl_->answer([&] {
    const ordered_json request = parse_body(body);
    swarm::Submission submission;
    submission.job = member<std::string>(request, "job");
    check(check_name("job", submission.job));
    submission.version = member<std::string>(request, "version", std::string());
    if (submission.version.empty()) submission.version = made_up_version();
    check(check_name("version", submission.version));
    submission.test_list_hash = member<std::string>(request, "test_list_hash");
    const std::string mode = member<std::string>(request, "mode", std::string("swarm"));
    if (mode != "swarm" && mode != "queue")
      throw Refused(400, "\"mode\" must be swarm or queue, not '" + mode + "'");
    submission.trusted = mode == "queue";
    const ordered_json tests = member<ordered_json>(request, "tests");
    if (!tests.is_array()) throw Refused(400, "\"tests\" is not an array");

    std::vector<Test> suite;
    for (const ordered_json& entry : tests) {
      if (!entry.is_object()) throw Refused(400, "a test in \"tests\" is not an object");
      Test test = Test::named(member<std::string>(entry, "name"));
      check(check_test_name(test.name));
      if (entry.contains("cost") && !entry["cost"].is_null()) test.cost = member<double>(entry, "cost");
      test.labels = member<std::vector<std::string>>(entry, "labels", std::vector<std::string>{});
      test.disabled = member<bool>(entry, "disabled", false);
      suite.push_back(std::move(test));
    }
    std::sort(suite.begin(), suite.end(), [](const Test& a, const Test& b) { return a.name < b.name; });
    if (std::adjacent_find(suite.begin(), suite.end(),
                           [](const Test& a, const Test& b) { return a.name == b.name; }) != suite.end()) {
      throw Refused(400, "\"tests\" names a test twice");
    }

    // Estimates as a split makes them: history (the version's frozen snapshot), else COST, else the mean.
    const store::Timings timings = impl_->snapshot(submission.job, submission.version);
    const History history = store::to_history(timings);
    SplitOptions options;
    options.total = 1;
    const Plan plan = split(suite, history, options);
    std::map<std::string, const PlannedTest*> planned;
    for (const PlannedTest& test : plan.partitions.front().tests) planned[test.name] = &test;
    for (const Test& test : suite) {
      swarm::SubmittedTest submitted;
      submitted.name = test.name;
      const PlannedTest* estimate = planned[test.name];
      submitted.seconds = estimate ? estimate->seconds : 0;
      submitted.known = estimate && estimate->estimate == Estimate::history;
      const TestRecord* record = history.find(test.name);
      const bool failed_last = record && record->last == Outcome::failed;
      submitted.important =
          std::find(test.labels.begin(), test.labels.end(), "critical") != test.labels.end() || failed_last;
      submitted.confirm = !submitted.known || failed_last;
      submitted.disabled = test.disabled;
      submission.tests.push_back(std::move(submitted));
    }
    const swarm::Submitted submitted = impl_->coordinator.submit(submission);
    return swarm_reply(
        submitted.created ? 201 : 200,
        ordered_json{{"run", submitted.run},
                     {"job", submission.job},
                     {"version", submission.version},
                     {"tests", submission.tests.size()},
                     {"estimated_seconds", std::round(submitted.estimated_seconds * 10) / 10}});
  });
}

Reply SwarmRoutes::progress(const std::string& run) {
  return impl_->answer([&] {
    const swarm::Progress progress = impl_->coordinator.progress(run_id(run));
    ordered_json agents = ordered_json::array();
    for (const swarm::AgentSummary& agent : progress.agents) agents.push_back(agent_json(agent));
    return swarm_reply(
        200, ordered_json{
                 {"run", progress.run.id},
                 {"job", progress.run.job},
                 {"version", progress.run.version},
                 {"state", swarm::run_state(progress.run, progress.abandoned)},
                 {"tests", progress.tests},
                 {"done", progress.done},
                 {"running", progress.running},
                 {"pending", progress.pending},
                 {"failed", progress.failed},
                 {"elapsed_seconds", std::round(progress.elapsed_seconds * 10) / 10},
                 {"estimated_remaining_seconds", std::round(progress.estimated_remaining_seconds * 10) / 10},
                 {"agents", agents},
             });
  });
}

Reply SwarmRoutes::results(const std::string& run) {
  return impl_->answer([&] {
    const swarm::Outcome outcome = impl_->coordinator.outcome(run_id(run));
    ordered_json tests = ordered_json::array();
    for (const swarm::TestOutcome& test : outcome.tests) {
      tests.push_back(ordered_json{{"name", test.name},
                                   {"status", swarm::to_string(test.status)},
                                   {"seconds", std::round(test.seconds * 1000) / 1000},
                                   {"reference_seconds", std::round(test.reference_seconds * 1000) / 1000},
                                   {"agent", test.agent},
                                   {"attempts", test.attempts},
                                   {"flaky", test.flaky},
                                   {"runs", test.runs}});
    }
    ordered_json agents = ordered_json::array();
    for (const swarm::AgentSummary& agent : outcome.agents) agents.push_back(agent_json(agent));
    ordered_json duplicates = ordered_json::array();
    for (const swarm::Duplicate& duplicate : outcome.duplicates) {
      duplicates.push_back(ordered_json{{"name", duplicate.name}, {"agents", duplicate.agents}});
    }
    return swarm_reply(200, ordered_json{{"run", outcome.run.id},
                                         {"job", outcome.run.job},
                                         {"version", outcome.run.version},
                                         {"state", swarm::run_state(outcome.run, outcome.abandoned)},
                                         {"test_list_hash", outcome.run.test_list_hash},
                                         {"tests", tests},
                                         {"agents", agents},
                                         {"duplicates", duplicates}});
  });
}

Reply SwarmRoutes::enroll(std::string_view body) {
  return impl_->answer([&] {
    const ordered_json request = parse_body(body);
    swarm::Registration registration;
    registration.key = member<std::string>(request, "key");
    if (registration.key.empty() || registration.key.size() > 128) {
      throw Refused(400, "\"key\" must be 1 to 128 characters");
    }
    registration.name = member<std::string>(request, "name", std::string("agent"));
    if (registration.name.size() > 128) throw Refused(400, "\"name\" is longer than 128 characters");
    registration.test_list_hash = member<std::string>(request, "test_list_hash");
    const ordered_json attributes = member<ordered_json>(request, "attributes", ordered_json::object());
    if (!attributes.is_object()) throw Refused(400, "\"attributes\" is not an object");
    registration.attributes.os = member<std::string>(attributes, "os", std::string());
    registration.attributes.arch = member<std::string>(attributes, "arch", std::string());
    registration.attributes.cores = std::max(1, member<int>(attributes, "cores", 1));
    registration.attributes.ram_mb = std::max(0.0, member<double>(attributes, "ram_mb", 0.0));
    registration.attributes.bench = std::max(0.0, member<double>(attributes, "bench", 0.0));
    registration.attributes.rtt_ms = std::max(0.0, member<double>(attributes, "rtt_ms", 0.0));
    registration.secret = io::random_hex(16);
    const std::string agent = impl_->coordinator.enroll(registration);
    const swarm::Settings& settings = impl_->coordinator.settings();
    return swarm_reply(200, ordered_json{{"agent", agent},
                                         {"secret", registration.secret},
                                         {"heartbeat_seconds", settings.heartbeat_seconds},
                                         {"lease_seconds", settings.lease_seconds}});
  });
}

Reply SwarmRoutes::heartbeat(const std::string& agent, std::string_view body) {
  return impl_->answer([&] {
    impl_->authenticate(agent, parse_body(body));
    const swarm::Trust trust = impl_->coordinator.heartbeat(agent);
    return swarm_reply(200, ordered_json{{"state", swarm::to_string(trust)}});
  });
}

Reply SwarmRoutes::pull(const std::string& agent, std::string_view body) {
  return impl_->answer([&] {
    const ordered_json request = parse_body(body);
    impl_->authenticate(agent, request);
    const std::string request_id = member<std::string>(request, "request_id", std::string());
    if (request_id.size() > 128) throw Refused(400, "\"request_id\" is longer than 128 characters");
    std::optional<swarm::RunId> only_run;
    if (request.contains("run") && !request["run"].is_null()) only_run = member<std::int64_t>(request, "run");
    const swarm::Pulled pulled = impl_->coordinator.pull(agent, request_id, only_run);
    ordered_json assignments = ordered_json::array();
    for (const swarm::Assignment& a : pulled.assignments) {
      assignments.push_back(ordered_json{{"test", a.test},
                                         {"lease", a.lease},
                                         {"expected_seconds", std::round(a.expected_seconds * 1000) / 1000}});
    }
    ordered_json out{{"run", pulled.run},
                     {"assignments", assignments},
                     {"retry_after_seconds", pulled.retry_after_seconds}};
    if (pulled.idle) out["idle"] = true;
    return swarm_reply(200, out);
  });
}

namespace {

// One report of a body: {"lease", "test", "status", "seconds"}. Its errors start with `where`, which names
// it.
swarm::Report report_of(const ordered_json& request, const std::string& where) {
  try {
    swarm::Report report;
    report.lease = member<std::int64_t>(request, "lease");
    report.test = member<std::string>(request, "test");
    const std::string status = member<std::string>(request, "status");
    const std::optional<swarm::Status> named = swarm::status_named(status);
    if (!named || *named == swarm::Status::error) {
      throw Refused(400, "\"status\" must be passed, failed or skipped, not '" + status + "'");
    }
    report.status = *named;
    report.seconds = member<double>(request, "seconds");
    if (!std::isfinite(report.seconds) || report.seconds < 0) {
      throw Refused(400, "\"seconds\" must be a duration of 0 or more");
    }
    if (auto reason = check_duration(report.seconds, "\"seconds\"")) throw Refused(400, *reason);
    return report;
  } catch (const Refused& refused) {
    throw Refused(refused.status, where + refused.what());
  }
}

ordered_json reported_json(const swarm::Reported& reported) {
  return ordered_json{{"accepted", reported.accepted}, {"authoritative", reported.authoritative}};
}

}  // namespace

Reply SwarmRoutes::report(const std::string& agent, std::string_view body) {
  return impl_->answer([&] {
    const ordered_json request = parse_body(body);
    impl_->authenticate(agent, request);
    if (!request.contains("reports")) {
      return swarm_reply(200, reported_json(impl_->coordinator.report(agent, report_of(request, ""))));
    }
    // A batch: every report is checked before any counts, then each counts in order. Each is idempotent by
    // its lease, so a batch retried after a refusal half-way gives the same answers to the ones that counted.
    const ordered_json& list = request.at("reports");
    if (!list.is_array() || list.empty()) throw Refused(400, "\"reports\" must be a list of reports");
    std::vector<swarm::Report> reports;
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (!list[i].is_object()) throw Refused(400, "reports[" + std::to_string(i) + "] is not an object");
      reports.push_back(report_of(list[i], "reports[" + std::to_string(i) + "]: "));
    }
    ordered_json results = ordered_json::array();
    for (const swarm::Report& report : reports) {
      ordered_json one{{"test", report.test}};
      one.update(reported_json(impl_->coordinator.report(agent, report)));
      results.push_back(std::move(one));
    }
    return swarm_reply(200, ordered_json{{"results", results}});
  });
}

Reply SwarmRoutes::leave(const std::string& agent, std::string_view body) {
  return impl_->answer([&] {
    impl_->authenticate(agent, parse_body(body));
    impl_->coordinator.leave(agent);
    return swarm_reply(200, ordered_json{{"left", true}});
  });
}

}  // namespace tlb::server
