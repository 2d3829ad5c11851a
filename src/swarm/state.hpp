// The coordinator's state, behind one small interface. Every change is one atomic transition on a few keys,
// in the shape of ci-queue's Redis scripts (research/swarm.md §10.9), so that a Redis implementation is a
// direct port: a run is a hash; its tests a hash per test plus a pending set ordered by priority; a lease is
// a random number (no one can guess another agent's) that fences every later change of the test it was
// handed out for; results are an
// append-only list per run; agents a hash each; answered pulls a small map for idempotence. The coordinator
// decides; the state only applies transitions, and refuses the ones whose lease is no longer current.
//
// Implemented on SQLite by server::SqliteSwarmState (src/server/swarm_state.cpp), in the server's database.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "swarm/policy.hpp"

namespace tlb::swarm {

using RunId = std::int64_t;
using Lease = std::int64_t;

struct RunRow {
  RunId id = 0;
  std::string job;
  std::string version;
  std::string test_list_hash;
  double created = 0;    // Coordinator clock.
  double finished = 0;   // 0 while open.
  bool trusted = false;  // Queue mode: CI jobs of one pipeline, whose results are never checked elsewhere.
};

enum class TestState {
  pending,  // Waiting for an agent (for its first run, or for a check of a result already in).
  leased,   // An agent holds it under `lease`.
  done,     // Settled: `status` and `agent` say the result that counts.
};

// What one run of a test gave, as an agent reported it.
enum class Status { passed, failed, skipped, error };

struct TestRow {
  std::string name;
  double seconds = 0;  // Estimated reference seconds.
  bool known = true;   // The estimate is from history.
  bool important = false;
  bool confirm = false;  // New, or failed last time: a pass is final only once a second agent confirms it.
  TestState state = TestState::pending;
  bool check = false;                 // The open task is a second opinion on a result already in.
  Lease lease = 0;                    // The current lease (0: never handed out).
  std::string agent;                  // Who holds it (leased), or whose result counts (done).
  double deadline = 0;                // Leased: taken back after this unless the agent is heard from.
  double expected_end = 0;            // Leased: when the holder should be done with it.
  int losses = 0;                     // Leases lost (agent silent, left or evicted) on this test.
  std::vector<std::string> excluded;  // Agents that may not take it again (lost it, or ran it already).
  // Done:
  Status status = Status::passed;
  double result_seconds = 0;
  bool flaky = false;
};

struct ResultRow {
  std::string name;
  std::string agent;
  Lease lease = 0;
  Status status = Status::passed;
  double seconds = 0;
  double reference_estimate = 0;  // The test's estimate when it ran, for the agent's speed.
  bool known = false;             // The estimate was from history.
  bool authoritative = false;     // Reported under the current lease.
  bool check = false;             // A second opinion.
  bool plausible = true;          // Counts for the agent's speed.
  double reported = 0;
};

struct AgentRow {
  std::string id;    // "a<number>", given by the coordinator.
  std::string key;   // The agent's own key: registering again with it returns the same id.
  std::string name;  // For people.
  std::string test_list_hash;
  Attributes attributes;
  Trust trust = Trust::probation;
  double error_rate = 0.1;
  double speed = 1;
  int speed_samples = 0;
  int checks_passed = 0;         // Results of its that another agent confirmed.
  int checks_asked = 0;          // Probation checks asked for its results (at most probation_checks).
  int consecutive_losses = 0;    // Leases it lost in a row.
  int unconfirmed_failures = 0;  // Failures of its that no other agent reproduced.
  double registered = 0;
  double last_seen = 0;
  bool left = false;
  std::string evicted_because;  // Why it was pushed out ("" while it is not).
  std::string secret;           // Given at registration; its later calls must carry it ("": none given).
};

class SwarmState {
 public:
  virtual ~SwarmState() = default;

  // Runs `work`, a coordinator's whole operation (its reads and transitions), as one: on a database several
  // coordinators share (replicas of the server), one write transaction, so that no other coordinator's
  // operation falls between its reads and its writes. Calls nest (the inner one joins the outer).
  virtual void atomically(const std::function<void()>& work) { work(); }

