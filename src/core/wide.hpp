// A signed 128-bit integer in standard C++ (MSVC has no __int128), for the splitters' exact comparisons of
// products of loads and weights. Two's complement in two 64-bit halves; + - * wrap modulo 2^128.
#pragma once

#include <cstdint>

namespace tlb::detail {

class Wide {
 public:
  constexpr Wide(std::int64_t value)  // NOLINT: implicit, as an integer promotes.
      : high_(value < 0 ? ~std::uint64_t{0} : 0), low_(static_cast<std::uint64_t>(value)) {}

  friend constexpr Wide operator+(Wide a, Wide b) {
    const std::uint64_t low = a.low_ + b.low_;
    return Wide(a.high_ + b.high_ + (low < a.low_ ? 1 : 0), low);
  }
  friend constexpr Wide operator-(Wide a, Wide b) { return a + b.negated(); }
  friend constexpr Wide operator*(Wide a, Wide b) {
    Wide product = multiply(a.low_, b.low_);
    product.high_ += a.high_ * b.low_ + a.low_ * b.high_;
    return product;
  }
  friend constexpr bool operator==(Wide a, Wide b) { return a.high_ == b.high_ && a.low_ == b.low_; }
  friend constexpr bool operator<(Wide a, Wide b) {
    if (a.high_ != b.high_) return static_cast<std::int64_t>(a.high_) < static_cast<std::int64_t>(b.high_);
    return a.low_ < b.low_;
  }
  friend constexpr bool operator<=(Wide a, Wide b) { return !(b < a); }

  // The quotient by a positive `divisor`, rounded toward zero as C++'s / rounds; it must fit in 64 bits.
  constexpr std::int64_t divided_by(std::int64_t divisor) const {
    const bool negative = static_cast<std::int64_t>(high_) < 0;
    const Wide magnitude = negative ? negated() : *this;
    const auto d = static_cast<std::uint64_t>(divisor);
    std::uint64_t quotient = 0;
    if (magnitude.high_ == 0) {
      quotient = magnitude.low_ / d;
    } else {
      // Long division a bit at a time: only when the dividend passes 2^64, which the splitters' values do not
      // reach in practice.
      std::uint64_t remainder = 0;
      for (int bit = 127; bit >= 0; --bit) {
        const bool carry = (remainder >> 63) != 0;
        remainder = (remainder << 1) | magnitude.bit(bit);
        quotient <<= 1;
        if (carry || remainder >= d) {
          remainder -= d;
          quotient |= 1;
        }
      }
    }
    return negative ? -static_cast<std::int64_t>(quotient) : static_cast<std::int64_t>(quotient);
  }

 private:
  constexpr Wide(std::uint64_t high, std::uint64_t low) : high_(high), low_(low) {}

  constexpr Wide negated() const { return Wide(~high_, ~low_) + Wide(1); }
  constexpr std::uint64_t bit(int index) const {
    return index >= 64 ? (high_ >> (index - 64)) & 1 : (low_ >> index) & 1;
  }

  // The full 128-bit product of two 64-bit halves, from 32-bit pieces.
  static constexpr Wide multiply(std::uint64_t a, std::uint64_t b) {
    const std::uint64_t a0 = a & 0xFFFFFFFF, a1 = a >> 32, b0 = b & 0xFFFFFFFF, b1 = b >> 32;
    const std::uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    const std::uint64_t middle = (p00 >> 32) + (p01 & 0xFFFFFFFF) + (p10 & 0xFFFFFFFF);
    return Wide(p11 + (p01 >> 32) + (p10 >> 32) + (middle >> 32), (middle << 32) | (p00 & 0xFFFFFFFF));
  }

  std::uint64_t high_;
  std::uint64_t low_;
};

}  // namespace tlb::detail
