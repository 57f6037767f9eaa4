// Conversion of whole KV blocks between storage formats through kernels/
// (DESIGN.md "Storage formats"). A block's payload in format F is, per layer
// and plane in order, the segment KvBlockLayout(geometry, F) gives; formats
// with a per-(layer, plane) global scale (NVFP4 g_dec, FP8 s) carry one scale
// per segment, layer-major.
//
// Target scales: the caller's calibrated scales when it has them; otherwise
// they are computed from the block ("dynamic"): NVFP4 g_dec = amax/2688,
// FP8 s = amax/448, per (layer, plane). The result says which.
//
// Same format in and out is a copy: an NVFP4 block put as NVFP4 is stored
// bit-for-bit with its own scales. Quantising is lossy, as expected.
//
// Thread safety: pure functions.
#ifndef KVSTASH_TIERS_CONVERT_H_
#define KVSTASH_TIERS_CONVERT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kernels/codec.h"
#include "kernels/kv_layout.h"

namespace kvstash::tiers {

struct BlockPayload {
  kernels::Format format = kernels::Format::kBf16;
  absl::string_view bytes;         // the whole payload in `format`
  absl::Span<const float> scales;  // ScaleCount(format, geometry) entries
};

struct ConvertedPayload {
  std::string bytes;
  std::vector<float> scales;
  bool dynamic_scales = false;  // scales were computed from this block
};

// Converts `in` to format `to`. `target_scales` are calibrated scales for
// `to` (ScaleCount(to, g) of them) or empty to compute them per block; they
// are ignored when in.format == to. InvalidArgument, naming the field, for a
// bad geometry, wrong payload size, wrong scale count, non-positive scales,
// or a plane with NaN/Inf when dynamic scales must be computed.
absl::StatusOr<ConvertedPayload> ConvertBlock(const kernels::KvGeometry& g, const BlockPayload& in,
                                              kernels::Format to,
                                              absl::Span<const float> target_scales = {});

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_CONVERT_H_
