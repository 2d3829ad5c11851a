#include "tlb/history.hpp"

#include <stdexcept>

namespace tlb {

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::unknown:
      return "unknown";
    case Outcome::passed:
      return "passed";
    case Outcome::failed:
      return "failed";
    case Outcome::skipped:
      return "skipped";
  }
  return "unknown";
}

std::optional<Outcome> outcome_named(std::string_view name) {
  for (Outcome outcome : {Outcome::unknown, Outcome::passed, Outcome::failed, Outcome::skipped}) {
    if (to_string(outcome) == name) return outcome;
  }
  return std::nullopt;
}

double smooth(double previous, double observed, double alpha) {
  if (!(alpha > 0 && alpha <= 1)) throw std::invalid_argument("smoothing factor must be in (0, 1]");
  return alpha * observed + (1 - alpha) * previous;
}

const TestRecord* History::find(std::string_view name) const {
  auto it = records_.find(name);
  return it == records_.end() ? nullptr : &it->second;
}

// Readers usually deliver names in order; the hint makes that an append instead of a search.
void History::set(std::string name, TestRecord record) {
  records_.insert_or_assign(records_.end(), std::move(name), record);
}

void History::observe(std::string_view name, std::optional<double> seconds, Outcome outcome, double alpha) {
  auto it = records_.find(name);
  if (it == records_.end()) it = records_.emplace(std::string(name), TestRecord{}).first;
  TestRecord& record = it->second;
  if (seconds) {
    record.seconds = record.runs == 0 ? *seconds : smooth(record.seconds, *seconds, alpha);
    ++record.runs;
  }
  if (outcome != Outcome::unknown) record.last = outcome;
}

}  // namespace tlb
