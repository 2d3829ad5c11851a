// httplib's side of `tlb server`: the listening socket, the request threads, reading bodies, and the one-line
// answers to what httplib refuses by itself. Every request it reads goes to Server::Impl::handle.
#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <exception>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <utility>

#include "server/limited_stream.hpp"
#include "server/names.hpp"
#include "server/replies.hpp"
#include "server/request_limits.hpp"
#include "server/run_ledger.hpp"
#include "server/server_impl.hpp"

namespace tlb::server {
namespace {

using nlohmann::ordered_json;

// What the thread serving a connection knows beyond httplib's request: the stream (why it stopped reading)
// and whether what is left of the request (a body refused before it was read) forbids reading another.
struct Connection {
  LimitedStream* stream = nullptr;
  bool close = false;
};
thread_local Connection* current_connection = nullptr;

void close_after_answer() {
  if (current_connection) current_connection->close = true;
}

// Why the stream stopped reading, as a status and a line (nullopt: it did not stop).
std::optional<std::pair<int, std::string>> stream_refusal(const ServerOptions& options) {
  if (!current_connection || !current_connection->stream) return std::nullopt;
  switch (current_connection->stream->limit()) {
    case StreamLimit::none:
      return std::nullopt;
    case StreamLimit::deadline:
      return std::pair{408, "request not received within " + std::to_string(options.request_timeout_seconds) +
                                " s (tlb server --request-timeout)"};
    case StreamLimit::head:
      return std::pair{431,
                       "request line and headers larger than " + std::to_string(kMaxHeadBytes) + " bytes"};
    case StreamLimit::body:
      break;
    case StreamLimit::busy:
      return std::pair{503, std::string("the server is reading too many request bodies at once; retry")};
  }
  return std::pair{413, "request body larger than the limit of " + std::to_string(options.max_request_bytes) +
                            " bytes (tlb server --max-request-bytes)"};
}

// A refusal from httplib's side, in the body of the path's kind; the connection closes after it.
void set_refusal(const httplib::Request& request, httplib::Response& response, int status,
                 const std::string& message) {
  response.status = status;
  response.set_header("Connection", "close");
  if (status == 503) response.set_header("Retry-After", "1");
  if (request.target.starts_with("/api/v1")) {
    response.set_content(dump(ordered_json{{"error", one_line(message)}}), std::string(kJson).c_str());
  } else {
    response.set_content(one_line(message) + "\n", std::string(kText).c_str());
  }
  close_after_answer();
}

bool ascii_iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// What is wrong with how the request frames or encodes its body, before any of it is read; nullopt when
// nothing. One Content-Length (decimal digits, the same if repeated) or chunked, never both; no compression.
std::optional<std::pair<int, std::string>> framing_problem(const httplib::Request& request) {
  const std::size_t lengths = request.get_header_value_count("Content-Length");
  const std::string first = request.get_header_value("Content-Length");
  for (std::size_t i = 0; i < lengths; ++i) {
    const std::string value = request.get_header_value("Content-Length", i);
    const bool decimal = !value.empty() && value.size() <= 18 &&
                         std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!decimal)
      return std::pair{400, "Content-Length '" + printable(value, 40) + "' is not a decimal length"};
    if (value != first) return std::pair{400, std::string("conflicting Content-Length headers")};
  }
  if (request.has_header("Transfer-Encoding")) {
    if (lengths > 0) return std::pair{400, std::string("both Content-Length and Transfer-Encoding")};
    if (request.get_header_value_count("Transfer-Encoding") > 1 ||
        !ascii_iequal(request.get_header_value("Transfer-Encoding"), "chunked")) {
      return std::pair{501, std::string("only the chunked transfer coding is read")};
    }
  }
  for (std::size_t i = 0; i < request.get_header_value_count("Content-Encoding"); ++i) {
    if (!ascii_iequal(request.get_header_value("Content-Encoding", i), "identity")) {
      return std::pair{415, std::string("compressed request bodies are not read: send the body as it is")};
    }
  }
  const bool body = request.has_header("Transfer-Encoding") || (lengths > 0 && first != "0");
  const std::string& method = request.method;
  if (body && (method == "GET" || method == "HEAD" || method == "OPTIONS")) {
    return std::pair{400, method + " requests have no body"};
  }
  return std::nullopt;
}

// What the requests under way may have read in all: four of the largest, and no less than 64 MiB. Holding a
// body costs about twice its size while it is read, and a JSON body parsed about ten times more (README,
// "Running a server safely").
std::size_t buffered_bytes(const ServerOptions& options) {
  const std::size_t largest = options.max_request_bytes + options.max_request_bytes / 4 + kMaxHeadBytes;
  return std::max<std::size_t>(4 * largest, std::size_t{64} << 20);
}

// httplib's server with the listening socket's backlog widened (httplib listens with a backlog of 5, which
// makes a burst of partitions connecting at once wait for SYN retries), and each connection read through a
// LimitedStream: a deadline per request, its size counted as it arrives, a cap on connections per address.
class HttpServer : public httplib::Server {
 public:
  explicit HttpServer(const ServerOptions& options)
      : limits_{std::chrono::seconds(options.request_timeout_seconds),
                options.max_request_bytes + options.max_request_bytes / 4 + kMaxHeadBytes},
        budget_(buffered_bytes(options)),
        slots_(static_cast<std::size_t>(std::max(0, options.max_client_connections))),
        options_(options) {}

