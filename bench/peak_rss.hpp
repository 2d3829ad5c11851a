// Peak memory of one case of an in-process benchmark.
//
// Linux keeps a high-water mark of a process's resident set, which getrusage reports as ru_maxrss, and
// writing "5" to /proc/self/clear_refs lowers the mark to the current RSS. Resetting it when a case starts
// gives each case its own peak; without the reset the figure only ever grows from case to case. Where the
// reset is not allowed the peak is the process's peak so far, which still bounds the case's.
#pragma once

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstddef>
#include <fstream>

namespace tlb::bench {

class PeakRss {
 public:
  // Call when the case's inputs are ready, just before the timed loop.
  void start() {
    malloc_trim(0);  // Hands memory freed by earlier cases back, so the baseline is what this case holds.
    std::ofstream("/proc/self/clear_refs") << "5";
    baseline_mib_ = current_mib();
  }

  // The peak since start(), inputs included.
  static double peak_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB.
  }

  // What the timed loop added on top of the inputs at its peak. Page-granular and affected by the
  // allocator's caching, so figures under a MiB or so are noise.
  double added_mib() const { return peak_mib() - baseline_mib_; }

 private:
  static double current_mib() {
    std::ifstream statm("/proc/self/statm");
    std::size_t size_pages = 0, resident_pages = 0;
    statm >> size_pages >> resident_pages;
    return static_cast<double>(resident_pages) * static_cast<double>(sysconf(_SC_PAGESIZE)) /
           (1024.0 * 1024.0);
  }

  double baseline_mib_ = 0;
};

}  // namespace tlb::bench
