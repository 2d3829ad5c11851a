#include "swarm/coordinator.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <type_traits>
#include <utility>

#include "io/text.hpp"

namespace tlb::swarm {
namespace {

// FNV-1a 64, for the deterministic audit sample: two coordinators check the same results.
std::uint64_t fnv1a(std::string_view text, std::uint64_t hash = 14695981039346656037ull) {
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

// Seconds for messages: three significant digits ("0.01", "7.37", "221").
std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", seconds);
  return text;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Flaky: it passed and failed, each side seen by at least two agents. A side only one agent saw is that
// agent's word, not the test's nature (a liar's passes, a broken machine's failures).
bool flaky(const std::vector<ResultRow>& opinions) {
  std::set<std::string> passed;
  std::set<std::string> failed;
  for (const ResultRow& r : opinions) {
    if (r.status == Status::passed) passed.insert(r.agent);
    if (r.status == Status::failed) failed.insert(r.agent);
  }
  return passed.size() >= 2 && failed.size() >= 2;
}

}  // namespace

std::string_view to_string(Status status) {
  switch (status) {
    case Status::passed:
      return "passed";
    case Status::failed:
      return "failed";
    case Status::skipped:
      return "skipped";
    case Status::error:
      return "error";
  }
  return "error";
}

std::optional<Status> status_named(std::string_view name) {
  for (Status status : {Status::passed, Status::failed, Status::skipped, Status::error}) {
    if (name == to_string(status)) return status;
  }
  return std::nullopt;
}

std::string_view to_string(Trust trust) {
  switch (trust) {
    case Trust::probation:
      return "probation";
    case Trust::trusted:
      return "trusted";
    case Trust::evicted:
      return "evicted";
  }
  return "evicted";
}

std::string_view run_state(const RunRow& run, bool abandoned) {
  if (run.finished != 0) return "done";
  return abandoned ? "abandoned" : "running";
}

struct Coordinator::Impl {
  Impl(SwarmState& swarm_state, const Settings& swarm_settings, std::function<double()> time)
      : state(swarm_state), settings(swarm_settings), clock(std::move(time)) {
    started = clock();
  }

  SwarmState& state;
  const Settings& settings;
  std::function<double()> clock;
  std::mutex mutex;  // One process only: atomic() is what holds across the servers of one database.
  std::vector<RunId> finished;   // Completed, not yet taken.
  std::vector<RunId> finishing;  // Completed by the operation under way, handed on once it is committed.
  // When this coordinator started. Before it the server was down (or not yet up): that is no agent's silence.
  double started = 0;

  // Runs one operation of the protocol as one atomic transition of the state (SwarmState::atomically): on a
  // database several servers share, no other coordinator's operation falls between its reads and writes.
  template <class Work>
  auto atomic(Work&& work) {
    finishing.clear();
    using Result = decltype(work());
    if constexpr (std::is_void_v<Result>) {
      state.atomically(work);
      finished.insert(finished.end(), finishing.begin(), finishing.end());
    } else {
      std::optional<Result> result;
      state.atomically([&] { result.emplace(work()); });
      finished.insert(finished.end(), finishing.begin(), finishing.end());
      return std::move(*result);
    }
  }

  bool live(const AgentRow& agent, double now) const {
    return agent.trust != Trust::evicted && !agent.left &&
           now - std::max(agent.last_seen, started) <= settings.lease_seconds;
  }

  // Within a lease of the start no lease expires: the agents that rode out a restart are heard from again
  // (each call extends its leases) before a silent one's tests are taken back.
  bool in_grace(double now) const { return now < started + settings.lease_seconds; }

  // A queue run whose jobs are all gone (left, evicted, silent), with tests unsettled and none in hand: no
  // one will finish it unless a job comes back. Computed, not stored, so that a retried job takes it up
  // again.
  bool abandoned(const RunRow& run, double now) {
    if (!run.trusted || run.finished != 0 || !state.held(run.id).empty()) return false;
    const std::vector<std::string> jobs = state.agents_of(run.id);
    return !jobs.empty() && std::none_of(jobs.begin(), jobs.end(), [&](const std::string& id) {
      const std::optional<AgentRow> job = state.agent(id);
      return job && live(*job, now);
    });
  }

  AgentRow known_agent(const std::string& id) {
    std::optional<AgentRow> agent = state.agent(id);
    if (!agent) throw Refused(404, "unknown agent '" + id + "' (register first)");
    if (agent->trust == Trust::evicted) {
      throw Refused(410, "agent " + id + " was evicted: " + agent->evicted_because);
    }
    return *agent;
  }

  // Every call an agent makes counts as a heartbeat.
  AgentRow heard_from(const std::string& id) {
    AgentRow agent = known_agent(id);
    const double now = clock();
    state.touch(id, now, now + settings.lease_seconds);
    agent.last_seen = now;
    agent.left = false;
    return agent;
  }

