// The swarm coordinator's state (swarm/state.hpp) on the server's SQLite database: every transition is one
// transaction, or a part of the one of atomically() that the coordinator runs each operation in, committed
// (durably) before it returns, so a coordinator that restarts, or another server's on the same database,
// finds its runs, leases and agents as they were. The tables are the swarm_* ones of database.hpp.
#pragma once

#include "server/database.hpp"
#include "swarm/state.hpp"

namespace tlb::server {

class SqliteSwarmState final : public swarm::SwarmState {
 public:
  explicit SqliteSwarmState(Database& database) : database_(database) {}

  // One write transaction (BEGIN IMMEDIATE: across processes too) around the whole of `work`; the calls
  // `work` makes on this state, on this thread, run in it.
  void atomically(const std::function<void()>& work) override;

  std::optional<swarm::RunRow> find_run(const std::string& job, const std::string& version) override;
  std::optional<swarm::RunRow> run(swarm::RunId id) override;
  std::vector<swarm::RunRow> open_runs() override;
  swarm::RunId create_run(const swarm::RunRow& run, const std::vector<swarm::TestRow>& tests) override;
  bool finish_run(swarm::RunId id, double at) override;
  std::vector<swarm::TestRow> tests(swarm::RunId id) override;
  std::vector<swarm::TestRow> pending(swarm::RunId id) override;
  std::size_t unsettled(swarm::RunId id) override;
  std::optional<swarm::TestRow> test(swarm::RunId id, const std::string& name) override;

  std::optional<swarm::AgentRow> agent(const std::string& id) override;
  std::optional<swarm::AgentRow> agent_by_key(const std::string& key) override;
  std::vector<swarm::AgentRow> agents() override;
  std::string put_agent(swarm::AgentRow agent) override;
  void touch(const std::string& agent, double now, double deadline) override;

  std::vector<Reservation> reserve(swarm::RunId run, const std::string& agent,
                                   const std::vector<std::pair<std::string, double>>& names_and_ends,
                                   double deadline) override;
  std::vector<Held> expired(double now) override;
  std::vector<Held> held_by(const std::string& agent) override;
  std::vector<Held> held(swarm::RunId run) override;
  std::vector<std::string> agents_of(swarm::RunId run) override;
  std::optional<Held> lease(swarm::Lease lease) override;
  bool take_back(swarm::RunId run, const std::string& name, swarm::Lease lease, const std::string& agent,
                 bool lost) override;
  bool add_result(swarm::RunId run, const swarm::ResultRow& result) override;
  std::optional<swarm::ResultRow> result_of(swarm::RunId run, swarm::Lease lease) override;
  std::vector<swarm::ResultRow> results(swarm::RunId run) override;
  std::vector<swarm::ResultRow> results(swarm::RunId run, const std::string& name) override;
  std::vector<swarm::ResultRow> results_of_agent(const std::string& agent) override;
  bool ask_check(swarm::RunId run, const std::string& name, swarm::Lease lease,
                 const std::vector<std::string>& excluded) override;
  bool settle(swarm::RunId run, const std::string& name, swarm::Lease lease, swarm::Status status,
              double seconds, const std::string& agent, bool flaky) override;
  void reopen(swarm::RunId run, const std::string& name, const std::string& excluded_agent) override;

  std::optional<std::string> answer(const std::string& agent, const std::string& request_id) override;
  void remember_answer(const std::string& agent, const std::string& request_id,
                       const std::string& answer) override;

 private:
  // `work(session)` in the transaction of atomically() when this thread is inside one, else in its own.
  template <class Work>
  auto within(bool write, Work&& work);

  Database& database_;
};

}  // namespace tlb::server
