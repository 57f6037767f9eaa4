// `kvstash codec encode|decode` as library calls, so tests drive them without
// a process: a tensor in memory in, packed data and scales (or a tensor) out,
// plus a report of what was done.
#ifndef KVSTASH_TOOLS_CODEC_JOB_H_
#define KVSTASH_TOOLS_CODEC_JOB_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/codec.h"

namespace kvstash::tools {

// How the global (per-tensor) decode scale is chosen for nvfp4 and fp8_e4m3.
struct GlobalScale {
  enum class Kind { kDefault, kAmaxDivisor, kExplicit } kind = Kind::kDefault;
  float value = 0;  // the divisor (2688 or 448) or the explicit g_dec
};
// Parses "amax2688", "amax448", a float ("0.0019") or a bit pattern ("0x3afaacd5").
absl::StatusOr<GlobalScale> ParseGlobalScale(const std::string& text);
// A float or a 0x bit pattern; must be positive and finite.
absl::StatusOr<float> ParseScaleValue(const std::string& text);

struct EncodeOptions {
  kernels::Format format = kernels::Format::kNvfp4;
  kernels::DType dtype = kernels::DType::kF32;
  size_t cols = 0;
  GlobalScale global_scale;
  kernels::MxScaleMode mx_scale = kernels::MxScaleMode::kFloor;
  bool nan_poison = false;  // false: a NaN in the input is an error
  kernels::Impl impl = kernels::Impl::kFast;
};

struct CodecReport {
  size_t rows = 0, cols = 0, elements = 0;
  float amax = 0;
  std::optional<float> g_dec;  // nvfp4 and fp8_e4m3 only
  size_t data_bytes = 0, scale_bytes = 0;
  size_t poisoned_blocks = 0;
  // Error of the round trip against the input (finite elements only).
  double rel_rmse = 0, sqnr_db = 0;
};

absl::StatusOr<CodecReport> Encode(const EncodeOptions& opts, const std::vector<uint8_t>& input,
                                   std::vector<uint8_t>* data, std::vector<uint8_t>* scales);

struct DecodeOptions {
  kernels::Format format = kernels::Format::kNvfp4;
  size_t cols = 0;
  std::optional<float> g_dec;  // required for nvfp4 and fp8_e4m3
  // Output element type; `to_fp8` instead writes FP8 E4M3 bytes (nvfp4 only).
  kernels::DType dtype = kernels::DType::kF32;
  bool to_fp8 = false;
  kernels::Impl impl = kernels::Impl::kFast;
};

absl::StatusOr<CodecReport> Decode(const DecodeOptions& opts, const std::vector<uint8_t>& data,
                                   const std::vector<uint8_t>& scales, std::vector<uint8_t>* out);

// Error of `got` against `ref`, both f32, over elements finite in `ref`.
void FillError(const float* ref, const float* got, size_t n, CodecReport* report);

}  // namespace kvstash::tools

#endif  // KVSTASH_TOOLS_CODEC_JOB_H_
