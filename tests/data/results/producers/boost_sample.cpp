// Boost.Test sample for tests/data/results: a pass, a failure, a disabled test, a test skipped by its
// precondition, an exception, in a suite and at the top level.
#define BOOST_TEST_MODULE boost_sample
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <stdexcept>

namespace utf = boost::unit_test;

BOOST_AUTO_TEST_CASE(adds) {
  BOOST_TEST(1 + 1 == 2);
}
BOOST_AUTO_TEST_CASE(fails) {
  BOOST_TEST(2 * 2 == 5);
}
BOOST_AUTO_TEST_CASE(disabled_test, *utf::disabled()) {
  BOOST_TEST(false);
}
BOOST_AUTO_TEST_CASE(throws) {
  throw std::runtime_error("boom");
}
BOOST_AUTO_TEST_SUITE(math_suite)
BOOST_AUTO_TEST_CASE(in_a_suite) {
  BOOST_TEST(true);
}
BOOST_AUTO_TEST_CASE(depends_on_failing, *utf::depends_on("fails")) {
  BOOST_TEST(true);
}
BOOST_AUTO_TEST_SUITE_END()
