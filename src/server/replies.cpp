#include "server/replies.hpp"

#include <algorithm>
#include <utility>

namespace tlb::server {

using nlohmann::ordered_json;

[[noreturn]] void refuse(int status, std::string message) {
  throw Refusal{status, std::move(message)};
}

// `text` on one line (a message from a library may hold line breaks).
std::string one_line(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return text;
}

std::string dump(const ordered_json& document) {
  return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Reply json_reply(int status, const ordered_json& document) {
  return Reply{status, std::string(kJson), dump(document), {}};
}

Reply text_reply(int status, std::string body) {
  return Reply{status, std::string(kText), std::move(body), {}};
}

Reply shared_reply(std::string_view content_type, std::shared_ptr<const std::string> body) {
  Reply reply{200, std::string(content_type), {}, {}};
  reply.shared_body = std::move(body);
  return reply;
}

Reply html_reply(int status, std::string body) {
  Reply reply{status, std::string(kHtml), std::move(body), {}};
  reply.headers.emplace_back("Content-Security-Policy",
                             "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
  return reply;
}

}  // namespace tlb::server
