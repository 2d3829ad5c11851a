// What every client of a `tlb server` does alike (the HTTP store, `tlb agent`, `tlb swarm run`, `tlb run
// --queue`): how it connects, why a request got no answer, and the server's reason for a refusal.
#pragma once

#include <httplib.h>

#include <string>

namespace tlb::store {

// A client of `origin` (scheme://host:port): one connection per request, `timeout_seconds` for connecting and
// for each read and write (a server never hangs a run), and `token` as a bearer token ("" for none).
httplib::Client http_client(const std::string& origin, double timeout_seconds, const std::string& token);

// Why a request got no answer, in words: "cannot connect (is `tlb server` running there?)".
std::string no_answer_reason(httplib::Error error);

// The server's one-line reason for a refusal: its {"error": "..."}, else the body's first line (at most 300
// characters); "" for an empty body.
std::string refusal_reason(const httplib::Response& response);

}  // namespace tlb::store
