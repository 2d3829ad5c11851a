#include "balancer/http_server.hpp"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <array>
#include <atomic>
#include <chrono>
#include <ctime>
#include <exception>
#include <thread>

#include "balancer/wire.hpp"

namespace tlb::balancer {
namespace {

struct Endpoint {
  std::string_view path;
  std::string_view method;
};

constexpr std::array<Endpoint, 6> kEndpoints{{
    {"/balance", "POST"},
    {"/suite_time", "POST"},
    {"/suite_result", "POST"},
    {"/control/status", "GET"},
    {"/control/suicide", "GET"},
    {"/assert_all_partitions_executed", "GET"},
}};

std::string routes_list() {
  std::string list;
  for (const Endpoint& endpoint : kEndpoints) {
    list.append(list.empty() ? "" : ", ").append(endpoint.method).append(" ").append(endpoint.path);
  }
  return list;
}

// A one-line body for the errors httplib answers itself (a malformed request, a body over the limit...).
std::string status_line(int status) {
  switch (status) {
    case 400:
      return "bad request: not HTTP/1.1 this balancer can read\n";
    case 404:  // A path with a line break (decoded from %0A), which httplib's route patterns do not match.
      return "no such route (this balancer serves " + routes_list() + ")\n";
    case 413:
      return "request body over " + std::to_string(kMaxRequestBytes >> 20) + " MiB\n";
    case 414:
      return "request URI too long\n";
    default:
      return "HTTP status " + std::to_string(status) + "\n";
  }
}

std::string url_host(const std::string& bind) {
  return bind.find(':') != std::string::npos ? "[" + bind + "]" : bind;
}

}  // namespace

Reply route(Balancer& balancer, std::string_view method, std::string_view path, std::string_view body,
            const std::string& module, bool& halt) {
  try {
    const Endpoint* endpoint = nullptr;
    for (const Endpoint& candidate : kEndpoints) {
      if (candidate.path == path) endpoint = &candidate;
    }
    if (endpoint == nullptr) {
      return Reply{404, "no such route: " + quoted_for_message(path) + " (this balancer serves " +
                            routes_list() + ")\n"};
    }
    // HEAD is GET without the body, but for the route that stops the balancer: that one takes GET only.
    const bool as_get = method == "HEAD" && path != "/control/suicide";
    if (method != endpoint->method && !(as_get && endpoint->method == "GET")) {
      // `path` is a known route's: no bytes to quote.
      return Reply{405,
                   quoted_for_message(method) + " " + std::string(path) + ": use " +
                       std::string(endpoint->method) + "\n",
                   endpoint->method == "GET" && path != "/control/suicide" ? "GET, HEAD"
                                                                           : std::string(endpoint->method)};
    }
    if (path == "/balance") return balancer.balance(body, module);
    if (path == "/suite_time") return balancer.suite_time(body);
    if (path == "/suite_result") return balancer.suite_result(body);
    if (path == "/assert_all_partitions_executed") return balancer.all_partitions_executed(module);
    // The original's exact bodies, with no line end: tlb.rb compares the status body with "RUNNING".
    if (path == "/control/status") return Reply{200, "RUNNING"};
    halt = true;
    return Reply{200, "HALTING"};
  } catch (const std::exception& e) {
    return Reply{500, quoted_for_message(std::string("internal error: ") + e.what(), 2000) + "\n"};
  }
}

int serve(Balancer& balancer, const ServeOptions& options, std::ostream& out, std::ostream& err) {
  // SIGTERM and SIGINT are taken by sigtimedwait() below, never by a handler: every thread, httplib's pool
  // included, starts with them blocked. SIGPIPE (a client gone mid-response) must not end the process.
  sigset_t stop_signals, previous;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous_pipe {};
  sigaction(SIGPIPE, &ignore, &previous_pipe);
  struct Restore {
    sigset_t mask;
    struct sigaction pipe;
    ~Restore() {
      sigaction(SIGPIPE, &pipe, nullptr);
      pthread_sigmask(SIG_SETMASK, &mask, nullptr);
    }
  } restore{previous, previous_pipe};

  httplib::Server server;
  server.set_payload_max_length(kMaxRequestBytes);
  // One request a connection, and at most a second's wait for a connection's request: stopping waits for
  // the connections being served, and an idle kept-alive one would hold the exit back for httplib's whole
  // keep-alive timeout (5 s). The protocol is a handful of requests a run; tlb.rb opens one connection each.
  server.set_keep_alive_max_count(1);
  server.set_keep_alive_timeout(1);
  server.set_tcp_nodelay(true);  // Headers and body are separate writes: no 40 ms wait for a delayed ACK.
  // Not httplib's default, which adds SO_REUSEPORT: with it, a second balancer (another partition started
  // with the same TLB_BALANCER_PORT) would bind the same port and the kernel would share the clients out
  // between the two. SO_REUSEADDR alone lets a balancer restart on its port while old connections linger.
  server.set_socket_options([](socket_t socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  std::atomic<bool> halt_requested{false};
  const auto respond = [&balancer, &halt_requested](const httplib::Request& request, const std::string& body,
                                                    httplib::Response& response) {
    std::string module = request.get_header_value("X-Tlb-Module-Name");
    if (module.empty()) module = "default-module";
    bool halt = false;
    const Reply reply = route(balancer, request.method, request.path, body, module, halt);
    response.status = reply.status;
    if (!reply.allow.empty()) response.set_header("Allow", reply.allow);
    response.set_content(reply.body, "text/plain");
    if (halt) halt_requested = true;
  };
  const auto handle = [&respond](const httplib::Request& request, httplib::Response& response) {
    respond(request, request.body, response);
  };
  // Bodies are read through a content reader: httplib's own reading refuses a body sent as
  // application/x-www-form-urlencoded over 8 KiB (a limit compiled into the library), and that is what curl
  // --data-binary and Ruby's Net::HTTP#post (tlb.rb) send by default.
  const httplib::Server::HandlerWithContentReader handle_body = [&respond](
                                                                    const httplib::Request& request,
                                                                    httplib::Response& response,
                                                                    const httplib::ContentReader& read) {
    if (request.is_multipart_form_data()) {
      response.status = 415;
      response.set_content("multipart bodies are not read: send the lines as the body (curl --data-binary)\n",
                           "text/plain");
      return;
    }
    std::string body;
    if (!read([&body](const char* data, std::size_t length) {
          body.append(data, length);
          return true;
        })) {
      response.status = response.status >= 400 ? response.status : 400;  // 413 over the limit.
      response.set_content(status_line(response.status), "text/plain");
      return;
    }
    respond(request, body, response);
  };
  // One handler for every path, so that routing (404, 405) is ours and answers one line.
  server.Get(".*", handle);
  server.Options(".*", handle);
  server.Post(".*", handle_body);
  server.Put(".*", handle_body);
  server.Patch(".*", handle_body);
  server.Delete(".*", handle_body);
  server.set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (response.body.empty()) response.set_content(status_line(response.status), "text/plain");
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
    response.status = 500;
    response.set_content("internal error\n", "text/plain");
  });

  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port(options.bind);
  } else if (!server.bind_to_port(options.bind, port)) {
    port = -1;
  }
  if (port <= 0) {
    throw ListenError("cannot listen on " + url_host(options.bind) + ":" +
                      (options.port == 0 ? std::string("(any port)") : std::to_string(options.port)) +
                      ": the port is in use, or the address is not one of this machine's");
  }
  out << "tlb balancer: listening on http://" << url_host(options.bind) << ":" << port << " (partition "
      << options.partition << ", history " << balancer.history_location() << ")" << std::endl;

