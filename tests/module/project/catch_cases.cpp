// Catch2 cases that ctest learns only by running the binary (catch_discover_tests, prefix "catch:").
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "log_name.hpp"

TEST_CASE("catch case with spaces") {
  log_name("catch:catch case with spaces");
}
TEST_CASE("catch.second") {
  log_name("catch:catch.second");
}
TEST_CASE("catch.third", "[tagged]") {
  log_name("catch:catch.third");
}
