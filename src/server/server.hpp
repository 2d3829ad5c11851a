// `tlb server`'s HTTP side: the JSON API of tlb's own client (/api/v1/...) and the original TLB server's
// text API, over one Database. Routes, status codes and bodies: spec/server-spec.md; the original's formats:
// original.hpp. GET / is a read-only dashboard in HTML (dashboard.hpp) for browsers and curl alike, one
// representation per URL; GET /api/v1/routes lists the routes as text.
//
// Every request is answered, whatever it holds: a bad one with a 4xx and one line (text/plain on the
// original paths, {"error": "..."} on /api/v1), a failure inside with 500 and one line; nothing a client
// sends can stop the server. Each write request is one database transaction, committed before the answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/database.hpp"
#include "store/store.hpp"
#include "swarm/coordinator.hpp"

namespace tlb::server {

struct ServerOptions {
  std::optional<std::string> token;          // Writes (POST, PUT) need "Authorization: Bearer <token>".
  std::size_t max_request_bytes = 64 << 20;  // Larger bodies get 413.
  int request_timeout_seconds = 30;          // A request's head and body, and again its answer; else 408.
  int max_client_connections = 32;  // Connections open at once from one address (more get 503); 0 any.
  std::size_t max_jobs = 1000;      // Jobs the server holds; a write adding one past it gets 403; 0 any.
  int version_life_days = 7;        // Versions first seen longer ago are purged; -1 never.
  int threads = 0;                  // Request threads; 0: 64.
  std::string tlb_version;          // What /api/v1/status reports.
  // Every answer says how many stored records the request parsed (X-TLB-Records-Parsed), for tests.
  bool count_parses = false;
  std::function<store::Date()> today;  // The original API's last-seen date; default UTC today.
  std::function<std::int64_t()> now;   // Unix seconds, for version ages; default the database's clock.
  swarm::Settings swarm;               // The swarm coordinator's heartbeat, lease and rules.
  std::function<double()> clock;  // Seconds, for the swarm's leases; default the database's (Database::now).
};

// One answer, before HTTP.
struct Reply {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The body instead, when it is shared with other readers (a cached read): sent from there, not copied.
  std::shared_ptr<const std::string> shared_body = nullptr;
};

class Server {
 public:
  Server(Database& database, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds address:port (port 0: a free one) and returns the port. Throws std::runtime_error naming the
  // address when it cannot.
  int bind(const std::string& address, int port);

  // Serves until stop(); returns once the requests under way are answered.
  void serve();

  // Asks serve() to return. Thread-safe; one that comes before serve() is listening has no effect, so a
  // caller that must stop the server calls it until serve() has returned.
  void stop();

  // Takes back the swarm tests of agents gone silent (every request does it too; call it every second or so).
  void tick();

  // Purges the versions first seen more than version_life_days ago (nothing when it is -1); returns how many.
  std::size_t purge();

  // What serve() answers to one request (`target` as sent: path and query, percent-encoded). Never throws.
  Reply handle(std::string_view method, std::string_view target, std::string_view authorization,
               std::string_view body);

 private:
  struct Impl;  // The routes (server_impl.hpp).
  struct Http;  // httplib's server (http_server.cpp); destroyed first, as its threads call impl_.
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<Http> http_;
};

}  // namespace tlb::server
