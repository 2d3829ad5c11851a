#include "server/swarm_state.hpp"

#include <algorithm>
#include <utility>

#include "io/text.hpp"

namespace tlb::server {
namespace {

using swarm::AgentRow;
using swarm::Lease;
using swarm::ResultRow;
using swarm::RunId;
using swarm::RunRow;
using swarm::TestRow;
using swarm::TestState;

// A test's excluded agents are one text column, one id a line (ids never hold a line break).
std::string join_lines(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text.append(name).push_back('\n');
  return text;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> names;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
    names.push_back(text.substr(at, end - at));
    at = end == std::string::npos ? text.size() : end + 1;
  }
  return names;
}

constexpr std::string_view kRunColumns = "id, job, version, test_list_hash, created, finished, trusted";

RunRow run_row(const Statement& row) {
  return RunRow{row.integer(0), row.text(1), row.text(2),        row.text(3),
                row.real(4),    row.real(5), row.integer(6) != 0};
}

constexpr std::string_view kTestColumns =
    "name, seconds, known, important, state, is_check, lease, agent, deadline, expected_end, losses, "
    "excluded, "
    "status, result_seconds, flaky, confirm";

TestRow test_row(const Statement& row) {
  TestRow test;
  test.name = row.text(0);
  test.seconds = row.real(1);
  test.known = row.integer(2) != 0;
  test.important = row.integer(3) != 0;
  test.state = static_cast<TestState>(row.integer(4));
  test.check = row.integer(5) != 0;
  test.lease = row.integer(6);
  test.agent = row.text(7);
  test.deadline = row.real(8);
  test.expected_end = row.real(9);
  test.losses = static_cast<int>(row.integer(10));
  test.excluded = split_lines(row.text(11));
  test.status = static_cast<swarm::Status>(row.integer(12));
  test.result_seconds = row.real(13);
  test.flaky = row.integer(14) != 0;
  test.confirm = row.integer(15) != 0;
  return test;
}

constexpr std::string_view kAgentColumns =
    "id, key, name, test_list_hash, os, arch, cores, ram_mb, bench, rtt_ms, trust, error_rate, speed, "
    "speed_samples, checks_passed, consecutive_losses, unconfirmed_failures, registered, last_seen, "
    "left_swarm, "
    "evicted_because, checks_asked, secret";

AgentRow agent_row(const Statement& row) {
  AgentRow agent;
  agent.id = row.text(0);
  agent.key = row.text(1);
  agent.name = row.text(2);
  agent.test_list_hash = row.text(3);
  agent.attributes.os = row.text(4);
  agent.attributes.arch = row.text(5);
  agent.attributes.cores = static_cast<int>(row.integer(6));
  agent.attributes.ram_mb = row.real(7);
  agent.attributes.bench = row.real(8);
  agent.attributes.rtt_ms = row.real(9);
  agent.trust = static_cast<swarm::Trust>(row.integer(10));
  agent.error_rate = row.real(11);
  agent.speed = row.real(12);
  agent.speed_samples = static_cast<int>(row.integer(13));
  agent.checks_passed = static_cast<int>(row.integer(14));
  agent.consecutive_losses = static_cast<int>(row.integer(15));
  agent.unconfirmed_failures = static_cast<int>(row.integer(16));
  agent.registered = row.real(17);
  agent.last_seen = row.real(18);
  agent.left = row.integer(19) != 0;
  agent.evicted_because = row.text(20);
  agent.checks_asked = static_cast<int>(row.integer(21));
  agent.secret = row.text(22);
  return agent;
}

constexpr std::string_view kResultColumns =
    "name, agent, lease, status, seconds, reference_estimate, known, authoritative, is_check, plausible, "
    "reported";

ResultRow result_row(const Statement& row) {
  ResultRow result;
  result.name = row.text(0);
  result.agent = row.text(1);
  result.lease = row.integer(2);
  result.status = static_cast<swarm::Status>(row.integer(3));
  result.seconds = row.real(4);
  result.reference_estimate = row.real(5);
  result.known = row.integer(6) != 0;
  result.authoritative = row.integer(7) != 0;
  result.check = row.integer(8) != 0;
  result.plausible = row.integer(9) != 0;
  result.reported = row.real(10);
  return result;
}

constexpr std::string_view kHeldColumns = "run, name, agent, lease, expected_end, seconds";

swarm::SwarmState::Held held_row(const Statement& row) {
  return swarm::SwarmState::Held{row.integer(0), row.text(1), row.text(2),
                                 row.integer(3), row.real(4), row.real(5)};
}

std::string sql(std::initializer_list<std::string_view> parts) {
  std::string text;
  for (std::string_view part : parts) text.append(part);
  return text;
}

template <class Row, class Read>
std::vector<Row> all(Statement& rows, Read read) {
  std::vector<Row> out;
  while (rows.step()) out.push_back(read(rows));
  return out;
}

// A lease number no one can guess: random, below 2^53 (exact in any JSON reader), never 0 (settle's "any
// lease"), and new. Fencing needs only that the test's current lease is the one reported.
Lease new_lease(Session& s) {
  for (;;) {
    const Lease lease = static_cast<Lease>(io::random_bits() >> 11);
    if (lease == 0) continue;
    Statement known = s.prepare("SELECT 1 FROM swarm_leases WHERE lease = ?1");
    known.bind(1, lease);
    if (!known.step()) return lease;
  }
}

constexpr int kLeased = static_cast<int>(TestState::leased);
constexpr int kPending = static_cast<int>(TestState::pending);
constexpr int kDone = static_cast<int>(TestState::done);

// The session of the atomically() this thread is in, and whose state it is.
thread_local const SqliteSwarmState* atomic_owner = nullptr;
thread_local Session* atomic_session = nullptr;

// Marks this thread as inside `owner`'s atomically() for its lifetime, then restores what it found.
class AtomicScope {
 public:
  AtomicScope(const SqliteSwarmState* owner, Session& session)
      : outer_owner_(atomic_owner), outer_session_(atomic_session) {
    atomic_owner = owner;
    atomic_session = &session;
  }
  ~AtomicScope() {
    atomic_owner = outer_owner_;
    atomic_session = outer_session_;
  }
  AtomicScope(const AtomicScope&) = delete;
  AtomicScope& operator=(const AtomicScope&) = delete;

