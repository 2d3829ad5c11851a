// What every route answers with: a Reply of the path's kind (JSON under /api/v1, text on the original's
// paths, HTML on the dashboard), and a Refusal thrown anywhere in a route that becomes a 4xx with one line.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "server/server.hpp"

namespace tlb::server {

inline constexpr std::string_view kText = "text/plain; charset=utf-8";
inline constexpr std::string_view kJson = "application/json";
inline constexpr std::string_view kHtml = "text/html; charset=utf-8";

// A request the server refuses: the status and one line. Turned into the body of the path's kind.
struct Refusal {
  int status;
  std::string message;
  std::string allow = {};  // The Allow header of a 405.
};

[[noreturn]] void refuse(int status, std::string message);

// `text` on one line (a message from a library may hold line breaks).
std::string one_line(std::string text);

std::string dump(const nlohmann::ordered_json& document);
Reply json_reply(int status, const nlohmann::ordered_json& document);
Reply text_reply(int status, std::string body);
// A 200 whose body is shared with other readers (read_cache.hpp).
Reply shared_reply(std::string_view content_type, std::shared_ptr<const std::string> body);

// The dashboard's pages fetch nothing and run no script (inline CSS and SVG only); the policy holds them to
// it, so that a name that slipped through escaping could still not run.
Reply html_reply(int status, std::string body);

}  // namespace tlb::server
