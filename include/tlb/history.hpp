// The history model: what earlier runs said about each test.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tlb {

enum class Outcome { unknown, passed, failed, skipped };

std::string_view to_string(Outcome outcome);
// The outcome to_string names; nullopt for any other text.
std::optional<Outcome> outcome_named(std::string_view name);

// What is known of one test from earlier runs.
struct TestRecord {
  double seconds = 0;      // Smoothed duration.
  std::uint32_t runs = 0;  // Number of runs that contributed a duration.
  Outcome last = Outcome::unknown;
  // The ctest -j the duration was measured under: runs at different levels are not averaged together.
  std::uint32_t jobs = 1;

  friend bool operator==(const TestRecord&, const TestRecord&) = default;
};

// The exponentially smoothed duration: `alpha * observed + (1 - alpha) * previous`, with alpha in (0, 1].
// Alpha 1 keeps only the latest run; smaller values damp run-to-run noise.
double smooth(double previous, double observed, double alpha);

// Per-test history keyed by CTest test name. Iteration is in name order, so anything derived from it is
// deterministic.
class History {
 public:
  using Map = std::map<std::string, TestRecord, std::less<>>;

  const TestRecord* find(std::string_view name) const;
  const Map& records() const { return records_; }
  bool empty() const { return records_.empty(); }
  std::size_t size() const { return records_.size(); }

  // Replaces whatever is known of `name`.
  void set(std::string name, TestRecord record);

  // Folds one run of `name` in: a duration (when the run measured one) is smoothed with `alpha`, the outcome
  // replaces the last one.
  void observe(std::string_view name, std::optional<double> seconds, Outcome outcome, double alpha);

 private:
  Map records_;
};

}  // namespace tlb
