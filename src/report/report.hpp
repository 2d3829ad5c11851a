// The report of one CI run as one self-contained HTML page: what the split predicted for each partition
// against what ran, the makespan against the lower bound, and the tests worth a look (the slowest, those
// without history, failures, tests that both passed and failed, those whose time changed most). Pure: no
// files, no HTTP; `tlb report` writes the page to a file and `tlb server` serves it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/record.hpp"
#include "tlb/history.hpp"

namespace tlb::report {

struct RunData {
  std::string title;                         // e.g. "tlb_demo, run 41" or "build/tlb".
  std::vector<io::PartitionRecord> records;  // The run's partitions (any order; may lack results or plan).
  std::vector<io::PartitionRecord> earlier;  // Records of earlier runs, for "passed and failed across runs".
  std::optional<History> history;            // The store's history now, when known.
  std::string generated;                     // A date/time text for the footer (SOURCE_DATE_EPOCH-aware).
  std::vector<std::string> notes;            // Optional: lines shown under the summary (a history that could
                                             // not be loaded, records passed over...).
};

// One self-contained HTML5 page: inline CSS and SVG, no fetches, no script. The same input gives the same
// bytes (sorted tables with name tie-breaks, numbers formatted without the locale); every name is escaped.
// Records without a plan or without results are said to be so in the page.
//
// The chart has one row per partition; its bars are `rect` elements of class `bar predicted` and
// `bar actual`, each with `data-partition` (1-based), `data-predicted` and `data-actual` (seconds, 3
// decimals; empty when unknown). A bar is drawn only for a known value. The summary's figures are elements
// with `data-figure` ("partitions", "tests", "predicted-makespan", "lower-bound", "predicted-ratio" (the
// predicted makespan over the predicted bound), "actual-makespan", "actual-bound" (the bound on the measured
// times), "actual-ratio" (the actual makespan over the actual bound)) and `data-value` (the number as text,
// seconds with 3 decimals). Each bar segment, one per test wide enough to point at, has a <title> naming the
// test; `<section id="tests">` lists every test of the run, a `<details id="partition-K">` per partition.
std::string render_html(const RunData& run);

// `text` safe in HTML text and in quoted attribute values: io::escape_markup.
std::string escape_html(std::string_view text);

// The page's style sheet (the contents of a <style> element), for other pages that want the same look.
std::string_view style_sheet();

}  // namespace tlb::report
