#include "balancer/balancer.hpp"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <utility>

#include "balancer/wire.hpp"
#include "io/verification.hpp"

namespace tlb::balancer {
namespace {

std::string counted(std::size_t n, const std::string& singular, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

Reply bad_request(const BodyError& error) {
  return Reply{400, std::string(error.what()) + "\n"};
}

// A message as a one-line body.
std::string one_line(std::string_view text) {
  return quoted_for_message(text, 2000) + "\n";
}

}  // namespace

Balancer::Balancer(BalancerConfig config, std::unique_ptr<store::Store> store,
                   std::function<store::Date()> today, std::ostream& log)
    : config_(std::move(config)), store_(std::move(store)), today_(std::move(today)), log_(log) {}

std::string Balancer::record_path() const {
  return (std::filesystem::path(config_.record_dir) / ("partition-" + std::to_string(config_.partition) +
                                                       "-of-" + std::to_string(config_.total) + ".json"))
      .string();
}

std::string Balancer::history_location() const {
  return store_ ? store_->location() : "none";
}

void Balancer::log_line(const std::string& line) {
  std::lock_guard<std::mutex> lock(log_mutex_);
  log_ << "tlb balancer: " << line << std::endl;
}

std::optional<Reply> Balancer::load_history_locked() {
  store::LoadedHistory loaded;
  if (store_) {
    try {
      loaded = store_->load();
    } catch (const std::exception& e) {
      // load() promises not to throw for absent or unreachable history; should a backend still throw, the
      // split goes on without it all the same.
      loaded = store::LoadedHistory{};
      loaded.status = store::HistoryStatus::unavailable;
      loaded.source = store_->location();
      loaded.warning = store_->location() + ": " + e.what();
    }
    if (loaded.status != store::HistoryStatus::ok) {
      if (config_.strict) {
        // Not kept: the next /balance tries again.
        return Reply{500,
                     one_line(loaded.warning + " (TLB_STRICT is set, so tlb does not split without it)")};
      }
      log_line("warning: " + loaded.warning);
    }
  } else {
    loaded.status = store::HistoryStatus::missing;
  }
  history_ = std::move(loaded);
  return std::nullopt;
}

Reply Balancer::balance(std::string_view body, const std::string& module) {
  std::vector<std::string> names;
  try {
    names = parse_names(body);
  } catch (const BodyError& e) {
    return bad_request(e);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  const bool first = !history_;
  if (first) {
    if (std::optional<Reply> refused = load_history_locked()) return *refused;
  }
  const History& history = history_->history;

  std::vector<Test> tests;
  tests.reserve(names.size());
  for (const std::string& name : names) tests.push_back(Test::named(name));
  // split() sorts by name first: the order the client posted in changes nothing.
  const Plan plan = split(std::move(tests), history, config_.options);
  if (first && history_->status == store::HistoryStatus::ok && !plan.declined.empty()) {
    log_line("warning: no test in the list has a recorded duration; split by " +
             std::string(to_string(plan.splitter)));
  }
  const Partition& mine = plan.partitions[static_cast<std::size_t>(config_.partition - 1)];

  // The record `tlb split --record-dir` would write for this list.
  std::sort(names.begin(), names.end());
  io::PartitionRecord record;
  record.partition = config_.partition;
  record.total = config_.total;
  record.splitter = std::string(to_string(plan.splitter));
  record.all_tests = std::move(names);
  record.test_list_hash = io::hash_names(record.all_tests);
  record.history_source = store_ ? store_->location() : std::string();
  if (config_.server_store) {
    record.job = config_.job;
    record.job_version = config_.job_version;
  }
  record.history_status = std::string(store::to_string(history_->status));
  record.history_hash = history_->hash;
  for (const PlannedTest& test : mine.tests) {
    record.tests.push_back(test.name);
    if (test.fixture) record.attachments.push_back(test.name);
  }
  if (record_ && record_->has_results) {
    record.has_results = true;
    record.results = record_->results;
    record.recorded_on = record_->recorded_on;
  }
  if (!config_.record_dir.empty()) {
    try {
      io::write_record(record_path(), record);
    } catch (const std::exception& e) {
      return Reply{500, one_line(std::string("cannot write the partition record: ") + e.what())};
    }
  }
  // A server that did not answer the read has had its warning (and its timeout); one is enough. One that
  // cannot be reached now only warns, unless strict: the run goes on, and the server's verification will find
  // the partition missing. A conflict with the other partitions means this share must not run.
  store::RunLedger* ledger = store_ ? store_->run_ledger() : nullptr;
  if (ledger != nullptr && history_->status != store::HistoryStatus::unavailable) {
    try {
      ledger->report_partition(record);
    } catch (const store::RunConflict& e) {
      return Reply{417, one_line(e.what())};
    } catch (const std::exception& e) {
      if (config_.strict) return Reply{500, one_line(std::string(e.what()) + " (TLB_STRICT is set)")};
      log_line(std::string("warning: ") + e.what() + " (the run's verification on the server will miss it)");
    }
  }

  // The share is this partition's from now on: the batch is complete when each of its tests has reported.
  Subset& subset = subsets_[module];
  subset.tests = record.tests;
  subset.test_list_hash = record.test_list_hash;
  record_ = std::move(record);

  std::string reply;
  for (const PlannedTest& test : order_tests(mine.tests, history, config_.orderers)) {
    reply.append(test.name).append("\n");
  }
  return Reply{200, std::move(reply)};
}

std::size_t Balancer::waiting_locked() const {
  // What was folded already counts: a client that posts every time, then every result, has its times folded
  // at the last time and its results at the last result.
  const auto has = [this](const std::string& name, auto field) {
    auto it = pending_.find(name);
    if (it != pending_.end() && (it->second.*field).has_value()) return true;
    it = folded_.find(name);
    return it != folded_.end() && (it->second.*field).has_value();
  };
  std::size_t waiting = 0;
  for (const auto& [module, subset] : subsets_) {
    for (const std::string& name : subset.tests) {
      if (!has(name, &Pending::milliseconds) || (results_posted_ && !has(name, &Pending::failed))) ++waiting;
    }
  }
  return waiting;
}

bool Balancer::batch_complete() const {
  return !pending_.empty() && !subsets_.empty() && waiting_locked() == 0;
}

std::string Balancer::flush_locked() {
  if (pending_.empty()) return "";
  store::RunReport report;
  report.date = today_();
  report.partition = config_.partition;
  report.total = config_.total;
  if (subsets_.size() == 1) report.test_list_hash = subsets_.begin()->second.test_list_hash;
  for (const auto& [name, reported] : pending_) {
    store::Observation observation;
    observation.name = name;
    if (reported.milliseconds) observation.seconds = static_cast<double>(*reported.milliseconds) / 1000.0;
    if (reported.failed) observation.outcome = *reported.failed ? Outcome::failed : Outcome::passed;
    report.observations.push_back(std::move(observation));
  }
  const std::string tests = counted(pending_.size(), "test", "tests");
  if (store_) {
    store::UpdateSummary summary;
    try {
      summary = store_->update({report});
    } catch (const std::exception& e) {
      return "cannot fold " + tests + " into " + store_->location() + ": " + e.what();
    }
    log_line("folded " + tests + " of partition " + std::to_string(config_.partition) + "/" +
             std::to_string(config_.total) + " into " + store_->location() + " (" +
             counted(summary.stored, "test", "tests") + ", " + std::to_string(summary.added) + " new, " +
             std::to_string(summary.forgotten) + " forgotten)");
  } else {
    log_line(tests + " reported, kept in no store (no --store or TLB_STORE)" +
             (config_.record_dir.empty() ? std::string() : "; in the partition record only"));
  }
  for (const auto& [name, reported] : pending_) {
    Pending& ran = folded_[name];
    if (reported.milliseconds) ran.milliseconds = reported.milliseconds;
    if (reported.failed) ran.failed = reported.failed;
  }
  pending_.clear();

  if (record_) {
    record_->has_results = true;
    record_->recorded_on = store::format_date(report.date);
    record_->results.clear();
    for (const auto& [name, ran] : folded_) {
      io::RecordedResult result;
      result.name = name;
      // A test reported with no result ran as far as the balancer knows: it is not lost.
      result.status = ran.failed.value_or(false) ? io::ResultStatus::failed : io::ResultStatus::passed;
      if (ran.milliseconds) result.seconds = static_cast<double>(*ran.milliseconds) / 1000.0;
      record_->results.push_back(std::move(result));
    }
    if (!config_.record_dir.empty()) {
      try {
        io::write_record(record_path(), *record_);
      } catch (const std::exception& e) {
        return std::string("cannot complete the partition record: ") + e.what();
      }
    }
  }
  return "";
}

Reply Balancer::acknowledge_locked(const std::string& kept) {
  std::string line = kept;
  if (batch_complete()) {
    const std::size_t batch = pending_.size();
    const std::string error = flush_locked();
    if (error.empty()) {
      line += "; the batch of " + counted(batch, "test", "tests") +
              (store_ ? " went to " + store_->location() : " is in no store (no --store or TLB_STORE)");
    } else {
      log_line("error: " + error + " (tried again when the balancer stops)");
      line += "; " + error + " (tried again when the balancer stops)";
    }
  } else if (!subsets_.empty()) {
    std::size_t total = 0;
    for (const auto& [module, subset] : subsets_) total += subset.tests.size();
    line += "; " + std::to_string(waiting_locked()) + " of " + counted(total, "test", "tests") +
            " of this partition still to report";
  }
  return Reply{200, one_line(line)};
}

Reply Balancer::suite_time(std::string_view body) {
  std::vector<TimeLine> times;
  try {
    times = parse_times(body);
  } catch (const BodyError& e) {
    return bad_request(e);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  // A test reported twice keeps its later time (a suite run again).
  for (TimeLine& time : times) pending_[std::move(time.name)].milliseconds = time.milliseconds;
  return acknowledge_locked("kept " + counted(times.size(), "time", "times"));
}

Reply Balancer::suite_result(std::string_view body) {
  std::vector<ResultLine> results;
  try {
    results = parse_results(body);
  } catch (const BodyError& e) {
    return bad_request(e);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (!results.empty()) results_posted_ = true;
  for (ResultLine& result : results) pending_[std::move(result.name)].failed = result.failed;
  return acknowledge_locked("kept " + counted(results.size(), "result", "results"));
}

Reply Balancer::all_partitions_executed(const std::string& module) {
  // The module (X-Tlb-Module-Name) scoped the original's checks; a run's ledger here holds one test list a
  // partition, so it is only named in messages.
  store::RunLedger* ledger = store_ ? store_->run_ledger() : nullptr;
  if (ledger == nullptr) {
    if (config_.server_store) {
      return Reply{501, one_line("the TLB server needs to know which run to check (module " + module +
                                 "): set TLB_JOB_VERSION (or run in a CI whose run id tlb knows)")};
    }
    return Reply{501,
                 one_line("a timing file cannot tell which partitions ran: start each partition's "
                          "balancer with --record-dir DIR and run `tlb verify DIR/*.json` after the run, "
                          "or keep history in a TLB server (TLB_STORE=http://host:7019)")};
  }
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    std::size_t records = 0;
    const io::Verification verification = ledger->verify(config_.strict, records);
    return Reply{verification.proven() ? 200 : 417, io::verification_text(verification, records)};
  } catch (const std::exception& e) {
    return Reply{417, one_line(e.what())};
  }
}

std::string Balancer::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  return flush_locked();
}

}  // namespace tlb::balancer
