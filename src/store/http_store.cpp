#include "store/http_store.hpp"

#include <httplib.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "io/record.hpp"
#include "io/text.hpp"
#include "store/http_client.hpp"

namespace tlb::store {
namespace {

using nlohmann::json;

// A job name or version as the server accepts it in a path: 1..128 of [A-Za-z0-9._-], starting with a letter
// or digit. Checked here too, so a bad value is named before anything is sent.
bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > 128) return false;
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(key.front())) return false;
  for (char c : key) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

// "HTTP 409: <the server's reason>".
std::string refusal(const httplib::Response& response) {
  const std::string reason = refusal_reason(response);
  return "HTTP " + std::to_string(response.status) + (reason.empty() ? "" : ": " + reason);
}

std::string outcome_name(Outcome outcome) {
  return std::string(to_string(outcome));
}

class HttpStore final : public Store, public RunLedger {
 public:
  HttpStore(std::string url, std::string origin, std::string prefix, const HistoryPolicy& policy,
            ServerOptions options)
      : url_(std::move(url)),
        origin_(std::move(origin)),
        prefix_(std::move(prefix)),
        policy_(policy),
        options_(std::move(options)) {}

  const std::string& location() const override { return url_; }

  LoadedHistory load() override {
    LoadedHistory loaded;
    loaded.source = url_;
    const std::string path = job_path() + (options_.job_version.empty() ? "" : version_path()) + "/history";
    const httplib::Result result = get(path);
    if (!result) {
      loaded.status = HistoryStatus::unavailable;
      loaded.warning = url_ + ": " + no_answer_reason(result.error());
      return loaded;
    }
    if (result->status != 200) {
      loaded.status = HistoryStatus::unavailable;
      loaded.warning = url_ + path + ": " + refusal(*result);
      return loaded;
    }
    try {
      loaded.history = parse_history(result->body);
    } catch (const std::exception& error) {
      loaded.status = HistoryStatus::corrupt;
      loaded.warning = url_ + path + ": not a tlb history (" + error.what() + ")";
      return loaded;
    }
    loaded.status = HistoryStatus::ok;
    loaded.hash = history_hash(loaded.history);
    return loaded;
  }

  UpdateSummary update(const std::vector<RunReport>& reports) override {
    UpdateSummary total;
    const std::string path = job_path() + (options_.job_version.empty() ? "" : version_path()) + "/results";
    for (const RunReport& report : reports) {
      const json answer = post(path, report_json(report).dump(-1, ' ', false, json::error_handler_t::replace),
                               "application/json", "record the results");
      total.observed += answer.value("observed", std::size_t{0});
      total.added += answer.value("added", std::size_t{0});
      total.forgotten += answer.value("forgotten", std::size_t{0});
      total.stored = answer.value("stored", total.stored);
    }
    return total;
  }

  RunLedger* run_ledger() override { return options_.job_version.empty() ? nullptr : this; }

  std::string describe() const override {
    return "job " + options_.job + ", run " + run_version(options_) + " at " + url_;
  }

  void report_partition(const io::PartitionRecord& record) override {
    post(job_path() + version_path() + "/partitions", io::format_record(record, url_), "application/json",
         "report partition " + std::to_string(record.partition) + "/" + std::to_string(record.total));
  }

  io::Verification verify(bool strict, std::size_t& records) override {
    const std::string path = job_path() + version_path() + "/verify" + (strict ? "?strict=1" : "");
    const httplib::Result result = get(path);
    if (!result) {
      throw io::InputError(url_, 0,
                           "cannot verify job " + options_.job + ", run " + run_version(options_) + ": " +
                               no_answer_reason(result.error()));
    }
    if (result->status != 200) throw io::InputError(url_ + path, 0, refusal(*result));
    return io::parse_verification_json(result->body, url_ + path, records);
  }

 private:
  std::string job_path() const { return prefix_ + "/api/v1/jobs/" + options_.job; }
  std::string version_path() const { return "/versions/" + run_version(options_); }

