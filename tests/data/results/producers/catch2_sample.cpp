// Catch2 v2 sample for tests/data/results: a pass, a failure, a section pass and fail, a hidden test, a
// throw.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <stdexcept>

TEST_CASE("adds numbers") {
  REQUIRE(1 + 1 == 2);
}
TEST_CASE("fails a check") {
  CHECK(2 * 2 == 5);
}
TEST_CASE("vector") {
  SECTION("grows") {
    REQUIRE(true);
  }
  SECTION("shrinks") {
    REQUIRE(false);
  }
}
TEST_CASE("throws", "[throws]") {
  throw std::runtime_error("boom");
}
TEST_CASE("hidden by its tag", "[.]") {
  REQUIRE(true);
}
TEST_CASE("may fail", "[!mayfail]") {
  REQUIRE(false);
}
struct Fixture {
  int value = 3;
};
TEST_CASE_METHOD(Fixture, "uses the fixture") {
  REQUIRE(value == 3);
}