  void widen_backlog() {
    const auto socket = svr_sock_.load();
    if (socket != INVALID_SOCKET) ::listen(socket, SOMAXCONN);
  }

 protected:
  bool process_and_close_socket(socket_t socket) override {
    const std::string client = peer_address(socket);
    if (slots_.take(client)) {
      if (serve_connection(socket)) linger(socket);
      slots_.give_back(client);
    } else {
      refuse_connection(socket);
    }
    ::shutdown(socket, SHUT_RDWR);
    ::close(socket);
    return true;
  }

 private:
  // httplib's keep-alive loop, with the stream's limits; a request that stopped the stream, or left part of
  // its body unread, ends the connection. True when it ended so.
  bool serve_connection(socket_t socket) {
    LimitedStream stream(socket, limits_, budget_, svr_sock_);
    Connection connection{&stream, false};
    current_connection = &connection;
    for (std::size_t count = keep_alive_max_count_; count > 0 && svr_sock_ != INVALID_SOCKET; --count) {
      if (!stream.wait_for_request(std::chrono::seconds(keep_alive_timeout_sec_))) break;
      stream.begin_request();
      bool closed = false;
      const bool served = process_request(stream, count == 1, closed, nullptr);
      if (!served || closed || connection.close || stream.limit() != StreamLimit::none) break;
    }
    stream.end_request();
    current_connection = nullptr;
    return connection.close || stream.limit() != StreamLimit::none;
  }

  // A refused body may still be on its way: stop sending, and drop a little of it before closing, so that
  // the client reads the answer rather than a reset.
  static void linger(socket_t socket) {
    ::shutdown(socket, SHUT_WR);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
    std::size_t dropped = 0;
    char buffer[16384];
    while (dropped < (std::size_t{1} << 20)) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      pollfd waiting{socket, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&waiting, 1, static_cast<int>(left.count())) <= 0) break;
      const ssize_t n = ::recv(socket, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      dropped += static_cast<std::size_t>(n);
    }
  }

  void refuse_connection(socket_t socket) const {
    const std::string body = "too many connections from this address (tlb server --max-client-connections " +
                             std::to_string(options_.max_client_connections) + ")\n";
    const std::string answer =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
        std::to_string(body.size()) +
        "\r\nRetry-After: 1\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n" + body;
    [[maybe_unused]] const ssize_t sent =
        ::send(socket, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }

  LimitedStream::Limits limits_;
  ByteBudget budget_;
  ClientSlots slots_;
  const ServerOptions& options_;
};

// Each keep-alive connection holds a thread while it is open, and writes wait on the disk, not on a core:
// with 64 threads, 100 clients at once see a quarter of the p99 latency they see with 8 (bench/server.cpp).
constexpr int kDefaultThreads = 64;

// Reads a write's body as it arrives, up to the limit (chunked or not). False, with the refusal set, when
// it cannot.
bool read_body(const httplib::Request& request, httplib::Response& response,
               const httplib::ContentReader& reader, const ServerOptions& options, std::string& body) {
  const std::size_t limit = options.max_request_bytes;
  if (request.has_header("Content-Length")) {
    body.reserve(std::min<std::size_t>(limit, std::stoull(request.get_header_value("Content-Length"))));
  }
  bool too_large = false;
  const auto append = [&](const char* data, std::size_t size) {
    if (size > limit - body.size()) {
      too_large = true;
      return false;
    }
    body.append(data, size);
    return true;
  };
  const bool read = request.is_multipart_form_data()
                        ? reader([](const httplib::MultipartFormData&) { return true; }, append)
                        : reader(append);
  if (read) return true;
  if (auto refusal = stream_refusal(options)) {
    set_refusal(request, response, refusal->first, refusal->second);
  } else if (too_large || response.status == 413) {
    set_refusal(request, response, 413,
                "request body larger than the limit of " + std::to_string(limit) +
                    " bytes (tlb server --max-request-bytes)");
  } else {
    set_refusal(request, response, 400, "the request body could not be read");
  }
  return false;
}

}  // namespace

