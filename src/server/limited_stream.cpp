#include "server/limited_stream.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace tlb::server {
namespace {

using Clock = std::chrono::steady_clock;

std::string numeric_host(const sockaddr_storage& address, socklen_t length, int& port) {
  char host[NI_MAXHOST] = "";
  char service[NI_MAXSERV] = "";
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof host, service,
                  sizeof service, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    port = 0;
    return "";
  }
  port = std::atoi(service);
  return host;
}

// The numeric address of one end of a socket (getpeername or getsockname); "" when unknown.
std::string socket_address(socket_t socket, int (*get)(int, sockaddr*, socklen_t*), int& port) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  port = 0;
  if (get(socket, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "";
  return numeric_host(address, length, port);
}

}  // namespace

bool ByteBudget::take(std::size_t bytes) {
  std::size_t used = used_.load();
  do {
    if (used + bytes > limit_) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes));
  return true;
}

LimitedStream::LimitedStream(socket_t socket, Limits limits, ByteBudget& budget,
                             const std::atomic<socket_t>& listening)
    : socket_(socket), limits_(limits), budget_(budget), listening_(listening) {}

LimitedStream::~LimitedStream() {
  end_request();
}

bool LimitedStream::wait(short events, Clock::time_point until) const {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return false;
    pollfd waiting{socket_, events, 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
    if (in_head_ && listening_ == INVALID_SOCKET) return false;
  }
}

bool LimitedStream::wait_for_request(Clock::duration idle) {
  return begin_ != end_ || wait(POLLIN, Clock::now() + idle);
}

void LimitedStream::begin_request() {
  end_request();
  deadline_ = Clock::now() + limits_.request_time;
  writing_ = false;
  in_head_ = true;
  head_newlines_ = 0;
  head_bytes_ = 0;
  body_bytes_ = 0;
  limit_ = StreamLimit::none;
}

void LimitedStream::end_request() {
  budget_.give_back(taken_);
  taken_ = 0;
}

// Counts the bytes handed to the parser: the head's up to its blank line, the body's after it.
void LimitedStream::note_head(const char* data, std::size_t size) {
  std::size_t i = 0;
  for (; i < size && in_head_; ++i) {
    ++head_bytes_;
    if (data[i] == '\n') {
      in_head_ = ++head_newlines_ < 2;
    } else if (data[i] != '\r') {
      head_newlines_ = 0;
    }
  }
  body_bytes_ += size - i;
  if (head_bytes_ > kMaxHeadBytes) limit_ = StreamLimit::head;
  if (body_bytes_ > limits_.body_bytes) limit_ = StreamLimit::body;
}

bool LimitedStream::is_readable() const {
  return begin_ != end_ || wait(POLLIN, deadline_);
}

bool LimitedStream::is_writable() const {
  return wait(POLLOUT, writing_ ? write_deadline_ : Clock::now() + limits_.request_time);
}

ssize_t LimitedStream::read(char* ptr, size_t size) {
  if (limit_ != StreamLimit::none) return -1;
  if (begin_ == end_) {
    if (!wait(POLLIN, deadline_)) {
      limit_ = StreamLimit::deadline;
      return -1;
    }
    ssize_t received = 0;
    do {
      received = ::recv(socket_, buffer_.data(), buffer_.size(), 0);
    } while (received < 0 && errno == EINTR);
    if (received <= 0) return received;
    begin_ = 0;
    end_ = static_cast<std::size_t>(received);
  }
  const std::size_t n = std::min(size, end_ - begin_);
  if (!budget_.take(n)) {
    limit_ = StreamLimit::busy;
    return -1;
  }
  taken_ += n;
  std::copy_n(buffer_.data() + begin_, n, ptr);
  begin_ += n;
  note_head(ptr, n);
  if (limit_ != StreamLimit::none) return -1;
  return static_cast<ssize_t>(n);
}

ssize_t LimitedStream::write(const char* ptr, size_t size) {
  if (!writing_) {
    // The answer gets its own deadline: a client that reads it slowly lets the thread go then.
    writing_ = true;
    write_deadline_ = Clock::now() + limits_.request_time;
  }
  if (!wait(POLLOUT, write_deadline_)) return -1;
  ssize_t sent = 0;
  do {
    sent = ::send(socket_, ptr, size, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  return sent;
}

void LimitedStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = socket_address(socket_, ::getpeername, port);
}

void LimitedStream::get_local_ip_and_port(std::string& ip, int& port) const {
  ip = socket_address(socket_, ::getsockname, port);
}

std::string peer_address(socket_t socket) {
  int port = 0;
  return socket_address(socket, ::getpeername, port);
}

bool ClientSlots::take(const std::string& address) {
  std::lock_guard lock(mutex_);
  std::size_t& open = open_[address];
  if (per_client_ > 0 && open >= per_client_) {
    if (open == 0) open_.erase(address);
    return false;
  }
  ++open;
  return true;
}

void ClientSlots::give_back(const std::string& address) {
  std::lock_guard lock(mutex_);
  const auto it = open_.find(address);
  if (it != open_.end() && --it->second == 0) open_.erase(it);
}

}  // namespace tlb::server
