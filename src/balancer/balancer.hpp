// The state of `tlb balancer`, the original TLB's "alien" balancing server, without the HTTP: what each route
// answers and when the reports of a run go to the store. One Balancer serves one partition for the life of a
// test run; its methods may be called from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/record.hpp"
#include "store/store.hpp"
#include "tlb/order.hpp"
#include "tlb/split.hpp"

namespace tlb::balancer {

// What a route answers: a status and a text/plain body.
struct Reply {
  Reply() = default;
  Reply(int status_code, std::string text, std::string allowed = {})
      : status(status_code), body(std::move(text)), allow(std::move(allowed)) {}

  int status = 200;
  std::string body;
  std::string allow;  // The methods a path takes, for a 405's Allow header.
};

struct BalancerConfig {
  int partition = 1;  // 1-based.
  int total = 1;
  SplitOptions options;           // Total, weights, splitters, parallel level: as `tlb split` has them.
  std::vector<Orderer> orderers;  // As `tlb split` orders.
  bool strict = false;            // TLB_STRICT: no split without the history.
  bool server_store = false;      // The store is a TLB server (http://).
  std::string job;                // With a server store: TLB_JOB_NAME and TLB_JOB_VERSION, for the record.
  std::string job_version;
  std::string record_dir;  // Where to keep the partition's record ("" for nowhere).
};

class Balancer {
 public:
  // `store` may be null: the split is then made without history and reports are kept nowhere (but in the
  // record). `today` gives the date a report is made on. `log` receives one line per event worth a CI log's
  // attention (history missing, a batch folded into the store); access to it is serialised.
  Balancer(BalancerConfig config, std::unique_ptr<store::Store> store, std::function<store::Date()> today,
           std::ostream& log);

  // POST /balance: the partition's share of the posted names, in the order to run them, one a line, each
  // ending in '\n' (the original's format). The history is loaded at the first call and kept: every later
  // call splits on the same snapshot. With a server that keeps the run's ledger, the partition's record is
  // reported to it, and a conflict with the run's other partitions is 417, as the original's correctness
  // check answered.
  Reply balance(std::string_view body, const std::string& module);

  // POST /suite_time and POST /suite_result: keep each line (a test reported twice keeps the later); fold
  // what is pending into the store, as one RunReport, once every test of the partition's share has a time,
  // and a result too once the client has posted any result (tlb.rb posts each suite's time, then its result).
  // Tests outside the share are kept and folded in as well.
  Reply suite_time(std::string_view body);
  Reply suite_result(std::string_view body);

  // GET /assert_all_partitions_executed: the server's verification of the run (200 proven, 417 not), or
  // 501 when the store keeps no ledger (a timing file: `tlb verify` on the records does it).
  Reply all_partitions_executed(const std::string& module);

  // Folds whatever has not been folded yet into the store: at /control/suicide and at SIGTERM. Returns an
  // error message when the store refused it, else "".
  std::string flush();

  // The store's location, or "none".
  std::string history_location() const;

 private:
  struct Pending {
    std::optional<std::int64_t> milliseconds;
    std::optional<bool> failed;
  };

  // Under mutex_.
  std::size_t waiting_locked() const;  // Tests of the partition still without a time (or a result).
  bool batch_complete() const;
  std::string flush_locked();  // "" or the error.
  void log_line(const std::string& line);
  std::optional<Reply> load_history_locked();
  Reply acknowledge_locked(const std::string& kept);
  // <record_dir>/partition-K-of-N.json, as `tlb split --record-dir` names it.
  std::string record_path() const;

  const BalancerConfig config_;
  const std::unique_ptr<store::Store> store_;
  const std::function<store::Date()> today_;
  std::ostream& log_;

  // The partition's share of one module's list (X-Tlb-Module-Name): a client may balance several lists.
  struct Subset {
    std::vector<std::string> tests;  // In name order.
    std::string test_list_hash;      // Of the whole list posted.
  };

  std::mutex mutex_;
  std::mutex log_mutex_;
  std::optional<store::LoadedHistory> history_;  // The snapshot, once loaded.
  std::map<std::string, Subset> subsets_;        // By module.
  std::map<std::string, Pending> pending_;       // Reported, not yet folded into the store.
  std::map<std::string, Pending> folded_;        // Reported and folded: what ran, for the record.
  bool results_posted_ = false;                // The client reports results: a batch then waits for them too.
  std::optional<io::PartitionRecord> record_;  // The partition's record, after the first /balance.
};

}  // namespace tlb::balancer
