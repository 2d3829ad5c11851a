// The swarm's decisions, as pure functions: how agents rank (a weighted vote over their attributes and their
// record), which tests an agent gets when it pulls (longest first, with a guard against a slow agent taking a
// long test a faster one would finish sooner), how big a batch is, how fast an agent is, and when a duration
// is impossible. No I/O, no clock: the coordinator passes the time in, so the same inputs give the same
// answers on every machine. Grounded in docs/swarm-protocol.md and the prior art (BOINC's host speed and
// reliability, ci-queue's leases, HTCondor's rank).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tlb::swarm {

// What an agent says about itself when it registers.
struct Attributes {
  std::string os;
  std::string arch;
  int cores = 1;
  double ram_mb = 0;
  double bench = 0;   // Its benchmark score: bigger is faster; 0 when unknown.
  double rtt_ms = 0;  // Round trip to the system under test; 0 when none is configured.
};

enum class Trust {
  probation,  // New: its results are checked on another agent until enough of them agree.
  trusted,
  evicted,  // Pushed out: too many failures no one else reproduces, too many lost tests, or caught lying.
};

// An agent as the policy sees it.
struct AgentView {
  Attributes attributes;
  double speed = 1;  // Reference seconds per second of its own: 2 runs a test in half the reference time.
  int speed_samples = 0;    // How many durations `speed` was learned from (0: it is the benchmark's prior).
  double prior_speed = 1;   // The benchmark's prior: what the guard uses until `speed` has enough evidence.
  double error_rate = 0.1;  // BOINC's error EWMA: starts at 0.1, x0.95 per verified result, +0.1 per error.
  Trust trust = Trust::probation;
  bool live = true;    // Heard from within the lease time and not evicted.
  double free_at = 0;  // When it is expected to finish what it holds (seconds on the coordinator's clock).
};

struct PolicySettings {
  double eft_slack = 1.25;  // Give a test to the pulling agent if it would finish it by 1.25x the best time.
  // The EFT guard weighs only agents at least this much faster than the pulling one. Between agents of about
  // the same speed, who runs a test changes no makespan and the batch size alone sets what one agent takes;
  // and identical machines learn speeds up to 1.4x apart when the history is off (bench/queue.cpp).
  double faster_by = 1.5;
  double min_batch_seconds = 1;
  // A batch amortises what a pull costs (a round trip; in queue mode a ctest start and one report call too,
  // about 0.15 s: 1.5% of 10 s). Beyond that, more in one batch only makes its later tests wait behind its
  // first: when a test runs far longer than history says, its batchmates could have run elsewhere meanwhile
  // (bench/queue.cpp: 120 s batches left sequencescape-cucumber at 1.20x the bound on one draw; 10 s, 1.02x).
  double max_batch_seconds = 10;
  double per_test_seconds =
      0.05;  // What each test of a batch costs beyond its estimate: its process's start.
  // What a batch costs beyond its tests: a pull's round trip, and in queue mode a ctest start and a report
  // call. The guard charges it to both sides, as it does per_test_seconds: whoever runs a test pays them.
  double per_batch_seconds = 0.15;
  // An agent that holds tests is busy for at least this long still, however near their expected end (a
  // report is yet to come; busy_until).
  double busy_min_seconds = 1;
  // Learned speeds split identical machines apart when durations drift (a job that drew the slowed tests
  // looks slow): the guard trusts a learned speed only from this many samples on, the prior until then.
  int guard_speed_after = 10;
  // `tlb run --queue` runs the static split when a job's batches would cost more than this part of its share.
  double queue_overhead_fraction = 0.10;
  double short_test_seconds =
      5;  // Probation checks and audits are spent on tests expected to take at most this.
  // A queue run learns how far each file and directory of its tests drifts from history (drift_factor): so
  // many seconds of history at a ratio of 1 temper what its first results say.
  double drift_prior_seconds = 5;
  double min_drift = 1.5;             // Less is noise, history's own spread: it moves no test.
  double max_drift = 20;              // No pending test's estimate grows more than this many times.
  int learned_speed_after = 3;        // Durations before the learned speed replaces the benchmark's prior.
  double impossible_fraction = 0.25;  // A pass in less than this part of the expected time is impossible...
  double impossible_min_seconds = 1;  // ...when the expected time is at least this.
};

// The weighted vote: each agent's capability C_p in [0, 1], from its percentile rank in the pool on each
// attribute, C_p = 0.50 v_speed + 0.20 v_cores + 0.15 v_ram + 0.15 (1 - v_rtt). An agent's rank on an
// attribute is (the agents below it + half the other agents level with it) / (n - 1), 0.5 when it is alone,
// so equal agents get equal votes. v_speed is on `speed`; v_cores on min(cores, 4), as most tests are
// single-threaded; a lower rtt is better. Evicted agents are left out of the ranking and get 0.
std::vector<double> capability(const std::vector<AgentView>& agents);

// Trust multiplier R_p = (1 - error_rate), halved on probation, 0 when evicted.
double reliability(const AgentView& agent);

// Score S_p = C_p R_p of every agent, in order.
std::vector<double> scores(const std::vector<AgentView>& agents);

// A test waiting to run, as the policy sees it.
struct PendingTest {
  double seconds = 0;      // Estimated reference seconds.
  bool known = true;       // From history; false: COST or the fallback (sent early and alone).
  bool important = false;  // Label `critical`, or failed last time: only reliable agents take it.
  bool excluded = false;   // This agent may not take it (it lost it, or ran it already as the other replica).
};

