// The swarm's coordinator in process, on its real SQLite state (a database in memory) and a virtual clock:
// the lease fencing, re-dispatch, checks and eviction rules, step by step. The agents and the HTTP side as
// real processes are in tests/swarm.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "server/database.hpp"
#include "server/swarm_state.hpp"
#include "support/scratch_dir.hpp"
#include "swarm/coordinator.hpp"

namespace tlb::swarm {
namespace {

class SwarmCoordinator : public ::testing::Test {
 protected:
  SwarmCoordinator() { make({}); }

  void make(Settings settings) {
    settings.heartbeat_seconds = 1;
    settings.lease_seconds = 3;
    coordinator_ = std::make_unique<Coordinator>(state_, settings, [this] { return now_; });
  }

  RunId submit(const std::vector<SubmittedTest>& tests, const std::string& version = "v1") {
    return coordinator_->submit(Submission{"job", version, "hash", tests}).run;
  }

  std::string agent(const std::string& name, const std::string& hash = "hash") {
    return coordinator_->enroll(
        Registration{"key-" + name, name, hash, Attributes{"Linux", "x86_64", 4, 8000, 100, 0}});
  }

  // Pulls and returns the single assignment (the tests in these cases go out one at a time).
  Assignment one(const std::string& agent) {
    Pulled pulled = coordinator_->pull(agent, agent + "-" + std::to_string(++requests_));
    EXPECT_EQ(pulled.assignments.size(), 1u) << agent;
    return pulled.assignments.empty() ? Assignment{} : pulled.assignments.front();
  }

  Reported finish(const std::string& agent, const Assignment& a, Status status, double seconds) {
    return coordinator_->report(agent, Report{a.lease, a.test, status, seconds});
  }

  // Makes the agent trusted, as if its probation checks had all agreed.
  void trust(const std::string& id) {
    AgentRow row = *state_.agent(id);
    row.trust = Trust::trusted;
    row.checks_passed = 3;
    state_.put_agent(row);
  }

  std::map<std::string, TestOutcome> outcome(RunId run) {
    std::map<std::string, TestOutcome> by_name;
    for (TestOutcome& t : coordinator_->outcome(run).tests) by_name[t.name] = t;
    return by_name;
  }

