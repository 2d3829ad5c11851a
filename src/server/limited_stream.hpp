// One client connection as `tlb server` reads it: httplib's parser reads through a LimitedStream, which holds
// each request to a deadline (head and body together, so a client sending a byte every few seconds cannot
// keep a request thread), to a size (the head, then the body as it arrives, chunked or not) and to the
// server's budget of bytes read by all the requests under way. ClientSlots caps the connections one address
// holds.
#pragma once

#include <httplib.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

namespace tlb::server {

// Why a LimitedStream stopped reading; the status the answer gets.
enum class StreamLimit {
  none,
  deadline,  // 408: the request took longer than the deadline.
  head,      // 431: the request line and headers are larger than kMaxHeadBytes.
  body,      // 413: the body is larger than the limit.
  busy,      // 503: the requests under way already hold the server's budget of bytes.
};

inline constexpr std::size_t kMaxHeadBytes = 64 << 10;

// Bytes read by all the requests under way, against a budget shared by every connection.
class ByteBudget {
 public:
  explicit ByteBudget(std::size_t limit) : limit_(limit) {}
  // Takes `bytes`; false (and nothing taken) when that would pass the limit.
  bool take(std::size_t bytes);
  void give_back(std::size_t bytes) { used_ -= bytes; }
  std::size_t limit() const { return limit_; }

 private:
  std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

class LimitedStream : public httplib::Stream {
 public:
  struct Limits {
    std::chrono::steady_clock::duration request_time;  // Head and body of one request; the answer again.
    std::size_t body_bytes;  // Bytes on the wire after the head (chunk lines included).
  };
  // `listening` is the server's listening socket: once it is closed (the server stops), a request whose head
  // has not come whole is given up at once rather than at its deadline.
  LimitedStream(socket_t socket, Limits limits, ByteBudget& budget, const std::atomic<socket_t>& listening);
  ~LimitedStream() override;
  LimitedStream(const LimitedStream&) = delete;
  LimitedStream& operator=(const LimitedStream&) = delete;

  // Waits up to `idle` for the first byte of another request; true when one came.
  bool wait_for_request(std::chrono::steady_clock::duration idle);
  // Starts a request: its deadline and its byte counts from now; gives back the last request's bytes.
  void begin_request();
  // Ends a request: gives back its bytes to the budget.
  void end_request();
  StreamLimit limit() const { return limit_; }
  // The body was not read to its end (refused before): what is left of it must not be read as a request.
  bool head_done() const { return !in_head_; }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return socket_; }

 private:
  bool wait(short events, std::chrono::steady_clock::time_point until) const;
  void note_head(const char* data, std::size_t size);

  socket_t socket_;
  Limits limits_;
  ByteBudget& budget_;
  const std::atomic<socket_t>& listening_;
  std::array<char, 4096> buffer_{};
  std::size_t begin_ = 0, end_ = 0;
  std::chrono::steady_clock::time_point deadline_{};
  std::chrono::steady_clock::time_point write_deadline_{};
  bool writing_ = false;
  bool in_head_ = true;
  int head_newlines_ = 0;  // Line ends in a row (a '\r' before a '\n' ignored): 2 ends the head.
  std::size_t head_bytes_ = 0;
  std::size_t body_bytes_ = 0;
  std::size_t taken_ = 0;  // From the budget, for this request.
  StreamLimit limit_ = StreamLimit::none;
};

// Connections open per client address; a connection past `per_client` gets no slot.
class ClientSlots {
 public:
  explicit ClientSlots(std::size_t per_client) : per_client_(per_client) {}
  bool take(const std::string& address);
  void give_back(const std::string& address);

 private:
  std::size_t per_client_;  // 0: no cap.
  std::mutex mutex_;
  std::map<std::string, std::size_t> open_;
};

// The address a socket's peer connects from ("" when unknown).
std::string peer_address(socket_t socket);

}  // namespace tlb::server