 private:
  const SqliteSwarmState* outer_owner_;
  Session* outer_session_;
};

}  // namespace

void SqliteSwarmState::atomically(const std::function<void()>& work) {
  if (atomic_owner == this) {
    work();
    return;
  }
  database_.transaction(true, [&](Session& s) {
    const AtomicScope scope(this, s);
    work();
  });
}

template <class Work>
auto SqliteSwarmState::within(bool write, Work&& work) {
  if (atomic_owner == this) return work(*atomic_session);
  return database_.transaction(write, std::forward<Work>(work));
}

std::optional<RunRow> SqliteSwarmState::find_run(const std::string& job, const std::string& version) {
  return within(false, [&](Session& s) -> std::optional<RunRow> {
    Statement row =
        s.prepare(sql({"SELECT ", kRunColumns, " FROM swarm_runs WHERE job = ?1 AND version = ?2"}));
    row.bind(1, job).bind(2, version);
    if (!row.step()) return std::nullopt;
    return run_row(row);
  });
}

std::optional<RunRow> SqliteSwarmState::run(RunId id) {
  return within(false, [&](Session& s) -> std::optional<RunRow> {
    Statement row = s.prepare(sql({"SELECT ", kRunColumns, " FROM swarm_runs WHERE id = ?1"}));
    row.bind(1, id);
    if (!row.step()) return std::nullopt;
    return run_row(row);
  });
}

std::vector<RunRow> SqliteSwarmState::open_runs() {
  return within(false, [&](Session& s) {
    Statement rows =
        s.prepare(sql({"SELECT ", kRunColumns, " FROM swarm_runs WHERE finished = 0 ORDER BY id"}));
    return all<RunRow>(rows, run_row);
  });
}

RunId SqliteSwarmState::create_run(const RunRow& run, const std::vector<TestRow>& tests) {
  return within(true, [&](Session& s) {
    Statement next = s.prepare("SELECT coalesce(max(id), 0) + 1 FROM swarm_runs");
    next.step();
    const RunId id = next.integer(0);
    s.prepare(
         "INSERT INTO swarm_runs (id, job, version, test_list_hash, created, finished, trusted, recorded) "
         "VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, 0)")
        .bind(1, id)
        .bind(2, run.job)
        .bind(3, run.version)
        .bind(4, run.test_list_hash)
        .bind(5, run.created)
        .bind(6, static_cast<int>(run.trusted))
        .run();
    for (const TestRow& test : tests) {
      Statement row = s.prepare(
          "INSERT INTO swarm_tests (run, name, seconds, known, important, state, status, confirm) VALUES "
          "(?1, "
          "?2, ?3, ?4, ?5, ?6, ?7, ?8)");
      row.bind(1, id)
          .bind(2, test.name)
          .bind(3, test.seconds)
          .bind(4, static_cast<int>(test.known))
          .bind(5, static_cast<int>(test.important))
          .bind(6, static_cast<int>(test.state))
          .bind(7, static_cast<int>(test.status))
          .bind(8, static_cast<int>(test.confirm))
          .run();
    }
    return id;
  });
}

