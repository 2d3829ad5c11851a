// `tlb balancer` over HTTP: the original TLB's alien routes (research/tlb-original.md §4b) on cpp-httplib,
// and the life of the process around them (the listening line, SIGTERM, /control/suicide, --exit-after).
#pragma once

#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "balancer/balancer.hpp"

namespace tlb::balancer {

// The largest request body read, in bytes (a million test names fit); larger ones get 413.
inline constexpr std::size_t kMaxRequestBytes = 256u << 20;

// The route a request takes, its method and path as sent (HEAD counts as GET, but never halts). Sets `halt`
// for GET /control/suicide. Never throws for any method, path, body or module.
Reply route(Balancer& balancer, std::string_view method, std::string_view path, std::string_view body,
            const std::string& module, bool& halt);

// The address could not be bound (in use, or not this machine's).
class ListenError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServeOptions {
  std::string bind = "127.0.0.1";
  int port = 8019;  // 0: a free port, chosen by the system.
  std::optional<double> exit_after_seconds;
  std::string partition;  // "k/N", for the listening line.
};

// Listens, prints `tlb balancer: listening on http://<bind>:<port> (partition k/N, history <store or none>)`
// to `out` and flushes it, then serves until SIGTERM or SIGINT, GET /control/suicide (after its response is
// sent) or --exit-after; then folds whatever reports are pending into the store. Returns the exit status: 0,
// or 1 when that last fold failed (the message goes to `err`). Throws ListenError.
int serve(Balancer& balancer, const ServeOptions& options, std::ostream& out, std::ostream& err);

}  // namespace tlb::balancer
