// MXFP4 kernels (OCP MX v1.0): 32-element blocks, E8M0 scale chosen by the
// OCP floor rule or RCEIL, E2M1 elements, exactly as kernels/reference.cc.
#include "kernels/cuda/block_codec.cuh"

namespace kvstash::kernels::cuda::internal {

cudaError_t LaunchMxfp4Quantize(Elem in, const void* src, size_t n, bool rceil, uint8_t* data,
                                uint8_t* scales, cudaStream_t stream) {
  return LaunchQuantize(Mxfp4Recipe{rceil}, in, src, n, data, scales, stream);
}

cudaError_t LaunchMxfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, Elem out,
                                  void* dst, cudaStream_t stream) {
  return LaunchDequantize(Mxfp4Recipe{false}, data, scales, n, out, dst, stream);
}

}  // namespace kvstash::kernels::cuda::internal