bool SqliteSwarmState::finish_run(RunId id, double at) {
  return within(true, [&](Session& s) {
    Statement update = s.prepare("UPDATE swarm_runs SET finished = ?2 WHERE id = ?1 AND finished = 0");
    update.bind(1, id).bind(2, at).run();
    return update.changes() != 0;
  });
}

std::vector<TestRow> SqliteSwarmState::tests(RunId id) {
  return within(false, [&](Session& s) {
    Statement rows =
        s.prepare(sql({"SELECT ", kTestColumns, " FROM swarm_tests WHERE run = ?1 ORDER BY name"}));
    rows.bind(1, id);
    return all<TestRow>(rows, test_row);
  });
}

std::vector<TestRow> SqliteSwarmState::pending(RunId id) {
  return within(false, [&](Session& s) {
    Statement rows = s.prepare(
        sql({"SELECT ", kTestColumns, " FROM swarm_tests WHERE run = ?1 AND state = ?2 ORDER BY name"}));
    rows.bind(1, id).bind(2, kPending);
    return all<TestRow>(rows, test_row);
  });
}

std::size_t SqliteSwarmState::unsettled(RunId id) {
  return within(false, [&](Session& s) {
    Statement count = s.prepare("SELECT count(*) FROM swarm_tests WHERE run = ?1 AND state != ?2");
    count.bind(1, id).bind(2, kDone);
    count.step();
    return static_cast<std::size_t>(count.integer(0));
  });
}

std::optional<TestRow> SqliteSwarmState::test(RunId id, const std::string& name) {
  return within(false, [&](Session& s) -> std::optional<TestRow> {
    Statement row =
        s.prepare(sql({"SELECT ", kTestColumns, " FROM swarm_tests WHERE run = ?1 AND name = ?2"}));
    row.bind(1, id).bind(2, name);
    if (!row.step()) return std::nullopt;
    return test_row(row);
  });
}

std::optional<AgentRow> SqliteSwarmState::agent(const std::string& id) {
  return within(false, [&](Session& s) -> std::optional<AgentRow> {
    Statement row = s.prepare(sql({"SELECT ", kAgentColumns, " FROM swarm_agents WHERE id = ?1"}));
    row.bind(1, id);
    if (!row.step()) return std::nullopt;
    return agent_row(row);
  });
}

std::optional<AgentRow> SqliteSwarmState::agent_by_key(const std::string& key) {
  return within(false, [&](Session& s) -> std::optional<AgentRow> {
    Statement row = s.prepare(sql({"SELECT ", kAgentColumns, " FROM swarm_agents WHERE key = ?1"}));
    row.bind(1, key);
    if (!row.step()) return std::nullopt;
    return agent_row(row);
  });
}

std::vector<AgentRow> SqliteSwarmState::agents() {
  return within(false, [&](Session& s) {
    Statement rows = s.prepare(sql({"SELECT ", kAgentColumns, " FROM swarm_agents ORDER BY seq"}));
    return all<AgentRow>(rows, agent_row);
  });
}

