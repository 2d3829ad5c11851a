#include "server/request_limits.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "server/replies.hpp"

namespace tlb::server {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

}  // namespace

Target parse_target(std::string_view target) {
  Target parsed;
  const std::size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);
  parsed.api = path == "/api/v1" || path.starts_with("/api/v1/");
  if (path.empty() || path.front() != '/') refuse(400, "the request target is not a path");
  path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    auto segment = percent_decode(path.substr(0, slash));
    if (!segment) refuse(400, "malformed percent-escape in the path");
    parsed.segments.push_back(std::move(*segment));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty()) parsed.segments.emplace_back();  // "a//": the empty name is kept, and refused.
  }
  for (std::string_view rest = query; !rest.empty();) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? "" : rest.substr(amp + 1);
    const std::size_t equals = pair.find('=');
    auto name = percent_decode(pair.substr(0, equals));
    auto value = percent_decode(equals == std::string_view::npos ? "" : pair.substr(equals + 1));
    if (!name || !value) refuse(400, "malformed percent-escape in the query");
    parsed.query.emplace(std::move(*name), std::move(*value));
  }
  return parsed;
}

void check_json_depth(std::string_view body) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        refuse(400, "request body nests JSON deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

void check_test_count(std::size_t count, std::string_view what) {
  if (count <= kMaxTestsPerPost) return;
  refuse(400, std::string(what) + " holds " + std::to_string(count) + " tests; one post holds at most " +
                  std::to_string(kMaxTestsPerPost));
}

std::optional<std::string> check_duration(double seconds, std::string_view what) {
  if (std::isfinite(seconds) && seconds >= 0 && seconds <= kMaxDurationSeconds) return std::nullopt;
  return std::string(what) + ": duration " + std::to_string(seconds) + " s is not from 0 to " +
         std::to_string(static_cast<long long>(kMaxDurationSeconds)) + " s (30 days)";
}

void check_token(const std::optional<std::string>& token, std::string_view authorization) {
  if (!token) return;
  // The scheme's name is case-insensitive (RFC 9110 11.1): "bearer" and "BEARER" are "Bearer".
  constexpr std::string_view kBearer = "bearer ";
  const bool bearer =
      authorization.size() >= kBearer.size() &&
      std::equal(kBearer.begin(), kBearer.end(), authorization.begin(), [](char want, char got) {
        return want == (got >= 'A' && got <= 'Z' ? static_cast<char>(got - 'A' + 'a') : got);
      });
  if (!bearer) refuse(401, "a token is required for writes: send Authorization: Bearer <TLB_TOKEN>");
  const std::string_view given = authorization.substr(kBearer.size());
  const std::string& expected = *token;
  // Compared in time that does not depend on where they differ.
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    difference |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  }
  if (difference != 0) refuse(401, "wrong token");
}

bool has_token(const std::optional<std::string>& token, std::string_view authorization) {
  try {
    check_token(token, authorization);
    return true;
  } catch (const Refusal&) {
    return false;
  }
}

}  // namespace tlb::server