  // The pool as the policy sees it: the agents with `hash`, their views in registration order.
  struct Pool {
    std::vector<AgentRow> rows;
    std::vector<AgentView> views;
  };
  Pool pool(const std::string& hash, double now) {
    Pool pool;
    for (AgentRow& row : state.agents()) {
      if (row.test_list_hash == hash) pool.rows.push_back(std::move(row));
    }
    std::vector<Attributes> attributes;
    for (const AgentRow& row : pool.rows) attributes.push_back(row.attributes);
    const std::vector<double> priors = prior_speeds(attributes);
    std::map<std::string, double> free_at;
    for (const AgentRow& row : pool.rows) {
      for (const SwarmState::Held& held : state.held_by(row.id)) {
        free_at[row.id] = std::max(free_at[row.id], held.expected_end);
      }
    }
    for (std::size_t i = 0; i < pool.rows.size(); ++i) {
      const AgentRow& row = pool.rows[i];
      AgentView view;
      view.attributes = row.attributes;
      view.speed = row.speed_samples >= settings.policy.learned_speed_after ? row.speed : priors[i];
      view.speed_samples = row.speed_samples;
      view.prior_speed = priors[i];
      view.error_rate = row.error_rate;
      view.trust = row.trust;
      view.live = live(row, now);
      // Holding tests, it is busy until it reports, even past their expected end.
      view.free_at = free_at.count(row.id) ? busy_until(free_at[row.id], now, settings.policy) : now;
      pool.views.push_back(view);
    }
    return pool;
  }

  // Queue mode: the CI's own jobs are identical unless their benchmarks say they differ. Then every job runs
  // at speed 1, learned from nothing: durations that drift would otherwise tell identical jobs apart.
  void queue_speeds(Pool& pool) const {
    std::vector<Attributes> jobs;
    for (std::size_t i = 0; i < pool.rows.size(); ++i)
      if (pool.views[i].live) jobs.push_back(pool.rows[i].attributes);
    if (jobs_differ(jobs, settings.policy)) return;
    for (AgentView& view : pool.views) {
      view.speed = view.prior_speed = 1;
      view.speed_samples = 0;
    }
  }

  // Queue mode: each pending test with history takes its drift factor (policy::drift_factor) from the results
  // of its file so far, else of its directory, measured at the reporting job's speed. Returns the seconds
  // the estimates grew by. The stored estimates stay as history said: the results and the speeds compare
  // against those.
  double apply_drift(RunId run, std::vector<TestRow>& pending, const Pool& pool) {
    std::map<std::string, std::pair<double, double>> sums;  // Group: estimated, measured.
    for (const ResultRow& result : state.results(run)) {
      if (!result.authoritative || !result.known) continue;
      if (result.status != Status::passed && result.status != Status::failed) continue;
      const DriftGroups groups = drift_groups(result.name);
      for (const std::string* group : {&groups.file, &groups.directory}) {
        if (group->empty()) continue;
        sums[*group].first += result.reference_estimate;
        sums[*group].second += result.seconds * speed_of(result.agent, pool);
      }
    }
    double grown = 0;
    if (sums.empty()) return grown;
    for (TestRow& test : pending) {
      if (!test.known) continue;
      const DriftGroups groups = drift_groups(test.name);
      for (const std::string* group : {&groups.file, &groups.directory}) {
        const auto sum = sums.find(*group);
        if (group->empty() || sum == sums.end()) continue;
        const double before = test.seconds;
        test.seconds *= drift_factor(sum->second.first, sum->second.second, settings.policy);
        grown += test.seconds - before;
        break;
      }
    }
    return grown;
  }

  static std::size_t index_of(const Pool& pool, const std::string& id) {
    for (std::size_t i = 0; i < pool.rows.size(); ++i) {
      if (pool.rows[i].id == id) return i;
    }
    return pool.rows.size();
  }

  // The agent's speed now: learned from its plausible results on tests with history, else the prior.
  double speed_of(const std::string& id, const Pool& pool) {
    const std::size_t i = index_of(pool, id);
    return i < pool.views.size() ? pool.views[i].speed : 1.0;
  }

  // The agent's plausible passes of tests with history: what its speed is learned from.
  std::vector<Observation> observations_of(const std::string& agent) {
    std::vector<Observation> observations;
    for (const ResultRow& result : state.results_of_agent(agent)) {
      if (result.known && result.plausible && result.status == Status::passed) {
        observations.push_back({result.reference_estimate, result.seconds});
      }
    }
    return observations;
  }

  double prior_of(const std::string& agent, const Pool& pool) const {
    const std::size_t i = index_of(pool, agent);
    std::vector<Attributes> attributes;
    for (const AgentRow& row : pool.rows) attributes.push_back(row.attributes);
    return i < pool.rows.size() ? prior_speeds(attributes)[i] : 1.0;
  }

  void relearn_speed(AgentRow& agent, const Pool& pool) {
    const std::vector<Observation> observations = observations_of(agent.id);
    agent.speed = learned_speed(observations, prior_of(agent.id, pool), settings.policy);
    agent.speed_samples = 0;
    for (const Observation& o : observations) agent.speed_samples += o.reference_seconds >= 0.5;
  }

