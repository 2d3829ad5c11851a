#include "store/http_client.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

namespace tlb::store {

httplib::Client http_client(const std::string& origin, double timeout_seconds, const std::string& token) {
  httplib::Client client(origin);
  const auto timeout =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(timeout_seconds));
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  client.set_keep_alive(false);
  client.set_tcp_nodelay(true);
  if (!token.empty()) client.set_bearer_token_auth(token);
  return client;
}

std::string no_answer_reason(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "cannot connect (is `tlb server` running there?)";
    case httplib::Error::ConnectionTimeout:
      return "timed out connecting";
    case httplib::Error::Read:
      return "the connection broke or timed out while reading the answer";
    case httplib::Error::Write:
      return "the connection broke or timed out while sending";
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLLoadingCerts:
    case httplib::Error::SSLServerVerification:
      return "TLS failed (" + httplib::to_string(error) + ")";
    default:
      return "no answer (" + httplib::to_string(error) + ")";
  }
}

std::string refusal_reason(const httplib::Response& response) {
  std::string text;
  const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_string()) text = body["error"];
  if (text.empty()) text = response.body.substr(0, response.body.find('\n'));
  if (text.size() > 300) text = text.substr(0, 300) + "...";
  return text;
}

}  // namespace tlb::store
