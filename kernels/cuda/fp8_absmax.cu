// FP8 E4M3 per-tensor kernels and the NaN-propagating AbsMax. Each grid-stride
// loop covers the 8-element items; then the first n % 8 threads of the grid
// handle one tail element each.
#include "kernels/cuda/elementwise.cuh"

namespace kvstash::kernels::cuda::internal {
namespace {

template <Elem E, bool kVec>
__global__ void __launch_bounds__(kThreads)
    Fp8QuantizeKernel(const void* src, size_t n, float s, uint8_t* dst) {
  const size_t items = n / 8;
  for (size_t h = GlobalThread(); h < items; h += GridThreads()) {
    Fp8QuantizeItem<E, kVec>(src, h, s, dst);
  }
  const size_t i = items * 8 + GlobalThread();
  if (i < n) Fp8QuantizeOne<E>(src, i, s, dst);
}

template <Elem E, bool kVec>
__global__ void __launch_bounds__(kThreads)
    Fp8DequantizeKernel(const uint8_t* src, size_t n, float s, void* dst) {
  const size_t items = n / 8;
  for (size_t h = GlobalThread(); h < items; h += GridThreads()) {
    Fp8DequantizeItem<E, kVec>(src, h, s, dst);
  }
  const size_t i = items * 8 + GlobalThread();
  if (i < n) Fp8DequantizeOne<E>(src, i, s, dst);
}

template <Elem E, bool kVec>
__global__ void __launch_bounds__(kThreads)
    AbsMaxKernel(const void* src, size_t n, uint32_t* bits) {
  const size_t items = n / 8;
  uint32_t m = 0;
  for (size_t h = GlobalThread(); h < items; h += GridThreads()) {
    m = MaxU32(m, AbsBitsItem<E, kVec>(src, h));
  }
  const size_t i = items * 8 + GlobalThread();
  if (i < n) m = MaxU32(m, AbsBitsOne<E>(src, i));
  // Every thread of the block reaches this point, so full-warp shuffles are safe.
  for (int offset = 16; offset > 0; offset >>= 1) {
    m = MaxU32(m, __shfl_xor_sync(0xffffffffu, m, offset));
  }
  if ((threadIdx.x & 31u) == 0 && m != 0) atomicMax(bits, m);
}

// Items plus one thread per tail element.
cudaError_t Grid(size_t n, unsigned* grid) { return GridFor(n / 8 + n % 8, grid); }

}  // namespace

cudaError_t LaunchFp8Quantize(Elem in, const void* src, size_t n, float s, uint8_t* dst,
                              cudaStream_t stream) {
  unsigned grid = 0;
  if (cudaError_t err = Grid(n, &grid); err != cudaSuccess) return err;
  const bool vec = Fp8QuantizeVectorised(src, dst);
  ForElem(in, [&](auto e) {
    constexpr Elem E = decltype(e)::value;
    if (vec) {
      Fp8QuantizeKernel<E, true><<<grid, kThreads, 0, stream>>>(src, n, s, dst);
    } else {
      Fp8QuantizeKernel<E, false><<<grid, kThreads, 0, stream>>>(src, n, s, dst);
    }
  });
  return cudaGetLastError();
}

cudaError_t LaunchFp8Dequantize(const uint8_t* src, size_t n, float s, Elem out, void* dst,
                                cudaStream_t stream) {
  unsigned grid = 0;
  if (cudaError_t err = Grid(n, &grid); err != cudaSuccess) return err;
  const bool vec = Fp8DequantizeVectorised(src, dst);
  ForElem(out, [&](auto e) {
    constexpr Elem E = decltype(e)::value;
    if (vec) {
      Fp8DequantizeKernel<E, true><<<grid, kThreads, 0, stream>>>(src, n, s, dst);
    } else {
      Fp8DequantizeKernel<E, false><<<grid, kThreads, 0, stream>>>(src, n, s, dst);
    }
  });
  return cudaGetLastError();
}

cudaError_t LaunchAbsMaxBits(Elem in, const void* src, size_t n, uint32_t* bits,
                             cudaStream_t stream) {
  unsigned grid = 0;
  if (cudaError_t err = Grid(n, &grid); err != cudaSuccess) return err;
  if (cudaError_t err = cudaMemsetAsync(bits, 0, sizeof(uint32_t), stream); err != cudaSuccess) {
    return err;
  }
  const bool vec = Aligned(src, 16);
  ForElem(in, [&](auto e) {
    constexpr Elem E = decltype(e)::value;
    if (vec) {
      AbsMaxKernel<E, true><<<grid, kThreads, 0, stream>>>(src, n, bits);
    } else {
      AbsMaxKernel<E, false><<<grid, kThreads, 0, stream>>>(src, n, bits);
    }
  });
  return cudaGetLastError();
}

}  // namespace kvstash::kernels::cuda::internal