  // The speed a finished run's durations are divided back by, for the history: learned from as little as one
  // result, unlike the scheduling speed. One result gives back the history's own value (the agent's speed is
  // then exactly that test's ratio): neutral, where the benchmark's guess could be off several times, as on
  // agents that share a machine. More results give the median ratio, against which a test that really got
  // slower stands out.
  double normalising_speed(const std::string& agent, const Pool& pool) {
    PolicySettings one = settings.policy;
    one.learned_speed_after = 1;
    return learned_speed(observations_of(agent), prior_of(agent, pool), one);
  }

  // Takes back the tests of agents silent past the lease; a test lost too often becomes an error.
  void reclaim(double now) {
    if (in_grace(now)) return;
    for (const SwarmState::Held& held : state.expired(now)) lose(held);
  }

  void lose(const SwarmState::Held& held) {
    if (!state.take_back(held.run, held.name, held.lease, held.agent, true)) return;
    if (std::optional<AgentRow> agent = state.agent(held.agent)) {
      agent->consecutive_losses += 1;
      agent->error_rate = next_error_rate(agent->error_rate, false);
      if (agent->trust != Trust::evicted) {
        if (agent->consecutive_losses >= settings.max_consecutive_losses) {
          agent->trust = Trust::evicted;
          agent->evicted_because =
              "lost " + std::to_string(agent->consecutive_losses) + " tests in a row (silent or gone)";
        }
      }
      state.put_agent(*agent);
    }
    std::optional<TestRow> test = state.test(held.run, held.name);
    if (test && test->state == TestState::pending && test->losses > settings.max_losses) {
      state.settle(held.run, held.name, 0, Status::error, 0, "", false);
      finish_if_done(held.run);
    }
  }

  // Closes the run once every test is settled; take_finished() hands it on.
  void finish_if_done(RunId run) {
    if (state.unsettled(run) != 0) return;
    // Conditional: of two coordinators that see the last test settle, one finishes the run.
    if (state.finish_run(run, clock())) finishing.push_back(run);
  }

  void evict(AgentRow& agent, const std::string& why) {
    if (agent.trust == Trust::evicted) return;
    agent.trust = Trust::evicted;
    agent.evicted_because = why;
    state.put_agent(agent);
    // Its tests in hand go back at once (no fault of theirs), and its results that no one confirmed are run
    // again elsewhere.
    for (const SwarmState::Held& held : state.held_by(agent.id)) {
      state.take_back(held.run, held.name, held.lease, agent.id, false);
    }
    for (const RunRow& run : state.open_runs()) {
      std::map<std::string, int> confirmations;
      for (const ResultRow& result : state.results(run.id)) confirmations[result.name] += 1;
      for (const TestRow& test : state.tests(run.id)) {
        if (test.state == TestState::done && test.agent == agent.id && confirmations[test.name] < 2) {
          state.reopen(run.id, test.name, agent.id);
        }
      }
    }
  }

  // A pass that `failures` other agents saw fail counts against its agent, whatever its trust: an agent on
  // probation did not run the test, and is evicted; a trusted one goes back to probation, so its next results
  // are checked again, and a second lie evicts it.
  void contradicted_pass(AgentRow& agent, const std::string& test, int failures) {
    const std::string why =
        "reported '" + test + "' passed; " + std::to_string(failures) + " other agents saw it fail";
    if (agent.trust == Trust::probation) {
      evict(agent, why);
      return;
    }
    agent.trust = Trust::probation;
    agent.checks_passed = 0;
    agent.checks_asked = 0;
    agent.error_rate = next_error_rate(agent.error_rate, false);
    state.put_agent(agent);
  }

  // Is there a live agent other than `excluded` that could give a second opinion?
  bool someone_else(const Pool& pool, double now, const std::vector<std::string>& excluded) {
    for (const AgentRow& row : pool.rows) {
      if (live(row, now) && !contains(excluded, row.id)) return true;
    }
    return false;
  }

  bool audited(RunId run, const std::string& test, const std::string& agent) const {
    const std::uint64_t hash = fnv1a(agent, fnv1a(test, fnv1a(std::to_string(run))));
    return static_cast<double>(hash % 10000) < settings.audit_fraction * 10000;
  }

  // A check no live agent may run any more (the others are gone): the result already in stands.
  // Returns whether it settled any.
  bool settle_orphan_checks(RunId run, const std::vector<const TestRow*>& pending, const Pool& pool,
                            double now) {
    bool changed = false;
    for (const TestRow* test : pending) {
      if (!test->check || someone_else(pool, now, test->excluded)) continue;
      changed = true;
      const ResultRow* counted = nullptr;
      std::vector<ResultRow> seen;
      const std::vector<ResultRow> results = state.results(run, test->name);
      for (const ResultRow& r : results) {
        if (!(r.authoritative || r.check)) continue;
        const std::size_t i = index_of(pool, r.agent);
        if (i < pool.rows.size() && pool.rows[i].trust == Trust::evicted) continue;
        seen.push_back(r);
        if (!counted || r.status == Status::failed) counted = &r;
      }
      if (counted) {
        state.settle(run, test->name, 0, counted->status, counted->seconds, counted->agent, flaky(seen));
      } else {
        state.reopen(run, test->name, "");  // Only an evicted agent's claim: run it as a test of its own.
      }
    }
    return changed;
  }

