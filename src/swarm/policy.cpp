#include "swarm/policy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tlb::swarm {
namespace {

// Reliability an agent needs to take an important test (BOINC's reliable hosts).
constexpr double kReliable = 0.9;
// Tests shorter than this say more about the agent's overhead than its speed.
constexpr double kMinSpeedSample = 0.5;
// Observed speeds are clamped to this factor of the prior either way (BOINC's truncation).
constexpr double kSpeedClamp = 10;
// Most tests are single-threaded: cores past this one earn no more votes.
constexpr int kCoresThatCount = 4;

// The median of `values` (the mean of the middle two for an even count); `values` must not be empty.
double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  std::size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

// Percentile rank of each value among `values`: the agents below, plus half of the other agents level with
// it, over n - 1; 0.5 for a lone agent. Equal values get equal ranks whatever their order.
std::vector<double> percentile_ranks(const std::vector<double>& values) {
  std::size_t n = values.size();
  std::vector<double> ranks(n, 0.5);
  if (n < 2) return ranks;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t below = 0;
    std::size_t level = 0;
    for (std::size_t k = 0; k < n; ++k) {
      if (values[k] < values[i]) ++below;
      if (k != i && values[k] == values[i]) ++level;
    }
    ranks[i] = (static_cast<double>(below) + 0.5 * static_cast<double>(level)) / static_cast<double>(n - 1);
  }
  return ranks;
}

bool can_run(const AgentView& agent) {
  return agent.live && agent.trust != Trust::evicted;
}

// While the guard holds tests back: the shortest allowed known tests not yet in `batch` join it until it
// holds min_batch_seconds of the agent's own time (`busy`), so that a slow agent neither idles nor makes one
// ctest call per tiny test. The batch stays in `pending`'s order.
template <typename Allowed>
void top_up(std::vector<std::size_t>& batch, double busy, const std::vector<PendingTest>& pending,
            const Allowed& allowed, double speed, const PolicySettings& settings) {
  std::vector<std::size_t> rest;
  for (std::size_t j = 0; j < pending.size(); ++j)
    if (pending[j].known && allowed(pending[j]) && std::find(batch.begin(), batch.end(), j) == batch.end())
      rest.push_back(j);
  std::stable_sort(rest.begin(), rest.end(),
                   [&](std::size_t a, std::size_t b) { return pending[a].seconds < pending[b].seconds; });
  for (std::size_t j : rest) {
    if (!batch.empty() && busy >= settings.min_batch_seconds) break;
    batch.push_back(j);
    busy += pending[j].seconds / speed + settings.per_test_seconds;
  }
  std::sort(batch.begin(), batch.end());
}

}  // namespace

std::vector<double> capability(const std::vector<AgentView>& agents) {
  std::vector<std::size_t> ranked;
  std::vector<double> speed, cores, ram, rtt;
  for (std::size_t p = 0; p < agents.size(); ++p) {
    if (agents[p].trust == Trust::evicted) continue;
    const Attributes& a = agents[p].attributes;
    ranked.push_back(p);
    speed.push_back(agents[p].speed);
    cores.push_back(std::min(a.cores, kCoresThatCount));
    ram.push_back(a.ram_mb);
    rtt.push_back(a.rtt_ms);
  }
  std::vector<double> v_speed = percentile_ranks(speed), v_cores = percentile_ranks(cores),
                      v_ram = percentile_ranks(ram), v_rtt = percentile_ranks(rtt);
  std::vector<double> result(agents.size(), 0);
  for (std::size_t i = 0; i < ranked.size(); ++i)
    result[ranked[i]] = 0.50 * v_speed[i] + 0.20 * v_cores[i] + 0.15 * v_ram[i] + 0.15 * (1 - v_rtt[i]);
  return result;
}

double reliability(const AgentView& agent) {
  if (agent.trust == Trust::evicted) return 0;
  double r = std::clamp(1 - agent.error_rate, 0.0, 1.0);
  return agent.trust == Trust::probation ? r / 2 : r;
}

std::vector<double> scores(const std::vector<AgentView>& agents) {
  std::vector<double> result = capability(agents);
  for (std::size_t p = 0; p < agents.size(); ++p) result[p] *= reliability(agents[p]);
  return result;
}