std::string SqliteSwarmState::put_agent(AgentRow agent) {
  return within(true, [&](Session& s) {
    if (agent.id.empty()) {
      Statement next = s.prepare("SELECT coalesce(max(seq), 0) + 1 FROM swarm_agents");
      next.step();
      agent.id = "a" + std::to_string(next.integer(0));
    }
    Statement row = s.prepare(
        "INSERT INTO swarm_agents (id, key, name, test_list_hash, os, arch, cores, ram_mb, bench, rtt_ms, "
        "trust, "
        "error_rate, speed, speed_samples, checks_passed, consecutive_losses, unconfirmed_failures, "
        "registered, "
        "last_seen, left_swarm, evicted_because, checks_asked, secret) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
        "?8, "
        "?9, ?10, "
        "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23) ON CONFLICT (id) DO UPDATE SET "
        "name = "
        "?3, "
        "test_list_hash = ?4, "
        "os = ?5, arch = ?6, cores = ?7, ram_mb = ?8, bench = ?9, rtt_ms = ?10, trust = ?11, error_rate = "
        "?12, "
        "speed = ?13, speed_samples = ?14, checks_passed = ?15, consecutive_losses = ?16, "
        "unconfirmed_failures = ?17, last_seen = CASE WHEN swarm_agents.last_seen > ?19 THEN "
        "swarm_agents.last_seen ELSE ?19 END, "
        "left_swarm = ?20, evicted_because = "
        "?21, "
        "checks_asked = ?22, secret = ?23");
    row.bind(1, agent.id)
        .bind(2, agent.key)
        .bind(3, agent.name)
        .bind(4, agent.test_list_hash)
        .bind(5, agent.attributes.os)
        .bind(6, agent.attributes.arch)
        .bind(7, agent.attributes.cores)
        .bind(8, agent.attributes.ram_mb)
        .bind(9, agent.attributes.bench)
        .bind(10, agent.attributes.rtt_ms)
        .bind(11, static_cast<int>(agent.trust))
        .bind(12, agent.error_rate)
        .bind(13, agent.speed)
        .bind(14, agent.speed_samples)
        .bind(15, agent.checks_passed)
        .bind(16, agent.consecutive_losses)
        .bind(17, agent.unconfirmed_failures)
        .bind(18, agent.registered)
        .bind(19, agent.last_seen)
        .bind(20, static_cast<int>(agent.left))
        .bind(21, agent.evicted_because)
        .bind(22, agent.checks_asked)
        .bind(23, agent.secret)
        .run();
    return agent.id;
  });
}

void SqliteSwarmState::touch(const std::string& agent, double now, double deadline) {
  within(true, [&](Session& s) {
    s.prepare(
         "UPDATE swarm_agents SET last_seen = CASE WHEN last_seen > ?2 THEN last_seen ELSE ?2 END, "
         "left_swarm = 0 "
         "WHERE id = ?1")
        .bind(1, agent)
        .bind(2, now)
        .run();
    s.prepare(
         "UPDATE swarm_tests SET deadline = CASE WHEN deadline > ?2 THEN deadline ELSE ?2 END "
         "WHERE agent = ?1 AND state = ?3")
        .bind(1, agent)
        .bind(2, deadline)
        .bind(3, kLeased)
        .run();
  });
}

std::vector<swarm::SwarmState::Reservation> SqliteSwarmState::reserve(
    RunId run, const std::string& agent, const std::vector<std::pair<std::string, double>>& names_and_ends,
    double deadline) {
  return within(true, [&](Session& s) {
    std::vector<Reservation> given;
    for (const auto& [name, end] : names_and_ends) {
      const Lease lease = new_lease(s);
      Statement take = s.prepare(
          "UPDATE swarm_tests SET state = ?3, lease = ?4, agent = ?5, deadline = ?6, expected_end = ?7 "
          "WHERE run = ?1 AND name = ?2 AND state = ?8");
      take.bind(1, run)
          .bind(2, name)
          .bind(3, kLeased)
          .bind(4, lease)
          .bind(5, agent)
          .bind(6, deadline)
          .bind(7, end)
          .bind(8, kPending)
          .run();
      if (take.changes() == 0) continue;
      s.prepare("INSERT INTO swarm_leases (lease, run, name, agent) VALUES (?1, ?2, ?3, ?4)")
          .bind(1, lease)
          .bind(2, run)
          .bind(3, name)
          .bind(4, agent)
          .run();
      given.push_back(Reservation{name, lease, end});
    }
    return given;
  });
}

std::vector<swarm::SwarmState::Held> SqliteSwarmState::expired(double now) {
  return within(false, [&](Session& s) {
    Statement rows =
        s.prepare(sql({"SELECT ", kHeldColumns,
                       " FROM swarm_tests WHERE state = ?1 AND deadline < ?2 ORDER BY run, name"}));
    rows.bind(1, kLeased).bind(2, now);
    return all<Held>(rows, held_row);
  });
}

std::vector<swarm::SwarmState::Held> SqliteSwarmState::held_by(const std::string& agent) {
  return within(false, [&](Session& s) {
    Statement rows = s.prepare(sql(
        {"SELECT ", kHeldColumns, " FROM swarm_tests WHERE agent = ?1 AND state = ?2 ORDER BY run, name"}));
    rows.bind(1, agent).bind(2, kLeased);
    return all<Held>(rows, held_row);
  });
}

