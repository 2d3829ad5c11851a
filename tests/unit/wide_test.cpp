// The splitters' 128-bit integer in standard C++ (core/wide.hpp): products, differences, comparisons and
// quotients agree with the compiler's __int128 where it has one, and with exact values past 2^64 everywhere.
#include "core/wide.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace tlb::detail {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

TEST(Wide, ProductsPast64BitsCompareExactly) {
  // 2^62 * 4 = 2^64 and 2^63 - 1 squared: beyond 64 bits, where a 64-bit product would wrap.
  const std::int64_t p62 = std::int64_t{1} << 62;
  EXPECT_TRUE(Wide(p62) * 4 < Wide(p62) * 4 + 1);
  EXPECT_TRUE(Wide(p62) * 3 < Wide(p62) * 4);
  EXPECT_TRUE(Wide(kMax) * (kMax - 1) < Wide(kMax) * kMax);
  EXPECT_TRUE(Wide(-kMax) * kMax < Wide(kMax) * -(kMax - 1));
  EXPECT_TRUE(Wide(-1) < Wide(0));
  EXPECT_TRUE(Wide(0) <= Wide(0));
  EXPECT_FALSE(Wide(1) <= Wide(0));
  // 2^62 * 12 = 3 * 2^64: quotients of dividends past 2^64, by long division, remainders dropped.
  EXPECT_EQ((Wide(p62) * 12).divided_by(8), p62 + p62 / 2);
  EXPECT_EQ((Wide(p62) * 12 + 7).divided_by(8), p62 + p62 / 2);
  EXPECT_EQ((Wide(-p62) * 12 - 7).divided_by(8), -(p62 + p62 / 2));
}

TEST(Wide, QuotientsRoundTowardZeroAsIntegerDivisionDoes) {
  EXPECT_EQ(Wide(7).divided_by(2), 3);
  EXPECT_EQ(Wide(-7).divided_by(2), -3);
  EXPECT_EQ((Wide(1000) * 3 - Wide(5000) * 1).divided_by(4), -500);
  EXPECT_EQ((Wide(kMax) * 6).divided_by(6), kMax);
  EXPECT_EQ((Wide(-kMax) * 6).divided_by(6), -kMax);
  EXPECT_EQ((Wide(kMax) * kMax).divided_by(kMax), kMax);
}

#ifdef __SIZEOF_INT128__
__extension__ typedef __int128 Native;

TEST(Wide, AgreesWithTheCompilersInt128) {
  std::mt19937_64 random(18);
  std::vector<std::int64_t> values{0, 1, -1, kMax, -kMax, 1000, 999'999'999'999, -123'456'789'012'345};
  for (int i = 0; i < 200; ++i) values.push_back(static_cast<std::int64_t>(random() >> (random() % 63)));
  for (std::int64_t a : values) {
    for (std::int64_t b : values) {
      const Native product = Native{a} * b;
      EXPECT_EQ(Wide(a) * b < Wide(b) * a, product < Native{b} * a);
      const std::int64_t c = a > -kMax ? a - 1 : a;
      EXPECT_EQ(Wide(a) * b <= Wide(c) * b, product <= Native{c} * b);
      const std::int64_t divisor = b > 0 ? b : (b == 0 ? 7 : -b);
      // Quotients that fit in 64 bits: a difference of two products, as the pairwise balancer divides.
      const Native difference = Native{a} * 3 - Native{b} * 2;
      const Native quotient = difference / divisor;
      if (quotient <= kMax && quotient >= -kMax) {
        EXPECT_EQ((Wide(a) * 3 - Wide(b) * 2).divided_by(divisor), static_cast<std::int64_t>(quotient))
            << a << " " << b << " " << divisor;
      }
    }
  }
}
#endif

}  // namespace
}  // namespace tlb::detail
