#include "tlb/split.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "suite.hpp"

namespace tlb {

std::string_view to_string(Splitter splitter) {
  switch (splitter) {
    case Splitter::count:
      return "count";
    case Splitter::round_robin:
      return "round-robin";
    case Splitter::time:
      return "time";
  }
  return "count";
}

std::optional<Splitter> parse_splitter(std::string_view name) {
  for (Splitter s : {Splitter::count, Splitter::round_robin, Splitter::time}) {
    if (name == to_string(s)) return s;
  }
  return std::nullopt;
}

std::string_view to_string(Estimate estimate) {
  switch (estimate) {
    case Estimate::history:
      return "history";
    case Estimate::cost:
      return "cost";
    case Estimate::fallback:
      return "fallback";
    case Estimate::disabled:
      return "disabled";
  }
  return "history";
}

namespace {

using detail::Micros;
using detail::Suite;
using detail::Unit;
__extension__ typedef __int128 Wide;  // Products of loads and weights; GCC and Clang have it.

// Partition weights in thousandths, so that comparisons of load / weight are exact integer
// cross-multiplications.
std::vector<Micros> integer_weights(const SplitOptions& options) {
  if (options.total < 1) throw std::invalid_argument("the number of partitions must be at least 1");
  if (options.weights.empty()) return std::vector<Micros>(static_cast<std::size_t>(options.total), 1000);
  if (options.weights.size() != static_cast<std::size_t>(options.total)) {
    throw std::invalid_argument("expected " + std::to_string(options.total) + " partition weights, got " +
                                std::to_string(options.weights.size()));
  }
  std::vector<Micros> weights;
  for (double w : options.weights) {
    if (!(w >= 0.001 && w <= 1e6))
      throw std::invalid_argument("a partition weight must be between 0.001 and 1e6");
    weights.push_back(std::llround(w * 1000));
  }
  return weights;
}

// `a / wa < b / wb`, exactly.
bool less_ratio(Micros a, Micros wa, Micros b, Micros wb) {
  return Wide{a} * wb < Wide{b} * wa;
}

// The current assignment of units to partitions, with each partition's load including the fixture tests it
// carries.
class Assignment {
 public:
  Assignment(const Suite& suite, std::vector<Micros> weights)
      : suite_(suite),
        weights_(std::move(weights)),
        loads_(weights_.size(), 0),
        units_(weights_.size()),
        refs_(weights_.size() * suite.attachments.size(), 0),
        partition_of_(suite.units.size(), -1) {}

  int size() const { return static_cast<int>(weights_.size()); }
  Micros load(int p) const { return loads_[idx(p)]; }
  Micros weight(int p) const { return weights_[idx(p)]; }
  const std::vector<int>& units(int p) const { return units_[idx(p)]; }
  int partition_of(int unit) const { return partition_of_[idx(unit)]; }

  // Load partition p would have with `unit` added: the unit plus any of its fixture tests p does not carry
  // yet.
  Micros load_with(int p, int unit) const {
    const Unit& u = suite_.units[idx(unit)];
    Micros load = loads_[idx(p)] + u.micros;
    for (int a : u.attached) {
      if (ref(p, a) == 0) load += suite_.attachment_micros(a);
    }
    return load;
  }

  // Load partition p would have with `unit` (which it holds) removed.
  Micros load_without(int p, int unit) const {
    const Unit& u = suite_.units[idx(unit)];
    Micros load = loads_[idx(p)] - u.micros;
    for (int a : u.attached) {
      if (ref(p, a) == 1) load -= suite_.attachment_micros(a);
    }
    return load;
  }

  void add(int p, int unit) {
    const Unit& u = suite_.units[idx(unit)];
    loads_[idx(p)] = load_with(p, unit);
    for (int a : u.attached)
      ++ref(p, a);
    auto& list = units_[idx(p)];
    // Appending keeps placement linear; ascending order, which the improvement passes iterate in, is restored
    // by sort_units() before they start and kept by inserting in place after.
    if (sorted_) {
      list.insert(std::lower_bound(list.begin(), list.end(), unit), unit);
    } else {
      list.push_back(unit);
    }
    partition_of_[idx(unit)] = p;
  }

  void remove(int p, int unit) {
    const Unit& u = suite_.units[idx(unit)];
    loads_[idx(p)] = load_without(p, unit);
    for (int a : u.attached)
      --ref(p, a);
    auto& list = units_[idx(p)];
    list.erase(sorted_ ? std::lower_bound(list.begin(), list.end(), unit)
                       : std::find(list.begin(), list.end(), unit));
    partition_of_[idx(unit)] = -1;
  }

