#include "tlb/split.hpp"

#include <algorithm>
#include <bit>
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
    for (int a : u.attached) ++ref(p, a);
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
    for (int a : u.attached) --ref(p, a);
    auto& list = units_[idx(p)];
    list.erase(sorted_ ? std::lower_bound(list.begin(), list.end(), unit)
                       : std::find(list.begin(), list.end(), unit));
    partition_of_[idx(unit)] = -1;
  }

  bool carries(int p, int attachment) const { return ref(p, attachment) > 0; }

  // Puts each partition's units in ascending order and keeps them so from now on.
  void sort_units() {
    for (auto& list : units_) std::sort(list.begin(), list.end());
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
    for (int attachment : u.attached) with_fixtures += suite.attachment_micros(attachment);
    bound.longest = std::max(bound.longest, with_fixtures);
  }
  for (std::size_t k = 0; k < suite.attachments.size(); ++k) {
    bound.total += suite.attachment_micros(static_cast<int>(k));
  }
  return bound;
}

Micros total_weight(const Assignment& a) {
  Micros sum = 0;
  for (int p = 0; p < a.size(); ++p) sum += a.weight(p);
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
    for (std::size_t u = begin; u < end; ++u) a.add(p, static_cast<int>(u));
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
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
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

int last_to_finish(const Assignment& a) {
  int p = 0;
  for (int q = 1; q < a.size(); ++q) {
    if (less_ratio(a.load(p), a.weight(p), a.load(q), a.weight(q))) p = q;
  }
  return p;
}

// Whether the last partition to finish is within a hundred-thousandth of the bound, or of the mean finishing
// time of the current plan (which fixture tests carried by several partitions keep above the bound): then
// nothing worth having is left to gain.
// `bound_total` is bound_inputs(suite).total, computed once by the caller.
bool near_bound(Micros bound_total, const Assignment& a) {
  const int p = last_to_finish(a);
  Micros current_total = 0;
  for (int q = 0; q < a.size(); ++q) current_total += a.load(q);
  const Micros reachable = std::max(bound_total, current_total);
  return Wide{a.load(p)} * total_weight(a) * 100'000 <= Wide{reachable} * a.weight(p) * 100'001;
}

// Repeatedly takes the partition that finishes last and applies the best single move of one of its units to
// another partition, or swap of one of its units with a shorter one elsewhere, that makes both partitions
// involved finish before it did. Returns when no such step exists or `budget` (candidate evaluations) is
// spent.
void move_and_swap(const Suite& suite, Micros bound_total, Assignment& a, std::int64_t& budget) {
  const int n = a.size();
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

  for (int round = 0; round < 100'000 && budget > 0; ++round) {
    const int p = last_to_finish(a);
    if (near_bound(bound_total, a)) break;

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

// The best division of the units of two partitions between them, by trying every one: 2^m divisions of m
// units, walked in Gray-code order so each step moves one unit and updates both loads (fixture tests
// included) in place. Used where moves and swaps get stuck: few units per partition, where a better plan may
// need several units to change sides at once. Returns whether it made the last partition to finish finish
// earlier.
bool repartition_pair(const Suite& suite, Assignment& a, std::int64_t& budget) {
  constexpr std::size_t kMaxUnits = 16;
  const int p = last_to_finish(a);
  const PairFinish current{a.load(p), a.weight(p), a.load(p), a.weight(p)};
  PairFinish best = current;
  int best_q = -1;
  std::uint32_t best_sides = 0;
  std::vector<int> units;

  for (int q = 0; q < a.size() && budget > 0; ++q) {
    if (q == p) continue;
    if (a.units(p).size() + a.units(q).size() > kMaxUnits) continue;
    units = a.units(p);
    units.insert(units.end(), a.units(q).begin(), a.units(q).end());
    if (units.size() < 2) continue;
    const std::size_t m = units.size();
    budget -= static_cast<std::int64_t>(1) << m;

    // Fixture tests these units need, numbered locally, with how many units on each side need them.
    std::vector<int> fixtures;
    for (int u : units) {
      const auto& attached = suite.units[static_cast<std::size_t>(u)].attached;
      fixtures.insert(fixtures.end(), attached.begin(), attached.end());
    }
    std::sort(fixtures.begin(), fixtures.end());
    fixtures.erase(std::unique(fixtures.begin(), fixtures.end()), fixtures.end());
    std::vector<int> on_p(fixtures.size(), 0), on_q(fixtures.size(), 0);

    // Start with every unit on p's side (bit 0 = p, 1 = q).
    Micros load_p = 0, load_q = 0;
    for (int u : units) {
      load_p += suite.units[static_cast<std::size_t>(u)].micros;
      for (int f : suite.units[static_cast<std::size_t>(u)].attached) {
        const auto k = static_cast<std::size_t>(std::lower_bound(fixtures.begin(), fixtures.end(), f) -
                                                fixtures.begin());
        if (on_p[k]++ == 0) load_p += suite.attachment_micros(f);
      }
    }
    std::uint32_t sides = 0;
    for (std::uint32_t step = 1; step < (1u << m); ++step) {
      const int i = std::countr_zero(step);
      const Unit& unit = suite.units[static_cast<std::size_t>(units[static_cast<std::size_t>(i)])];
      const bool to_q = ((sides >> i) & 1u) == 0;
      sides ^= 1u << i;
      Micros& from = to_q ? load_p : load_q;
      Micros& to = to_q ? load_q : load_p;
      from -= unit.micros;
      to += unit.micros;
      for (int f : unit.attached) {
        const auto k = static_cast<std::size_t>(std::lower_bound(fixtures.begin(), fixtures.end(), f) -
                                                fixtures.begin());
        int& leaving = to_q ? on_p[k] : on_q[k];
        int& joining = to_q ? on_q[k] : on_p[k];
        if (--leaving == 0) from -= suite.attachment_micros(f);
        if (joining++ == 0) to += suite.attachment_micros(f);
      }
      const PairFinish candidate{load_p, a.weight(p), load_q, a.weight(q)};
      if (finishes_earlier(candidate, best)) {
        best = candidate;
        best_q = q;
        best_sides = sides;
      }
    }
  }
  if (best_q < 0) return false;

  units = a.units(p);
  units.insert(units.end(), a.units(best_q).begin(), a.units(best_q).end());
  for (std::size_t i = 0; i < units.size(); ++i) a.remove(a.partition_of(units[i]), units[i]);
  for (std::size_t i = 0; i < units.size(); ++i) a.add(((best_sides >> i) & 1u) ? best_q : p, units[i]);
  return true;
}

// Depth-first branch and bound over where each unit goes, longest first, for suites small enough that the
// best plan is within reach; starts from the plan the passes found, so it can only improve on it. A branch is
// cut when the partition a unit would join finishes no earlier than the best plan so far, or when all work
// left, spread perfectly, could not beat it; of partitions that are empty and of equal weight only the first
// is tried.
class ExactSearch {
 public:
  ExactSearch(const Suite& suite, Assignment& a, std::int64_t budget)
      : suite_(suite), a_(a), budget_(budget) {
    order_.resize(suite.units.size());
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<int>(i);
    std::stable_sort(order_.begin(), order_.end(), [&](int x, int y) { return micros(x) > micros(y); });
    remaining_.assign(order_.size() + 1, 0);
    for (std::size_t i = order_.size(); i-- > 0;) remaining_[i] = remaining_[i + 1] + micros(order_[i]);
    for (int p = 0; p < a.size(); ++p) weight_sum_ += a.weight(p);
    const int last = last_to_finish(a);
    best_load_ = a.load(last);
    best_weight_ = a.weight(last);
    for (std::size_t u = 0; u < order_.size(); ++u) best_.push_back(a.partition_of(static_cast<int>(u)));
  }

  // Returns whether a better plan was found; `a` then holds it.
  bool run() {
    const std::vector<int> start = best_;
    for (std::size_t u = 0; u < start.size(); ++u) a_.remove(start[u], static_cast<int>(u));
    search(0);
    for (std::size_t u = 0; u < best_.size(); ++u) a_.add(best_[u], static_cast<int>(u));
    return improved_;
  }

 private:
  Micros micros(int unit) const { return suite_.units[static_cast<std::size_t>(unit)].micros; }

  // Whether finishing at load / weight would beat the best plan by more than a ten-thousandth: smaller gains
  // are not worth the search they cost.
  bool worth_it(Micros load, Micros weight) const {
    return Wide{load} * 10'000 * best_weight_ < Wide{best_load_} * 9'999 * weight;
  }

  void search(std::size_t depth) {
    if (--budget_ < 0) return;
    if (depth == order_.size()) {
      const int last = last_to_finish(a_);
      best_load_ = a_.load(last);
      best_weight_ = a_.weight(last);
      for (std::size_t u = 0; u < best_.size(); ++u) best_[u] = a_.partition_of(static_cast<int>(u));
      improved_ = true;
      return;
    }
    // All loads so far plus all work left, spread perfectly, must still beat the best plan.
    Micros all = remaining_[depth];
    for (int p = 0; p < a_.size(); ++p) all += a_.load(p);
    if (!worth_it(all, weight_sum_)) return;

    const int unit = order_[depth];
    for (int p = 0; p < a_.size(); ++p) {
      if (a_.units(p).empty() && first_empty_twin(p) != p) continue;
      const Micros load = a_.load_with(p, unit);
      if (!worth_it(load, a_.weight(p))) continue;
      a_.add(p, unit);
      search(depth + 1);
      a_.remove(p, unit);
      if (budget_ < 0) return;
    }
  }

  // The first empty partition with the same weight as empty partition p: trying one of them is trying them
  // all.
  int first_empty_twin(int p) const {
    for (int q = 0; q < p; ++q) {
      if (a_.units(q).empty() && a_.weight(q) == a_.weight(p)) return q;
    }
    return p;
  }

  const Suite& suite_;
  Assignment& a_;
  std::int64_t budget_;
  std::vector<int> order_;
  std::vector<Micros> remaining_;
  Micros weight_sum_ = 0;
  Micros best_load_ = 0, best_weight_ = 1;
  std::vector<int> best_;
  bool improved_ = false;
};

// Improvement passes after LPT: moves and swaps, then, when they are stuck, an exact re-division of the last
// partition to finish with another, and again; last, for small suites, a search for the best plan. Each step
// of the loop leaves both partitions it touches finishing before the last one did, so the sorted vector of
// finishing times decreases and the loop ends. Budgets count work, not seconds, so the result never depends
// on the machine's speed.
void improve(const Suite& suite, Assignment& a) {
  if (a.size() < 2) return;
  a.sort_units();
  // On big suites LPT is already within a hair of the bound and the passes shave microseconds; the budgets
  // keep that from costing more than the split itself.
  std::int64_t move_budget = 10'000'000;
  std::int64_t pair_budget = 20'000'000;
  const Micros bound_total = bound_inputs(suite).total;
  do {
    move_and_swap(suite, bound_total, a, move_budget);
  } while (move_budget > 0 && pair_budget > 0 && repartition_pair(suite, a, pair_budget));
  // Small suites, where one test more or less on a partition matters most, get a search for the best plan.
  constexpr std::size_t kExactSearchUnits = 64;
  if (suite.units.size() <= kExactSearchUnits && !near_bound(bound_total, a))
    ExactSearch(suite, a, 500'000).run();
}

Plan make_plan(const Suite& suite, const Assignment& a, Splitter splitter,
               const std::vector<double>& weights) {
  Plan plan;
  plan.splitter = splitter;
  plan.fallback_seconds = detail::to_seconds(suite.fallback);
  plan.tests_without_history = suite.without_history;

  const auto [total_micros, longest] = bound_inputs(suite);
  Micros max_weight = 0;
  for (int p = 0; p < a.size(); ++p) max_weight = std::max(max_weight, a.weight(p));
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