  std::atomic<bool> serving_done{false};
  std::string stopped_by = "the server stopped";
  std::thread control([&] {
    const auto deadline = options.exit_after_seconds
                              ? std::optional(std::chrono::steady_clock::now() +
                                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                  std::chrono::duration<double>(*options.exit_after_seconds)))
                              : std::nullopt;
    while (!serving_done) {
      const timespec poll{0, 20'000'000};  // 20 ms.
      const int signal = sigtimedwait(&stop_signals, nullptr, &poll);
      if (signal == SIGTERM || signal == SIGINT) {
        stopped_by = signal == SIGTERM ? "SIGTERM" : "SIGINT";
        break;
      }
      if (halt_requested) {
        stopped_by = "GET /control/suicide";
        break;
      }
      if (deadline && std::chrono::steady_clock::now() >= *deadline) {
        stopped_by = "--exit-after";
        break;
      }
    }
    // Stops accepting; requests in progress finish and their responses are sent before listen returns.
    server.stop();
  });
  server.listen_after_bind();
  serving_done = true;
  control.join();

  const std::string error = balancer.flush();
  if (!error.empty()) {
    err << "tlb: error: " << error << std::endl;
    return 1;
  }
  err << "tlb balancer: stopped (" << stopped_by << ")" << std::endl;
  return 0;
}

}  // namespace tlb::balancer