  bool carries(int p, int attachment) const { return ref(p, attachment) > 0; }

  // Puts each partition's units in ascending order and keeps them so from now on.
  void sort_units() {
    for (auto& list : units_)
      std::sort(list.begin(), list.end());
    sorted_ = true;
  }

 private:
  static std::size_t idx(int i) { return static_cast<std::size_t>(i); }
  std::uint32_t ref(int p, int a) const { return refs_[idx(p) * suite_.attachments.size() + idx(a)]; }
  std::uint32_t& ref(int p, int a) { return refs_[idx(p) * suite_.attachments.size() + idx(a)]; }

  const Suite& suite_;
  std::vector<Micros> weights_;
  std::vector<Micros> loads_;
  std::vector<std::vector<int>> units_;  // Per partition, unit indices ascending.
  std::vector<std::uint32_t> refs_;      // Per partition and attachment: how many of its units need it.
  std::vector<int> partition_of_;
  bool sorted_ = false;
};

// What no plan can beat: all work done once (each needed fixture test at least once), and no unit finishing
// before itself and its fixture tests.
struct BoundInputs {
  Micros total = 0;
  Micros longest = 0;
};

BoundInputs bound_inputs(const Suite& suite) {
  BoundInputs bound;
  for (const Unit& u : suite.units) {
    bound.total += u.micros;
    Micros with_fixtures = u.micros;
    for (int attachment : u.attached)
      with_fixtures += suite.attachment_micros(attachment);
    bound.longest = std::max(bound.longest, with_fixtures);
  }
  for (std::size_t k = 0; k < suite.attachments.size(); ++k) {
    bound.total += suite.attachment_micros(static_cast<int>(k));
  }
  return bound;
}

Micros total_weight(const Assignment& a) {
  Micros sum = 0;
  for (int p = 0; p < a.size(); ++p)
    sum += a.weight(p);
  return sum;
}

// Contiguous slices of the name-sorted units. Slice i ends at floor(n * W_i / W), W_i the weight of
// partitions 1..i; with equal weights that is the original TLB's formula: i*q + floor(r*i/T).
void split_by_count(const Suite& suite, Assignment& a) {
  const auto n = static_cast<Wide>(suite.units.size());
  const Micros total = total_weight(a);
  Micros cumulative = 0;
  std::size_t begin = 0;
  for (int p = 0; p < a.size(); ++p) {
    cumulative += a.weight(p);
    const auto end = static_cast<std::size_t>(n * cumulative / total);
    for (std::size_t u = begin; u < end; ++u)
      a.add(p, static_cast<int>(u));
    begin = end;
  }
}

// Name-sorted units dealt to the partition with the fewest units per weight (ties to the lowest number),
// which with equal weights is plain round-robin: unit k goes to partition k mod N.
void split_round_robin(const Suite& suite, Assignment& a) {
  std::vector<Micros> counts(static_cast<std::size_t>(a.size()), 0);
  for (std::size_t u = 0; u < suite.units.size(); ++u) {
    int best = 0;
    for (int p = 1; p < a.size(); ++p) {
      if (less_ratio(counts[static_cast<std::size_t>(p)] + 1, a.weight(p),
                     counts[static_cast<std::size_t>(best)] + 1, a.weight(best))) {
        best = p;
      }
    }
    ++counts[static_cast<std::size_t>(best)];
    a.add(best, static_cast<int>(u));
  }
}

// Longest processing time first: each unit, longest first, goes where it would finish earliest.
void place_longest_first(const Suite& suite, Assignment& a) {
  std::vector<int> order(suite.units.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
    return suite.units[static_cast<std::size_t>(x)].micros > suite.units[static_cast<std::size_t>(y)].micros;
  });
  for (int u : order) {
    int best = 0;
    Micros best_load = a.load_with(0, u);
    for (int p = 1; p < a.size(); ++p) {
      Micros load = a.load_with(p, u);
      if (less_ratio(load, a.weight(p), best_load, a.weight(best))) {
        best = p;
        best_load = load;
      }
    }
    a.add(best, u);
  }
}

// A pair of finishing times, compared by the later one: the quantity a move between two partitions must
// lower.
struct PairFinish {
  Micros load_p, weight_p, load_q, weight_q;
  // The later finish as a fraction.
  std::pair<Micros, Micros> later() const {
    return less_ratio(load_p, weight_p, load_q, weight_q) ? std::pair{load_q, weight_q}
                                                          : std::pair{load_p, weight_p};
  }
};

bool finishes_earlier(const PairFinish& x, const PairFinish& y) {
  auto [xl, xw] = x.later();
  auto [yl, yw] = y.later();
  return less_ratio(xl, xw, yl, yw);
}

// Improvement passes after LPT. Repeatedly takes the partition that finishes last and applies the best single
// move of one of its units to another partition, or swap of one of its units with a shorter one elsewhere,
// that makes both partitions involved finish before it did. Each step lowers the sorted vector of finishing
// times, so the loop ends; a budget on evaluated candidates bounds its time on huge suites
// (deterministically: it counts work, not seconds).
void improve(const Suite& suite, Assignment& a) {
  const int n = a.size();
  if (n < 2) return;
  a.sort_units();
  const Micros total_micros = bound_inputs(suite).total;
  const Micros weight_sum = total_weight(a);

  // Units without fixture tests can be swapped with simple arithmetic; kept per partition sorted by duration.
  auto swappable = [&](int unit) { return suite.units[static_cast<std::size_t>(unit)].attached.empty(); };
  std::vector<std::vector<std::pair<Micros, int>>> by_duration(static_cast<std::size_t>(n));
  for (int p = 0; p < n; ++p) {
    for (int u : a.units(p)) {
      if (swappable(u))
        by_duration[static_cast<std::size_t>(p)].emplace_back(suite.units[static_cast<std::size_t>(u)].micros,
                                                              u);
    }
    std::sort(by_duration[static_cast<std::size_t>(p)].begin(),
              by_duration[static_cast<std::size_t>(p)].end());
  }
  auto sorted_erase = [](auto& list, std::pair<Micros, int> item) {
    list.erase(std::lower_bound(list.begin(), list.end(), item));
  };
  auto sorted_insert = [](auto& list, std::pair<Micros, int> item) {
    list.insert(std::lower_bound(list.begin(), list.end(), item), item);
  };

  // Candidate evaluations. On big suites LPT is already within a hair of the bound and the passes shave
  // microseconds; the budget keeps that from costing more than the split itself.
  std::int64_t budget = 10'000'000;
  for (int round = 0; round < 100'000 && budget > 0; ++round) {
    int p = 0;
    for (int q = 1; q < n; ++q) {
      if (less_ratio(a.load(p), a.weight(p), a.load(q), a.weight(q))) p = q;
    }
    // Within a hundred-thousandth of the bound, or of the mean finishing time of the current plan (which
    // fixture tests carried by several partitions keep above the bound), nothing worth having is left to
    // gain.
    Micros current_total = 0;
    for (int q = 0; q < n; ++q)
      current_total += a.load(q);
    const Micros reachable = std::max(total_micros, current_total);
    if (Wide{a.load(p)} * weight_sum * 100'000 <= Wide{reachable} * a.weight(p) * 100'001) break;

    const PairFinish current{a.load(p), a.weight(p), a.load(p), a.weight(p)};
    PairFinish best = current;
    int best_unit = -1, best_target = -1, best_partner = -1;

    for (int u : a.units(p)) {
      const Micros without = a.load_without(p, u);
      for (int q = 0; q < n; ++q) {
        if (q == p) continue;
        PairFinish move{without, a.weight(p), a.load_with(q, u), a.weight(q)};
        if (finishes_earlier(move, best)) {
          best = move;
          best_unit = u;
          best_target = q;
          best_partner = -1;
        }
      }
      budget -= n;
    }

    for (const auto& [du, u] : by_duration[static_cast<std::size_t>(p)]) {
      if (du == 0) continue;
      for (int q = 0; q < n; ++q) {
        if (q == p) continue;
        const auto& others = by_duration[static_cast<std::size_t>(q)];
        if (others.empty()) continue;
        const Micros lp = a.load(p), wp = a.weight(p), lq = a.load(q), wq = a.weight(q);
        // Moving delta from p to q equalizes finishing times at delta = (lp*wq - lq*wp) / (wp + wq).
        const auto ideal = static_cast<Micros>((Wide{lp} * wq - Wide{lq} * wp) / (wp + wq));
        if (ideal <= 0) continue;
        const Micros target = du - ideal;  // The partner's ideal duration.
        auto it = std::lower_bound(others.begin(), others.end(), std::pair<Micros, int>{target, -1});
        for (auto candidate : {it, it == others.begin() ? others.end() : std::prev(it)}) {
          if (candidate == others.end() || candidate->first >= du) continue;
          const Micros delta = du - candidate->first;
          PairFinish swap{lp - delta, wp, lq + delta, wq};
          if (finishes_earlier(swap, best)) {
            best = swap;
            best_unit = u;
            best_target = q;
            best_partner = candidate->second;
          }
        }
        budget -= 2;
      }
    }

    if (best_unit < 0) break;  // A local optimum for the last partition to finish.
    a.remove(p, best_unit);
    a.add(best_target, best_unit);
    const auto& moved = suite.units[static_cast<std::size_t>(best_unit)];
    if (swappable(best_unit)) {
      sorted_erase(by_duration[static_cast<std::size_t>(p)], {moved.micros, best_unit});
      sorted_insert(by_duration[static_cast<std::size_t>(best_target)], {moved.micros, best_unit});
    }
    if (best_partner >= 0) {
      const Micros partner_micros = suite.units[static_cast<std::size_t>(best_partner)].micros;
      a.remove(best_target, best_partner);
      a.add(p, best_partner);
      sorted_erase(by_duration[static_cast<std::size_t>(best_target)], {partner_micros, best_partner});
      sorted_insert(by_duration[static_cast<std::size_t>(p)], {partner_micros, best_partner});
    }
  }
}

Plan make_plan(const Suite& suite, const Assignment& a, Splitter splitter,
               const std::vector<double>& weights) {
  Plan plan;
  plan.splitter = splitter;
  plan.fallback_seconds = detail::to_seconds(suite.fallback);
  plan.tests_without_history = suite.without_history;

  const auto [total_micros, longest] = bound_inputs(suite);
  Micros max_weight = 0;
  for (int p = 0; p < a.size(); ++p)
    max_weight = std::max(max_weight, a.weight(p));
  const Micros weight_sum = total_weight(a);
  plan.lower_bound_seconds =
      std::max(detail::to_seconds(total_micros) * 1000 / static_cast<double>(weight_sum),
               detail::to_seconds(longest) * 1000 / static_cast<double>(max_weight));

  auto planned = [&](int test, bool fixture) {
    const auto i = static_cast<std::size_t>(test);
    return PlannedTest{suite.tests[i].name, detail::to_seconds(suite.micros[i]), suite.estimates[i], fixture};
  };
  for (int p = 0; p < a.size(); ++p) {
    Partition partition;
    partition.number = p + 1;
    partition.weight = weights.empty() ? 1.0 : weights[static_cast<std::size_t>(p)];
    for (int u : a.units(p)) {
      for (int member : suite.units[static_cast<std::size_t>(u)].members)
        partition.tests.push_back(planned(member, false));
    }
    for (std::size_t k = 0; k < suite.attachments.size(); ++k) {
      if (a.carries(p, static_cast<int>(k))) partition.tests.push_back(planned(suite.attachments[k], true));
    }
    std::sort(partition.tests.begin(), partition.tests.end(),
              [](const PlannedTest& x, const PlannedTest& y) { return x.name < y.name; });
    partition.predicted_seconds = detail::to_seconds(a.load(p));
    plan.predicted_makespan_seconds =
        std::max(plan.predicted_makespan_seconds,
                 partition.predicted_seconds * 1000 / static_cast<double>(a.weight(p)));
    plan.partitions.push_back(std::move(partition));
  }
  return plan;
}

}  // namespace

Plan split(std::vector<Test> tests, const History& history, const SplitOptions& options) {
  std::vector<Micros> weights = integer_weights(options);
  const Suite suite = detail::prepare(std::move(tests), history);

  std::vector<std::string> declined;
  std::optional<Splitter> chosen;
  for (Splitter s : options.splitters) {
    if (s == Splitter::time && !suite.any_known_duration) {
      declined.push_back("time: no test has a recorded duration or a COST property");
      continue;
    }
    chosen = s;
    break;
  }
  if (!chosen) chosen = Splitter::count;

  Assignment assignment(suite, weights);
  switch (*chosen) {
    case Splitter::count:
      split_by_count(suite, assignment);
      break;
    case Splitter::round_robin:
      split_round_robin(suite, assignment);
      break;
    case Splitter::time:
      place_longest_first(suite, assignment);
      improve(suite, assignment);
      break;
  }
  Plan plan = make_plan(suite, assignment, *chosen, options.weights);
  plan.declined = std::move(declined);
  return plan;
}

}  // namespace tlb
