#include "kernels/testutil.h"

#include <cmath>
#include <limits>
#include <random>

namespace kvstash::kernels::testing {

std::vector<float> NormalData(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  constexpr double kTwo53 = 1.0 / 9007199254740992.0;
  std::vector<float> out;
  out.reserve(n + 1);
  while (out.size() < n) {
    const double u1 = static_cast<double>((rng() >> 11) + 1) * kTwo53;
    const double u2 = static_cast<double>(rng() >> 11) * kTwo53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    out.push_back(static_cast<float>(r * std::cos(2.0 * M_PI * u2)));
    out.push_back(static_cast<float>(r * std::sin(2.0 * M_PI * u2)));
  }
  out.resize(n);
  return out;
}

std::vector<float> UniformData(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  constexpr double kTwo53 = 1.0 / 9007199254740992.0;
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(rng() >> 11) * kTwo53;
    out[i] = static_cast<float>(2.0 * u - 1.0);
  }
  return out;
}

ErrorStats Compare(const float* ref, const float* got, size_t n) {
  double se = 0, sx = 0;
  for (size_t i = 0; i < n; ++i) {
    const double e = static_cast<double>(got[i]) - static_cast<double>(ref[i]);
    se += e * e;
    sx += static_cast<double>(ref[i]) * static_cast<double>(ref[i]);
  }
  ErrorStats s;
  s.rel_rmse = sx > 0 ? std::sqrt(se / sx) : (se > 0 ? std::numeric_limits<double>::infinity() : 0);
  s.sqnr_db =
      s.rel_rmse > 0 ? -20.0 * std::log10(s.rel_rmse) : std::numeric_limits<double>::infinity();
  return s;
}

}  // namespace kvstash::kernels::testing