std::vector<swarm::SwarmState::Held> SqliteSwarmState::held(RunId run) {
  return within(false, [&](Session& s) {
    Statement rows = s.prepare(
        sql({"SELECT ", kHeldColumns, " FROM swarm_tests WHERE run = ?1 AND state = ?2 ORDER BY name"}));
    rows.bind(1, run).bind(2, kLeased);
    return all<Held>(rows, held_row);
  });
}

std::vector<std::string> SqliteSwarmState::agents_of(RunId run) {
  return within(false, [&](Session& s) {
    Statement rows = s.prepare("SELECT DISTINCT agent FROM swarm_leases WHERE run = ?1 ORDER BY agent");
    rows.bind(1, run);
    return all<std::string>(rows, [](const Statement& row) { return row.text(0); });
  });
}

std::optional<swarm::SwarmState::Held> SqliteSwarmState::lease(Lease lease) {
  return within(false, [&](Session& s) -> std::optional<Held> {
    Statement row = s.prepare(
        "SELECT l.run, l.name, l.agent, l.lease, t.expected_end, t.seconds FROM swarm_leases l JOIN "
        "swarm_tests t "
        "ON t.run = l.run AND t.name = l.name WHERE l.lease = ?1");
    row.bind(1, lease);
    if (!row.step()) return std::nullopt;
    return held_row(row);
  });
}

bool SqliteSwarmState::take_back(RunId run, const std::string& name, Lease lease, const std::string& agent,
                                 bool lost) {
  return within(true, [&](Session& s) {
    Statement row = s.prepare(
        "SELECT excluded FROM swarm_tests WHERE run = ?1 AND name = ?2 AND lease = ?3 "
        "AND state = ?4");
    row.bind(1, run).bind(2, name).bind(3, lease).bind(4, kLeased);
    if (!row.step()) return false;
    std::vector<std::string> excluded = split_lines(row.text(0));
    if (!agent.empty() && std::find(excluded.begin(), excluded.end(), agent) == excluded.end()) {
      excluded.push_back(agent);
    }
    s.prepare(
         "UPDATE swarm_tests SET state = ?3, agent = '', deadline = 0, expected_end = 0, "
         "losses = losses + ?5, excluded = ?4 WHERE run = ?1 AND name = ?2")
        .bind(1, run)
        .bind(2, name)
        .bind(3, kPending)
        .bind(4, join_lines(excluded))
        .bind(5, lost ? 1 : 0)
        .run();
    return true;
  });
}

bool SqliteSwarmState::add_result(RunId run, const ResultRow& result) {
  return within(true, [&](Session& s) {
    Statement known = s.prepare("SELECT 1 FROM swarm_results WHERE lease = ?1");
    known.bind(1, result.lease);
    if (known.step()) return false;
    s.prepare(
         "INSERT INTO swarm_results (run, name, agent, lease, status, seconds, reference_estimate, known, "
         "authoritative, is_check, plausible, reported) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
         "?11, "
         "?12)")
        .bind(1, run)
        .bind(2, result.name)
        .bind(3, result.agent)
        .bind(4, result.lease)
        .bind(5, static_cast<int>(result.status))
        .bind(6, result.seconds)
        .bind(7, result.reference_estimate)
        .bind(8, static_cast<int>(result.known))
        .bind(9, static_cast<int>(result.authoritative))
        .bind(10, static_cast<int>(result.check))
        .bind(11, static_cast<int>(result.plausible))
        .bind(12, result.reported)
        .run();
    return true;
  });
}

std::optional<ResultRow> SqliteSwarmState::result_of(RunId run, Lease lease) {
  return within(false, [&](Session& s) -> std::optional<ResultRow> {
    Statement row =
        s.prepare(sql({"SELECT ", kResultColumns, " FROM swarm_results WHERE run = ?1 AND lease = ?2"}));
    row.bind(1, run).bind(2, lease);
    if (!row.step()) return std::nullopt;
    return result_row(row);
  });
}

std::vector<ResultRow> SqliteSwarmState::results(RunId run) {
  return within(false, [&](Session& s) {
    Statement rows =
        s.prepare(sql({"SELECT ", kResultColumns, " FROM swarm_results WHERE run = ?1 ORDER BY seq"}));
    rows.bind(1, run);
    return all<ResultRow>(rows, result_row);
  });
}

std::vector<ResultRow> SqliteSwarmState::results(RunId run, const std::string& name) {
  return within(false, [&](Session& s) {
    Statement rows = s.prepare(
        sql({"SELECT ", kResultColumns, " FROM swarm_results WHERE run = ?1 AND name = ?2 ORDER BY seq"}));
    rows.bind(1, run).bind(2, name);
    return all<ResultRow>(rows, result_row);
  });
}

