#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "swarm/policy.hpp"

namespace tlb::swarm {
namespace {

using Picked = std::vector<std::size_t>;

AgentView agent(double speed, Trust trust = Trust::trusted, double error_rate = 0) {
  AgentView a;
  a.speed = speed;
  a.trust = trust;
  a.error_rate = error_rate;
  a.attributes.cores = 4;
  a.attributes.ram_mb = 8000;
  return a;
}

PendingTest known(double seconds) {
  return PendingTest{seconds, true, false, false};
}
PendingTest unknown(double seconds) {
  return PendingTest{seconds, false, false, false};
}
PendingTest important(double seconds) {
  return PendingTest{seconds, true, true, false};
}
PendingTest excluded(PendingTest t) {
  t.excluded = true;
  return t;
}

const PolicySettings kSettings;

TEST(SwarmCapability, EqualAgentsGetEqualVotes) {
  std::vector<AgentView> agents = {agent(1), agent(1), agent(1)};
  for (double c : capability(agents)) EXPECT_DOUBLE_EQ(c, 0.5);

  agents = {agent(1), agent(3), agent(1)};
  std::vector<double> c = capability(agents);
  EXPECT_EQ(c[0], c[2]);
  EXPECT_GT(c[1], c[0]);
}

TEST(SwarmCapability, FasterRanksHigher) {
  // Speed ranks 0, 0.5, 1; every other attribute is level (0.5): C = 0.5 v_speed + 0.25.
  std::vector<double> c = capability({agent(2), agent(1), agent(4)});
  EXPECT_DOUBLE_EQ(c[0], 0.5);
  EXPECT_DOUBLE_EQ(c[1], 0.25);
  EXPECT_DOUBLE_EQ(c[2], 0.75);
}

TEST(SwarmCapability, LoneAgentGetsHalf) {
  EXPECT_DOUBLE_EQ(capability({agent(7)})[0], 0.5);
}

TEST(SwarmCapability, CoresCountUpToFour) {
  std::vector<AgentView> agents = {agent(1), agent(1), agent(1)};
  agents[0].attributes.cores = 8;
  agents[1].attributes.cores = 128;
  agents[2].attributes.cores = 2;
  std::vector<double> c = capability(agents);
  EXPECT_EQ(c[0], c[1]);
  EXPECT_LT(c[2], c[0]);
}

TEST(SwarmCapability, MoreRamAndLowerRttAreBetter) {
  std::vector<AgentView> agents = {agent(1), agent(1)};
  agents[0].attributes.ram_mb = 64000;
  EXPECT_GT(capability(agents)[0], capability(agents)[1]);

  agents = {agent(1), agent(1)};
  agents[0].attributes.rtt_ms = 0.2;
  agents[1].attributes.rtt_ms = 40;
  std::vector<double> c = capability(agents);
  EXPECT_DOUBLE_EQ(c[0] - c[1], 0.15);
}

TEST(SwarmCapability, EvictedAgentsAreLeftOutOfTheRanking) {
  // Without the evicted 100x agent in the ranking, the 2x agent is the fastest of two.
  std::vector<double> c = capability({agent(1), agent(100, Trust::evicted), agent(2)});
  EXPECT_DOUBLE_EQ(c[0], 0.25);
  EXPECT_EQ(c[1], 0);
  EXPECT_DOUBLE_EQ(c[2], 0.75);
}

TEST(SwarmReliability, ProbationHalvesEvictionZeroes) {
  EXPECT_DOUBLE_EQ(reliability(agent(1, Trust::trusted, 0.1)), 0.9);
  EXPECT_DOUBLE_EQ(reliability(agent(1, Trust::probation, 0.1)), 0.45);
  EXPECT_EQ(reliability(agent(1, Trust::evicted, 0)), 0);
}

TEST(SwarmReliability, ScoreIsCapabilityTimesReliability) {
  std::vector<AgentView> agents = {agent(1, Trust::trusted, 0.2), agent(2, Trust::probation, 0.1),
                                   agent(4, Trust::evicted)};
  std::vector<double> c = capability(agents);
  std::vector<double> s = scores(agents);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s[0], c[0] * 0.8);
  EXPECT_DOUBLE_EQ(s[1], c[1] * 0.45);
  EXPECT_EQ(s[2], 0);
}

// A 1x agent pulls while a 4x agent will be free in 5 s: the 100 s test would take it 100 s against the fast
// agent's 5 + 25, and the 10 s test 10 s against 7.5; the 1 s test is its own.
TEST(SwarmPick, EftGuardKeepsLongTestOffSlowAgent) {
  double now = 100;
  std::vector<AgentView> agents = {agent(1), agent(4)};
  agents[1].free_at = now + 5;
  std::vector<PendingTest> pending = {known(100), known(10), known(1)};
  EXPECT_EQ(pick(pending, agents, 0, now, 5, kSettings), (Picked{2}));
  EXPECT_EQ(pick(pending, agents, 1, now, 5, kSettings), (Picked{0}));

  // The fast agent busy for long: the slow one would finish first, so it takes the longest.
  agents[1].free_at = now + 1000;
  EXPECT_EQ(pick(pending, agents, 0, now, 5, kSettings), (Picked{0}));
}

TEST(SwarmPick, SlowAgentGetsTheShortestTestRatherThanIdling) {
  std::vector<AgentView> agents = {agent(1), agent(4)};
  std::vector<PendingTest> pending = {known(100), known(10), known(2), known(2)};
  // Every test fails the guard against an idle 4x agent (2 > 1.25 x 0.5); the first of the shortest goes.
  EXPECT_EQ(pick(pending, agents, 0, 0, 60, kSettings), (Picked{2}));
}

TEST(SwarmPick, GuardComparesDurationsNotClockReadings) {
  // On a clock far from zero, 1.25 x (now + 30) would let the slow agent take the 100 s test.
  double now = 1e6;
  std::vector<AgentView> agents = {agent(1), agent(4)};
  agents[1].free_at = now + 5;
  EXPECT_EQ(pick({known(100), known(10), known(1)}, agents, 0, now, 5, kSettings), (Picked{2}));
}

TEST(SwarmPick, BatchFillsToBatchSecondsOfTheAgentsOwnTime) {
  std::vector<AgentView> agents = {agent(2)};
  std::vector<PendingTest> pending = {known(8), known(6), known(6), known(4), known(2)};
  // Own seconds 4, 3, 3, 2, 1: the batch stops once it holds 6.
  EXPECT_EQ(pick(pending, agents, 0, 0, 6, kSettings), (Picked{0, 1}));
  EXPECT_EQ(pick(pending, agents, 0, 0, 0.5, kSettings), (Picked{0}));
  EXPECT_EQ(pick(pending, agents, 0, 0, 1000, kSettings), (Picked{0, 1, 2, 3, 4}));
}

TEST(SwarmPick, BatchGuardCountsTheEarlierTestsAsDone) {
  // The other agent is 1.5x as fast and free at 4 s. The first 10 s test passes (10.05 s against 1.25
  // x 10.7); the second would end at 20.1 s, and the 1 s one at 11.1 s against 1.25 x 4.7: they stay for the
  // other.
  AgentView faster = agent(1.5);
  faster.free_at = 4;
  std::vector<AgentView> agents = {agent(1), faster};
  EXPECT_EQ(pick({known(10), known(10), known(1)}, agents, 0, 0, 100, kSettings), (Picked{0}));
  // An agent of about the same speed does not hold tests back: who runs a test then changes no makespan.
  std::vector<AgentView> equals = {agent(1), agent(1.4)};
  EXPECT_EQ(pick({known(10), known(10), known(1)}, equals, 0, 0, 100, kSettings), (Picked{0, 1, 2}));
}

// Issue 21: both sides of the guard pay the same overheads. Against an idle agent 3x as fast, a 1x agent's
// 0.05 s test ends after 0.15 + 0.05 + 0.05 s, the other's after 0.15 + 0.017 + 0.05 s: within the slack, so
// it passes the guard. Charged only to the one asking (0.1 s against 0.017 s), it was held back.
TEST(SwarmPick, TheGuardChargesBothSidesTheSameOverheads) {
  std::vector<AgentView> agents = {agent(1), agent(3)};
  PolicySettings guard_alone = kSettings;  // No topping up: the guard's own answer.
  guard_alone.min_batch_seconds = 0;
  EXPECT_EQ(pick({known(0.05), known(0.05)}, agents, 0, 0, 0.1, guard_alone), (Picked{0}));
  guard_alone.per_batch_seconds = 0;
  guard_alone.per_test_seconds = 0;
  EXPECT_EQ(pick({known(0.05), known(0.05), known(0.01)}, agents, 0, 0, 0.1, guard_alone), (Picked{2}));
}

// While the guard holds long tests back, a batch is topped up with the shortest tests to min_batch_seconds of
// the agent's own time: 0.07 s tests go 15 at a time, not one a pull (one ctest call each).
TEST(SwarmPick, WhileTheGuardHoldsTestsBackABatchHoldsTheMinimum) {
  std::vector<AgentView> agents = {agent(0.5), agent(1.5)};
  std::vector<PendingTest> pending = {known(3), known(3)};
  for (int i = 0; i < 20; ++i) pending.push_back(known(0.01));
  const Picked picked = pick(pending, agents, 0, 0, 2, kSettings);
  EXPECT_EQ(picked.size(), 15u);
  EXPECT_EQ(picked.front(), 2u);
  // With only long tests left, the shortest goes rather than none: no agent idles while work exists.
  EXPECT_EQ(pick({known(3), known(2)}, agents, 0, 0, 2, kSettings), (Picked{1}));
}

TEST(SwarmBusyUntil, AnAgentIsBusyUntilItReportsAndAnOverrunGrows) {
  // Before the expected end, at it; never less than busy_min_seconds (1 s) from now.
  EXPECT_DOUBLE_EQ(busy_until(110, 100, kSettings), 110);
  EXPECT_DOUBLE_EQ(busy_until(100.5, 100, kSettings), 101);
  // Past it: as long again as the overrun so far.
  EXPECT_DOUBLE_EQ(busy_until(100, 100.2, kSettings), 101.2);
  EXPECT_DOUBLE_EQ(busy_until(100, 105, kSettings), 110);
  EXPECT_DOUBLE_EQ(busy_until(100, 160, kSettings), 220);
}

// A speed learned from a few durations is not evidence: the guard uses the prior until guard_speed_after.
TEST(SwarmGuardSpeed, ALearnedSpeedNeedsEnoughSamples) {
  AgentView a = agent(0.4);
  a.prior_speed = 1;
  EXPECT_DOUBLE_EQ(guard_speed(a, kSettings), 0.4);  // No samples: `speed` is the prior itself.
  a.speed_samples = kSettings.guard_speed_after - 1;
  EXPECT_DOUBLE_EQ(guard_speed(a, kSettings), 1);
  a.speed_samples = kSettings.guard_speed_after;
  EXPECT_DOUBLE_EQ(guard_speed(a, kSettings), 0.4);
  // So a 1x agent with 5 samples saying 0.4 is not held back by a 1x agent beside it.
  std::vector<AgentView> agents = {agent(0.4), agent(1)};
  agents[0].speed_samples = 5;
  agents[0].prior_speed = 1;
  EXPECT_EQ(pick({known(30), known(1)}, agents, 0, 0, 5, kSettings), (Picked{0}));
  agents[0].speed_samples = 10;
  EXPECT_EQ(pick({known(30), known(1)}, agents, 0, 0, 5, kSettings), (Picked{1}));
}

TEST(SwarmJobsDiffer, BenchmarksMustSpanFasterBy) {
  auto jobs = [](std::vector<double> benches) {
    std::vector<Attributes> result;
    for (double b : benches) result.push_back(Attributes{"Linux", "x86_64", 4, 8000, b, 0});
    return result;
  };
  EXPECT_FALSE(jobs_differ(jobs({100, 100, 120, 0}), kSettings));
  EXPECT_FALSE(jobs_differ(jobs({0, 0}), kSettings));
  EXPECT_TRUE(jobs_differ(jobs({100, 300}), kSettings));
  EXPECT_TRUE(jobs_differ(jobs({100, 150, 0}), kSettings));
}

// A share of 10 s takes 8 batches (1.2 s of overhead, over 10%): the static split; 20 s takes 10 (1.5 s).
TEST(SwarmQueuePays, OnlyWhenTheBatchesCostAtMostATenthOfTheShare) {
  EXPECT_FALSE(queue_pays(0, kSettings));
  EXPECT_FALSE(queue_pays(2, kSettings));
  EXPECT_FALSE(queue_pays(10, kSettings));
  EXPECT_TRUE(queue_pays(20, kSettings));
  EXPECT_TRUE(queue_pays(3600, kSettings));
  EXPECT_TRUE(queue_pays(std::numeric_limits<double>::infinity(), kSettings));
}

TEST(SwarmPick, NoOtherLiveAgentMeansLongestFirst) {
  std::vector<AgentView> agents = {agent(1), agent(4), agent(8, Trust::evicted)};
  agents[1].live = false;
  agents[2].live = false;
  EXPECT_EQ(pick({known(100), known(10)}, agents, 0, 0, 5, kSettings), (Picked{0}));
}

TEST(SwarmPick, UnknownTestsGoFirstAndAlone) {
  // Unknown tests bypass the guard too: a 1x agent takes one even with an idle 4x agent beside it.
  std::vector<AgentView> agents = {agent(1), agent(4)};
  std::vector<PendingTest> pending = {unknown(30), unknown(2), known(100), known(1)};
  EXPECT_EQ(pick(pending, agents, 0, 0, 1000, kSettings), (Picked{0}));
  EXPECT_EQ(pick(pending, agents, 1, 0, 1000, kSettings), (Picked{0}));

  pending[0].excluded = true;
  EXPECT_EQ(pick(pending, agents, 0, 0, 1000, kSettings), (Picked{1}));

  // Known tests never ride along with an unknown one, wherever it sits in the list.
  EXPECT_EQ(pick({known(10), unknown(1)}, {agent(1)}, 0, 0, 1000, kSettings), (Picked{1}));
}

TEST(SwarmPick, ImportantTestsSkipUnreliableAgents) {
  // Agent 0 is on probation (reliability 0.5), agent 1 trusted with no errors.
  std::vector<AgentView> agents = {agent(1, Trust::probation), agent(1)};
  std::vector<PendingTest> pending = {important(10), known(5)};
  EXPECT_EQ(pick(pending, agents, 0, 0, 1, kSettings), (Picked{1}));
  EXPECT_EQ(pick(pending, agents, 1, 0, 1, kSettings), (Picked{0}));
  EXPECT_TRUE(pick({important(10)}, agents, 0, 0, 1, kSettings).empty());

  // A trusted agent with too many errors is not reliable either.
  agents[0] = agent(1, Trust::trusted, 0.15);
  EXPECT_EQ(pick(pending, agents, 0, 0, 1, kSettings), (Picked{1}));

  // With no reliable agent live, anyone takes it.
  agents[1].live = false;
  EXPECT_EQ(pick(pending, agents, 0, 0, 1, kSettings), (Picked{0}));
}

TEST(SwarmPick, ImportantTestsRaceOnlyReliableAgents) {
  // A fast agent that may not take the important test does not hold it back from the reliable slow one.
  std::vector<AgentView> agents = {agent(1), agent(4, Trust::probation)};
  EXPECT_EQ(pick({important(100), known(100), known(1)}, agents, 0, 0, 1, kSettings), (Picked{0}));
  EXPECT_EQ(pick({known(100), known(100), known(1)}, agents, 0, 0, 1, kSettings), (Picked{2}));
}

TEST(SwarmPick, ExcludedTestsAreNeverPicked) {
  std::vector<PendingTest> pending = {excluded(unknown(3)), excluded(known(10)), known(5),
                                      excluded(known(1))};
  EXPECT_EQ(pick(pending, {agent(1)}, 0, 0, 1000, kSettings), (Picked{2}));

  // Nor as the shortest test when nothing passes the guard.
  std::vector<AgentView> agents = {agent(1), agent(4)};
  EXPECT_EQ(pick({known(100), known(10), excluded(known(1))}, agents, 0, 0, 60, kSettings), (Picked{1}));

  EXPECT_TRUE(pick({excluded(known(1)), excluded(unknown(1))}, agents, 0, 0, 60, kSettings).empty());
}

TEST(SwarmBatch, ShrinksAsRemainingWorkShrinks) {
  // A quarter of remaining / total speed (4), within [1, 10], and never more than half of it.
  EXPECT_DOUBLE_EQ(batch_seconds(10000, 4, kSettings), 10);
  EXPECT_DOUBLE_EQ(batch_seconds(160, 4, kSettings), 10);
  EXPECT_DOUBLE_EQ(batch_seconds(120, 4, kSettings), 7.5);
  EXPECT_DOUBLE_EQ(batch_seconds(40, 4, kSettings), 2.5);
  EXPECT_DOUBLE_EQ(batch_seconds(8, 4, kSettings), 1);
  EXPECT_DOUBLE_EQ(batch_seconds(4, 4, kSettings), 0.5);
  EXPECT_DOUBLE_EQ(batch_seconds(0, 4, kSettings), 0);
  double previous = batch_seconds(5000, 4, kSettings);
  for (double remaining = 5000; remaining >= 0; remaining -= 50) {
    double b = batch_seconds(remaining, 4, kSettings);
    EXPECT_LE(b, previous);
    previous = b;
  }
}

TEST(SwarmBatch, RespectsCustomClampsAndNoLiveSpeed) {
  PolicySettings settings;
  settings.min_batch_seconds = 1;
  settings.max_batch_seconds = 30;
  EXPECT_DOUBLE_EQ(batch_seconds(1000, 1, settings), 30);
  EXPECT_DOUBLE_EQ(batch_seconds(2, 1, settings), 1);
  EXPECT_DOUBLE_EQ(batch_seconds(1000, 0, settings), 30);
}

std::vector<Observation> at_ratio(double ratio, int count, double reference = 2) {
  return std::vector<Observation>(static_cast<std::size_t>(count), Observation{reference, reference / ratio});
}

TEST(SwarmLearnedSpeed, PriorBelowTheSampleThreshold) {
  EXPECT_DOUBLE_EQ(learned_speed({}, 1.5, kSettings), 1.5);
  EXPECT_DOUBLE_EQ(learned_speed(at_ratio(2, 2), 1.5, kSettings), 1.5);
  EXPECT_DOUBLE_EQ(learned_speed(at_ratio(2, 3), 1.5, kSettings), 2);
}

TEST(SwarmLearnedSpeed, IgnoresShortTests) {
  // Twenty 0.4 s tests at 4x do not count; two long ones at 2x are still too few.
  std::vector<Observation> observations = at_ratio(4, 20, 0.4);
  std::vector<Observation> long_ones = at_ratio(2, 2);
  observations.insert(observations.end(), long_ones.begin(), long_ones.end());
  EXPECT_DOUBLE_EQ(learned_speed(observations, 1, kSettings), 1);
  observations.push_back(Observation{0.5, 0.25});
  EXPECT_DOUBLE_EQ(learned_speed(observations, 1, kSettings), 2);
}

TEST(SwarmLearnedSpeed, MedianIsRobustToOneWildOutlier) {
  std::vector<Observation> observations = at_ratio(2, 5);
  observations.push_back(Observation{30, 0.001});
  EXPECT_DOUBLE_EQ(learned_speed(observations, 1, kSettings), 2);
  observations.push_back(Observation{30, 3000});
  EXPECT_DOUBLE_EQ(learned_speed(observations, 1, kSettings), 2);
}

TEST(SwarmLearnedSpeed, MedianOfAnEvenCountAndClampedRatios) {
  std::vector<Observation> observations;
  for (double ratio : {6.0, 1.0, 5.0, 2.0, 4.0, 3.0}) observations.push_back(Observation{6, 6 / ratio});
  EXPECT_DOUBLE_EQ(learned_speed(observations, 1, kSettings), 3.5);
  // Every ratio 100x the prior is clamped to 10x; a zero duration too.
  EXPECT_DOUBLE_EQ(learned_speed(at_ratio(100, 5), 0.5, kSettings), 5);
  EXPECT_DOUBLE_EQ(learned_speed(std::vector<Observation>(5, Observation{1, 0}), 1, kSettings), 10);
  EXPECT_DOUBLE_EQ(learned_speed(at_ratio(0.001, 5), 1, kSettings), 0.1);
}

Attributes bench(double score) {
  Attributes a;
  a.bench = score;
  return a;
}

TEST(SwarmDrift, AFileAndItsDirectoryAreTheGroups) {
  const DriftGroups node = drift_groups("pgmpy/tests/test_models.py::TestA::test_b");
  EXPECT_EQ(node.file, "f:pgmpy/tests/test_models.py");
  EXPECT_EQ(node.directory, "d:pgmpy/tests");
  const DriftGroups feature = drift_groups("features/api/pulldown/submissions.feature");
  EXPECT_EQ(feature.file, "");  // A file of its own: only its directory says anything of the others.
  EXPECT_EQ(feature.directory, "d:features/api/pulldown");
  const DriftGroups ctest = drift_groups("unit.parser");
  EXPECT_EQ(ctest.file, "");
  EXPECT_EQ(ctest.directory, "");
}

TEST(SwarmDrift, FirstResultsAreTemperedAndNeverMoveTestsLater) {
  // 4 s of history that took 12 s: (12 + 5) / (4 + 5).
  EXPECT_DOUBLE_EQ(drift_factor(4, 12, kSettings), 17.0 / 9.0);
  EXPECT_DOUBLE_EQ(drift_factor(100, 300, kSettings), 305.0 / 105.0);  // Much evidence: near its ratio.
  EXPECT_DOUBLE_EQ(drift_factor(10, 2, kSettings), 1);                 // Faster: nothing moves later.
  EXPECT_DOUBLE_EQ(drift_factor(10, 14, kSettings), 1);  // 19 / 15: under 1.5 x, history's own noise.
  EXPECT_DOUBLE_EQ(drift_factor(1, 1000, kSettings), kSettings.max_drift);
}

TEST(SwarmPriorSpeeds, NormalisedByTheMedianBench) {
  EXPECT_EQ(prior_speeds({bench(100), bench(400), bench(200)}), (std::vector<double>{0.5, 2, 1}));
  // Agents without a bench get 1 and stay out of the median; an even count takes the middle two's mean.
  EXPECT_EQ(prior_speeds({bench(100), bench(0), bench(300)}), (std::vector<double>{0.5, 1, 1.5}));
  EXPECT_EQ(prior_speeds({bench(0), bench(0)}), (std::vector<double>{1, 1}));
  EXPECT_TRUE(prior_speeds({}).empty());
}

TEST(SwarmImpossiblyFast, Thresholds) {
  // Under a quarter of the expectation, when the expectation is at least 1 s.
  EXPECT_TRUE(impossibly_fast(0.99, 4, kSettings));
  EXPECT_FALSE(impossibly_fast(1.0, 4, kSettings));
  EXPECT_TRUE(impossibly_fast(0.2, 1, kSettings));
  EXPECT_FALSE(impossibly_fast(0, 0.99, kSettings));
  PolicySettings strict;
  strict.impossible_fraction = 0.5;
  strict.impossible_min_seconds = 0.1;
  EXPECT_TRUE(impossibly_fast(0.09, 0.2, strict));
}

TEST(SwarmErrorRate, EwmaClampsToZeroAndOne) {
  EXPECT_DOUBLE_EQ(next_error_rate(0.1, true), 0.095);
  EXPECT_DOUBLE_EQ(next_error_rate(0.1, false), 0.2);
  EXPECT_DOUBLE_EQ(next_error_rate(0.95, false), 1);
  EXPECT_DOUBLE_EQ(next_error_rate(1, false), 1);
  EXPECT_DOUBLE_EQ(next_error_rate(-0.5, true), 0);
  double e = 0.1;
  for (int i = 0; i < 1000; ++i) e = next_error_rate(e, true);
  EXPECT_GE(e, 0);
  EXPECT_LT(e, 1e-6);
}

std::vector<AgentView> mixed_pool() {
  std::vector<AgentView> agents = {agent(1), agent(2, Trust::probation), agent(1),
                                   agent(4, Trust::trusted, 0.05)};
  agents[0].attributes.rtt_ms = 3;
  agents[2].attributes.rtt_ms = 3;
  agents[1].attributes.cores = 16;
  agents[3].free_at = 12;
  return agents;
}

TEST(SwarmDeterminism, SameInputSameOutput) {
  std::vector<AgentView> agents = mixed_pool();
  std::vector<PendingTest> pending = {unknown(3), important(50), known(40), known(20), known(5), known(1)};
  EXPECT_EQ(capability(agents), capability(agents));
  EXPECT_EQ(scores(agents), scores(agents));
  for (std::size_t self = 0; self < agents.size(); ++self)
    EXPECT_EQ(pick(pending, agents, self, 10, 30, kSettings), pick(pending, agents, self, 10, 30, kSettings));
}

TEST(SwarmDeterminism, OrderOfAgentsOnlyPermutesTheAnswer) {
  std::vector<AgentView> agents = mixed_pool();
  std::vector<std::size_t> order = {3, 0, 2, 1};  // permuted[i] = agents[order[i]]
  std::vector<AgentView> permuted;
  for (std::size_t i : order) permuted.push_back(agents[i]);
  std::vector<double> c = capability(agents), cp = capability(permuted);
  for (std::size_t i = 0; i < order.size(); ++i) EXPECT_EQ(cp[i], c[order[i]]);

  std::vector<PendingTest> pending = {important(50), known(40), known(20), known(5), known(1)};
  for (std::size_t i = 0; i < order.size(); ++i)
    EXPECT_EQ(pick(pending, permuted, i, 10, 30, kSettings),
              pick(pending, agents, order[i], 10, 30, kSettings));
}

}  // namespace
}  // namespace tlb::swarm