  // Sends a request, and sends it again while it gets no answer or a 502, 503 or 504 (a server restarting, a
  // replica gone behind a proxy), for up to retry_seconds: every request here is idempotent (a snapshot is
  // frozen once, a record or results body sent twice counts once).
  httplib::Result send(const std::function<httplib::Result(httplib::Client&)>& request) {
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(options_.retry_seconds);
    for (double backoff = 0.25, timeout = options_.timeout_seconds;; backoff = std::min(backoff * 2, 2.0)) {
      httplib::Client connection = http_client(origin_, timeout, options_.token);
      httplib::Result result = request(connection);
      if (result && result->status != 502 && result->status != 503 && result->status != 504) return result;
      const double left =
          std::chrono::duration<double>(give_up - std::chrono::steady_clock::now()).count() - backoff;
      if (left <= 0) return result;
      std::this_thread::sleep_for(std::chrono::duration<double>(backoff));
      timeout =
          std::min(options_.timeout_seconds, std::max(left, 0.5));  // A retry ends near the window's end.
    }
  }
  httplib::Result get(const std::string& path) {
    return send([&](httplib::Client& connection) { return connection.Get(path); });
  }

  // POSTs `body`; returns the JSON answer of a 2xx. A refusal is an error naming the server's reason (a
  // RunConflict for 409), as is a server that cannot be reached: a write that did not happen must not pass
  // for one that did.
  json post(const std::string& path, const std::string& body, const std::string& type,
            const std::string& what) {
    const httplib::Result result =
        send([&](httplib::Client& client) { return client.Post(path, body, type); });
    if (!result) throw io::InputError(url_, 0, "cannot " + what + ": " + no_answer_reason(result.error()));
    if (result->status == 409) throw RunConflict(url_ + ": " + what + ": " + refusal(*result));
    if (result->status < 200 || result->status >= 300) {
      throw io::InputError(url_ + path, 0, "cannot " + what + ": " + refusal(*result));
    }
    try {
      return json::parse(result->body);
    } catch (const json::exception&) {
      return json::object();
    }
  }

  json report_json(const RunReport& report) const {
    json observations = json::array();
    for (const Observation& o : report.observations) {
      json entry{{"name", o.name}, {"seconds", nullptr}, {"outcome", outcome_name(o.outcome)}};
      if (o.seconds && std::isfinite(*o.seconds)) entry["seconds"] = std::round(*o.seconds * 1e6) / 1e6;
      observations.push_back(std::move(entry));
    }
    return json{{"kind", "tlb-run-report"},
                {"version", 1},
                {"partition", report.partition},
                {"total", report.total},
                {"date", format_date(report.date)},
                {"test_list_hash", report.test_list_hash},
                {"smoothing_factor", policy_.smoothing_factor},
                {"forget_after_days", policy_.forget_after_days},
                {"observations", std::move(observations)}};
  }

  static History parse_history(const std::string& text) {
    const json document = json::parse(text);
    if (document.value("kind", "") != "tlb-history") throw std::runtime_error("no \"kind\": \"tlb-history\"");
    History history;
    for (const json& test : document.at("tests")) {
      TestRecord record;
      record.seconds = test.at("seconds").get<double>();
      record.runs = test.at("runs").get<std::uint32_t>();
      const std::optional<Outcome> last = outcome_named(test.value("last_result", "unknown"));
      if (!last) throw std::runtime_error("unknown last_result of " + test.at("name").get<std::string>());
      record.last = *last;
      if (!std::isfinite(record.seconds) || record.seconds < 0)
        throw std::runtime_error("bad seconds of " + test.at("name").get<std::string>());
      history.set(test.at("name").get<std::string>(), record);
    }
    return history;
  }

  std::string url_, origin_, prefix_;
  HistoryPolicy policy_;
  ServerOptions options_;
};

}  // namespace

std::unique_ptr<Store> open_http_store(const std::string& url, const HistoryPolicy& policy,
                                       const ServerOptions& server) {
  ServerUrl parsed = parse_server_url(url);
  if (server.job.empty()) {
    throw UnsupportedStore(
        "a TLB server store needs a job name: set TLB_JOB_NAME (the CMake hook uses the project's name)");
  }
  if (!valid_key(server.job)) {
    throw UnsupportedStore("TLB_JOB_NAME=" + server.job +
                           ": a job name is 1 to 128 letters, digits, '.', '_' or '-', starting with a "
                           "letter or digit");
  }
  if (!server.job_version.empty() && !valid_key(run_version(server))) {
    throw UnsupportedStore("TLB_JOB_VERSION=" + server.job_version +
                           ": a job version is 1 to 128 letters, digits, '.', '_' or '-', starting with a "
                           "letter or digit" +
                           (server.run_key.empty() ? "" : ", with the 9 of the run key's hash appended"));
  }
  return std::make_unique<HttpStore>(std::move(parsed.url), std::move(parsed.origin),
                                     std::move(parsed.prefix), policy, server);
}

}  // namespace tlb::store
