// The swarm, simulated (swarm.cpp, queue.cpp): the real swarm::Coordinator on its real state
// (server::SqliteSwarmState on an in-memory SQLite database: the server's schema and transactions, without
// the disk), driven by a discrete-event simulation on virtual time through the coordinator's injected clock.
// Agents enroll, pull, run what they got, report each test and heartbeat every heartbeat_seconds, as `tlb
// agent` and `tlb run --queue` do; the run ends when the coordinator settles its last test (checks and audits
// included). Moved here from swarm.cpp, so its figures stay the same.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <queue>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "server/database.hpp"
#include "server/swarm_state.hpp"
#include "suites.hpp"
#include "swarm/coordinator.hpp"

namespace tlb::bench {

// What an agent pays besides its tests' own durations. Calls are answered at once; the agent waits one round
// trip on each before it goes on.
struct AgentCosts {
  double per_test_seconds = 0.05;     // Every test: its process's start, ctest's own work.
  double round_trip_seconds = 0.002;  // Every pull and every report.
  // How a batch runs. false: each test on its own, reported as it ends (`tlb agent`). true: the whole batch
  // as one ctest command, which starts in batch_start_seconds, and whose tests are reported in one call when
  // it ends (`tlb run --queue`).
  bool one_command_per_batch = false;
  double batch_start_seconds = 0;
  // After an empty pull the agent waits max(the answer's retry_after_seconds, a backoff that starts here and
  // doubles up to last_backoff_seconds); 0 and 0: the answer's wait alone.
  double first_backoff_seconds = 0;
  double last_backoff_seconds = 0;
};

struct Death {
  std::size_t agent = 0;
  double at = 0;  // From then on it is silent: its leases expire and its tests run elsewhere.
};

struct SwarmSetup {
  const Dataset& dataset;               // The tests, and their true durations in reference seconds.
  const std::vector<double>& estimate;  // What history says of each test, indexed like dataset.names.
  const std::vector<double>& speeds;    // Each agent's true speed.
  const std::vector<double>& bench;     // Each agent's benchmark score, indexed like speeds.
  bool trusted = false;  // Queue mode: a trusted run, whose results are never checked elsewhere.
  AgentCosts costs;
  std::optional<Death> death;
  std::string database =
      ":memory:";  // Where the coordinator's state lives (a file: the server's fsyncs too).
  // Called with the virtual time, the agent and each batch it pulls (tlb_bench_queue --trace).
  std::function<void(double, std::size_t, const std::vector<tlb::swarm::Assignment>&)> on_batch{};
};

struct SimulatedRun {
  double makespan = 0;
  std::size_t pulls = 0;         // Pull calls, empty ones included.
  std::size_t batches = 0;       // Pulls that got work.
  std::size_t reports = 0;       // Tests reported.
  std::size_t report_calls = 0;  // Report calls: one a test, or one a batch (one command per batch).
  std::size_t taken_back = 0;    // Tests whose lease was lost (a dead agent's).
};

// The suites to simulate: the real ones, and instead of bench_balance's 4,000-test synthetic suite a smaller
// one of the same shape, as every simulated call runs the real coordinator's SQLite transactions.
inline std::vector<Dataset> simulated_suites(const std::filesystem::path& shared) {
  std::vector<Dataset> datasets = load_datasets(shared, {});
  std::erase_if(datasets, [](const Dataset& d) { return d.name == "hours-4k"; });
  datasets.push_back(synthetic(
      "lognormal-500", "synthetic, seed 20261123: log-normal mu = ln 2 s, sigma = 1.0; 2% of tests x U[5,20)",
      500, hours_model()));
  return datasets;
}

inline SimulatedRun simulate(const SwarmSetup& setup) {
  namespace sw = tlb::swarm;
  const Dataset& dataset = setup.dataset;
  const AgentCosts& costs = setup.costs;
  double now = 0;
  tlb::server::Database database(setup.database);
  tlb::server::SqliteSwarmState state(database);
  const sw::Settings settings;
  sw::Coordinator coordinator(state, settings, [&now] { return now; });

  const std::size_t agents = setup.speeds.size();
  std::vector<std::string> ids;
  for (std::size_t p = 0; p < agents; ++p) {
    sw::Registration registration;
    registration.key = "key-" + std::to_string(p);
    registration.name = "agent-" + std::to_string(p);
    registration.test_list_hash = "bench";
    registration.attributes.os = "Linux";
    registration.attributes.arch = "x86_64";
    registration.attributes.cores = 4;
    registration.attributes.ram_mb = 16000;
    registration.attributes.bench = setup.bench[p];
    ids.push_back(coordinator.enroll(registration));
  }
  sw::Submission submission;
  submission.job = dataset.name;
  submission.version = "1";
  submission.test_list_hash = "bench";
  submission.trusted = setup.trusted;
  for (std::size_t j = 0; j < dataset.names.size(); ++j)
    submission.tests.push_back({dataset.names[j], setup.estimate[j], true, false, false});
  const sw::RunId run = coordinator.submit(submission).run;

  enum class Kind { pull, finish, heartbeat };
  struct Event {
    double at;
    std::size_t agent;
    Kind kind;
    std::uint64_t sequence;  // Ties by time go by agent, then in the order the events were made.
    bool operator>(const Event& other) const {
      return std::tie(at, agent, sequence) > std::tie(other.at, other.agent, other.sequence);
    }
  };
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  std::uint64_t sequence = 0;
  auto schedule = [&](double at, std::size_t agent, Kind kind) {
    events.push({at, agent, kind, sequence++});
  };

  struct AgentState {
    std::vector<sw::Assignment> batch;
    std::size_t next = 0;  // The test of `batch` to report next.
    double backoff = 0;
    bool stopped = false;
  };
  std::vector<AgentState> agent(agents);
  for (AgentState& a : agent) a.backoff = costs.first_backoff_seconds;
  auto duration = [&](std::size_t p, const std::string& test) {
    const std::size_t j = index_of(dataset, test);
    return dataset.seconds[j] / setup.speeds[p] + costs.per_test_seconds;
  };
  // From a call's answer to the next report: the test's own run, or (one command per batch) the whole
  // command, whose tests are then reported in one call.
  auto until_report = [&](std::size_t p, const AgentState& a) {
    if (!costs.one_command_per_batch) return duration(p, a.batch[a.next].test);
    double command = costs.batch_start_seconds;
    for (const sw::Assignment& assignment : a.batch) command += duration(p, assignment.test);
    return command;
  };
  for (std::size_t p = 0; p < agents; ++p) {
    schedule(0, p, Kind::pull);
    schedule(settings.heartbeat_seconds, p, Kind::heartbeat);
  }

  SimulatedRun result;
  bool finished = false;
  while (!finished && !events.empty()) {
    const Event event = events.top();
    events.pop();
    AgentState& self = agent[event.agent];
    if (self.stopped) continue;
    if (setup.death && event.agent == setup.death->agent && event.at >= setup.death->at) {
      self.stopped = true;
      continue;
    }
    now = event.at;
    const std::string& id = ids[event.agent];
    const double rtt = costs.round_trip_seconds;
    try {
      switch (event.kind) {
        case Kind::heartbeat:
          coordinator.heartbeat(id);
          schedule(now + settings.heartbeat_seconds, event.agent, Kind::heartbeat);
          break;
        case Kind::pull: {
          ++result.pulls;
          sw::Pulled pulled = coordinator.pull(id, id + "-" + std::to_string(result.pulls));
          if (pulled.assignments.empty()) {
            if (pulled.idle) {
              self.stopped = true;
            } else {
              schedule(now + rtt + std::max(pulled.retry_after_seconds, self.backoff), event.agent,
                       Kind::pull);
              self.backoff = std::min(self.backoff * 2, costs.last_backoff_seconds);
            }
            break;
          }
          ++result.batches;
          if (setup.on_batch) setup.on_batch(now, event.agent, pulled.assignments);
          self.backoff = costs.first_backoff_seconds;
          self.batch = std::move(pulled.assignments);
          self.next = 0;
          schedule(now + rtt + until_report(event.agent, self), event.agent, Kind::finish);
          break;
        }
        case Kind::finish: {
          // One command per batch: the whole batch's reports in one call when the command ends.
          ++result.report_calls;
          const std::size_t last = costs.one_command_per_batch ? self.batch.size() : self.next + 1;
          for (; self.next < last; ++self.next) {
            const sw::Assignment& done = self.batch[self.next];
            ++result.reports;
            sw::Report report{done.lease, done.test, sw::Status::passed, duration(event.agent, done.test)};
            coordinator.report(id, report);
          }
          // take_finished: whichever call completed the run (a report, or a lease found expired).
          if (!coordinator.take_finished().empty()) {
            finished = true;
            break;
          }
          if (self.next < self.batch.size()) {
            schedule(now + rtt + until_report(event.agent, self), event.agent, Kind::finish);
          } else {
            schedule(now + rtt, event.agent, Kind::pull);
          }
          break;
        }
      }
    } catch (const sw::Refused& refused) {
      if (refused.status != 410) throw;
      self.stopped = true;  // Evicted: a real agent stops too.
    }
    if (!coordinator.take_finished().empty()) finished = true;
  }
  if (!finished) throw std::runtime_error(dataset.name + ": the swarm stopped before the run finished");
  result.makespan = now;
  for (const sw::TestOutcome& t : coordinator.outcome(run).tests) {
    if (t.status != sw::Status::passed)
      throw std::runtime_error(dataset.name + ": " + t.name + " did not pass in the simulation");
    result.taken_back += static_cast<std::size_t>(std::max(0, t.attempts - 1));
  }
  return result;
}

}  // namespace tlb::bench
