// The swarm's coordinator: the protocol's operations (docs/swarm-protocol.md) over a SwarmState, with the
// decisions taken by policy.hpp. Each operation runs as one SwarmState::atomically (on the server one write
// transaction, so coordinators of several servers on one database never interleave), under a mutex that keeps
// this process's threads apart. Time comes from the clock it is given (on the server the database's), so a
// simulation can drive it with virtual time (bench/swarm.cpp).
//
// What it decides, when:
//   - pull: which run (the oldest open one with this agent's test list), which tests (policy::pick), for how
//     long (lease_seconds, extended by every call the agent makes);
//   - report: whether the result stands, or needs a second opinion on another agent first: a failure (is it
//     the test or the agent?), a pass impossibly fast for the test, the first results of an agent on
//     probation, and a deterministic 5% sample of the rest; on disagreement a third agent decides;
//   - eviction: an agent caught lying (its pass contradicted by two failures, or a duration the check shows
//     impossible), or failing too often (3 failures no one reproduced, 3 leases lost in a row, error rate
//     over 0.5). An evicted agent's unconfirmed results are run again elsewhere;
//   - every call: leases whose agent went silent go back to the queue; a test lost 3 times is an error.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "swarm/policy.hpp"
#include "swarm/state.hpp"

namespace tlb::swarm {

struct Settings {
  double heartbeat_seconds = 10;  // Agents send a heartbeat this often.
  double lease_seconds = 30;      // An agent silent this long loses its tests.
  int probation_checks = 3;       // Results of a new agent checked on another before it is trusted.
  int max_losses = 2;             // A test whose lease was lost more often than this is an error.
  int max_consecutive_losses = 3;
  int max_unconfirmed_failures = 3;
  double max_error_rate = 0.5;
  double audit_fraction = 0.05;  // Of a trusted agent's passes, checked anyway.
  PolicySettings policy;
};

// A request the coordinator refuses; `status` is the HTTP status to answer with.
class Refused : public std::runtime_error {
 public:
  Refused(int http_status, const std::string& what) : std::runtime_error(what), status(http_status) {}
  int status;
};

struct SubmittedTest {
  std::string name;
  double seconds = 0;  // Estimated reference seconds.
  bool known = true;   // From history.
  bool important = false;
  bool disabled = false;  // Settled at once as skipped, never sent.
  bool confirm =
      false;  // New, or failed last time: in swarm mode a pass is final once a second agent agrees.
};

struct Submission {
  std::string job;
  std::string version;
  std::string test_list_hash;
  std::vector<SubmittedTest> tests;
  bool trusted = false;  // Queue mode (`tlb run --queue`): the CI's own jobs; no checks, no audits.
};

struct Submitted {
  RunId run = 0;
  bool created = false;          // false: the run existed with the same test list.
  double estimated_seconds = 0;  // Estimated makespan with the live agents (total work when there are none).
};

struct Registration {
  std::string key;
  std::string name;
  std::string test_list_hash;
  Attributes attributes;
  std::string secret{};  // Made by the server for this registration: the agent's later calls carry it.
};

struct Assignment {
  std::string test;
  Lease lease = 0;
  double expected_seconds = 0;
};

struct Pulled {
  RunId run = 0;  // 0 when no assignment.
  std::vector<Assignment> assignments;
  double retry_after_seconds = 0;
  bool idle = false;  // No open run of this agent's test list at all.
};

struct Report {
  Lease lease = 0;
  std::string test;
  Status status = Status::passed;
  double seconds = 0;
};

struct Reported {
  bool accepted = true;
  bool authoritative = true;
};

struct AgentSummary {
  AgentRow row;
  double score = 0;  // The weighted vote times the trust multiplier.
  bool live = false;
  int done = 0;  // Authoritative results in the run asked about.
  std::vector<std::string> running;
};

struct Progress {
  RunRow run;
  int tests = 0, done = 0, running = 0, pending = 0, failed = 0;
  double elapsed_seconds = 0;
  double estimated_remaining_seconds = 0;
  std::vector<AgentSummary> agents;  // Those with this run's test list.
  bool abandoned = false;            // A queue run whose jobs are all gone with tests left (run_state()).
};

struct TestOutcome {
  std::string name;
  Status status = Status::passed;
  double seconds = 0;            // As the agent whose result counts measured it.
  double reference_seconds = 0;  // Normalised by that agent's speed: what the history keeps.
  std::string agent;
  int attempts = 0;  // Leases handed out for it.
  bool flaky = false;
  int runs = 0;  // Results that came in.
};

struct Duplicate {
  std::string name;
  std::vector<std::string> agents;
};

struct Outcome {
  RunRow run;
  bool abandoned = false;
  std::vector<TestOutcome> tests;  // By name.
  std::vector<AgentSummary> agents;
  std::vector<Duplicate> duplicates;
};

class Coordinator {
 public:
  Coordinator(SwarmState& state, Settings settings, std::function<double()> clock);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  const Settings& settings() const { return settings_; }

  // Refused(409) when the run exists with another test list.
  Submitted submit(const Submission& submission);
  // Registering again with a known key is the same agent, restarted: the tests it held go back to the queue
  // at once (without counting against it), what it already reported stands, and the new secret replaces the
  // old one.
  std::string enroll(const Registration& registration);
  // Whether a call comes from the agent: Refused(401) without a secret (or for an agent registered before
  // secrets), Refused(403) with another one, Refused(404) for an unknown agent. The server checks every call
  // of an agent with it; in process (simulations) the calls below trust their caller.
  void authenticate(const std::string& agent, std::string_view secret);
  // The calls of an agent; Refused(404) for an unknown agent, Refused(410) for an evicted one.
  Trust heartbeat(const std::string& agent);
  // `only_run`: tests of that run only (a queue-mode job serves its own CI run).
  Pulled pull(const std::string& agent, const std::string& request_id, std::optional<RunId> only_run = {});
  Reported report(const std::string& agent, const Report& report);
  void leave(const std::string& agent);

  // Refused(404) for an unknown run.
  Progress progress(RunId run);
  Outcome outcome(RunId run);

  // Takes back the tests of agents gone silent. Every call does it first; a server also calls it on a timer.
  // Not within lease_seconds of the coordinator's start: the time a server was down is no agent's silence.
  void tick();

  // The runs completed since the last call, oldest first (whichever call completed them).
  std::vector<RunId> take_finished();

 private:
  struct Impl;
  Settings settings_;
  std::unique_ptr<Impl> impl_;
};

std::string_view to_string(Status status);
std::optional<Status> status_named(std::string_view name);
std::string_view to_string(Trust trust);
// "done" once every test is settled; "abandoned" for a queue run whose jobs are all gone with tests left;
// else "running".
std::string_view run_state(const RunRow& run, bool abandoned);

}  // namespace tlb::swarm