std::vector<std::size_t> pick(const std::vector<PendingTest>& pending, const std::vector<AgentView>& agents,
                              std::size_t self, double now, double batch_seconds,
                              const PolicySettings& settings) {
  const AgentView& me = agents[self];
  auto reliable = [](const AgentView& a) { return can_run(a) && reliability(a) >= kReliable; };
  // While a reliable agent lives, only reliable agents take important tests, so only they compete for them.
  bool reserved_for_reliable = std::any_of(agents.begin(), agents.end(), reliable);
  auto allowed = [&](const PendingTest& t) {
    return !t.excluded && (!t.important || !reserved_for_reliable || reliability(me) >= kReliable);
  };

  for (std::size_t j = 0; j < pending.size(); ++j)
    if (!pending[j].known && allowed(pending[j])) return {j};

  // The earliest time from now at which another agent that may take `t` would finish it, overheads included.
  const double my_speed = guard_speed(me, settings);
  auto best_other = [&](const PendingTest& t) {
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t q = 0; q < agents.size(); ++q) {
      const AgentView& other = agents[q];
      const double speed = guard_speed(other, settings);
      if (q == self || !can_run(other) || speed < settings.faster_by * my_speed) continue;
      if (t.important && reserved_for_reliable && !reliable(other)) continue;
      best =
          std::min(best, std::max(0.0, other.free_at - now) + t.seconds / speed + settings.per_test_seconds);
    }
    return best + settings.per_batch_seconds;
  };

  // The slack multiplies durations from now, not clock readings: a clock far from zero must not loosen it.
  std::vector<std::size_t> batch;
  double busy = 0;  // The agent's own seconds taken by the batch so far.
  bool held_back = false;
  for (std::size_t j = 0; j < pending.size() && (batch.empty() || busy < batch_seconds); ++j) {
    const PendingTest& t = pending[j];
    if (!t.known || !allowed(t)) continue;
    double own = t.seconds / my_speed + settings.per_test_seconds;
    if (settings.per_batch_seconds + busy + own > settings.eft_slack * best_other(t)) {
      held_back = true;
      continue;
    }
    batch.push_back(j);
    busy += own;
  }
  if (held_back) top_up(batch, busy, pending, allowed, my_speed, settings);
  return batch;
}

double guard_speed(const AgentView& agent, const PolicySettings& settings) {
  return agent.speed_samples == 0 || agent.speed_samples >= settings.guard_speed_after ? agent.speed
                                                                                       : agent.prior_speed;
}

double busy_until(double expected_end, double now, const PolicySettings& settings) {
  const double left = expected_end >= now ? expected_end - now : now - expected_end;
  return now + std::max(left, settings.busy_min_seconds);
}

bool jobs_differ(const std::vector<Attributes>& jobs, const PolicySettings& settings) {
  double slowest = 0, fastest = 0;
  for (const Attributes& job : jobs) {
    if (!(job.bench > 0)) continue;
    slowest = slowest > 0 ? std::min(slowest, job.bench) : job.bench;
    fastest = std::max(fastest, job.bench);
  }
  return slowest > 0 && fastest >= settings.faster_by * slowest;
}

double batch_seconds(double remaining_reference_seconds, double total_live_speed,
                     const PolicySettings& settings) {
  if (!(total_live_speed > 0)) return settings.max_batch_seconds;
  double remaining_makespan = remaining_reference_seconds / total_live_speed;
  return std::min(std::clamp(remaining_makespan / 4, settings.min_batch_seconds, settings.max_batch_seconds),
                  remaining_makespan / 2);
}

bool queue_pays(double share_seconds, const PolicySettings& settings) {
  if (!std::isfinite(share_seconds)) return true;
  int batches = 1;  // The last, which takes what is left.
  for (double left = share_seconds; left > settings.min_batch_seconds; ++batches)
    left -= batch_seconds(left, 1, settings);
  return batches * settings.per_batch_seconds <= settings.queue_overhead_fraction * share_seconds;
}

DriftGroups drift_groups(std::string_view test) {
  const std::size_t colons = test.find("::");
  const std::string_view file = test.substr(0, colons);
  const std::size_t slash = file.rfind('/');
  DriftGroups groups;
  if (colons != std::string_view::npos) groups.file = "f:" + std::string(file);
  if (slash != std::string_view::npos) groups.directory = "d:" + std::string(file.substr(0, slash));
  return groups;
}

double drift_factor(double estimated, double measured, const PolicySettings& settings) {
  const double prior = settings.drift_prior_seconds;
  const double factor = (measured + prior) / (estimated + prior);
  return factor < settings.min_drift ? 1.0 : std::min(factor, settings.max_drift);
}

double learned_speed(const std::vector<Observation>& observations, double prior,
                     const PolicySettings& settings) {
  std::vector<double> ratios;
  for (const Observation& o : observations) {
    if (o.reference_seconds < kMinSpeedSample) continue;
    double ratio = o.seconds > 0 ? o.reference_seconds / o.seconds : std::numeric_limits<double>::infinity();
    ratios.push_back(std::clamp(ratio, prior / kSpeedClamp, prior * kSpeedClamp));
  }
  if (ratios.empty() || static_cast<int>(ratios.size()) < settings.learned_speed_after) return prior;
  return median(std::move(ratios));
}

std::vector<double> prior_speeds(const std::vector<Attributes>& agents) {
  std::vector<double> benches;
  for (const Attributes& a : agents)
    if (a.bench > 0) benches.push_back(a.bench);
  std::vector<double> result(agents.size(), 1);
  if (benches.empty()) return result;
  double typical = median(std::move(benches));
  for (std::size_t p = 0; p < agents.size(); ++p)
    if (agents[p].bench > 0) result[p] = agents[p].bench / typical;
  return result;
}

bool impossibly_fast(double seconds, double expected_seconds, const PolicySettings& settings) {
  return expected_seconds >= settings.impossible_min_seconds &&
         seconds < settings.impossible_fraction * expected_seconds;
}

double next_error_rate(double error_rate, bool good) {
  return std::clamp(good ? error_rate * 0.95 : error_rate + 0.1, 0.0, 1.0);
}

}  // namespace tlb::swarm
