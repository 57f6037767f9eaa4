#include "tiers/convert.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "tiers/block.h"

namespace kvstash::tiers {
namespace {

using kernels::DType;
using kernels::Format;
using kernels::KvBlockLayout;
using kernels::Plane;
using kernels::Segment;

bool IsElementFormat(Format f) { return f == Format::kBf16 || f == Format::kFp16; }
DType ElementDType(Format f) { return f == Format::kBf16 ? DType::kBf16 : DType::kF16; }
bool HasGlobalScale(Format f) { return f == Format::kNvfp4 || f == Format::kFp8E4M3; }

absl::Status CheckScales(absl::Span<const float> scales, size_t want, absl::string_view what) {
  if (scales.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected ", want, " scales, got ", scales.size()));
  }
  for (size_t i = 0; i < scales.size(); ++i) {
    if (!std::isfinite(scales[i]) || !(scales[i] > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, "[", i, "] = ", scales[i], " must be finite and positive"));
    }
  }
  return absl::OkStatus();
}

// Decodes one (layer, plane) segment of `f` to `n` elements of `out`.
void DecodePlane(Format f, const uint8_t* base, const Segment& seg, size_t n, float scale,
                 DType out, void* dst) {
  const uint8_t* data = base + seg.data_offset;
  const uint8_t* scales = base + seg.scale_offset;
  switch (f) {
    case Format::kBf16:
    case Format::kFp16:
      kernels::ConvertDType(ElementDType(f), data, n, out, dst);
      break;
    case Format::kFp8E4M3:
      kernels::Fp8Dequantize(data, n, scale, out, dst);
      break;
    case Format::kNvfp4:
      kernels::Nvfp4Dequantize(data, scales, n, scale, out, dst);
      break;
    case Format::kMxfp4:
      kernels::Mxfp4Dequantize(data, scales, n, out, dst);
      break;
  }
}

void EncodePlane(Format f, DType in, const void* src, size_t n, float scale, uint8_t* base,
                 const Segment& seg) {
  uint8_t* data = base + seg.data_offset;
  uint8_t* scales = base + seg.scale_offset;
  switch (f) {
    case Format::kBf16:
    case Format::kFp16:
      kernels::ConvertDType(in, src, n, ElementDType(f), data);
      break;
    case Format::kFp8E4M3:
      kernels::Fp8Quantize(in, src, n, scale, data);
      break;
    case Format::kNvfp4:
      kernels::Nvfp4Quantize(in, src, n, scale, data, scales);
      break;
    case Format::kMxfp4:
      kernels::Mxfp4Quantize(in, src, n, kernels::MxScaleMode::kFloor, data, scales);
      break;
  }
}

// The global scale for one plane: calibrated, or amax / divisor of the plane.
absl::StatusOr<float> PlaneScale(Format to, absl::Span<const float> target, size_t index, DType t,
                                 const void* src, size_t n) {
  if (!HasGlobalScale(to)) return 1.0f;
  if (!target.empty()) return target[index];
  const float divisor = to == Format::kNvfp4 ? kernels::kNvfp4Amax2688 : 448.0f;
  absl::StatusOr<float> s = kernels::GDecFromAmax(kernels::AbsMax(t, src, n), divisor);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "payload: (layer, plane) #", index, " holds NaN or Inf; cannot compute a dynamic scale"));
  }
  return *s;
}

}  // namespace

absl::StatusOr<ConvertedPayload> ConvertBlock(const kernels::KvGeometry& g, const BlockPayload& in,
                                              Format to, absl::Span<const float> target_scales) {
  absl::StatusOr<KvBlockLayout> from_layout = KvBlockLayout::Create(g, in.format);
  if (!from_layout.ok()) return from_layout.status();
  absl::StatusOr<KvBlockLayout> to_layout = KvBlockLayout::Create(g, to);
  if (!to_layout.ok()) return to_layout.status();
  if (in.bytes.size() != from_layout->block_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat("payload: ", in.bytes.size(), " bytes, but ",
                                                   kernels::FormatName(in.format),
                                                   " geometry needs ", from_layout->block_bytes()));
  }
  if (absl::Status s = CheckScales(in.scales, ScaleCount(in.format, g), "scales"); !s.ok()) {
    return s;
  }
  ConvertedPayload out;
  if (in.format == to) {
    out.bytes.assign(in.bytes.data(), in.bytes.size());
    out.scales.assign(in.scales.begin(), in.scales.end());
    return out;
  }
  if (!target_scales.empty()) {
    absl::Status s = CheckScales(target_scales, ScaleCount(to, g), "target_scales");
    if (!s.ok()) return s;
  }
  out.dynamic_scales = target_scales.empty() && ScaleCount(to, g) > 0;
  out.bytes.assign(to_layout->block_bytes(), '\0');
  const size_t n = from_layout->plane_elements();
  std::vector<float> scratch;
  const auto* src_base = reinterpret_cast<const uint8_t*>(in.bytes.data());
  auto* dst_base = reinterpret_cast<uint8_t*>(out.bytes.data());
  for (uint32_t layer = 0; layer < g.layers; ++layer) {
    for (uint32_t p = 0; p < g.planes; ++p) {
      const size_t index = static_cast<size_t>(layer) * g.planes + p;
      const Segment from_seg = from_layout->segment(layer, static_cast<Plane>(p));
      const Segment to_seg = to_layout->segment(layer, static_cast<Plane>(p));
      const float in_scale = in.scales.empty() ? 1.0f : in.scales[index];
      if (IsElementFormat(to)) {  // decode straight into the destination
        DecodePlane(in.format, src_base, from_seg, n, in_scale, ElementDType(to),
                    dst_base + to_seg.data_offset);
        continue;
      }
      // Quantise from the source elements directly, or from an fp32 decode.
      DType t = DType::kF32;
      const void* src = nullptr;
      if (IsElementFormat(in.format)) {
        t = ElementDType(in.format);
        src = src_base + from_seg.data_offset;
      } else {
        scratch.resize(n);
        DecodePlane(in.format, src_base, from_seg, n, in_scale, DType::kF32, scratch.data());
        src = scratch.data();
      }
      absl::StatusOr<float> scale = PlaneScale(to, target_scales, index, t, src, n);
      if (!scale.ok()) return scale.status();
      if (HasGlobalScale(to)) out.scales.push_back(*scale);
      EncodePlane(to, t, src, n, *scale, dst_base, to_seg);
    }
  }
  return out;
}

}  // namespace kvstash::tiers
