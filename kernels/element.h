// Element conversions shared, line for line, by the CPU reference and the CUDA
// kernels: E2M1 (FP4), E4M3 (FP8), E8M0 (MX scale), bf16 and fp16. Every
// function uses only IEEE round-to-nearest fp32 arithmetic and integer bit
// work, so the host and every GPU produce identical bits (NVFP4.md). These are
// the readable specification; kernels/reference.cc builds the block recipes
// on top of them and tests check them against cuda_fp4.h / cuda_fp8.h.
//
// Thread safety: pure functions.
#ifndef KVSTASH_KERNELS_ELEMENT_H_
#define KVSTASH_KERNELS_ELEMENT_H_

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define KVSTASH_HD __host__ __device__ __forceinline__
#else
#define KVSTASH_HD inline
#endif

namespace kvstash::kernels {

KVSTASH_HD uint32_t FloatBits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
#endif
}

KVSTASH_HD float BitsFloat(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
#endif
}

KVSTASH_HD bool IsNan(float f) { return (FloatBits(f) & 0x7fffffffu) > 0x7f800000u; }
KVSTASH_HD float AbsF(float f) { return BitsFloat(FloatBits(f) & 0x7fffffffu); }

// Round a non-negative float below 2^22 to the nearest integer, ties to even,
// by adding and subtracting 1.5 * 2^23 (exact under round-to-nearest).
KVSTASH_HD float RoundHalfEven(float a) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
#if defined(__CUDA_ARCH__)
  return __fsub_rn(__fadd_rn(a, kMagic), kMagic);
#else
  volatile float t = a + kMagic;  // volatile: keep the rounding step
  return t - kMagic;
#endif
}

KVSTASH_HD float MulRn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

KVSTASH_HD float DivRn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

// ---------------------------------------------------------------- E2M1 ----
// Codes 0..7 are +{0, 0.5, 1, 1.5, 2, 3, 4, 6}; bit 3 is the sign.
// Round to nearest, ties to even code; |x| > 6 and Inf saturate to 6; NaN
// encodes as +6 (0x7); the sign survives underflow (-0.1 -> 0x8).
KVSTASH_HD uint8_t EncodeE2m1(float x) {
  const uint32_t u = FloatBits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7;
  const uint8_t sign = static_cast<uint8_t>((u >> 28) & 0x8u);
  float a = AbsF(x);
  a = a < 6.0f ? a : 6.0f;
  // Pick a multiplier by magnitude so that each range maps to integers:
  // [0,2) x2 -> codes 0..4, [2,4) x1 -> +2 -> 4..6, [4,6] x0.5 -> +4 -> 6..7.
  const float mul = a < 2.0f ? 2.0f : (a < 4.0f ? 1.0f : 0.5f);
  const int offset = a < 2.0f ? 0 : (a < 4.0f ? 2 : 4);
  int code = static_cast<int>(RoundHalfEven(MulRn(a, mul))) + offset;
  code = code < 7 ? code : 7;
  return static_cast<uint8_t>(code) | sign;
}

// Decode to fp32 by building the bits: magnitude code m = (e << 1) | f with
// e = 0 subnormal (f * 0.5), else (1 + f/2) * 2^(e-1).
KVSTASH_HD float DecodeE2m1(uint8_t code) {
  const uint32_t sign = static_cast<uint32_t>(code & 0x8u) << 28;
  const uint32_t e = (code >> 1) & 0x3u;
  const uint32_t f = code & 0x1u;
  const uint32_t mag = e == 0 ? (f ? 0x3f000000u : 0u) : (((e + 126u) << 23) | (f << 22));
  return BitsFloat(sign | mag);
}

// ---------------------------------------------------------------- E4M3 ----
// OCP E4M3FN: bias 7, max 448 (0x7E), NaN 0x7F, no Inf, subnormals down to
// 2^-9. Round to nearest even, satfinite: everything at or above 448 after
// rounding (and Inf) becomes +-448. NaN encodes as 0x7F.
KVSTASH_HD uint8_t EncodeE4m3(float x) {
  const uint32_t u = FloatBits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7f;
  const uint8_t sign = static_cast<uint8_t>((u >> 24) & 0x80u);
  const float a = AbsF(x);
  uint32_t code;
  if (a < 0.015625f) {  // below 2^-6: subnormal grid of 2^-9 (8 is 2^-6, normal)
    code = static_cast<uint32_t>(RoundHalfEven(MulRn(a, 512.0f)));
  } else if (a >= 464.0f) {
    code = 0x7e;
  } else {
    uint32_t m = u & 0x7fffffffu;
    m += 0x7ffffu + ((m >> 20) & 1u);       // round 23 mantissa bits to 3, ties to even
    const uint32_t exp = (m >> 23) - 120u;  // rebias 127 -> 7
    code = (exp << 3) | ((m >> 20) & 0x7u);
    code = code < 0x7eu ? code : 0x7eu;
  }
  return static_cast<uint8_t>(code) | sign;
}

