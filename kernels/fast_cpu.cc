// Placeholder dispatch: every function forwards to the reference until the
// AVX2 kernels land (see fast_cpu.h).
#include "kernels/fast_cpu.h"

#include "kernels/reference.h"

namespace kvstash::kernels::fast {

bool HasAvx2() { return false; }

float AbsMax(DType t, const void* src, size_t n) { return reference::AbsMax(t, src, n); }
void Nvfp4Quantize(DType t, const void* src, size_t n, float g_dec, uint8_t* data,
                   uint8_t* scales) {
  reference::Nvfp4Quantize(t, src, n, g_dec, data, scales);
}
void Nvfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, float g_dec, DType t,
                     void* dst) {
  reference::Nvfp4Dequantize(data, scales, n, g_dec, t, dst);
}
void Nvfp4DequantizeToFp8(const uint8_t* data, const uint8_t* scales, size_t n, uint8_t* dst) {
  reference::Nvfp4DequantizeToFp8(data, scales, n, dst);
}
void Mxfp4Quantize(DType t, const void* src, size_t n, MxScaleMode mode, uint8_t* data,
                   uint8_t* scales) {
  reference::Mxfp4Quantize(t, src, n, mode, data, scales);
}
void Mxfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, DType t, void* dst) {
  reference::Mxfp4Dequantize(data, scales, n, t, dst);
}
void Fp8Quantize(DType t, const void* src, size_t n, float s, uint8_t* dst) {
  reference::Fp8Quantize(t, src, n, s, dst);
}
void Fp8Dequantize(const uint8_t* src, size_t n, float s, DType t, void* dst) {
  reference::Fp8Dequantize(src, n, s, t, dst);
}
void ConvertDType(DType from, const void* src, size_t n, DType to, void* dst) {
  reference::ConvertDType(from, src, n, to, dst);
}

}  // namespace kvstash::kernels::fast
