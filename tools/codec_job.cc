#include "tools/codec_job.h"

#include <cmath>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "kernels/element.h"

namespace kvstash::tools {
namespace {

using kernels::DType;
using kernels::Format;

std::vector<float> ToF32(DType t, const void* src, size_t n) {
  std::vector<float> out(n);
  kernels::ConvertDType(t, src, n, DType::kF32, out.data());
  return out;
}

// Largest |x| over the non-NaN elements; a NaN is an error unless `poison`.
absl::StatusOr<float> FiniteAmax(const std::vector<float>& x, size_t cols, bool poison) {
  float amax = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isnan(x[i])) {
      amax = std::max(amax, std::fabs(x[i]));
    } else if (!poison) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input element ", i, " (row ", i / cols, ", col ", i % cols,
          ") is NaN; pass --nan poison to encode it anyway (its block then decodes to NaN)"));
    }
  }
  return amax;
}

size_t CountPoisoned(Format f, const std::vector<uint8_t>& scales) {
  const uint8_t nan_code = f == Format::kNvfp4 ? 0x7f : 0xff;
  size_t n = 0;
  for (uint8_t s : scales) n += (f == Format::kNvfp4 ? (s & 0x7f) : s) == nan_code;
  return n;
}

absl::StatusOr<float> ChooseGDec(const EncodeOptions& opts, float amax) {
  GlobalScale gs = opts.global_scale;
  if (gs.kind == GlobalScale::Kind::kExplicit) return gs.value;
  if (gs.kind == GlobalScale::Kind::kDefault) {
    gs.value = opts.format == Format::kNvfp4 ? kernels::kNvfp4Amax2688 : kernels::kNvfp4Amax448;
  }
  return kernels::GDecFromAmax(amax, gs.value);
}

// Quantises x (already f32, same values as the input) and dequantises it
// back into `round_trip`.
absl::Status RunEncode(const EncodeOptions& o, const void* src, size_t n, float g,
                       std::vector<uint8_t>* data, std::vector<uint8_t>* scales,
                       std::vector<float>* round_trip) {
  round_trip->resize(n);
  switch (o.format) {
    case Format::kNvfp4:
      kernels::Nvfp4Quantize(o.dtype, src, n, g, data->data(), scales->data(), o.impl);
      kernels::Nvfp4Dequantize(data->data(), scales->data(), n, g, DType::kF32, round_trip->data(),
                               o.impl);
      break;
    case Format::kMxfp4:
      kernels::Mxfp4Quantize(o.dtype, src, n, o.mx_scale, data->data(), scales->data(), o.impl);
      kernels::Mxfp4Dequantize(data->data(), scales->data(), n, DType::kF32, round_trip->data(),
                               o.impl);
      break;
    case Format::kFp8E4M3:
      kernels::Fp8Quantize(o.dtype, src, n, g, data->data(), o.impl);
      kernels::Fp8Dequantize(data->data(), n, g, DType::kF32, round_trip->data(), o.impl);
      break;
    case Format::kBf16:
    case Format::kFp16: {
      const DType to = o.format == Format::kBf16 ? DType::kBf16 : DType::kF16;
      kernels::ConvertDType(o.dtype, src, n, to, data->data(), o.impl);
      kernels::ConvertDType(to, data->data(), n, DType::kF32, round_trip->data(), o.impl);
      break;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<float> ParseScaleValue(const std::string& text) {
  float v = 0;
  if (text.rfind("0x", 0) == 0 || text.rfind("0X", 0) == 0) {
    uint32_t bits = 0;
    if (text.size() > 10 || !absl::SimpleHexAtoi(text.substr(2), &bits)) {
      return absl::InvalidArgumentError(
          absl::StrCat("global scale '", text, "' is not a 32-bit pattern like 0x3afaacd5"));
    }
    v = kernels::BitsFloat(bits);
  } else if (!absl::SimpleAtof(text, &v)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "global scale '", text, "' is not amax2688, amax448, a float or a 0x bit pattern"));
  }
  if (!std::isfinite(v) || v <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("global scale '", text, "' must be a positive finite float"));
  }
  return v;
}

absl::StatusOr<GlobalScale> ParseGlobalScale(const std::string& text) {
  if (text == "amax2688") return GlobalScale{GlobalScale::Kind::kAmaxDivisor, 2688.0f};
  if (text == "amax448") return GlobalScale{GlobalScale::Kind::kAmaxDivisor, 448.0f};
  absl::StatusOr<float> v = ParseScaleValue(text);
  if (!v.ok()) return v.status();
  return GlobalScale{GlobalScale::Kind::kExplicit, *v};
}

void FillError(const float* ref, const float* got, size_t n, CodecReport* report) {
  double se = 0, sx = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(ref[i])) continue;
    const double e = static_cast<double>(got[i]) - ref[i];
    se += e * e;
    sx += static_cast<double>(ref[i]) * ref[i];
  }
  report->rel_rmse = sx > 0 ? std::sqrt(se / sx) : (se > 0 ? INFINITY : 0.0);
  report->sqnr_db = report->rel_rmse > 0 ? -20.0 * std::log10(report->rel_rmse) : INFINITY;
}

