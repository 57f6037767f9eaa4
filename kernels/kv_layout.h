// Byte layout of one KV block (NVFP4.md "Layout inside a KV block").
//
// A block holds block_tokens tokens of every layer. For each layer, for each
// plane (K then V; MLA models have a single latent plane), the block stores
// the packed data then the scales:
//
//   data   [kv_heads][block_tokens][head_dim * bits / 8]   (element format)
//   scales [kv_heads][block_tokens][head_dim / block]      (one byte each)
//
// Segments follow each other in order (layer 0 K, layer 0 V, layer 1 K, ...)
// with no padding. Optionally the V scales use the 4-token interleave that
// trtllm-gen attention kernels read: [kv_heads][block_tokens/4][head_dim/16][4],
// i.e. the scales of four consecutive tokens for one 16-element group sit
// next to each other.
//
// Thread safety: immutable value type.
#ifndef KVSTASH_KERNELS_KV_LAYOUT_H_
#define KVSTASH_KERNELS_KV_LAYOUT_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "kernels/codec.h"

namespace kvstash::kernels {

struct KvGeometry {
  uint32_t layers = 0;
  uint32_t kv_heads = 0;
  uint32_t head_dim = 0;
  uint32_t block_tokens = 0;
  uint32_t planes = 2;  // 2: K and V; 1: an MLA latent cache
};

enum class Plane : uint32_t { kK = 0, kV = 1 };

struct Segment {
  size_t data_offset = 0;
  size_t data_bytes = 0;
  size_t scale_offset = 0;
  size_t scale_bytes = 0;
};

class KvBlockLayout {
 public:
  // Validates the geometry against the format (head_dim a multiple of the
  // format's block; block_tokens a multiple of 4 when interleaving).
  static absl::StatusOr<KvBlockLayout> Create(const KvGeometry& g, Format f,
                                              bool interleave_v_scales = false);

  const KvGeometry& geometry() const { return g_; }
  Format format() const { return format_; }
  bool interleave_v_scales() const { return interleave_v_; }
  // Elements in one (layer, plane) tensor: kv_heads * block_tokens * head_dim.
  size_t plane_elements() const { return plane_elements_; }
  size_t block_bytes() const { return segment_bytes_ * g_.layers * g_.planes; }
  // REQUIRES: layer < layers, plane < planes.
  Segment segment(uint32_t layer, Plane plane) const;

 private:
  KvBlockLayout(const KvGeometry& g, Format f, bool interleave);

  KvGeometry g_;
  Format format_;
  bool interleave_v_;
  size_t plane_elements_;
  size_t data_bytes_;
  size_t scale_bytes_;
  size_t segment_bytes_;
};

// Index of scale (head, token, group) in the 4-token interleaved order.
size_t InterleavedScaleIndex(uint32_t head, uint32_t token, uint32_t group, uint32_t block_tokens,
                             uint32_t groups);
// Row-major [heads][tokens][groups] <-> interleaved. REQUIRES: tokens % 4 == 0;
// src and dst do not overlap.
void InterleaveScales4(const uint8_t* src, uint8_t* dst, uint32_t heads, uint32_t tokens,
                       uint32_t groups);
void DeinterleaveScales4(const uint8_t* src, uint8_t* dst, uint32_t heads, uint32_t tokens,
                         uint32_t groups);

}  // namespace kvstash::kernels

#endif  // KVSTASH_KERNELS_KV_LAYOUT_H_