std::vector<ResultRow> SqliteSwarmState::results_of_agent(const std::string& agent) {
  return within(false, [&](Session& s) {
    Statement rows =
        s.prepare(sql({"SELECT ", kResultColumns, " FROM swarm_results WHERE agent = ?1 ORDER BY seq"}));
    rows.bind(1, agent);
    return all<ResultRow>(rows, result_row);
  });
}

bool SqliteSwarmState::ask_check(RunId run, const std::string& name, Lease lease,
                                 const std::vector<std::string>& excluded) {
  return within(true, [&](Session& s) {
    Statement row = s.prepare("SELECT excluded FROM swarm_tests WHERE run = ?1 AND name = ?2 AND lease = ?3");
    row.bind(1, run).bind(2, name).bind(3, lease);
    if (!row.step()) return false;
    std::vector<std::string> all_excluded = split_lines(row.text(0));
    for (const std::string& agent : excluded) {
      if (std::find(all_excluded.begin(), all_excluded.end(), agent) == all_excluded.end()) {
        all_excluded.push_back(agent);
      }
    }
    s.prepare(
         "UPDATE swarm_tests SET state = ?3, is_check = 1, agent = '', deadline = 0, expected_end = 0, "
         "excluded = ?4 WHERE run = ?1 AND name = ?2")
        .bind(1, run)
        .bind(2, name)
        .bind(3, kPending)
        .bind(4, join_lines(all_excluded))
        .run();
    return true;
  });
}

bool SqliteSwarmState::settle(RunId run, const std::string& name, Lease lease, swarm::Status status,
                              double seconds, const std::string& agent, bool flaky) {
  return within(true, [&](Session& s) {
    Statement update = s.prepare(
        "UPDATE swarm_tests SET state = ?3, status = ?4, result_seconds = ?5, agent = ?6, flaky = ?7, "
        "deadline = 0 WHERE run = ?1 AND name = ?2 AND (?8 = 0 OR lease = ?8)");
    update.bind(1, run)
        .bind(2, name)
        .bind(3, kDone)
        .bind(4, static_cast<int>(status))
        .bind(5, seconds)
        .bind(6, agent)
        .bind(7, static_cast<int>(flaky))
        .bind(8, lease)
        .run();
    return update.changes() != 0;
  });
}

void SqliteSwarmState::reopen(RunId run, const std::string& name, const std::string& excluded_agent) {
  within(true, [&](Session& s) {
    Statement row = s.prepare("SELECT excluded FROM swarm_tests WHERE run = ?1 AND name = ?2");
    row.bind(1, run).bind(2, name);
    if (!row.step()) return;
    std::vector<std::string> excluded = split_lines(row.text(0));
    if (!excluded_agent.empty() &&
        std::find(excluded.begin(), excluded.end(), excluded_agent) == excluded.end()) {
      excluded.push_back(excluded_agent);
    }
    s.prepare(
         "UPDATE swarm_tests SET state = ?3, is_check = 0, agent = '', deadline = 0, expected_end = 0, "
         "flaky = 0, excluded = ?4 WHERE run = ?1 AND name = ?2")
        .bind(1, run)
        .bind(2, name)
        .bind(3, kPending)
        .bind(4, join_lines(excluded))
        .run();
  });
}

std::optional<std::string> SqliteSwarmState::answer(const std::string& agent, const std::string& request_id) {
  return within(false, [&](Session& s) -> std::optional<std::string> {
    Statement row = s.prepare("SELECT answer FROM swarm_answers WHERE agent = ?1 AND request_id = ?2");
    row.bind(1, agent).bind(2, request_id);
    if (!row.step()) return std::nullopt;
    return row.text(0);
  });
}

void SqliteSwarmState::remember_answer(const std::string& agent, const std::string& request_id,
                                       const std::string& answer) {
  within(true, [&](Session& s) {
    // An agent pulls one request at a time, so only its latest answer can be asked for again.
    s.prepare("DELETE FROM swarm_answers WHERE agent = ?1").bind(1, agent).run();
    s.prepare("INSERT INTO swarm_answers (agent, request_id, answer) VALUES (?1, ?2, ?3)")
        .bind(1, agent)
        .bind(2, request_id)
        .bind(3, answer)
        .run();
  });
}

}  // namespace tlb::server
