#include "tlb/split.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "suite.hpp"
#include "wide.hpp"

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
using detail::Wide;  // Products of loads and weights.

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

  // add(p, unit) for a unit without fixture tests, for placement, which adds units in an order unrelated to
  // where they are stored: the unit's duration comes from the caller, and where it went is recorded later,
  // for all units at once, by record_partitions(). Until then partition_of() is stale.
  void add_unattached(int p, int unit, Micros micros) {
    loads_[idx(p)] += micros;
    units_[idx(p)].push_back(unit);
  }

  // Records in partition_of() where add_unattached() put units. One loop of scattered stores is much
  // quicker than storing each while placing: at a million units, placement took twice as long that way.
  void record_partitions() {
    for (std::size_t p = 0; p < units_.size(); ++p) {
      for (int unit : units_[p]) partition_of_[idx(unit)] = static_cast<int>(p);
    }
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

  // Puts each partition's units in ascending order and keeps them so from now on. One walk over the units in
  // order rebuilds the lists sorted, which is cheaper than sorting them.
  void sort_units() {
    for (auto& list : units_) list.clear();
    for (std::size_t u = 0; u < partition_of_.size(); ++u) {
      if (partition_of_[u] >= 0) units_[idx(partition_of_[u])].push_back(static_cast<int>(u));
    }
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

// `alone`: each test's duration when it runs by itself, when that differs from the load it puts on its
// partition (under ctest -j); no partition can finish before its longest test.
BoundInputs bound_inputs(const Suite& suite, const std::vector<Micros>& alone) {
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
  for (const Micros micros : alone) bound.longest = std::max(bound.longest, micros);
  return bound;
}

// Under `ctest -j J` a partition does not take the sum of its tests: J run at once, a test with PROCESSORS p
// takes min(p, J) of the J slots, and a RUN_SERIAL test runs with nothing beside it. Each test's estimate
// becomes the load it puts on its partition, duration x min(p, J) / J (RUN_SERIAL: its whole duration), so
// every splitter balances loads; returns the durations, which still order the tests and bound the plan.
std::vector<Micros> apply_parallel_level(Suite& suite, int parallel_level) {
  std::vector<Micros> alone = suite.micros;
  for (std::size_t i = 0; i < suite.size(); ++i) {
    const Test& test = suite.test(i);
    if (test.run_serial) continue;
    const Micros slots = std::clamp(test.processors, 1, parallel_level);
    suite.micros[i] = suite.micros[i] * slots / parallel_level;
  }
  for (Unit& unit : suite.units) {
    unit.micros = 0;
    for (int member : suite.members_of(unit)) unit.micros += suite.micros[static_cast<std::size_t>(member)];
  }
  return alone;
}

Micros total_weight(const Assignment& a) {
  Micros sum = 0;
  for (int p = 0; p < a.size(); ++p) sum += a.weight(p);
  return sum;
}

// Contiguous slices of the name-sorted units. Slice i ends at floor(n * W_i / W), W_i the weight of
// partitions 1..i; with equal weights that is the original TLB's formula: i*q + floor(r*i/T).
void split_by_count(const Suite& suite, Assignment& a) {
  const Wide n = static_cast<Micros>(suite.units.size());
  const Micros total = total_weight(a);
  Micros cumulative = 0;
  std::size_t begin = 0;
  for (int p = 0; p < a.size(); ++p) {
    cumulative += a.weight(p);
    const auto end = static_cast<std::size_t>((n * cumulative).divided_by(total));
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

// The partition with the least load, ties to the lowest number: a tournament tree over the partitions, so
// that finding it takes one look and a change of one load log2(N) steps.
class LeastLoaded {
 public:
  explicit LeastLoaded(const Assignment& a) {
    while (leaves_ < static_cast<std::size_t>(a.size())) leaves_ *= 2;
    // Partitions past the last one are never less loaded than a real one.
    loads_.assign(leaves_, std::numeric_limits<Micros>::max());
    winners_.assign(2 * leaves_, 0);
    for (std::size_t p = 0; p < leaves_; ++p) {
      if (p < static_cast<std::size_t>(a.size())) loads_[p] = a.load(static_cast<int>(p));
      winners_[leaves_ + p] = static_cast<int>(p);
    }
    for (std::size_t k = leaves_ - 1; k > 0; --k) play(k);
  }
  int least() const { return winners_[1]; }
  void update(int p, Micros load) {
    loads_[static_cast<std::size_t>(p)] = load;
    for (std::size_t k = (leaves_ + static_cast<std::size_t>(p)) / 2; k > 0; k /= 2) play(k);
  }

 private:
  // Node k's winner from its children's. The left child's partitions all have lower numbers than the right
  // child's, so the right one wins only when strictly less loaded. (Written to compile to a conditional move:
  // which side wins is close to a coin toss, and a branch would often guess wrong.)
  void play(std::size_t k) {
    const int left = winners_[2 * k], right = winners_[2 * k + 1];
    winners_[k] =
        loads_[static_cast<std::size_t>(right)] < loads_[static_cast<std::size_t>(left)] ? right : left;
  }

  std::size_t leaves_ = 1;
  std::vector<Micros> loads_;  // Per partition, padded to leaves_.
  std::vector<int> winners_;   // Heap layout: node k's children are 2k and 2k + 1; leaf leaves_ + p is p.
};

// Longest processing time first: each unit, longest first (ties in unit order), goes where it would finish
// earliest (ties to the lowest partition number).
void place_longest_first(const Suite& suite, Assignment& a) {
  struct Item {
    Micros micros;
    int unit;
    bool attached;  // Needs fixture tests.
  };
  std::vector<Item> order(suite.units.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = Item{suite.units[i].micros, static_cast<int>(i), !suite.units[i].attached.empty()};
  }
  // Longest first; the units are in ascending order already, and the sort keeps the order of equals.
  std::vector<Item> scratch;
  detail::stable_sort_by_key(order.data(), order.size(), scratch,
                             [](const Item& item) { return ~static_cast<std::uint64_t>(item.micros); });
  // With equal weights, a unit without fixture tests finishes earliest on the least loaded partition, so
  // the tree finds it without trying every partition. Units with fixture tests, and unequal weights, try
  // every partition.
  bool equal_weights = true;
  for (int p = 1; p < a.size(); ++p) equal_weights = equal_weights && a.weight(p) == a.weight(0);
  std::optional<LeastLoaded> least_loaded;
  if (equal_weights) least_loaded.emplace(a);
  for (const Item& item : order) {
    const int u = item.unit;
    int best = 0;
    if (least_loaded && !item.attached) {
      best = least_loaded->least();
    } else {
      auto load_with = [&](int p) { return item.attached ? a.load_with(p, u) : a.load(p) + item.micros; };
      Micros best_load = load_with(0);
      for (int p = 1; p < a.size(); ++p) {
        Micros load = load_with(p);
        if (less_ratio(load, a.weight(p), best_load, a.weight(best))) {
          best = p;
          best_load = load;
        }
      }
    }
    if (item.attached) {
      a.add(best, u);
    } else {
      a.add_unattached(best, u, item.micros);
    }
    if (least_loaded) least_loaded->update(best, a.load(best));
  }
  a.record_partitions();
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
  // Big suites usually end here, within a hair of the bound after placement: then the lists below are not
  // worth building.
  if (budget <= 0 || near_bound(bound_total, a)) return;
  const int n = a.size();
  // Units without fixture tests can be swapped with simple arithmetic; kept per partition sorted by duration.
  auto swappable = [&](int unit) { return suite.units[static_cast<std::size_t>(unit)].attached.empty(); };
  std::vector<std::vector<std::pair<Micros, int>>> by_duration(static_cast<std::size_t>(n));
  {
    // All of them sorted once by (duration, unit), then dealt to their partitions in that order.
    std::vector<std::pair<Micros, int>> all, scratch;
    for (std::size_t u = 0; u < suite.units.size(); ++u) {
      if (swappable(static_cast<int>(u))) all.emplace_back(suite.units[u].micros, static_cast<int>(u));
    }
    detail::stable_sort_by_key(all.data(), all.size(), scratch, [](const std::pair<Micros, int>& item) {
      return static_cast<std::uint64_t>(item.first);
    });
    for (const auto& item : all)
      by_duration[static_cast<std::size_t>(a.partition_of(item.second))].push_back(item);
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
        const Micros ideal = (Wide{lp} * wq - Wide{lq} * wp).divided_by(wp + wq);
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
void improve(const Suite& suite, Micros bound_total, Assignment& a) {
  if (a.size() < 2) return;
  a.sort_units();
  // On big suites LPT is already within a hair of the bound and the passes shave microseconds; the budgets
  // keep that from costing more than the split itself.
  std::int64_t move_budget = 10'000'000;
  std::int64_t pair_budget = 20'000'000;
  do {
    move_and_swap(suite, bound_total, a, move_budget);
  } while (move_budget > 0 && pair_budget > 0 && repartition_pair(suite, a, pair_budget));
  // Small suites, where one test more or less on a partition matters most, get a search for the best plan.
  constexpr std::size_t kExactSearchUnits = 64;
  if (suite.units.size() <= kExactSearchUnits && !near_bound(bound_total, a))
    ExactSearch(suite, a, 500'000).run();
}

// The plan of assignment `a`. It moves the tests' names out of the suite (a test that is not a fixture's is
// in exactly one partition), so the suite is done with after it.
Plan make_plan(Suite& suite, const BoundInputs& bound, const std::vector<Micros>& alone, const Assignment& a,
               Splitter splitter, const std::vector<double>& weights) {
  Plan plan;
  plan.splitter = splitter;
  plan.fallback_seconds = detail::to_seconds(suite.fallback);
  plan.tests_without_history = suite.without_history;

  const auto [total_micros, longest] = bound;
  Micros max_weight = 0;
  for (int p = 0; p < a.size(); ++p) max_weight = std::max(max_weight, a.weight(p));
  const Micros weight_sum = total_weight(a);
  plan.lower_bound_seconds =
      std::max(detail::to_seconds(total_micros) * 1000 / static_cast<double>(weight_sum),
               detail::to_seconds(longest) * 1000 / static_cast<double>(max_weight));

  std::vector<int> tests;  // Of one partition, in name order (test indices are in name order).
  for (int p = 0; p < a.size(); ++p) {
    Partition partition;
    partition.number = p + 1;
    partition.weight = weights.empty() ? 1.0 : weights[static_cast<std::size_t>(p)];
    tests.clear();
    for (int u : a.units(p)) {
      if (suite.one_member_each) {
        tests.push_back(suite.members[static_cast<std::size_t>(u)]);
      } else {
        for (int member : suite.members_of(suite.units[static_cast<std::size_t>(u)])) tests.push_back(member);
      }
    }
    for (std::size_t k = 0; k < suite.attachments.size(); ++k) {
      if (a.carries(p, static_cast<int>(k))) tests.push_back(suite.attachments[k]);
    }
    if (!std::is_sorted(tests.begin(), tests.end())) std::sort(tests.begin(), tests.end());
    partition.tests.reserve(tests.size());
    // Under ctest -j a RUN_SERIAL test starts when nothing else runs: the partition takes at least its serial
    // tests one after another plus its longest other test.
    Micros serial = 0;
    Micros longest_other = 0;
    for (std::size_t k = 0; k < tests.size(); ++k) {
      // The tests are far apart in memory, and each is needed once: ask for the next ones early.
      if (k + 2 * detail::kPrefetchDistance < tests.size())
        detail::prefetch(&suite.order[static_cast<std::size_t>(tests[k + 2 * detail::kPrefetchDistance])]);
      if (k + detail::kPrefetchDistance < tests.size())
        detail::prefetch(&suite.test(static_cast<std::size_t>(tests[k + detail::kPrefetchDistance])).name);
      const auto i = static_cast<std::size_t>(tests[k]);
      const bool fixture = suite.attachment_of[i] >= 0;
      PlannedTest& planned = partition.tests.emplace_back();
      // A fixture's test may go with several partitions: copied. Any other test is here only: moved.
      planned.name = fixture ? suite.test(i).name : std::move(suite.test(i).name);
      planned.seconds = detail::to_seconds(alone.empty() ? suite.micros[i] : alone[i]);
      if (!alone.empty()) {
        if (suite.test(i).run_serial) {
          serial += alone[i];
        } else {
          longest_other = std::max(longest_other, alone[i]);
        }
      }
      planned.estimate = suite.estimates[i];
      planned.fixture = fixture;
    }
    partition.predicted_seconds = detail::to_seconds(std::max(a.load(p), serial + longest_other));
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
  if (options.parallel_level < 1) throw std::invalid_argument("parallel_level must be at least 1");
  Suite suite = detail::prepare(std::move(tests), history);
  const std::vector<Micros> alone = options.parallel_level > 1
                                        ? apply_parallel_level(suite, options.parallel_level)
                                        : std::vector<Micros>();

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

  const BoundInputs bound = bound_inputs(suite, alone);
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
      improve(suite, bound.total, assignment);
      break;
  }
  Plan plan = make_plan(suite, bound, alone, assignment, *chosen, options.weights);
  plan.declined = std::move(declined);
  return plan;
}

}  // namespace tlb