// The tests agent `self` (an index into `agents`) gets when it pulls at `now`, as indexes into `pending`,
// which is in the order to hand tests out (unknown first, then longest first). Rules, in order:
//   - an unknown test goes out alone, and before any known one, without the EFT guard (its estimate is a
//     guess; running it early is what makes it known);
//   - important tests only to an agent whose reliability is at least 0.9 while such a live agent exists;
//   - EFT guard: test j goes to `self` only if its finish there, counted from now, is at most eft_slack x the
//     earliest finish that any other live agent q at least faster_by faster offers (for an important test,
//     only reliable agents count while one lives). Both sides pay the same overheads: per_batch_seconds once,
//     and per_test_seconds a test; self's finish is its batch so far plus seconds/speed_self, q's is
//     (free_at_q - now) + seconds/speed_q. Speeds are guard_speed's. A test that fails the guard is skipped
//     for a shorter one;
//   - then more tests in order (each passing the guard, as if the earlier ones were done) until the batch
//     holds batch_seconds of the agent's own time;
//   - while the guard holds a test back, a batch under min_batch_seconds is topped up with the shortest
//     allowed tests until it holds that much (or no allowed test is left): no agent idles while work exists,
//     and none is fed one tiny test per pull while long tests wait for a faster agent. So while the guard
//     holds tests back, every batch (one ctest call in queue mode) carries at least min_batch_seconds of the
//     agent's estimated time, or every test it may take: at most 60 / min_batch_seconds calls per minute.
// Durations, not clock readings, are compared, so the slack means the same whatever the clock's origin. Ties
// go to the lower index. Empty only when no test is allowed for `self` (each is excluded, or important while
// a reliable agent lives and `self` is not one).
std::vector<std::size_t> pick(const std::vector<PendingTest>& pending, const std::vector<AgentView>& agents,
                              std::size_t self, double now, double batch_seconds,
                              const PolicySettings& settings);

// The speed the guard weighs an agent by: its learned speed from guard_speed_after samples on, before that
// the benchmark's prior (a speed learned from a few drifting durations is not evidence).
double guard_speed(const AgentView& agent, const PolicySettings& settings);

// When an agent whose held tests are expected to end at `expected_end` is free, seen at `now`: it is busy
// until it reports. Before the expected end, at that end; past it, after as long again as it has overrun (a
// test that runs long is likely to run longer still); never sooner than busy_min_seconds from now. An agent
// holding nothing is free now: the caller does not ask.
double busy_until(double expected_end, double now, const PolicySettings& settings);

// Whether the CI's jobs of a queue run say they differ: their benchmarks (those that report one) span at
// least faster_by. Identical jobs all run at speed 1: no benchmark noise and no learned speed sets them
// apart.
bool jobs_differ(const std::vector<Attributes>& jobs, const PolicySettings& settings);

// The batch size in the pulling agent's own seconds: a quarter of the estimated remaining makespan
// (remaining reference seconds over the live agents' total speed), clamped to [min, max], and never more than
// half of it. Batches shrink as the queue empties.
double batch_seconds(double remaining_reference_seconds, double total_live_speed,
                     const PolicySettings& settings);

// Whether queue mode is worth its batches for CI jobs whose predicted share each is `share_seconds`: the
// batches one job would pull (batch_seconds as the share shrinks, with every job pulling at once, until what
// is left fits one minimum batch) cost it per_batch_seconds each, and that must stay within
// queue_overhead_fraction (10%) of the share. The line falls at 12-14 s with the defaults: a share of a few
// seconds runs the static split instead.
bool queue_pays(double share_seconds, const PolicySettings& settings);

// The drift groups of a test, keys of drift_factor's sums: its file (the name before "::", pytest's node ids;
// "" without one) and the file's directory ("" without one), prefixed "f:" and "d:" so they never meet.
struct DriftGroups {
  std::string file, directory;
};
DriftGroups drift_groups(std::string_view test);

// How many times longer than history a group's pending tests are likely to take, from the group's results so
// far in this run: `estimated` reference seconds of history that took `measured`. (measured + prior) /
// (estimated + prior), drift_prior_seconds of history at a ratio of 1 as the prior, at most max_drift, and 1
// below min_drift (noise of that size moves no test; bench_swarm's noisy history lost up to 1% to it). Never
// below 1: a group that runs faster than history moves nothing later, since a long test started late costs
// the makespan, one started early costs nothing. A whole directory runs slower on another configuration
// (a sanitizer, another compiler), so its first results move its longer pending tests ahead before they
// start too late (bench/queue.cpp's `ci` drift).
double drift_factor(double estimated, double measured, const PolicySettings& settings);

// One observation of an agent: a test's reference estimate and the seconds the agent took.
struct Observation {
  double reference_seconds = 0;
  double seconds = 0;
};

// The agent's speed: the median of reference/seconds over observations whose reference is at least 0.5 s
// (overhead dominates shorter ones), each ratio clamped to [0.1, 10] x the prior; the prior while fewer than
// learned_speed_after such observations exist.
double learned_speed(const std::vector<Observation>& observations, double prior,
                     const PolicySettings& settings);

// The prior speed of each agent from its benchmark: bench / median bench of the agents that report one; 1 for
// an agent without one (and for all when none does).
std::vector<double> prior_speeds(const std::vector<Attributes>& agents);

// True when a pass of `seconds` is impossible for a test expected to take `expected_seconds` on this agent:
// less than impossible_fraction of it, when the expectation is at least impossible_min_seconds.
bool impossibly_fast(double seconds, double expected_seconds, const PolicySettings& settings);

// BOINC's error EWMA after one more outcome: x0.95 on a verified good result, +0.1 on an error (a failure no
// one reproduced, a lost test, a contradicted result), clamped to [0, 1].
double next_error_rate(double error_rate, bool good);

}  // namespace tlb::swarm