struct Server::Http {
  explicit Http(const ServerOptions& options) : server(options) {}
  HttpServer server;
  std::atomic<bool> stopping{false};
};

Server::Server(Database& database, ServerOptions options)
    : impl_(std::make_unique<Impl>(database, std::move(options))),
      http_(std::make_unique<Http>(impl_->options)) {
  HttpServer& http = http_->server;
  Impl* impl = impl_.get();
  http.set_payload_max_length(impl->options.max_request_bytes);
  // An idle keep-alive connection holds a request thread: let it go soon, so that a burst of partitions
  // connecting at once is not kept waiting by connections that have nothing more to ask.
  http.set_keep_alive_timeout(1);
  // Headers and body go out as separate writes: without this, Nagle's algorithm and delayed ACKs add ~40 ms.
  http.set_tcp_nodelay(true);
  // No answer is to be sniffed as another type than it says (a name in a text/plain body is not HTML).
  http.set_default_headers({{"X-Content-Type-Options", "nosniff"}});
  // Not httplib's default, which adds SO_REUSEPORT: a second server started on the same port would bind it
  // too, and the kernel would share the clients out between two databases. SO_REUSEADDR alone lets a server
  // restart on its port while old connections linger; a port in use is an error.
  http.set_socket_options([](socket_t socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  const int threads = impl->options.threads > 0 ? impl->options.threads : kDefaultThreads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  // Before any of a body is read: how it is framed, and the token of a write.
  http.set_pre_routing_handler([impl](const httplib::Request& request, httplib::Response& response) {
    if (auto problem = framing_problem(request)) {
      set_refusal(request, response, problem->first, problem->second);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (request.method == "POST" || request.method == "PUT") {
      try {
        check_token(impl->options.token, request.get_header_value("Authorization"));
      } catch (const Refusal& refusal) {
        set_refusal(request, response, refusal.status, refusal.message);
        response.set_header("WWW-Authenticate", "Bearer");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  const auto answer = [impl](const httplib::Request& request, std::string_view body,
                             httplib::Response& response) {
    Reply reply =
        impl->handle(request.method, request.target, request.get_header_value("Authorization"), body);
    response.status = reply.status;
    for (const auto& [name, value] : reply.headers) response.set_header(name, value);
    if (impl->options.count_parses)
      response.set_header("X-TLB-Records-Parsed", std::to_string(parse_count()));
    if (!reply.shared_body || reply.shared_body->empty()) {  // httplib's provider of 0 bytes crashes it.
      response.set_content(std::move(reply.body), reply.content_type.c_str());
      return;
    }
    // A body shared with other readers (read_cache.hpp) is written from where it is, 64 KiB at a time.
    const std::size_t size = reply.shared_body->size();
    response.set_content_provider(size, reply.content_type,
                                  [shared = std::move(reply.shared_body)](
                                      std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                                    return sink.write(shared->data() + offset,
                                                      std::min<std::size_t>(length, std::size_t{64} << 10));
                                  });
  };
  const auto respond = [answer](const httplib::Request& request, httplib::Response& response) {
    answer(request, request.body, response);
  };
  // Bodies of writes are read here rather than by httplib, which would parse a form-urlencoded body (what
  // curl --data sends by default) as query parameters and refuse it over 8 KiB.
  const auto respond_reading = [answer, impl](const httplib::Request& request, httplib::Response& response,
                                              const httplib::ContentReader& reader) {
    std::string body;
    if (!read_body(request, response, reader, impl->options, body)) return;
    if (request.is_multipart_form_data()) {
      set_refusal(request, response, 415, "multipart form bodies are not read here: send the text itself");
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
    if (auto refusal = stream_refusal(impl->options)) {
      set_refusal(request, response, refusal->first, refusal->second);
      return;
    }
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
    if (request.target.starts_with("/api/v1")) {
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
