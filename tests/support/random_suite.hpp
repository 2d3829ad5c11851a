// Random test suites for property tests: heavy-tailed durations, partial history, fixtures and DEPENDS.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tlb/history.hpp"
#include "tlb/test.hpp"

namespace tlb::testing {

struct RandomSuite {
  std::vector<Test> tests;
  History history;
};

// Draws from std::mt19937_64 only through integer arithmetic and our own transforms, so a seed means the same
// suite with every standard library.
class Draw {
 public:
  explicit Draw(std::uint64_t seed) : engine_(seed) {}
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  int between(int low, int high) {  // inclusive
    return low + static_cast<int>(engine_() % static_cast<std::uint64_t>(high - low + 1));
  }
  bool chance(double p) { return uniform() < p; }
  // Log-normal through Box-Muller.
  double lognormal(double mu, double sigma) {
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::exp(mu + sigma * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2));
  }

 private:
  std::mt19937_64 engine_;
};

struct SuiteShape {
  int size = 100;
  double history_share = 0.9;
  double fixture_share = 0.0;  // Share of tests that require one of a few fixtures.
  double depends_share = 0.0;  // Share of tests that DEPEND on an earlier test.
  double disabled_share = 0.0;
};

inline RandomSuite random_suite(std::uint64_t seed, const SuiteShape& shape) {
  Draw draw(seed);
  RandomSuite suite;
  const int fixtures = shape.fixture_share > 0 ? 3 : 0;
  for (int f = 0; f < fixtures; ++f) {
    Test setup = Test::named("fixture" + std::to_string(f) + ".setup");
    setup.fixtures_setup = {"fx" + std::to_string(f)};
    Test cleanup = Test::named("fixture" + std::to_string(f) + ".cleanup");
    cleanup.fixtures_cleanup = {"fx" + std::to_string(f)};
    suite.history.set(setup.name, TestRecord{draw.lognormal(-1, 1), 1, Outcome::passed});
    suite.tests.push_back(std::move(setup));
    suite.tests.push_back(std::move(cleanup));
  }
  for (int i = 0; i < shape.size; ++i) {
    Test test = Test::named("suite" + std::to_string(draw.between(0, 9)) + ".case_" + std::to_string(i));
    if (draw.chance(shape.fixture_share))
      test.fixtures_required = {"fx" + std::to_string(draw.between(0, fixtures - 1))};
    if (i > 0 && draw.chance(shape.depends_share)) {
      test.depends = {suite
                          .tests[static_cast<std::size_t>(
                              draw.between(2 * fixtures, static_cast<int>(suite.tests.size()) - 1))]
                          .name};
    }
    if (draw.chance(shape.disabled_share)) test.disabled = true;
    if (draw.chance(0.05)) test.cost = draw.lognormal(0, 1);
    if (draw.chance(shape.history_share)) {
      const double seconds = draw.chance(0.02) ? draw.lognormal(3, 0.5) : draw.lognormal(-1, 1.5);
      suite.history.set(test.name,
                        TestRecord{seconds, 3, draw.chance(0.1) ? Outcome::failed : Outcome::passed});
    }
    suite.tests.push_back(std::move(test));
  }
  return suite;
}

}  // namespace tlb::testing
