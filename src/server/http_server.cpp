// httplib's side of `tlb server`: the listening socket, the request threads, reading bodies, and the one-line
// answers to what httplib refuses by itself. Every request it reads goes to Server::Impl::handle.
#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "server/names.hpp"
#include "server/replies.hpp"
#include "server/server_impl.hpp"

namespace tlb::server {
namespace {

using nlohmann::ordered_json;

// httplib's server with the listening socket's backlog widened: httplib listens with a backlog of 5, which
// makes a burst of partitions connecting at once wait for SYN retries.
class HttpServer : public httplib::Server {
 public:
  void widen_backlog() {
    const auto socket = svr_sock_.load();
    if (socket != INVALID_SOCKET) ::listen(socket, SOMAXCONN);
  }
};

// Each keep-alive connection holds a thread while it is open, and writes wait on the disk, not on a core:
// with 64 threads, 100 clients at once see a quarter of the p99 latency they see with 8 (bench/server.cpp).
constexpr int kDefaultThreads = 64;

}  // namespace

struct Server::Http {
  HttpServer server;
  std::atomic<bool> stopping{false};
};

Server::Server(Database& database, ServerOptions options)
    : impl_(std::make_unique<Impl>(database, std::move(options))), http_(std::make_unique<Http>()) {
  HttpServer& http = http_->server;
  Impl* impl = impl_.get();
  http.set_payload_max_length(impl->options.max_request_bytes);
  // An idle keep-alive connection holds a request thread: let it go soon, so that a burst of partitions
  // connecting at once is not kept waiting by connections that have nothing more to ask.
  http.set_keep_alive_timeout(1);
  // Headers and body go out as separate writes: without this, Nagle's algorithm and delayed ACKs add ~40 ms.
  http.set_tcp_nodelay(true);
  // Not httplib's default, which adds SO_REUSEPORT: a second server started on the same port would bind it
  // too, and the kernel would share the clients out between two databases. SO_REUSEADDR alone lets a server
  // restart on its port while old connections linger; a port in use is an error.
  http.set_socket_options([](socket_t socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  const int threads = impl->options.threads > 0 ? impl->options.threads : kDefaultThreads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  const auto answer = [impl](const httplib::Request& request, std::string_view body,
                             httplib::Response& response) {
    Reply reply =
        impl->handle(request.method, request.target, request.get_header_value("Authorization"), body);
    response.status = reply.status;
    for (const auto& [name, value] : reply.headers) response.set_header(name, value);
    response.set_content(std::move(reply.body), reply.content_type.c_str());
  };
  const auto respond = [answer](const httplib::Request& request, httplib::Response& response) {
    answer(request, request.body, response);
  };
  // Bodies of writes are read here rather than by httplib, which would parse a form-urlencoded body (what
  // curl
  // --data sends by default) as query parameters and refuse it over 8 KiB. httplib still enforces the limit.
  const auto respond_reading = [answer](const httplib::Request& request, httplib::Response& response,
                                        const httplib::ContentReader& reader) {
    std::string body;
    const auto append = [&body](const char* data, std::size_t size) {
      body.append(data, size);
      return true;
    };
    const bool read = request.is_multipart_form_data()
                          ? reader([](const httplib::MultipartFormData&) { return true; }, append)
                          : reader(append);
    if (!read) {
      // httplib set 413 (over the limit) or 400; the error handler writes the line.
      if (response.status < 400) response.status = 400;
      return;
    }
    if (request.is_multipart_form_data()) {
      const bool api = request.target.starts_with("/api/v1");
      const std::string message = "multipart form bodies are not read here: send the text itself";
      response.status = 415;
      if (api) {
        response.set_content(dump(ordered_json{{"error", message}}), std::string(kJson).c_str());
      } else {
        response.set_content(message + "\n", std::string(kText).c_str());
      }
      return;
    }
    answer(request, body, response);
  };
  // Every path (httplib has decoded it, so it may hold a line break, which '.' does not match): the routing
  // is handle()'s, on the target as sent.
  const std::string any = "[\\s\\S]*";
  http.Get(any, respond);
  http.Post(any, respond_reading);
  http.Put(any, respond_reading);
  http.Patch(any, respond_reading);
  http.Delete(any, respond);
  http.Options(any, respond);
  // What httplib answers by itself (a body over the limit, a request it cannot parse, a method it has no
  // handler for) still gets one line.
  http.set_error_handler([impl](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;
    const bool api = request.target.starts_with("/api/v1");
    std::string message;
    switch (response.status) {
      case 413:
        message = "request body larger than the limit of " + std::to_string(impl->options.max_request_bytes) +
                  " bytes (tlb server --max-request-bytes)";
        break;
      case 404:
        message = request.method + " is not allowed here";
        response.status = 405;
        break;
      case 414:
        message = "request target too long";
        break;
      case 400: {
        // httplib has no handler for methods such as TRACE or CONNECT and calls the request bad.
        const std::string& method = request.method;
        const bool served = method == "GET" || method == "HEAD" || method == "POST" || method == "PUT" ||
                            method == "DELETE" || method == "PATCH" || method == "OPTIONS";
        const bool word = !served && !method.empty() && std::all_of(method.begin(), method.end(), [](char c) {
          return c >= 'A' && c <= 'Z';
        });
        if (word) {
          response.status = 405;
          message = method + " is not allowed here";
        } else {
          message = "bad request";
        }
        break;
      }
      default:
        message = "bad request (" + std::to_string(response.status) + ")";
        break;
    }
    if (api) {
      response.set_content(dump(ordered_json{{"error", message}}), std::string(kJson).c_str());
    } else {
      response.set_content(message + "\n", std::string(kText).c_str());
    }
  });
  http.set_exception_handler(
      [](const httplib::Request& request, httplib::Response& response, std::exception_ptr ep) {
        std::string message = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          message = one_line(e.what());
        } catch (...) {
        }
        std::cerr << "tlb server: error: " << request.method << " " << printable(request.target, 200) << ": "
                  << message << std::endl;
        response.status = 500;
        response.set_content(message + "\n", std::string(kText).c_str());
      });
}

Server::~Server() = default;

int Server::bind(const std::string& address, int port) {
  HttpServer& http = http_->server;
  int bound = -1;
  if (port == 0) {
    bound = http.bind_to_any_port(address);
  } else if (http.bind_to_port(address, port)) {
    bound = port;
  }
  if (bound <= 0) {
    throw std::runtime_error("cannot listen on " + address + ":" + std::to_string(port) +
                             " (address in use, not an address of this machine, or not allowed)");
  }
  http.widen_backlog();
  return bound;
}

void Server::serve() {
  if (http_->stopping) return;
  http_->server.listen_after_bind();
}

void Server::stop() {
  http_->stopping = true;
  http_->server.stop();
}
}  // namespace tlb::server
