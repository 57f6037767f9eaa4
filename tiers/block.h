// Block identity and the self-describing block encoding every tier stores
// (DESIGN.md "Block model"; the byte layout is in tiers/BLOCK_FORMAT.md).
//
// A serialised block is one contiguous byte string: a versioned header that
// carries its own XXH3-64 checksum, then the payload (per layer, K then V:
// data then scales, as kernels/kv_layout.h lays it out for the block's
// format), whose XXH3-64 is recorded in the header. Tiers store and return
// these bytes opaquely; ParseBlock() is the one place that trusts them.
//
// Thread safety: value types and pure functions.
#ifndef KVSTASH_TIERS_BLOCK_H_
#define KVSTASH_TIERS_BLOCK_H_

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kernels/codec.h"
#include "kernels/kv_layout.h"

namespace kvstash::tiers {

inline constexpr size_t kDigestBytes = 32;

// (namespace, sequence hash). The namespace folds in model id and tenant salt;
// the digest holds the chained sequence hash: 32 bytes fit vLLM's sha256_cbor,
// and a 64-bit hash (Dynamo's XXH3-64 chain) sits little-endian in the first
// 8 bytes with the rest zero (FromHash64).
struct BlockKey {
  uint64_t ns = 0;
  std::array<uint8_t, kDigestBytes> digest{};

  static BlockKey FromHash64(uint64_t ns, uint64_t hash);
  // "ns/hex" with trailing zero bytes of the digest elided; for messages.
  std::string ToString() const;

  friend bool operator==(const BlockKey&, const BlockKey&) = default;
  friend auto operator<=>(const BlockKey&, const BlockKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const BlockKey& k) {
    return H::combine(H::combine_contiguous(std::move(h), k.digest.data(), k.digest.size()), k.ns);
  }
};

// Fixed-width, order-preserving encoding (big-endian ns, then the digest):
// the RocksDB key of a block.
inline constexpr size_t kEncodedKeyBytes = 8 + kDigestBytes;
std::string EncodeKey(const BlockKey& key);
absl::StatusOr<BlockKey> DecodeKey(absl::string_view bytes);

// Everything a header records. payload_bytes and payload_checksum are filled
// in by SerializeBlock().
struct BlockHeader {
  BlockKey key;
  std::optional<BlockKey> parent;  // the previous block of the prefix chain
  uint8_t priority = 0;            // eviction class: lower is evicted first
  kernels::Format format = kernels::Format::kNvfp4;
  kernels::KvGeometry geometry;
  // One per (layer, plane), layer-major: NVFP4 g_dec, FP8 per-tensor scale s.
  // Empty for bf16, fp16 and mxfp4 (ScaleCount()).
  std::vector<float> scales;
  bool dynamic_scales = false;  // scales computed from this block, not calibrated
  uint64_t payload_bytes = 0;
  uint64_t payload_checksum = 0;  // XXH3-64, seed 0
};

inline constexpr uint32_t kBlockMagic = 0x4253564b;  // bytes "KVSB"
inline constexpr uint16_t kBlockVersion = 1;
inline constexpr uint64_t kMaxPayloadBytes = uint64_t{1} << 30;
inline constexpr uint32_t kMaxLayers = 1024;

// Number of global scales a block of format `f` carries.
size_t ScaleCount(kernels::Format f, const kernels::KvGeometry& g);
// Payload size of a block, after validating the geometry for the format.
absl::StatusOr<uint64_t> PayloadBytesFor(kernels::Format f, const kernels::KvGeometry& g);
// Checks geometry, format, scale count and values, and payload size.
// InvalidArgument naming the field.
absl::Status ValidateHeader(const BlockHeader& h);

// The header of a block of `format` and `geometry` as its bytes would have
// it: payload size from PayloadBytesFor, every global scale 1 (dynamic when
// the format has any), no checksum. Gives a block's serialised size
// (SerializedBytes; a parent key makes the header larger), and is what a
// size-only block carries (TierManager::PutSized).
absl::StatusOr<BlockHeader> SizedHeader(kernels::Format format, const kernels::KvGeometry& geometry,
                                        std::optional<BlockKey> parent = std::nullopt);

// Bytes of the encoded header (a multiple of 64, so payloads stay aligned).
size_t EncodedHeaderBytes(const BlockHeader& h);
// Bytes of the whole serialised block.
inline size_t SerializedBytes(const BlockHeader& h) {
  return EncodedHeaderBytes(h) + h.payload_bytes;
}

uint64_t PayloadChecksum(absl::string_view payload);

// PayloadChecksum() over a payload that arrives in pieces.
class PayloadHasher {
 public:
  PayloadHasher();
  PayloadHasher(const PayloadHasher&) = delete;
  PayloadHasher& operator=(const PayloadHasher&) = delete;
  void Update(const void* data, size_t n);
  uint64_t Digest() const;

 private:
  alignas(64) unsigned char state_[640];  // an XXH3_state_t
};

// Serialises header + payload, computing payload_bytes and the checksum.
absl::StatusOr<std::string> SerializeBlock(BlockHeader h, absl::string_view payload);
// Writes the header only (h.payload_bytes/payload_checksum as given) into
// `out`, which must have EncodedHeaderBytes(h) bytes.
void EncodeHeaderInto(const BlockHeader& h, absl::Span<char> out);

struct ParsedBlock {
  BlockHeader header;
  absl::string_view payload;  // points into the parsed bytes
};

enum class Verify : uint8_t { kHeaderOnly = 0, kPayload = 1 };

// Parses the header at the start of `bytes` (its own checksum is always
// verified). DataLoss for anything malformed: bad magic, unknown version,
// checksum mismatch, invalid fields, truncation.
absl::StatusOr<BlockHeader> ParseHeader(absl::string_view bytes);
// Parses a whole block; with Verify::kPayload also checks the payload's
// XXH3-64 and that no bytes trail it.
absl::StatusOr<ParsedBlock> ParseBlock(absl::string_view bytes, Verify verify = Verify::kPayload);

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_BLOCK_H_
