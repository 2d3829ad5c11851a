// What every client of a `tlb server` does alike (the HTTP store, `tlb agent`, `tlb swarm run`, `tlb run
// --queue`): where the server is, how it connects, why a request got no answer, and the server's reason for a
// refusal.
#pragma once

#include <httplib.h>

#include <string>

#include "store/store.hpp"

namespace tlb::store {

// A server URL taken apart for httplib, which connects to an origin and sends paths.
struct ServerUrl {
  std::string url;     // As given, without a trailing '/': for messages and records.
  std::string origin;  // scheme://host[:port]
  std::string prefix;  // The path the server lives under ("" at the root).
};

// `url` is "http://host[:port][/prefix]" or "https://...". Throws UnsupportedStore with the reason alone
// ("no host in the URL"), for the caller to say where the URL came from.
ServerUrl parse_server_url(const std::string& url);

// A client of `origin` (scheme://host:port): one connection per request, `timeout_seconds` for connecting and
// for each read and write (a server never hangs a run), and `token` as a bearer token ("" for none).
httplib::Client http_client(const std::string& origin, double timeout_seconds, const std::string& token);

// Why a request got no answer, in words: "cannot connect (is `tlb server` running there?)".
std::string no_answer_reason(httplib::Error error);

// The server's one-line reason for a refusal: its {"error": "..."}, else the body's first line (at most 300
// characters); "" for an empty body.
std::string refusal_reason(const httplib::Response& response);

}  // namespace tlb::store
