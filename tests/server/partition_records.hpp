// Partition records as `tlb split --record` posts them, made up for the server's tests.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "io/record.hpp"

namespace tlb::testing {

// Partition `partition` of `total` of the test list `all`, holding `tests` (and `attachments`), split with
// the time splitter on a history whose hash is fixed.
inline io::PartitionRecord make_record(int partition, int total, std::vector<std::string> all,
                                       std::vector<std::string> tests,
                                       std::vector<std::string> attachments = {}) {
  std::sort(all.begin(), all.end());
  std::sort(tests.begin(), tests.end());
  std::sort(attachments.begin(), attachments.end());
  io::PartitionRecord record;
  record.partition = partition;
  record.total = total;
  record.splitter = "time";
  record.all_tests = all;
  record.test_list_hash = io::hash_names(all);
  record.history_source = "http://tlb";
  record.history_status = "ok";
  record.history_hash = "fnv1a64:0123456789abcdef";
  record.tests = tests;
  record.attachments = attachments;
  return record;
}

}  // namespace tlb::testing
