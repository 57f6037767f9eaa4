// NVFP4 kernels (recipe R, NVFP4.md): quantise from f32/bf16/f16, dequantise
// to f32/bf16/f16 and to FP8 E4M3. Scales use the shared software E4M3 code
// (one per 16 elements); elements use the shared software E2M1 encode, or the
// hardware conversion on Blackwell arch-specific targets (device.cuh).
#include "kernels/cuda/block_codec.cuh"

namespace kvstash::kernels::cuda::internal {
namespace {

template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    DequantizeToFp8Kernel(const uint8_t* data, const uint8_t* scales, size_t blocks, uint8_t* dst) {
  for (size_t b = GlobalThread(); b < blocks; b += GridThreads()) {
    DequantizeBlockToFp8<kVec>(data, scales, b, dst);
  }
}

__global__ void HardwareE2m1Probe(int* flag) { *flag = KVSTASH_CUDA_HW_E2M1; }

}  // namespace

cudaError_t LaunchNvfp4Quantize(Elem in, const void* src, size_t n, float g_dec, uint8_t* data,
                                uint8_t* scales, cudaStream_t stream) {
  return LaunchQuantize(Nvfp4Recipe{g_dec, 1.0f / g_dec}, in, src, n, data, scales, stream);
}

cudaError_t LaunchNvfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, float g_dec,
                                  Elem out, void* dst, cudaStream_t stream) {
  return LaunchDequantize(Nvfp4Recipe{g_dec, 1.0f / g_dec}, data, scales, n, out, dst, stream);
}

cudaError_t LaunchNvfp4DequantizeToFp8(const uint8_t* data, const uint8_t* scales, size_t n,
                                       uint8_t* dst, cudaStream_t stream) {
  const size_t blocks = n / 16;  // one NVFP4 block (one scale, one table) per thread
  unsigned grid = 0;
  if (cudaError_t err = GridFor(blocks, &grid); err != cudaSuccess) return err;
  if (DequantizeToFp8Vectorised(data, dst)) {
    DequantizeToFp8Kernel<true><<<grid, kThreads, 0, stream>>>(data, scales, blocks, dst);
  } else {
    DequantizeToFp8Kernel<false><<<grid, kThreads, 0, stream>>>(data, scales, blocks, dst);
  }
  return cudaGetLastError();
}

cudaError_t HardwareE2m1ForCurrentDevice(bool* hardware) {
  int* flag = nullptr;
  cudaError_t err = cudaMalloc(&flag, sizeof(int));
  if (err != cudaSuccess) return err;
  int host = 0;
  HardwareE2m1Probe<<<1, 1>>>(flag);
  err = cudaGetLastError();
  if (err == cudaSuccess) err = cudaMemcpy(&host, flag, sizeof(int), cudaMemcpyDeviceToHost);
  const cudaError_t free_err = cudaFree(flag);
  *hardware = host != 0;
  return err != cudaSuccess ? err : free_err;
}

}  // namespace kvstash::kernels::cuda::internal
