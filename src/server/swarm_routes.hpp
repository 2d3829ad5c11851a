// The swarm's HTTP side (docs/swarm-protocol.md): JSON in, the coordinator's operations, JSON out. The server
// routes /api/v1/swarm/... here. When a run completes, its durations, normalised by each agent's speed, go
// into the job's live history, so a slow agent does not make its tests look slow to the next split.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "server/database.hpp"
#include "store/file_store.hpp"
#include "swarm/coordinator.hpp"

namespace tlb::server {

struct Reply;

class SwarmRoutes {
 public:
  // `snapshot(job, version)` is the version's frozen history (frozen on first read), as partitions split on;
  // `today` dates the history entries a finished run writes.
  SwarmRoutes(Database& database, swarm::Settings settings, std::function<double()> clock,
              std::function<store::Timings(const std::string&, const std::string&)> snapshot,
              std::function<store::Date()> today);
  ~SwarmRoutes();

  Reply submit(std::string_view body);
  Reply progress(const std::string& run);
  Reply results(const std::string& run);
  Reply enroll(std::string_view body);
  // Every call of an agent carries its "secret" in the body (401 without, 403 with another agent's).
  Reply heartbeat(const std::string& agent, std::string_view body);
  Reply pull(const std::string& agent, std::string_view body);
  Reply report(const std::string& agent, std::string_view body);
  Reply leave(const std::string& agent, std::string_view body);

  // Takes back the tests of silent agents; the server calls it every heartbeat interval.
  void tick();
  const swarm::Settings& settings() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tlb::server