  // Settles a test from its results once they agree, or asks for one more opinion. `latest` just came in.
  void decide(RunId run, const TestRow& test, const ResultRow& latest, Pool& pool, double now) {
    std::vector<ResultRow> opinions;
    for (ResultRow& result : state.results(run, test.name)) {
      if (result.authoritative || result.check) opinions.push_back(result);
    }
    // Opinions from agents evicted since do not count.
    std::erase_if(opinions, [&](const ResultRow& r) {
      const std::size_t i = index_of(pool, r.agent);
      return i < pool.rows.size() && pool.rows[i].trust == Trust::evicted;
    });
    std::vector<std::string> voters;
    for (const ResultRow& r : opinions) voters.push_back(r.agent);

    auto agent_row = [&](const std::string& id) -> AgentRow& { return pool.rows[index_of(pool, id)]; };
    auto check_elsewhere = [&]() {
      std::vector<std::string> excluded = test.excluded;
      excluded.insert(excluded.end(), voters.begin(), voters.end());
      if (!someone_else(pool, now, excluded)) return false;
      return state.ask_check(run, test.name, latest.lease, voters);
    };

    if (state.run(run)->trusted) {
      // Queue mode: the CI's own jobs; a result is the result, as in a partition.
      state.settle(run, test.name, latest.lease, latest.status, latest.seconds, latest.agent, false);
      return;
    }
    if (opinions.size() <= 1) {
      AgentRow& agent = agent_row(latest.agent);
      const double expected = test.seconds / std::max(speed_of(latest.agent, pool), 1e-9);
      const bool suspicious_pass =
          latest.status == Status::passed && impossibly_fast(latest.seconds, expected, settings.policy);
      // Probation checks and audits are spent on short tests: a check of a long one, run late on a slow
      // agent, would decide the makespan (bench/swarm.cpp measured up to 5x the bound). Impossible passes
      // and failures are checked whatever their length.
      const bool short_test = expected <= settings.policy.short_test_seconds;
      const bool probation_check =
          agent.trust == Trust::probation && short_test && agent.checks_asked < settings.probation_checks;
      const bool audit =
          latest.status == Status::passed && short_test && audited(run, test.name, latest.agent);
      // A pass of a new test, or of one that failed last time, is final only once a second agent agrees,
      // whatever the first one's trust: a trusted agent turning failures into passes is caught here.
      const bool unconfirmed_pass = latest.status == Status::passed && test.confirm;
      const bool needs_check =
          latest.status == Status::failed || suspicious_pass || probation_check || audit || unconfirmed_pass;
      if (needs_check && check_elsewhere()) {
        if (probation_check) {
          agent.checks_asked += 1;
          state.put_agent(agent);
        }
        return;
      }
      state.settle(run, test.name, latest.lease, latest.status, latest.seconds, latest.agent, false);
      return;
    }

    // Two or more opinions: a majority of statuses settles, and a duration the others show impossible is a
    // lie.
    std::map<Status, int> votes;
    for (const ResultRow& r : opinions) votes[r.status] += 1;
    Status majority = opinions.front().status;
    int best = 0;
    for (const auto& [status, count] : votes) {
      if (count > best) best = count, majority = status;
    }
    const bool tie =
        std::count_if(votes.begin(), votes.end(), [&](const auto& v) { return v.second == best; }) > 1;
    if (tie) {
      // Two agents disagree: a third decides, if there is one.
      if (check_elsewhere()) return;
      // No one else: the failure stands (a failure seen is never hidden); flaky only if each side has two
      // agents.
      const ResultRow* failure = nullptr;
      for (const ResultRow& r : opinions) {
        if (r.status == Status::failed) failure = &r;
      }
      const ResultRow& counted = failure ? *failure : opinions.front();
      state.settle(run, test.name, 0, counted.status, counted.seconds, counted.agent, flaky(opinions));
      return;
    }

    // A pass is impossibly fast against the fastest other agent that agrees, in reference seconds. While an
    // agent's speed is still its benchmark's guess, the guess may be off by a few times (agents on one
    // machine share a benchmark), so only a pass ten times faster counts then.
    auto learned = [&](const std::string& id) {
      const std::size_t i = index_of(pool, id);
      return i < pool.views.size() && pool.views[i].speed_samples >= settings.policy.learned_speed_after;
    };
    auto impossible = [&](const ResultRow& r) {
      if (majority != Status::passed) return false;
      for (const ResultRow& other : opinions) {
        if (&other == &r || other.status != majority) continue;
        const double yardstick = other.seconds * speed_of(other.agent, pool);
        const double fraction =
            learned(r.agent) && learned(other.agent) ? settings.policy.impossible_fraction : 0.1;
        if (yardstick >= settings.policy.impossible_min_seconds &&
            r.seconds * speed_of(r.agent, pool) >= fraction * yardstick) {
          return false;
        }
      }
      return std::any_of(opinions.begin(), opinions.end(), [&](const ResultRow& other) {
        return &other != &r && other.status == majority &&
               other.seconds * speed_of(other.agent, pool) >= settings.policy.impossible_min_seconds;
      });
    };
    const ResultRow* counted = nullptr;
    for (const ResultRow& r : opinions) {
      AgentRow& agent = agent_row(r.agent);
      if (r.status != majority) {
        if (r.status == Status::passed && majority == Status::failed) {
          contradicted_pass(agent, test.name, best);
        } else {
          // A failure only this agent sees: the test is flaky here, or the agent is.
          agent.unconfirmed_failures += 1;
          agent.error_rate = next_error_rate(agent.error_rate, false);
          if (agent.unconfirmed_failures >= settings.max_unconfirmed_failures) {
            evict(agent, std::to_string(agent.unconfirmed_failures) + " failures no other agent reproduced");
          } else if (agent.error_rate > settings.max_error_rate) {
            evict(agent, "error rate above " + seconds_text(settings.max_error_rate));
          } else {
            state.put_agent(agent);
          }
        }
        continue;
      }
      if (impossible(r)) {
        double slowest = 0;
        for (const ResultRow& other : opinions) {
          if (&other != &r) slowest = std::max(slowest, other.seconds * speed_of(other.agent, pool));
        }
        evict(agent, "reported '" + test.name + "' passed in " + seconds_text(r.seconds) +
                         " s; another agent needed " + seconds_text(slowest) + " reference seconds");
        continue;
      }
      agent.checks_passed += 1;
      agent.consecutive_losses = 0;
      agent.error_rate = next_error_rate(agent.error_rate, true);
      if (agent.trust == Trust::probation && agent.checks_passed >= settings.probation_checks) {
        agent.trust = Trust::trusted;
      }
      state.put_agent(agent);
      if (!counted || (r.authoritative && !counted->authoritative)) counted = &r;
    }
    if (!counted) {
      // Every opinion in the majority was a lie: ask again elsewhere.
      state.reopen(run, test.name, latest.agent);
      return;
    }
    state.settle(run, test.name, 0, counted->status, counted->seconds, counted->agent, flaky(opinions));
  }
};

Coordinator::Coordinator(SwarmState& state, Settings settings, std::function<double()> clock)
    : settings_(std::move(settings)), impl_(std::make_unique<Impl>(state, settings_, std::move(clock))) {}

Coordinator::~Coordinator() = default;

void Coordinator::tick() {
  std::lock_guard lock(impl_->mutex);
  return impl_->atomic([&] { impl_->reclaim(impl_->clock()); });
}

std::vector<RunId> Coordinator::take_finished() {
  std::lock_guard lock(impl_->mutex);
  return std::exchange(impl_->finished, {});
}

Submitted Coordinator::submit(const Submission& submission) {
  std::lock_guard lock(impl_->mutex);
  return impl_->atomic([&] {
    SwarmState& state = impl_->state;
    const double now = impl_->clock();
    impl_->reclaim(now);
    double total = 0;
    for (const SubmittedTest& test : submission.tests) total += test.disabled ? 0 : test.seconds;
    Submitted submitted;
    if (std::optional<RunRow> existing = state.find_run(submission.job, submission.version)) {
      if (existing->test_list_hash != submission.test_list_hash) {
        throw Refused(409, "run " + submission.version + " of job " + submission.job +
                               " was submitted with another test list (" + existing->test_list_hash + ")");
      }
      submitted.run = existing->id;
    } else {
      RunRow run;
      run.job = submission.job;
      run.version = submission.version;
      run.test_list_hash = submission.test_list_hash;
      run.created = now;
      run.trusted = submission.trusted;
      std::vector<TestRow> tests;
      for (const SubmittedTest& test : submission.tests) {
        TestRow row;
        row.name = test.name;
        row.seconds = test.seconds;
        row.known = test.known;
        row.important = test.important;
        row.confirm = test.confirm;
        if (test.disabled) {
          row.state = TestState::done;
          row.status = Status::skipped;
        }
        tests.push_back(std::move(row));
      }
      submitted.run = state.create_run(run, tests);
      submitted.created = true;
      impl_->finish_if_done(submitted.run);
    }
    double speed = 0;
    const Impl::Pool pool = impl_->pool(submission.test_list_hash, now);
    for (const AgentView& view : pool.views) speed += view.live ? view.speed : 0;
    submitted.estimated_seconds = speed > 0 ? total / speed : total;
    return submitted;
  });
}

std::string Coordinator::enroll(const Registration& registration) {
  std::lock_guard lock(impl_->mutex);
  return impl_->atomic([&] {
    SwarmState& state = impl_->state;
    const double now = impl_->clock();
    if (std::optional<AgentRow> known = state.agent_by_key(registration.key)) {
      if (known->trust == Trust::evicted) {
        throw Refused(410, "agent " + known->id + " was evicted: " + known->evicted_because);
      }
      // It restarted holding them: lost, as if its lease had run out, but it may run them again.
      for (const SwarmState::Held& held : state.held_by(known->id)) {
        state.take_back(held.run, held.name, held.lease, "", true);
      }
      known->secret = registration.secret;
      known->left = false;
      state.put_agent(*known);
      state.touch(known->id, now, now + settings_.lease_seconds);
      return known->id;
    }
    AgentRow agent;
    agent.key = registration.key;
    agent.name = registration.name;
    agent.test_list_hash = registration.test_list_hash;
    agent.attributes = registration.attributes;
    agent.registered = now;
    agent.last_seen = now;
    agent.secret = registration.secret;
    return state.put_agent(agent);
  });
}

void Coordinator::authenticate(const std::string& agent_id, std::string_view secret) {
  std::lock_guard lock(impl_->mutex);
  const std::optional<AgentRow> agent = impl_->state.agent(agent_id);
  if (!agent) throw Refused(404, "unknown agent '" + agent_id + "' (register first)");
  if (secret.empty()) {
    throw Refused(401,
                  "a call of agent " + agent_id + " must carry the \"secret\" its registration answered");
  }
  if (agent->secret.empty()) {
    throw Refused(401, "agent " + agent_id + " registered before agents had secrets: register again");
  }
  if (!io::same_secret(secret, agent->secret)) throw Refused(403, "not the secret of agent " + agent_id);
}

Trust Coordinator::heartbeat(const std::string& agent) {
  std::lock_guard lock(impl_->mutex);
  return impl_->atomic([&] {
    impl_->reclaim(impl_->clock());
    return impl_->heard_from(agent).trust;
  });
}

Pulled Coordinator::pull(const std::string& agent_id, const std::string& request_id,
                         std::optional<RunId> only_run) {
  std::lock_guard lock(impl_->mutex);
  return impl_->atomic([&] {
    SwarmState& state = impl_->state;
    const double now = impl_->clock();
    impl_->reclaim(now);
    const AgentRow agent = impl_->heard_from(agent_id);

    if (!request_id.empty()) {
      if (std::optional<std::string> answer = state.answer(agent_id, request_id)) {
        // The same request again (its answer was lost): the same tests, those still under the same leases.
        // The answer is kept as lines of "lease <tab> expected seconds".
        Pulled pulled;
        pulled.idle = answer->empty();
        pulled.retry_after_seconds = 0.5;
        std::size_t at = 0;
        while (at < answer->size()) {
          const std::size_t end = std::min(answer->find('\n', at), answer->size());
          const std::string line = answer->substr(at, end - at);
          at = end + 1;
          const std::size_t tab = line.find('\t');
          std::optional<SwarmState::Held> held = state.lease(std::stoll(line.substr(0, tab)));
          if (!held) continue;
          std::optional<TestRow> row = state.test(held->run, held->name);
          if (row && row->state == TestState::leased && row->lease == held->lease) {
            pulled.run = held->run;
            pulled.retry_after_seconds = 0;
            pulled.assignments.push_back({held->name, held->lease, std::stod(line.substr(tab + 1))});
          }
        }
        return pulled;
      }
    }

    Pulled pulled;
    pulled.retry_after_seconds = 0.5;
    pulled.idle = true;
    for (const RunRow& run : state.open_runs()) {
      if (run.test_list_hash != agent.test_list_hash || (only_run && run.id != *only_run)) continue;
      pulled.idle = false;
      std::vector<TestRow> tests = state.pending(run.id);
      std::vector<const TestRow*> pending;
      double remaining = 0;
      for (const TestRow& test : tests) {
        pending.push_back(&test);
        remaining += test.seconds;
      }
      // What is in hand counts whole: an upper bound of what is left of it, good enough for the batch size.
      for (const SwarmState::Held& held : state.held(run.id)) remaining += held.seconds;
      if (pending.empty()) continue;
      Impl::Pool pool = impl_->pool(run.test_list_hash, now);
      if (run.trusted) impl_->queue_speeds(pool);
      if (impl_->settle_orphan_checks(run.id, pending, pool, now)) {
        tests = state.pending(run.id);
        pending.clear();
        for (const TestRow& test : tests) pending.push_back(&test);
      }
      if (pending.empty()) {
        impl_->finish_if_done(run.id);
        continue;
      }
      if (run.trusted) remaining += impl_->apply_drift(run.id, tests, pool);
      // Checks first (a result waits on them), then tests without history, then longest first; by name last,
      // so every coordinator hands out the same order.
      std::sort(pending.begin(), pending.end(), [](const TestRow* a, const TestRow* b) {
        if (a->check != b->check) return a->check;
        if (a->known != b->known) return !a->known;
        if (a->seconds != b->seconds) return a->seconds > b->seconds;
        return a->name < b->name;
      });
      const std::size_t self = Impl::index_of(pool, agent_id);
      // Everyone excluded a test once: the exclusion gives way (better run where it was lost than never).
      std::vector<PendingTest> views;
      for (const TestRow* test : pending) {
        PendingTest view;
        view.seconds = test->seconds;
        view.known = test->known && !test->check;
        view.important = test->important;
        view.excluded = contains(test->excluded, agent_id);
        if (view.excluded && !test->check) {
          bool anyone = false;
          for (std::size_t i = 0; i < pool.rows.size(); ++i) {
            anyone = anyone || (pool.views[i].live && !contains(test->excluded, pool.rows[i].id));
          }
          view.excluded = anyone;
        }
        views.push_back(view);
      }
      double total_speed = 0;
      for (const AgentView& view : pool.views) total_speed += view.live ? view.speed : 0;
      const double batch = batch_seconds(remaining, total_speed, settings_.policy);
      const std::vector<std::size_t> picked = pick(views, pool.views, self, now, batch, settings_.policy);
      if (picked.empty()) continue;
      const double speed = std::max(pool.views[self].speed, 1e-9);
      std::vector<std::pair<std::string, double>> names;
      double end = pool.views[self].free_at;
      for (std::size_t i : picked) {
        end += pending[i]->seconds / speed;
        names.emplace_back(pending[i]->name, end);
      }
      std::string answer;
      for (const SwarmState::Reservation& r :
           state.reserve(run.id, agent_id, names, now + settings_.lease_seconds)) {
        const TestRow* test = *std::find_if(pending.begin(), pending.end(),
                                            [&](const TestRow* t) { return t->name == r.name; });
        pulled.assignments.push_back({r.name, r.lease, test->seconds / speed});
        answer += std::to_string(r.lease) + "\t" + std::to_string(test->seconds / speed) + "\n";
      }
      if (pulled.assignments.empty()) continue;
      pulled.run = run.id;
      pulled.retry_after_seconds = 0;
      if (!request_id.empty()) state.remember_answer(agent_id, request_id, answer);
      return pulled;
    }
    if (!request_id.empty() && pulled.idle) state.remember_answer(agent_id, request_id, "");
    return pulled;
  });
}

Reported Coordinator::report(const std::string& agent_id, const Report& report) {
  std::lock_guard lock(impl_->mutex);
  return impl_->atomic([&] {
    SwarmState& state = impl_->state;
    const double now = impl_->clock();
    impl_->reclaim(now);
    AgentRow agent = impl_->heard_from(agent_id);

    std::optional<SwarmState::Held> given = state.lease(report.lease);
    if (!given || given->agent != agent_id || given->name != report.test) {
      throw Refused(409, "lease " + std::to_string(report.lease) + " was not given to agent " + agent_id +
                             " for '" + report.test + "'");
    }
    const RunId run = given->run;
    if (std::optional<ResultRow> earlier = state.result_of(run, report.lease)) {
      return Reported{true, earlier->authoritative || earlier->check};  // A retried report.
    }
    std::optional<RunRow> run_row = state.run(run);
    if (!run_row || run_row->finished != 0) {
      // The run is over: a late opinion with nothing left to decide.
      return Reported{true, false};
    }
    const TestRow test = *state.test(run, report.test);
    const bool current =
        test.state == TestState::leased && test.lease == report.lease && test.agent == agent_id;

    Impl::Pool pool = impl_->pool(agent.test_list_hash, now);
    ResultRow result;
    result.name = report.test;
    result.agent = agent_id;
    result.lease = report.lease;
    result.status = report.status;
    result.seconds = report.seconds;
    result.reference_estimate = test.seconds;
    result.known = test.known;
    result.authoritative = current && !test.check;
    result.check = current && test.check;
    const double expected = test.seconds / std::max(impl_->speed_of(agent_id, pool), 1e-9);
    result.plausible =
        !impossibly_fast(report.seconds, expected, settings_.policy) && report.seconds <= 10 * expected + 1;
    result.reported = now;
    // Not added: the same report came in meanwhile (through another server): it was decided there.
    if (!state.add_result(run, result)) return Reported{true, result.authoritative || result.check};

    Reported reported{true, result.authoritative || result.check};
    if (!current) return reported;

    // The agent delivered: its streak of losses ends, and its speed is learned again.
    std::size_t i = Impl::index_of(pool, agent_id);
    pool.rows[i].consecutive_losses = 0;
    impl_->relearn_speed(pool.rows[i], pool);
    state.put_agent(pool.rows[i]);
    // The views the decision below reads must say the same as the row just learned.
    if (pool.rows[i].speed_samples >= settings_.policy.learned_speed_after)
      pool.views[i].speed = pool.rows[i].speed;
    pool.views[i].speed_samples = pool.rows[i].speed_samples;

    impl_->decide(run, test, result, pool, now);
    impl_->finish_if_done(run);
    return reported;
  });
}

void Coordinator::leave(const std::string& agent_id) {
  std::lock_guard lock(impl_->mutex);
  return impl_->atomic([&] {
    SwarmState& state = impl_->state;
    std::optional<AgentRow> agent = state.agent(agent_id);
    if (!agent) throw Refused(404, "unknown agent '" + agent_id + "'");
    for (const SwarmState::Held& held : state.held_by(agent_id)) {
      // Leaving is no fault: the tests go back without counting against the agent or the test.
      state.take_back(held.run, held.name, held.lease, agent_id, false);
    }
    agent->left = true;
    state.put_agent(*agent);
  });
}

Progress Coordinator::progress(RunId run_id) {
  std::lock_guard lock(impl_->mutex);
  return impl_->atomic([&] {
    SwarmState& state = impl_->state;
    const double now = impl_->clock();
    impl_->reclaim(now);
    std::optional<RunRow> run = state.run(run_id);
    if (!run) throw Refused(404, "no swarm run " + std::to_string(run_id));
    Progress progress;
    progress.run = *run;
    double remaining = 0;
    for (const TestRow& test : state.tests(run_id)) {
      progress.tests += 1;
      switch (test.state) {
        case TestState::pending:
          progress.pending += 1;
          remaining += test.seconds;
          break;
        case TestState::leased:
          progress.running += 1;
          remaining += test.seconds;
          break;
        case TestState::done:
          progress.done += 1;
          progress.failed += test.status == Status::failed || test.status == Status::error;
          break;
      }
    }
    progress.elapsed_seconds = (run->finished != 0 ? run->finished : now) - run->created;
    progress.abandoned = impl_->abandoned(*run, now);
    Impl::Pool pool = impl_->pool(run->test_list_hash, now);
    const std::vector<double> score = scores(pool.views);
    double speed = 0;
    std::map<std::string, int> done;
    for (const TestRow& test : state.tests(run_id)) done[test.agent] += test.state == TestState::done;
    std::map<std::string, std::vector<std::string>> running;
    for (const SwarmState::Held& held : state.held(run_id)) running[held.agent].push_back(held.name);
    for (std::size_t i = 0; i < pool.rows.size(); ++i) {
      speed += pool.views[i].live ? pool.views[i].speed : 0;
      AgentSummary summary{pool.rows[i], score[i], pool.views[i].live, done[pool.rows[i].id],
                           running[pool.rows[i].id]};
      summary.row.speed = pool.views[i].speed;
      progress.agents.push_back(std::move(summary));
    }
    progress.estimated_remaining_seconds = speed > 0 ? remaining / speed : 0;
    return progress;
  });
}

Outcome Coordinator::outcome(RunId run_id) {
  const Progress now = progress(run_id);
  std::lock_guard lock(impl_->mutex);
  return impl_->atomic([&] {
    SwarmState& state = impl_->state;
    Outcome outcome;
    outcome.run = now.run;
    outcome.abandoned = now.abandoned;
    outcome.agents = now.agents;
    std::map<std::string, double> speed;
    const Impl::Pool pool = impl_->pool(now.run.test_list_hash, impl_->clock());
    for (const AgentSummary& a : now.agents) speed[a.row.id] = impl_->normalising_speed(a.row.id, pool);
    std::map<std::string, int> runs;
    std::map<std::string, std::set<std::string>> primaries;
    std::set<std::string> evicted;
    for (const AgentSummary& a : now.agents) {
      if (a.row.trust == Trust::evicted) evicted.insert(a.row.id);
    }
    for (const ResultRow& result : state.results(run_id)) {
      runs[result.name] += 1;
      // Ran twice as the test's own run (not as a check): a lease lost while its agent still ran the test.
      // An evicted agent's claims are not runs.
      if (!result.check && !evicted.contains(result.agent)) primaries[result.name].insert(result.agent);
    }
    for (const TestRow& test : state.tests(run_id)) {
      TestOutcome t;
      t.name = test.name;
      t.status = test.state == TestState::done ? test.status : Status::error;
      t.seconds = test.result_seconds;
      t.agent = test.agent;
      t.reference_seconds = test.result_seconds * (speed.count(test.agent) ? speed[test.agent] : 1.0);
      t.attempts = test.losses + (test.agent.empty() ? 0 : 1);
      t.flaky = test.flaky;
      t.runs = runs[test.name];
      outcome.tests.push_back(std::move(t));
      if (primaries[test.name].size() > 1) {
        outcome.duplicates.push_back(
            {test.name, std::vector<std::string>(primaries[test.name].begin(), primaries[test.name].end())});
      }
    }
    std::sort(outcome.tests.begin(), outcome.tests.end(),
              [](const TestOutcome& a, const TestOutcome& b) { return a.name < b.name; });
    return outcome;
  });
}

}  // namespace tlb::swarm