absl::StatusOr<CodecReport> Encode(const EncodeOptions& o, const std::vector<uint8_t>& input,
                                   std::vector<uint8_t>* data, std::vector<uint8_t>* scales) {
  const size_t esize = kernels::DTypeSize(o.dtype);
  if (input.size() % esize != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("input has ", input.size(), " bytes, not a multiple of the ", esize, "-byte ",
                     kernels::DTypeName(o.dtype), " element: wrong --dtype?"));
  }
  CodecReport r;
  r.elements = input.size() / esize;
  r.cols = o.cols;
  if (absl::Status s = kernels::ValidateShape(o.format, r.elements, o.cols); !s.ok()) return s;
  r.rows = r.elements / o.cols;
  const std::vector<float> x = ToF32(o.dtype, input.data(), r.elements);
  absl::StatusOr<float> amax = FiniteAmax(x, o.cols, o.nan_poison);
  if (!amax.ok()) return amax.status();
  r.amax = *amax;  // poisoned blocks do not take part in the global scale
  float g = 1.0f;
  if (o.format == Format::kNvfp4 || o.format == Format::kFp8E4M3) {
    absl::StatusOr<float> gs = ChooseGDec(o, r.amax);
    if (!gs.ok()) return gs.status();
    g = *gs;
    r.g_dec = g;
  }
  data->assign(kernels::DataBytes(o.format, r.elements), 0);
  scales->assign(kernels::ScaleBytes(o.format, r.elements), 0);
  std::vector<float> round_trip;
  if (absl::Status s = RunEncode(o, input.data(), r.elements, g, data, scales, &round_trip);
      !s.ok()) {
    return s;
  }
  r.data_bytes = data->size();
  r.scale_bytes = scales->size();
  r.poisoned_blocks = CountPoisoned(o.format, *scales);
  FillError(x.data(), round_trip.data(), r.elements, &r);
  return r;
}

absl::StatusOr<CodecReport> Decode(const DecodeOptions& o, const std::vector<uint8_t>& data,
                                   const std::vector<uint8_t>& scales, std::vector<uint8_t>* out) {
  const size_t per_elem_x2 = kernels::DataBytes(o.format, 2);  // bytes per 2 elements
  if (data.empty() || (data.size() * 2) % per_elem_x2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("data has ", data.size(),
                                                   " bytes, not a whole number of ",
                                                   kernels::FormatName(o.format), " elements"));
  }
  CodecReport r;
  r.elements = data.size() * 2 / per_elem_x2;
  r.cols = o.cols;
  if (absl::Status s = kernels::ValidateShape(o.format, r.elements, o.cols); !s.ok()) return s;
  r.rows = r.elements / o.cols;
  r.data_bytes = data.size();
  r.scale_bytes = kernels::ScaleBytes(o.format, r.elements);
  if (scales.size() != r.scale_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("scales have ", scales.size(), " bytes; ",
                                                   r.elements, " ", kernels::FormatName(o.format),
                                                   " elements need ", r.scale_bytes));
  }
  const bool needs_g = o.format == Format::kNvfp4 || o.format == Format::kFp8E4M3;
  if (needs_g && !o.g_dec) {
    return absl::InvalidArgumentError(
        absl::StrCat("--global-scale is required to decode ", kernels::FormatName(o.format)));
  }
  if (o.to_fp8 && o.format != Format::kNvfp4) {
    return absl::InvalidArgumentError("--dtype fp8_e4m3 is only for decoding nvfp4");
  }
  if (needs_g) r.g_dec = *o.g_dec;
  r.poisoned_blocks = CountPoisoned(o.format, scales);
  const size_t n = r.elements;
  const float g = o.g_dec.value_or(1.0f);
  if (o.to_fp8) {
    out->assign(n, 0);
    kernels::Nvfp4DequantizeToFp8(data.data(), scales.data(), n, out->data(), o.impl);
    return r;
  }
  out->assign(n * kernels::DTypeSize(o.dtype), 0);
  switch (o.format) {
    case Format::kNvfp4:
      kernels::Nvfp4Dequantize(data.data(), scales.data(), n, g, o.dtype, out->data(), o.impl);
      break;
    case Format::kMxfp4:
      kernels::Mxfp4Dequantize(data.data(), scales.data(), n, o.dtype, out->data(), o.impl);
      break;
    case Format::kFp8E4M3:
      kernels::Fp8Dequantize(data.data(), n, g, o.dtype, out->data(), o.impl);
      break;
    case Format::kBf16:
      kernels::ConvertDType(DType::kBf16, data.data(), n, o.dtype, out->data(), o.impl);
      break;
    case Format::kFp16:
      kernels::ConvertDType(DType::kF16, data.data(), n, o.dtype, out->data(), o.impl);
      break;
  }
  return r;
}

}  // namespace kvstash::tools