KVSTASH_HD float DecodeE4m3(uint8_t code) {
  const uint32_t sign = static_cast<uint32_t>(code & 0x80u) << 24;
  const uint32_t exp = (code >> 3) & 0xfu;
  const uint32_t man = code & 0x7u;
  if (exp == 0xf && man == 0x7) return BitsFloat(sign | 0x7fc00000u);
  if (exp == 0) {
    return BitsFloat(sign | FloatBits(MulRn(static_cast<float>(man), 0.001953125f)));
  }
  return BitsFloat(sign | ((exp + 120u) << 23) | (man << 20));
}

// ---------------------------------------------------------------- E8M0 ----
// Unsigned power-of-two scale 2^(b - 127), b in 0..254; 0xFF is NaN.

// OCP MX "floor" scale for a block with absolute maximum amax:
// floor(log2(amax)) - emax(E2M1) = floor(log2(amax)) - 2. Zero and subnormal
// amax give b = 0; Inf saturates (b = 253); NaN gives 0xFF.
KVSTASH_HD uint8_t MxScaleFloor(float amax) {
  const uint32_t u = FloatBits(amax) & 0x7fffffffu;
  if (u > 0x7f800000u) return 0xff;
  const int biased = static_cast<int>(u >> 23);
  const int b = biased - 2;
  return static_cast<uint8_t>(b < 0 ? 0 : b);
}

// RCEIL scale: ceil(log2(amax / 6)), so that no element clips. NaN gives 0xFF.
KVSTASH_HD uint8_t MxScaleRceil(float amax) {
  const uint32_t ua = FloatBits(amax) & 0x7fffffffu;
  if (ua > 0x7f800000u) return 0xff;
  if (ua == 0x7f800000u) return 0xfe;
  const uint32_t u = FloatBits(DivRn(BitsFloat(ua), 6.0f));
  if (u == 0) return 0;
  int biased = static_cast<int>(u >> 23);
  const uint32_t man = u & 0x7fffffu;
  if (biased == 0) {
    // Subnormal t: 2^-127 (b = 0) covers t <= 2^-127, else 2^-126 (b = 1).
    return man <= 0x400000u ? 0 : 1;
  }
  if (man != 0) ++biased;
  return static_cast<uint8_t>(biased > 254 ? 254 : biased);
}

// 2^(b - 127) as a float (2^-127 is subnormal, still exact). b = 0xFF is NaN.
KVSTASH_HD float DecodeE8m0(uint8_t b) {
  if (b == 0xff) return BitsFloat(0x7fc00000u);
  if (b == 0) return BitsFloat(0x00400000u);
  return BitsFloat(static_cast<uint32_t>(b) << 23);
}

// 2^(127 - b): the exact reciprocal of DecodeE8m0(b), used to quantise.
KVSTASH_HD float InverseE8m0(uint8_t b) {
  if (b == 0xff) return BitsFloat(0x7fc00000u);
  if (b == 254) return BitsFloat(0x00400000u);
  return BitsFloat(static_cast<uint32_t>(254 - b) << 23);
}

// ------------------------------------------------------------ bf16/fp16 ----
// Round to nearest even. NaN becomes the canonical 0x7FFF (as CUDA does).
KVSTASH_HD uint16_t FloatToBf16(float x) {
  const uint32_t u = FloatBits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

KVSTASH_HD float Bf16ToFloat(uint16_t h) { return BitsFloat(static_cast<uint32_t>(h) << 16); }

// IEEE binary16, round to nearest even, overflow to Inf, gradual underflow.
KVSTASH_HD uint16_t FloatToHalf(float x) {
  const uint32_t u = FloatBits(x);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return 0x7fff;
  if (a >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to Inf
  if (a < 0x38800000u) {                        // below 2^-14: subnormal half
    // Scale so the half subnormal unit 2^-24 becomes 1, then round.
    const float scaled = MulRn(BitsFloat(a), 16777216.0f);
    return sign | static_cast<uint16_t>(RoundHalfEven(scaled));
  }
  const uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - 0x38000000u;  // rebias 127 -> 15
  return sign | static_cast<uint16_t>(r >> 13);
}

KVSTASH_HD float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    const float m = MulRn(static_cast<float>(man), 5.9604644775390625e-08f);  // 2^-24
    return BitsFloat(sign | FloatBits(m));
  }
  if (exp == 0x1f) return BitsFloat(sign | 0x7f800000u | (man << 13));
  return BitsFloat(sign | ((exp + 112u) << 23) | (man << 13));
}

}  // namespace kvstash::kernels

#endif  // KVSTASH_KERNELS_ELEMENT_H_
