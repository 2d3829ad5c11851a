// libFuzzer target for `tlb server`'s request handling, in process: each input is one request, "METHOD
// TARGET" on its first line, then header lines up to a blank line, then the body, handed to Server::handle
// with a fresh database (SQLite in memory). Every route is reachable; whatever the request, handle must
// answer it (a status from 200 to 599, a body of its content type) and never crash, hang or leak. The token
// is "fuzz".
//
//   cmake --preset fuzz && cmake --build build/fuzz --target tlb_server_fuzzer
//   build/fuzz/tests/fuzz/tlb_server_fuzzer -max_total_time=120 -dict=tests/fuzz/server.dict
//   tests/fuzz/server-corpus
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/database.hpp"
#include "server/server.hpp"

namespace {

void check(bool condition) {
  if (!condition) __builtin_trap();
}

// The next line of `text` (without its '\n'), which is consumed.
std::string_view take_line(std::string_view& text) {
  const std::size_t end = text.find('\n');
  const std::string_view line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view request_line = take_line(input);
  const std::size_t space = request_line.find(' ');
  const std::string_view method = request_line.substr(0, space);
  const std::string_view target = space == std::string_view::npos ? "/" : request_line.substr(space + 1);
  std::string_view authorization;
  for (std::string_view line = take_line(input); !line.empty(); line = take_line(input)) {
    constexpr std::string_view kAuthorization = "Authorization: ";
    if (line.starts_with(kAuthorization)) authorization = line.substr(kAuthorization.size());
  }

  tlb::server::Database database(":memory:");
  tlb::server::ServerOptions options;
  options.token = "fuzz";
  options.tlb_version = "fuzz";
  options.today = [] { return tlb::store::Date{std::chrono::days{19'675}}; };
  options.now = [] { return std::int64_t{1'700'000'000}; };
  options.clock = [] { return 1'700'000'000.0; };
  tlb::server::Server server(database, options);
  // Twice: the second sees what the first stored (a retried write, a read of what was written).
  for (int round = 0; round < 2; ++round) {
    const tlb::server::Reply reply = server.handle(method, target, authorization, input);
    check(reply.status >= 200 && reply.status <= 599);
    check(!reply.content_type.empty());
  }
  server.tick();
  return 0;
}
