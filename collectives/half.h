// bf16 and IEEE f16 stored as uint16_t, with conversions to and from f32.
//
// Conversions round to nearest even, keep infinities and NaNs (NaNs become quiet NaNs), and
// handle f16 subnormals. They are pure functions: thread-safe and constexpr-free only because
// they use std::bit_cast-free memcpy for portability to older compilers.
#ifndef TANGRAM_COLLECTIVES_HALF_H_
#define TANGRAM_COLLECTIVES_HALF_H_

#include <cstdint>
#include <cstring>

namespace tangram::collectives {

inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float BitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// bf16 is the top half of an f32: same exponent range, 8 significant bits.
inline float Bf16ToFloat(uint16_t h) { return BitsToFloat(static_cast<uint32_t>(h) << 16); }

inline uint16_t FloatToBf16(float f) {
  uint32_t u = FloatBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<uint16_t>(u >> 16);
}

// IEEE 754 binary16: 5 exponent bits (bias 15), 11 significant bits, max 65504.
inline float F16ToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return BitsToFloat(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  if (exponent != 0) return BitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  if (mantissa == 0) return BitsToFloat(sign);  // signed zero
  // Subnormal: value is mantissa * 2^-24, exact in f32.
  const float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
  return sign ? -magnitude : magnitude;
}

inline uint16_t FloatToF16(float f) {
  const uint32_t u = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: infinity
  if (abs >= 0x38800000u) {                       // normal f16 (>= 2^-14)
    uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
    return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
  }
  // Subnormal or zero: scale so that one f16 ulp (2^-24) is 1.0 and round to nearest even.
  const float scaled = BitsToFloat(abs) * 16777216.0f;
  uint32_t integer = static_cast<uint32_t>(scaled);
  const float fraction = scaled - static_cast<float>(integer);
  if (fraction > 0.5f || (fraction == 0.5f && (integer & 1u))) ++integer;
  return sign | static_cast<uint16_t>(integer);
}

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_HALF_H_
