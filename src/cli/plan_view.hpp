// A split's plan as a person reads it: the table of `tlb plan` and `tlb split --explain` (one row per
// partition, a total row, the predicted makespan against the lower bound), and the figures behind it, which
// `tlb plan --json` gives to scripts.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

#include "tlb/split.hpp"

namespace tlb::cli {

// Seconds rounded to the microsecond, as the JSON of `tlb plan` and `tlb split` gives them.
double rounded(double seconds);

// Seconds for people: "4.97 s", "26.0 s", "1.5 min", "2.0 h"; never through the locale.
std::string seconds_text(double seconds);

// What one row of the table says.
struct PartitionFigures {
  int number = 0;
  double weight = 1;
  std::size_t tests = 0;  // Fixture setup/cleanup tests count in each partition that runs them.
  double predicted_seconds = 0;
  std::size_t without_history = 0;  // Tests estimated from COST or the fallback (disabled ones cost nothing).
  double bound_ratio = 0;           // predicted_seconds / weight / the lower bound; 0 when the bound is 0.
};
std::vector<PartitionFigures> partition_figures(const Plan& plan);

// The predicted makespan over the lower bound (1 when the bound is 0): how far from the best any split could
// do.
double bound_ratio(const Plan& plan);

// What the table says about the inputs, besides the plan.
struct PlanContext {
  int total = 1;
  int mine = 0;  // This job's partition, marked with '*', or 0 for an overview that marks none.
  std::string partition_source;  // Where `mine` came from: "--partition", "TLB_PARTITION_NUMBER"...
  std::string history;           // Where the durations came from, in a phrase.
  bool color = false;            // ANSI colours, for a terminal.
};

// The splitter and history, the table, and the predicted makespan against the lower bound.
void print_plan(std::ostream& out, const Plan& plan, const PlanContext& context);

}  // namespace tlb::cli