  // Runs.
  virtual std::optional<RunRow> find_run(const std::string& job, const std::string& version) = 0;
  virtual std::optional<RunRow> run(RunId id) = 0;
  virtual std::vector<RunRow> open_runs() = 0;  // Oldest first.
  // Creates the run with its tests, pending (or done, for those settled at once: disabled tests).
  virtual RunId create_run(const RunRow& run, const std::vector<TestRow>& tests) = 0;
  // False, changing nothing, when the run was finished already (by another coordinator).
  virtual bool finish_run(RunId id, double at) = 0;
  virtual std::vector<TestRow> tests(RunId id) = 0;
  virtual std::vector<TestRow> pending(RunId id) = 0;
  virtual std::size_t unsettled(RunId id) = 0;  // Tests not done.
  virtual std::optional<TestRow> test(RunId id, const std::string& name) = 0;

  // Agents.
  virtual std::optional<AgentRow> agent(const std::string& id) = 0;
  virtual std::optional<AgentRow> agent_by_key(const std::string& key) = 0;
  virtual std::vector<AgentRow> agents() = 0;  // In registration order.
  // Inserts a new agent (empty id: the state gives the next "a<n>") or replaces one; returns its id.
  virtual std::string put_agent(AgentRow agent) = 0;
  // The agent was heard from at `now`: its leases are extended to `deadline`.
  virtual void touch(const std::string& agent, double now, double deadline) = 0;

  // Work. reserve() hands each named test that is still pending to `agent` under a new lease, in order, each
  // with its expected end; it skips names no longer pending (another agent took them first) and returns the
  // leases it gave, in the same order as `names` minus the skipped.
  struct Reservation {
    std::string name;
    Lease lease = 0;
    double expected_end = 0;
  };
  virtual std::vector<Reservation> reserve(RunId run, const std::string& agent,
                                           const std::vector<std::pair<std::string, double>>& names_and_ends,
                                           double deadline) = 0;
  // Leased tests whose deadline is before `now`, of every open run.
  struct Held {
    RunId run = 0;
    std::string name;
    std::string agent;
    Lease lease = 0;
    double expected_end = 0;
    double seconds = 0;
  };
  virtual std::vector<Held> expired(double now) = 0;
  virtual std::vector<Held> held_by(const std::string& agent) = 0;
  virtual std::vector<Held> held(RunId run) = 0;
  // Every agent that was ever given a test of the run, by id.
  virtual std::vector<std::string> agents_of(RunId run) = 0;
  // Whom and what a lease was given for, current or not (nullopt: never given).
  virtual std::optional<Held> lease(Lease lease) = 0;
  // Back to pending if `lease` is still the test's current one: `agent` (unless "") joins the excluded, and
  // when `lost` (its agent died holding it, which a test that crashes machines would do) losses + 1.
  // False when the lease is stale (nothing changes).
  virtual bool take_back(RunId run, const std::string& name, Lease lease, const std::string& agent,
                         bool lost) = 0;
  // Appends a result. Returns false, appending nothing, when a result under this lease is already in (a
  // retried report).
  virtual bool add_result(RunId run, const ResultRow& result) = 0;
  virtual std::optional<ResultRow> result_of(RunId run, Lease lease) = 0;
  virtual std::vector<ResultRow> results(RunId run) = 0;
  virtual std::vector<ResultRow> results(RunId run, const std::string& name) = 0;
  virtual std::vector<ResultRow> results_of_agent(const std::string& agent) = 0;
  // If `lease` is current: the test is pending again as a check, excluding `excluded` (added to its list).
  virtual bool ask_check(RunId run, const std::string& name, Lease lease,
                         const std::vector<std::string>& excluded) = 0;
  // If `lease` is current (or 0: unconditionally): the test is done with this outcome.
  virtual bool settle(RunId run, const std::string& name, Lease lease, Status status, double seconds,
                      const std::string& agent, bool flaky) = 0;
  // A settled test goes back to pending (the agent whose result counted was caught lying).
  virtual void reopen(RunId run, const std::string& name, const std::string& excluded_agent) = 0;

  // Idempotent pulls: the answer given to (agent, request id), if any. Only an agent's latest is kept.
  virtual std::optional<std::string> answer(const std::string& agent, const std::string& request_id) = 0;
  virtual void remember_answer(const std::string& agent, const std::string& request_id,
                               const std::string& answer) = 0;
};

}  // namespace tlb::swarm
