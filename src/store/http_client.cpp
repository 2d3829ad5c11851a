#include "store/http_client.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

namespace tlb::store {

ServerUrl parse_server_url(const std::string& url) {
  if (!is_server_url(url)) throw UnsupportedStore("not a server URL (http:// or https://)");
  ServerUrl parsed;
  parsed.url = url;
  const std::size_t host_start = url.find("://") + 3;
  while (parsed.url.size() > host_start && parsed.url.ends_with('/')) parsed.url.pop_back();
  if (parsed.url.find_first_of("?#", host_start) != std::string::npos)
    throw UnsupportedStore("a server URL has no query or fragment");
  const std::size_t path_start = parsed.url.find('/', host_start);
  parsed.origin = parsed.url.substr(0, path_start);
  if (parsed.origin.size() == host_start) throw UnsupportedStore("no host in the URL");
  if (path_start != std::string::npos) parsed.prefix = parsed.url.substr(path_start);
  return parsed;
}

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