  server::Database database_{":memory:"};
  server::SqliteSwarmState state_{database_};
  double now_ = 1000;
  int requests_ = 0;
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(SwarmCoordinator, ASingleAgentRunsEverythingOnceAndTheRunFinishes) {
  const RunId run = submit({{"a", 3, true}, {"b", 2, true}, {"off", 1, true, false, true}});
  const std::string a1 = agent("one");
  std::vector<std::string> ran;
  for (;;) {
    Pulled pulled = coordinator_->pull(a1, "");
    if (pulled.assignments.empty()) {
      EXPECT_TRUE(pulled.idle);
      break;
    }
    for (const Assignment& a : pulled.assignments) {
      ran.push_back(a.test);
      now_ += 1;
      EXPECT_TRUE(finish(a1, a, Status::passed, 1).authoritative);
    }
  }
  // Alone, no one can check its results: each ran once, the disabled one never.
  std::sort(ran.begin(), ran.end());
  EXPECT_EQ(ran, (std::vector<std::string>{"a", "b"}));
  auto results = outcome(run);
  EXPECT_EQ(results["a"].status, Status::passed);
  EXPECT_EQ(results["off"].status, Status::skipped);
  EXPECT_NE(coordinator_->progress(run).run.finished, 0);
  EXPECT_EQ(coordinator_->take_finished(), std::vector<RunId>{run});
}

TEST_F(SwarmCoordinator, ARetriedPullGetsTheSameTestsAndARetriedReportTheSameAnswer) {
  submit({{"a", 3, true}, {"b", 2, true}});
  const std::string a1 = agent("one");
  const Pulled first = coordinator_->pull(a1, "r1");
  const Pulled again = coordinator_->pull(a1, "r1");
  ASSERT_EQ(first.assignments.size(), again.assignments.size());
  for (std::size_t i = 0; i < first.assignments.size(); ++i) {
    EXPECT_EQ(first.assignments[i].test, again.assignments[i].test);
    EXPECT_EQ(first.assignments[i].lease, again.assignments[i].lease);
  }
  const Assignment& a = first.assignments.front();
  EXPECT_TRUE(finish(a1, a, Status::passed, 3).authoritative);
  EXPECT_TRUE(finish(a1, a, Status::passed, 3).authoritative);
  // Registering again with the same key is the same agent.
  EXPECT_EQ(agent("one"), a1);
}

TEST_F(SwarmCoordinator, ASilentAgentsTestGoesToAnotherAndItsLateReportIsNotTheResult) {
  const RunId run = submit({{"long", 10, true}});
  const std::string lost = agent("lost");
  const std::string other = agent("other");
  const Assignment first = one(lost);
  // `other` keeps calling; `lost` says nothing for longer than the lease.
  for (int i = 0; i < 4; ++i) {
    now_ += 1;
    coordinator_->heartbeat(other);
  }
  const Assignment second = one(other);
  EXPECT_EQ(second.test, "long");
  EXPECT_NE(second.lease, first.lease);
  // The lost agent comes back and reports under its old lease: kept, but not the result.
  EXPECT_FALSE(finish(lost, first, Status::failed, 9).authoritative);
  now_ += 1;
  EXPECT_TRUE(finish(other, second, Status::passed, 10).authoritative);
  // `other` is on probation, but the only other agent lost this test: nobody else may check it.
  auto results = outcome(run);
  EXPECT_EQ(results["long"].status, Status::passed);
  EXPECT_EQ(results["long"].agent, other);
  EXPECT_EQ(results["long"].attempts, 2);
  // Both ran it as its own run: a duplicate, reported as such.
  const Outcome full = coordinator_->outcome(run);
  ASSERT_EQ(full.duplicates.size(), 1u);
  EXPECT_EQ(full.duplicates.front().name, "long");
}

TEST_F(SwarmCoordinator, ALeaseThatWasNotGivenToTheAgentIsRefused) {
  submit({{"a", 3, true}});
  const std::string a1 = agent("one");
  const std::string a2 = agent("two");
  const Assignment a = one(a1);
  try {
    finish(a2, a, Status::passed, 3);
    FAIL() << "another agent's lease was accepted";
  } catch (const Refused& e) {
    EXPECT_EQ(e.status, 409);
  }
  try {
    coordinator_->pull("a99", "");
    FAIL() << "an unknown agent pulled";
  } catch (const Refused& e) {
    EXPECT_EQ(e.status, 404);
  }
}

TEST_F(SwarmCoordinator, ANewAgentsResultsAreCheckedElsewhereUntilItIsTrusted) {
  const RunId run = submit({{"t1", 2, true}, {"t2", 2, true}, {"t3", 2, true}, {"t4", 2, true}});
  const std::string a1 = agent("one");
  const std::string a2 = agent("two");
  std::map<std::string, int> runs;
  // Both on probation: each checks the other's results, until both have three confirmed.
  for (int round = 0; round < 20; ++round) {
    bool any = false;
    for (const std::string& id : {a1, a2}) {
      Pulled pulled = coordinator_->pull(id, "");
      for (const Assignment& a : pulled.assignments) {
        any = true;
        runs[a.test] += 1;
        now_ += 0.5;
        finish(id, a, Status::passed, 2);
      }
    }
    if (!any) break;
  }
  auto results = outcome(run);
  for (const auto& [name, result] : results) {
    EXPECT_EQ(result.status, Status::passed) << name;
    EXPECT_GE(result.runs, 1) << name;
  }
  int checked = 0;
  for (const auto& [name, count] : runs) checked += count > 1;
  EXPECT_GE(checked, 3) << "probation checks";
  for (const AgentSummary& summary : coordinator_->progress(run).agents) {
    EXPECT_EQ(summary.row.trust, Trust::trusted) << summary.row.id;
  }
}

TEST_F(SwarmCoordinator, AFailureIsConfirmedOnASecondAgentAndOneOnlyOneAgentSeesCountsAgainstIt) {
  const RunId run = submit({{"broken", 2, true}, {"shaky", 2, true}});
  const std::string a1 = agent("one");
  const std::string a2 = agent("two");
  const std::string a3 = agent("three");
  // a1 sees both fail; a2 checks: `broken` fails again, `shaky` passes; a3 breaks the tie on `shaky`.
  Pulled p1 = coordinator_->pull(a1, "");
  Pulled p1b = coordinator_->pull(a1, "");
  std::vector<Assignment> mine = p1.assignments;
  mine.insert(mine.end(), p1b.assignments.begin(), p1b.assignments.end());
  ASSERT_EQ(mine.size(), 2u);
  for (const Assignment& a : mine) finish(a1, a, Status::failed, 2);
  for (int i = 0; i < 2; ++i) {
    const Assignment check = one(a2);
    finish(a2, check, check.test == "broken" ? Status::failed : Status::passed, 2);
  }
  const Assignment tie = one(a3);
  EXPECT_EQ(tie.test, "shaky");
  finish(a3, tie, Status::passed, 2);
  auto results = outcome(run);
  EXPECT_EQ(results["broken"].status, Status::failed);
  EXPECT_FALSE(results["broken"].flaky);
  EXPECT_EQ(results["shaky"].status, Status::passed);
  // Only a1 saw it fail: a1's word, not a flaky test (issue 17, item 5).
  EXPECT_FALSE(results["shaky"].flaky);
  EXPECT_EQ(results["shaky"].runs, 3);
  EXPECT_EQ(state_.agent(a1)->unconfirmed_failures, 1);
}

TEST_F(SwarmCoordinator, AnAgentThatPassesWithoutRunningIsEvictedAndItsClaimsRunAgain) {
  const RunId run = submit({{"slow", 4, true}, {"other", 4, true}});
  const std::string liar = agent("liar");
  const std::string honest = agent("honest");
  const Assignment claimed = one(liar);
  finish(liar, claimed, Status::passed, 0.01);  // Impossibly fast for a 4 s test: checked elsewhere.
  const Assignment check = one(honest);
  EXPECT_EQ(check.test, claimed.test);
  finish(honest, check, Status::passed, 4.2);
  try {
    coordinator_->pull(liar, "");
    FAIL() << "the liar still gets work";
  } catch (const Refused& e) {
    EXPECT_EQ(e.status, 410);
    EXPECT_NE(std::string(e.what()).find("passed in 0.01"), std::string::npos) << e.what();
  }
  const Assignment rest = one(honest);
  finish(honest, rest, Status::passed, 4);
  auto results = outcome(run);
  EXPECT_EQ(results[claimed.test].agent, honest);
  EXPECT_EQ(results[rest.test].agent, honest);
}

TEST_F(SwarmCoordinator, ATestLostOnEveryTryIsAnErrorNotAFailure) {
  const RunId run = submit({{"crasher", 2, true}});
  std::vector<std::string> agents;
  for (int i = 0; i < 4; ++i) agents.push_back(agent("a" + std::to_string(i)));
  for (int i = 0; i < 3; ++i) {
    one(agents[static_cast<std::size_t>(i)]);
    now_ += 4;  // Silent past the lease.
    coordinator_->tick();
  }
  auto results = outcome(run);
  EXPECT_EQ(results["crasher"].status, Status::error);
  EXPECT_NE(coordinator_->progress(run).run.finished, 0);
}

// Leaving, or being evicted for something else, is no fault of the test in hand: however often it happens,
// the test still runs and its result counts (a lease lost three times over would make it an error).
TEST_F(SwarmCoordinator, ATestWhoseAgentsLeaveIsNoLoss) {
  const RunId run = submit({{"steady", 2, true}});
  for (int i = 0; i < 4; ++i) {
    const std::string leaver = agent("leaver" + std::to_string(i));
    EXPECT_EQ(one(leaver).test, "steady");
    coordinator_->leave(leaver);
  }
  // One real loss: an agent silent past its lease. With the leaves counted it would be the fifth.
  EXPECT_EQ(one(agent("silent")).test, "steady");
  now_ += 4;
  coordinator_->tick();
  EXPECT_EQ(coordinator_->progress(run).run.finished, 0);
  const std::string stayer = agent("stayer");
  finish(stayer, one(stayer), Status::passed, 2);
  EXPECT_EQ(outcome(run)["steady"].status, Status::passed);
  EXPECT_NE(coordinator_->progress(run).run.finished, 0);
}

TEST_F(SwarmCoordinator, ARunSubmittedAgainWithAnotherTestListIsRefused) {
  const RunId run = submit({{"a", 1, true}});
  EXPECT_EQ(submit({{"a", 1, true}}), run);
  try {
    coordinator_->submit(Submission{"job", "v1", "other-hash", {{"b", 1, true}}});
    FAIL() << "a different test list was accepted";
  } catch (const Refused& e) {
    EXPECT_EQ(e.status, 409);
  }
}

TEST_F(SwarmCoordinator, AnAgentOfAnotherBuildTreeGetsNoTests) {
  submit({{"a", 1, true}});
  const std::string stranger = agent("stranger", "another-hash");
  const Pulled pulled = coordinator_->pull(stranger, "");
  EXPECT_TRUE(pulled.assignments.empty());
  EXPECT_TRUE(pulled.idle);
}

TEST_F(SwarmCoordinator, DurationsAreNormalisedByTheAgentsLearnedSpeed) {
  // Tests with history; a slow agent that needs 3x the reference times, alone in the pool.
  std::vector<SubmittedTest> tests;
  for (int i = 0; i < 8; ++i) tests.push_back({"t" + std::to_string(i), 2.0 + i, true});
  const RunId run = submit(tests);
  const std::string slow = agent("slow");
  for (;;) {
    Pulled pulled = coordinator_->pull(slow, "");
    if (pulled.assignments.empty()) break;
    for (const Assignment& a : pulled.assignments) {
      const double reference = 2.0 + std::stoi(a.test.substr(1));
      for (int second = 0; second < 3 * reference; ++second) {  // Heartbeats keep its lease while it runs.
        now_ += 1;
        coordinator_->heartbeat(slow);
      }
      finish(slow, a, Status::passed, 3 * reference);
    }
  }
  for (const auto& [name, result] : outcome(run)) {
    const double reference = 2.0 + std::stoi(name.substr(1));
    EXPECT_NEAR(result.seconds, 3 * reference, 1e-9) << name;
    EXPECT_NEAR(result.reference_seconds, reference, 0.05 * reference) << name;
  }
}

TEST_F(SwarmCoordinator, AQueueRunTrustsItsJobsAndARestartedJobGivesBackWhatItHeld) {
  Submission queue{"job", "ci-7", "hash", {{"a", 3, true}, {"b", 2, true}, {"c", 1, true}}, true};
  const RunId run = coordinator_->submit(queue).run;
  const std::string job1 = agent("job1");
  const std::string job2 = agent("job2");
  // Results of a queue run are not checked elsewhere, not even a failure: each test runs once.
  const Assignment a = one(job1);
  finish(job1, a, Status::failed, 3);
  EXPECT_EQ(outcome(run)[a.test].status, Status::failed);
  const Assignment held = one(job2);
  // job2's CI job is retried: the same key rejoins as the same agent, and its test is free again at once.
  EXPECT_EQ(agent("job2"), job2);
  const Pulled again = coordinator_->pull(job2, "", run);
  std::vector<std::string> names;
  for (const Assignment& x : again.assignments) names.push_back(x.test);
  EXPECT_NE(std::find(names.begin(), names.end(), held.test), names.end());
  for (const Assignment& x : again.assignments) finish(job2, x, Status::passed, 1);
  for (Pulled more = coordinator_->pull(job2, "", run); !more.assignments.empty();
       more = coordinator_->pull(job2, "", run)) {
    for (const Assignment& x : more.assignments) finish(job2, x, Status::passed, 1);
  }
  std::map<std::string, int> runs;
  for (const auto& [name, result] : outcome(run)) runs[name] = result.runs;
  EXPECT_EQ(runs, (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 1}}));
  EXPECT_NE(coordinator_->progress(run).run.finished, 0);
}

// Item 6 of issue 17: a server down longer than a lease. Its clock moved on while it was down; the agents
// that rode out the restart keep what they hold, and only one that is not heard from again loses its test.
TEST_F(SwarmCoordinator, TheTimeTheServerWasDownIsNoAgentsSilence) {
  const RunId run = submit({{"t1", 10, true}, {"t2", 10, true}});
  const std::string rider = agent("rider");
  const std::string gone = agent("gone");
  const Assignment kept = one(rider);
  const Assignment dropped = one(gone);
  // Down for 40 s against a 3 s lease; then a new coordinator starts on the same state.
  now_ += 40;
  make({});
  coordinator_->tick();
  EXPECT_EQ(coordinator_->progress(run).running, 2);
  now_ += 1;
  coordinator_->heartbeat(rider);  // Heard from again: its lease runs from now.
  now_ += 2.5;                     // Past the grace: `gone` was never heard from since the start.
  coordinator_->tick();
  const Progress after = coordinator_->progress(run);
  EXPECT_EQ(after.running, 1);
  EXPECT_EQ(after.pending, 1);
  EXPECT_TRUE(finish(rider, kept, Status::passed, 10).authoritative);
  EXPECT_FALSE(finish(gone, dropped, Status::passed, 10).authoritative);
  EXPECT_TRUE(coordinator_->outcome(run).duplicates.empty());
}

TEST_F(SwarmCoordinator, AQueueRunWhoseJobsAreAllGoneIsAbandonedUntilOneComesBack) {
  Submission queue{"job", "ci-9", "hash", {{"a", 3, true}, {"b", 2, true}}, true};
  const RunId run = coordinator_->submit(queue).run;
  EXPECT_EQ(run_state(coordinator_->progress(run).run, coordinator_->progress(run).abandoned), "running");
  const std::string job1 = agent("job1");
  const std::string job2 = agent("job2");
  const Assignment a = one(job1);
  const Assignment b = one(job2);
  finish(job1, a, Status::passed, 3);
  coordinator_->leave(job1);
  EXPECT_FALSE(coordinator_->progress(run).abandoned);  // job2 lives, and holds b.
  now_ += 4;                                            // job2 dies holding b: silent past the lease.
  coordinator_->tick();
  const Outcome gone = coordinator_->outcome(run);
  EXPECT_TRUE(gone.abandoned);
  EXPECT_EQ(run_state(gone.run, gone.abandoned), "abandoned");
  EXPECT_EQ(gone.run.finished, 0);
  // job2's CI job is retried: the run is taken up again, and ends done.
  EXPECT_EQ(agent("job2"), job2);
  EXPECT_FALSE(coordinator_->progress(run).abandoned);
  const Pulled again = coordinator_->pull(job2, "", run);
  ASSERT_EQ(again.assignments.size(), 1u);
  EXPECT_EQ(again.assignments.front().test, b.test);
  finish(job2, again.assignments.front(), Status::passed, 2);
  const Outcome done = coordinator_->outcome(run);
  EXPECT_EQ(run_state(done.run, done.abandoned), "done");
}

// Item 5 of issue 17: a trusted agent that turns failures into passes. A pass of a test that failed last time
// (or is new) waits for a second agent; the others' failures contradict it, the test fails, not flaky, and
// the liar loses its trust; a second lie evicts it.
TEST_F(SwarmCoordinator, ATrustedAgentsPassOfAFailingTestIsConfirmedAndItsLieCountsAgainstIt) {
  const std::string liar = agent("liar");
  const std::string h1 = agent("honest1");
  const std::string h2 = agent("honest2");
  for (const std::string& id : {liar, h1, h2}) trust(id);
  auto lie_and_get_caught = [&](const std::string& version) {
    SubmittedTest broken{"broken", 2, true};
    broken.confirm = true;  // It failed last time.
    const RunId run = submit({broken}, version);
    finish(liar, one(liar), Status::passed, 2);
    EXPECT_EQ(coordinator_->progress(run).run.finished, 0) << "one trusted agent's word settled it";
    finish(h1, one(h1), Status::failed, 2);  // A tie: a third agent decides.
    finish(h2, one(h2), Status::failed, 2);
    auto results = outcome(run);
    EXPECT_EQ(results["broken"].status, Status::failed);
    EXPECT_FALSE(results["broken"].flaky) << "only the liar saw it pass";
    EXPECT_EQ(results["broken"].runs, 3);
  };
  lie_and_get_caught("v1");
  EXPECT_EQ(state_.agent(liar)->trust, Trust::probation);
  EXPECT_EQ(state_.agent(h1)->trust, Trust::trusted);
  lie_and_get_caught("v2");
  EXPECT_EQ(state_.agent(liar)->trust, Trust::evicted);
  EXPECT_NE(state_.agent(liar)->evicted_because.find("reported 'broken' passed"), std::string::npos);
}

TEST_F(SwarmCoordinator, ANewTestsPassIsFinalOnceASecondAgentAgreesExceptInQueueMode) {
  const std::string a1 = agent("one");
  const std::string a2 = agent("two");
  for (const std::string& id : {a1, a2}) trust(id);
  SubmittedTest fresh{"fresh", 2, false};
  fresh.confirm = true;
  const RunId run = submit({fresh});
  finish(a1, one(a1), Status::passed, 2);
  EXPECT_EQ(coordinator_->progress(run).run.finished, 0);
  finish(a2, one(a2), Status::passed, 2);
  auto results = outcome(run);
  EXPECT_EQ(results["fresh"].status, Status::passed);
  EXPECT_EQ(results["fresh"].runs, 2);
  EXPECT_NE(coordinator_->progress(run).run.finished, 0);
  // Queue mode: the CI's own jobs; one result is the result.
  Submission queue{"job", "ci-1", "hash", {fresh}, true};
  const RunId trusted = coordinator_->submit(queue).run;
  const Pulled pulled = coordinator_->pull(a1, "", trusted);
  ASSERT_EQ(pulled.assignments.size(), 1u);
  finish(a1, pulled.assignments.front(), Status::passed, 2);
  EXPECT_NE(coordinator_->progress(trusted).run.finished, 0);
}

// A database of schema version 1 (written before swarm mode) opens as today's version: it gains the swarm's
// tables, keeps its history, and the coordinator works on it.

// Issue 21, over the protocol alone: a fast CI job (bench 300) and a slow one (bench 100) share a queue run
// of one 4 s test, four 3 s tests and twenty 0.01 s ones. The fast job takes the 4 s test and runs past its
// expected end, heartbeating. It is busy, not free now: the slow job gets the tiny tests in batches of at
// least min_batch_seconds of its own time, not one per pull (one ctest call each) while the 3 s tests wait.
TEST_F(SwarmCoordinator, AJobPastItsExpectedEndIsBusyAndNoJobIsFedOneTinyTestPerPull) {
  std::vector<SubmittedTest> tests = {{"long", 4, true}};
  for (int i = 0; i < 4; ++i) tests.push_back({"mid-" + std::to_string(i), 3, true});
  for (int i = 10; i < 30; ++i) tests.push_back({"tiny-" + std::to_string(i), 0.01, true});
  const RunId run = coordinator_->submit(Submission{"job", "ci-21", "hash", tests, true}).run;
  auto job = [&](const std::string& name, double bench) {
    return coordinator_->enroll(
        Registration{"key-" + name, name, "hash", Attributes{"Linux", "x86_64", 4, 8000, bench, 0}});
  };
  const std::string fast = job("fast", 300);
  const std::string slow = job("slow", 100);
  const Pulled first = coordinator_->pull(fast, "f1", run);
  ASSERT_EQ(first.assignments.size(), 1u);
  ASSERT_EQ(first.assignments[0].test, "long");
  const double expected_end = now_ + first.assignments[0].expected_seconds;

  // Past the expected end, the fast job still running: the slow one pulls, runs each batch as one ctest
  // call, reports it and pulls again. The fast job heartbeats and never reports.
  now_ = expected_end + 0.1;
  const double min_batch = coordinator_->settings().policy.min_batch_seconds;
  int mid_left = 4, tiny_left = 20, calls = 0;
  while (mid_left + tiny_left > 0 && now_ < expected_end + 60) {
    const Pulled pulled = coordinator_->pull(slow, "s" + std::to_string(++calls), run);
    ASSERT_FALSE(pulled.assignments.empty()) << "at call " << calls;
    double own = 0;  // The batch's estimated time on the slow job: tests and their process starts.
    for (const Assignment& a : pulled.assignments) {
      own += a.expected_seconds + 0.05;
      (a.test.starts_with("mid") ? mid_left : tiny_left) -= 1;
    }
    // The rule: while tests wait for a faster job, a batch carries min_batch_seconds, or every test left
    // that the slow job may take.
    EXPECT_TRUE(own >= min_batch || mid_left + tiny_left == 0)
        << "call " << calls << ": " << pulled.assignments.size() << " tests, " << own << " s";
    for (const Assignment& a : pulled.assignments) {
      // Both jobs heartbeat while the slow one runs the test (the fixture's lease is 3 s).
      for (double left = a.expected_seconds + 0.05; left > 0; left -= 1) {
        now_ += std::min(left, 1.0);
        coordinator_->heartbeat(fast);
        coordinator_->heartbeat(slow);
      }
      finish(slow, a, Status::passed, a.expected_seconds);
    }
    now_ += 0.1;  // The next ctest start.
  }
  EXPECT_EQ(mid_left + tiny_left, 0) << "the slow job stopped getting work";
  // 20 tiny tests of 0.07 s on the slow job take at most 2 batches; the 3 s tests one each.
  EXPECT_LE(calls, 6);
  const Pulled last = coordinator_->pull(fast, "f2", run);
  EXPECT_TRUE(last.assignments.empty());
  finish(fast, first.assignments[0], Status::passed, now_ - expected_end + 4);
  EXPECT_NE(coordinator_->progress(run).run.finished, 0);
}

// Identical CI jobs do not become "fast" and "slow" from durations that drift: in a queue run, speeds are not
// learned unless the jobs' benchmarks differ. Here job A drew tests 3x slower than history on a first run,
// enough samples for a learned speed the swarm's guard would trust; on the next run it still takes the long
// test, as job B would.
TEST_F(SwarmCoordinator, AQueueRunLearnsNoSpeedsForIdenticalJobs) {
  std::vector<SubmittedTest> warm;
  for (int i = 10; i < 50; ++i) warm.push_back({"warm-" + std::to_string(i), 1, true});
  const RunId first = coordinator_->submit(Submission{"job", "ci-1", "hash", warm, true}).run;
  const std::string a = agent("a");
  const std::string b = agent("b");
  for (bool more = true; more;) {
    more = false;
    for (const std::string& job : {a, b}) {
      const Pulled pulled = coordinator_->pull(job, "", first);
      for (const Assignment& x : pulled.assignments) {
        now_ += 0.1;
        finish(job, x, Status::passed, job == a ? 3 : 1);
        more = true;
      }
    }
  }
  ASSERT_NE(coordinator_->progress(first).run.finished, 0);
  const RunId next =
      coordinator_->submit(Submission{"job", "ci-2", "hash", {{"long", 30, true}, {"short", 1, true}}, true})
          .run;
  const Pulled pulled = coordinator_->pull(a, "", next);
  ASSERT_FALSE(pulled.assignments.empty());
  EXPECT_EQ(pulled.assignments[0].test, "long");
  EXPECT_DOUBLE_EQ(pulled.assignments[0].expected_seconds, 30);
}

// A queue run learns drift per directory from its first results (issue 21): a directory that runs 3x slower
// than history gets its pending tests' estimates raised, so its longer ones go out before tests that history
// ranked above them, and alone as a long test goes. Other directories and tests without a directory keep
// history's estimates.
TEST_F(SwarmCoordinator, AQueueRunMovesAheadTheTestsOfADirectoryThatRunsSlowerThanHistory) {
  const RunId run = coordinator_
                        ->submit(Submission{"job",
                                            "ci-drift",
                                            "hash",
                                            {{"slow/a.feature", 4, true},
                                             {"slow/b.feature", 2, true},
                                             {"fast/x.feature", 3, true},
                                             {"fast/y.feature", 3, true},
                                             {"alone", 2.5, true}},
                                            true})
                        .run;
  const std::string job = agent("job");
  auto run_for = [&](double seconds) {  // Heartbeating, as the fixture's lease is 3 s.
    for (; seconds > 0; seconds -= 1) {
      now_ += std::min(seconds, 1.0);
      coordinator_->heartbeat(job);
    }
  };
  const Pulled first = coordinator_->pull(job, "p1", run);
  ASSERT_EQ(first.assignments.size(), 1u);
  ASSERT_EQ(first.assignments[0].test, "slow/a.feature");
  run_for(12);
  finish(job, first.assignments[0], Status::passed, 12);  // 3x its history.

  // slow/b.feature now counts 2 x (12 + 5) / (4 + 5) = 3.8 s: ahead of the 3 s tests, and alone.
  const Pulled second = coordinator_->pull(job, "p2", run);
  ASSERT_FALSE(second.assignments.empty());
  EXPECT_EQ(second.assignments[0].test, "slow/b.feature");
  EXPECT_NEAR(second.assignments[0].expected_seconds, 2 * 17.0 / 9.0, 1e-9);
  EXPECT_EQ(second.assignments.size(), 1u);
  run_for(4);
  for (const Assignment& a : second.assignments) finish(job, a, Status::passed, 4);

  // The other directory and the test without one keep history's estimates, and exactly once each.
  std::vector<std::string> rest;
  for (int pulls = 0; pulls < 10 && coordinator_->progress(run).run.finished == 0; ++pulls) {
    for (const Assignment& a : coordinator_->pull(job, "r" + std::to_string(pulls), run).assignments) {
      EXPECT_DOUBLE_EQ(a.expected_seconds, a.test == "alone" ? 2.5 : 3) << a.test;
      rest.push_back(a.test);
      run_for(a.expected_seconds);
      finish(job, a, Status::passed, a.expected_seconds);
    }
  }
  std::sort(rest.begin(), rest.end());
  EXPECT_EQ(rest, (std::vector<std::string>{"alone", "fast/x.feature", "fast/y.feature"}));
  EXPECT_NE(coordinator_->progress(run).run.finished, 0);
}

// A database of schema version 1 (written before swarm mode) opens as version 2: it gains the swarm's tables,
// keeps its history, and the coordinator works on it.
class SchemaUpgrade : public testing::ScratchDirTest {};

TEST_F(SchemaUpgrade, AVersionOneDatabaseGainsTheSwarmTablesAndKeepsItsHistory) {
  const std::string path = (dir_ / "tlb.sqlite3").string();
  {
    // Made by today's code, then taken back to what version 1 had: no swarm tables, user_version 1.
    server::Database database(path);
    database.transaction(true, [](server::Session& s) {
      s.prepare("INSERT INTO history VALUES ('job', 'kept', 4.5, 3, 'passed', '2026-11-30')").run();
      std::vector<std::string> tables;
      server::Statement swarm =
          s.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'swarm%'");
      while (swarm.step()) tables.push_back(swarm.text(0));
      ASSERT_FALSE(tables.empty());
      for (const std::string& table : tables) s.prepare("DROP TABLE " + table).run();
      s.prepare("DROP TABLE generations").run();
      s.prepare("PRAGMA user_version = 1").run();
    });
    const std::int64_t left = database.transaction(false, [](server::Session& s) {
      server::Statement count = s.prepare("SELECT count(*) FROM sqlite_master WHERE name LIKE 'swarm%'");
      count.step();
      return count.integer(0);
    });
    ASSERT_EQ(left, 0) << "the test did not take the database back to version 1";
  }
  server::Database database(path);
  const auto version = database.transaction(false, [](server::Session& s) {
    server::Statement pragma = s.prepare("PRAGMA user_version");
    pragma.step();
    return pragma.integer(0);
  });
  EXPECT_EQ(version, server::kSchemaVersion);
  const store::Timings history =
      database.transaction(false, [](server::Session& s) { return s.history("job"); });
  ASSERT_EQ(history.count("kept"), 1u);
  EXPECT_DOUBLE_EQ(history.at("kept").record.seconds, 4.5);

  server::SqliteSwarmState state(database);
  Coordinator coordinator(state, Settings{}, [] { return 1000.0; });
  Submission queue{"job", "v1", "hash", {{"kept", 4.5, true}}};
  queue.trusted = true;  // No checks: the one result settles the run.
  const RunId run = coordinator.submit(queue).run;
  const std::string agent =
      coordinator.enroll(Registration{"key", "box", "hash", Attributes{"Linux", "x86_64", 4, 8000, 100, 0}});
  const Pulled pulled = coordinator.pull(agent, "r1");
  ASSERT_EQ(pulled.assignments.size(), 1u);
  coordinator.report(agent, Report{pulled.assignments[0].lease, "kept", Status::passed, 4});
  EXPECT_NE(coordinator.progress(run).run.finished, 0);
}

// A version 2 database (before agents had secrets) gains the secret and confirm columns; an agent registered
// then has no secret, so its calls are refused until it registers again.
TEST_F(SchemaUpgrade, AVersionTwoDatabaseGainsSecretsAndItsAgentsMustRegisterAgain) {
  const std::string path = (dir_ / "tlb.sqlite3").string();
  const Registration box{"key", "box", "hash", Attributes{"Linux", "x86_64", 4, 8000, 100, 0}, "new-secret"};
  std::string id;
  {
    server::Database database(path);
    server::SqliteSwarmState state(database);
    id = Coordinator(state, Settings{}, [] { return 1000.0; }).enroll(box);
    database.transaction(true, [](server::Session& s) {
      s.prepare("ALTER TABLE swarm_agents DROP COLUMN secret").run();
      s.prepare("ALTER TABLE swarm_tests DROP COLUMN confirm").run();
      s.prepare("DROP TABLE generations").run();  // And what version 4 added.
      s.prepare("ALTER TABLE swarm_runs DROP COLUMN recorded").run();
      s.prepare("PRAGMA user_version = 2").run();
    });
  }
  server::Database database(path);
  server::SqliteSwarmState state(database);
  Coordinator coordinator(state, Settings{}, [] { return 1000.0; });
  try {
    coordinator.authenticate(id, "new-secret");
    FAIL() << "an agent without a secret was let in";
  } catch (const Refused& e) {
    EXPECT_EQ(e.status, 401);
    EXPECT_NE(std::string(e.what()).find("register again"), std::string::npos) << e.what();
  }
  EXPECT_EQ(coordinator.enroll(box), id);
  EXPECT_NO_THROW(coordinator.authenticate(id, "new-secret"));
  try {
    coordinator.authenticate(id, "another");
    FAIL() << "a wrong secret was let in";
  } catch (const Refused& e) {
    EXPECT_EQ(e.status, 403);
  }
}

}  // namespace
}  // namespace tlb::swarm
