// doctest sample for tests/data/results: a pass, a failure, a skipped test, subcases, an exception, may_fail.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <stdexcept>

TEST_CASE("adds") {
  CHECK(1 + 1 == 2);
}
TEST_CASE("divides by zero") {
  CHECK(1 / 1 == 0);
}
TEST_CASE("skipped by decorator" * doctest::skip()) {
  CHECK(false);
}
TEST_CASE("subcases") {
  SUBCASE("first") {
    CHECK(true);
  }
  SUBCASE("second") {
    CHECK(false);
  }
}
TEST_CASE("throws") {
  throw std::runtime_error("boom");
}
TEST_CASE("may fail" * doctest::may_fail()) {
  CHECK(false);
}
TEST_SUITE("math suite") {
  TEST_CASE("in a suite") {
    CHECK(true);
  }
}
