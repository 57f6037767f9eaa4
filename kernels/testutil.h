// Test and benchmark data, generated exactly as NVFP4.md "Expected
// quantisation error" describes, plus error statistics.
#ifndef KVSTASH_KERNELS_TESTUTIL_H_
#define KVSTASH_KERNELS_TESTUTIL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kvstash::kernels::testing {

// N(0,1) by Box-Muller on std::mt19937_64(seed), rounded to float32.
std::vector<float> NormalData(uint64_t seed, size_t n);
// U(-1,1) on std::mt19937_64(seed): 2u - 1 with u = (r >> 11) * 2^-53.
std::vector<float> UniformData(uint64_t seed, size_t n);

struct ErrorStats {
  double rel_rmse = 0;  // sqrt(sum e^2 / sum x^2), in double
  double sqnr_db = 0;   // -20 log10(rel_rmse)
};
ErrorStats Compare(const float* ref, const float* got, size_t n);

}  // namespace kvstash::kernels::testing

#endif  // KVSTASH_KERNELS_TESTUTIL_H_
