#include "kernels/kv_layout.h"

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace kvstash::kernels {

absl::StatusOr<KvBlockLayout> KvBlockLayout::Create(const KvGeometry& g, Format f,
                                                    bool interleave_v_scales) {
  if (g.layers == 0 || g.kv_heads == 0 || g.head_dim == 0 || g.block_tokens == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "geometry fields must be positive: layers=", g.layers, " kv_heads=", g.kv_heads,
        " head_dim=", g.head_dim, " block_tokens=", g.block_tokens));
  }
  if (g.planes != 1 && g.planes != 2) {
    return absl::InvalidArgumentError(absl::StrCat("planes must be 1 or 2, got ", g.planes));
  }
  // Sizes are size_t products of these 32-bit fields; refuse a block so large
  // that one of them could wrap around to a small, plausible-looking size.
  constexpr unsigned __int128 kMaxElements = uint64_t{1} << 60;
  unsigned __int128 elements = static_cast<unsigned __int128>(g.kv_heads) * g.block_tokens;
  elements *= g.head_dim;
  if (elements > kMaxElements || elements * g.layers * g.planes > kMaxElements) {
    return absl::InvalidArgumentError(absl::StrCat(
        "geometry is too large: layers=", g.layers, " kv_heads=", g.kv_heads,
        " head_dim=", g.head_dim, " block_tokens=", g.block_tokens, " planes=", g.planes));
  }
  const size_t block = FormatBlock(f);
  if (g.head_dim % block != 0 || g.head_dim % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("head_dim ", g.head_dim,
                                                   " is not a multiple of the ", FormatName(f),
                                                   " block size ", block));
  }
  if (interleave_v_scales) {
    if (block == 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("format ", FormatName(f), " has no scales to interleave"));
    }
    if (g.block_tokens % 4 != 0 || g.planes != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the 4-token V-scale interleave needs block_tokens % 4 == 0 and K/V planes, got "
          "block_tokens=",
          g.block_tokens, " planes=", g.planes));
    }
  }
  return KvBlockLayout(g, f, interleave_v_scales);
}

KvBlockLayout::KvBlockLayout(const KvGeometry& g, Format f, bool interleave)
    : g_(g),
      format_(f),
      interleave_v_(interleave),
      plane_elements_(static_cast<size_t>(g.kv_heads) * g.block_tokens * g.head_dim),
      data_bytes_(DataBytes(f, plane_elements_)),
      scale_bytes_(ScaleBytes(f, plane_elements_)),
      segment_bytes_(data_bytes_ + scale_bytes_) {}

Segment KvBlockLayout::segment(uint32_t layer, Plane plane) const {
  const uint32_t p = static_cast<uint32_t>(plane);
  KVSTASH_CHECK_LT(layer, g_.layers);
  KVSTASH_CHECK_LT(p, g_.planes);
  Segment s;
  s.data_offset = (static_cast<size_t>(layer) * g_.planes + p) * segment_bytes_;
  s.data_bytes = data_bytes_;
  s.scale_offset = s.data_offset + data_bytes_;
  s.scale_bytes = scale_bytes_;
  return s;
}

size_t InterleavedScaleIndex(uint32_t head, uint32_t token, uint32_t group, uint32_t block_tokens,
                             uint32_t groups) {
  const size_t head_base = static_cast<size_t>(head) * block_tokens * groups;
  return head_base + (static_cast<size_t>(token / 4) * groups + group) * 4 + token % 4;
}

void InterleaveScales4(const uint8_t* src, uint8_t* dst, uint32_t heads, uint32_t tokens,
                       uint32_t groups) {
  size_t i = 0;
  for (uint32_t h = 0; h < heads; ++h) {
    for (uint32_t t = 0; t < tokens; ++t) {
      for (uint32_t g = 0; g < groups; ++g)
        dst[InterleavedScaleIndex(h, t, g, tokens, groups)] = src[i++];
    }
  }
}

void DeinterleaveScales4(const uint8_t* src, uint8_t* dst, uint32_t heads, uint32_t tokens,
                         uint32_t groups) {
  size_t i = 0;
  for (uint32_t h = 0; h < heads; ++h) {
    for (uint32_t t = 0; t < tokens; ++t) {
      for (uint32_t g = 0; g < groups; ++g)
        dst[i++] = src[InterleavedScaleIndex(h, t, g, tokens, groups)];
    }
  }
}

}  // namespace kvstash::kernels
