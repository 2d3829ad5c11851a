// doctest cases that ctest learns only by running the binary (doctest_discover_tests, prefix "doctest:").
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "log_name.hpp"

TEST_CASE("doctest.first") {
  log_name("doctest:doctest.first");
}
TEST_CASE("doctest.second") {
  log_name("doctest:doctest.second");
}
TEST_CASE("doctest.third") {
  log_name("doctest:doctest.third");
}
