#include "tiers/block.h"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t's size, for PayloadHasher
#include <xxhash.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace kvstash::tiers {
namespace {

using kernels::Format;
using kernels::KvGeometry;

// Fixed part of the header (BLOCK_FORMAT.md); scales follow, then padding,
// then the 8-byte header checksum.
constexpr size_t kFixedBytes = 136;
constexpr size_t kAlign = 64;
constexpr uint8_t kFlagDynamic = 1;
constexpr uint8_t kFlagParent = 2;

template <typename T>
void Store(char* p, T v) {
  static_assert(std::endian::native == std::endian::little);
  std::memcpy(p, &v, sizeof(v));
}

template <typename T>
T Load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

void PutKey(char* p, const BlockKey& k) {
  Store<uint64_t>(p, k.ns);
  std::memcpy(p + 8, k.digest.data(), kDigestBytes);
}

BlockKey GetKey(const char* p) {
  BlockKey k;
  k.ns = Load<uint64_t>(p);
  std::memcpy(k.digest.data(), p + 8, kDigestBytes);
  return k;
}

bool ValidFormat(uint8_t f) { return f <= static_cast<uint8_t>(Format::kMxfp4); }

absl::Status DataLoss(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("corrupt block: ", what));
}

}  // namespace

BlockKey BlockKey::FromHash64(uint64_t ns, uint64_t hash) {
  BlockKey k;
  k.ns = ns;
  Store<uint64_t>(reinterpret_cast<char*>(k.digest.data()), hash);
  return k;
}

std::string BlockKey::ToString() const {
  size_t n = kDigestBytes;
  while (n > 8 && digest[n - 1] == 0) --n;
  return absl::StrCat(
      ns, "/",
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest.data()), n)));
}

std::string EncodeKey(const BlockKey& key) {
  std::string out(kEncodedKeyBytes, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(key.ns >> (56 - 8 * i));
  std::memcpy(out.data() + 8, key.digest.data(), kDigestBytes);
  return out;
}

absl::StatusOr<BlockKey> DecodeKey(absl::string_view bytes) {
  if (bytes.size() != kEncodedKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("encoded block key must have ", kEncodedKeyBytes,
                                                   " bytes, got ", bytes.size()));
  }
  BlockKey key;
  for (int i = 0; i < 8; ++i) key.ns = (key.ns << 8) | static_cast<uint8_t>(bytes[i]);
  std::memcpy(key.digest.data(), bytes.data() + 8, kDigestBytes);
  return key;
}

absl::StatusOr<BlockHeader> SizedHeader(Format format, const KvGeometry& geometry,
                                        std::optional<BlockKey> parent) {
  absl::StatusOr<uint64_t> payload = PayloadBytesFor(format, geometry);
  if (!payload.ok()) return payload.status();
  BlockHeader h;
  h.parent = parent;
  h.format = format;
  h.geometry = geometry;
  h.scales.assign(ScaleCount(format, geometry), 1.0f);
  h.dynamic_scales = !h.scales.empty();
  h.payload_bytes = *payload;
  return h;
}

size_t ScaleCount(Format f, const KvGeometry& g) {
  if (f != Format::kNvfp4 && f != Format::kFp8E4M3) return 0;
  return static_cast<size_t>(g.layers) * g.planes;
}

absl::StatusOr<uint64_t> PayloadBytesFor(Format f, const KvGeometry& g) {
  if (g.layers > kMaxLayers) {
    return absl::InvalidArgumentError(
        absl::StrCat("geometry.layers ", g.layers, " exceeds the limit ", kMaxLayers));
  }
  absl::StatusOr<kernels::KvBlockLayout> layout = kernels::KvBlockLayout::Create(g, f);
  if (!layout.ok()) return layout.status();
  const uint64_t bytes = layout->block_bytes();
  if (bytes > kMaxPayloadBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("block of ", bytes, " bytes exceeds the limit of ", kMaxPayloadBytes));
  }
  return bytes;
}

absl::Status ValidateHeader(const BlockHeader& h) {
  if (!ValidFormat(static_cast<uint8_t>(h.format))) {
    return absl::InvalidArgumentError(
        absl::StrCat("format: unknown value ", static_cast<int>(h.format)));
  }
  absl::StatusOr<uint64_t> bytes = PayloadBytesFor(h.format, h.geometry);
  if (!bytes.ok()) return bytes.status();
  if (h.payload_bytes != *bytes) {
    return absl::InvalidArgumentError(absl::StrCat("payload_bytes ", h.payload_bytes, " but ",
                                                   kernels::FormatName(h.format),
                                                   " geometry needs ", *bytes));
  }
  const size_t want = ScaleCount(h.format, h.geometry);
  if (h.scales.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat("scales: ", kernels::FormatName(h.format),
                                                   " needs ", want, " global scales, got ",
                                                   h.scales.size()));
  }
  for (size_t i = 0; i < h.scales.size(); ++i) {
    if (!std::isfinite(h.scales[i]) || !(h.scales[i] > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("scales[", i, "] = ", h.scales[i], " must be finite and positive"));
    }
  }
  if (want == 0 && h.dynamic_scales) {
    return absl::InvalidArgumentError("dynamic_scales set on a format without global scales");
  }
  return absl::OkStatus();
}

size_t EncodedHeaderBytes(const BlockHeader& h) {
  const size_t raw = kFixedBytes + 4 * h.scales.size() + 8;
  return (raw + kAlign - 1) / kAlign * kAlign;
}

uint64_t PayloadChecksum(absl::string_view payload) {
  return XXH3_64bits(payload.data(), payload.size());
}

static_assert(sizeof(XXH3_state_t) <= 640 && alignof(XXH3_state_t) <= 64);

PayloadHasher::PayloadHasher() { XXH3_64bits_reset(reinterpret_cast<XXH3_state_t*>(state_)); }

void PayloadHasher::Update(const void* data, size_t n) {
  XXH3_64bits_update(reinterpret_cast<XXH3_state_t*>(state_), data, n);
}

uint64_t PayloadHasher::Digest() const {
  return XXH3_64bits_digest(reinterpret_cast<const XXH3_state_t*>(state_));
}

void EncodeHeaderInto(const BlockHeader& h, absl::Span<char> out) {
  const size_t n = EncodedHeaderBytes(h);
  KVSTASH_CHECK(out.size() == n);
  char* p = out.data();
  std::memset(p, 0, n);
  Store<uint32_t>(p + 0, kBlockMagic);
  Store<uint16_t>(p + 4, kBlockVersion);
  Store<uint8_t>(p + 6, (h.dynamic_scales ? kFlagDynamic : 0) | (h.parent ? kFlagParent : 0));
  Store<uint8_t>(p + 7, static_cast<uint8_t>(h.format));
  Store<uint32_t>(p + 8, static_cast<uint32_t>(n));
  Store<uint8_t>(p + 12, h.priority);
  Store<uint32_t>(p + 16, h.geometry.layers);
  Store<uint32_t>(p + 20, h.geometry.kv_heads);
  Store<uint32_t>(p + 24, h.geometry.head_dim);
  Store<uint32_t>(p + 28, h.geometry.block_tokens);
  Store<uint32_t>(p + 32, h.geometry.planes);
  Store<uint32_t>(p + 36, static_cast<uint32_t>(h.scales.size()));
  Store<uint64_t>(p + 40, h.payload_bytes);
  Store<uint64_t>(p + 48, h.payload_checksum);
  PutKey(p + 56, h.key);
  if (h.parent) PutKey(p + 96, *h.parent);
  for (size_t i = 0; i < h.scales.size(); ++i) Store<float>(p + kFixedBytes + 4 * i, h.scales[i]);
  Store<uint64_t>(p + n - 8, XXH3_64bits(p, n - 8));
}

absl::StatusOr<std::string> SerializeBlock(BlockHeader h, absl::string_view payload) {
  h.payload_bytes = payload.size();
  if (absl::Status s = ValidateHeader(h); !s.ok()) return s;
  h.payload_checksum = PayloadChecksum(payload);
  const size_t header_bytes = EncodedHeaderBytes(h);
  std::string out(header_bytes + payload.size(), '\0');
  EncodeHeaderInto(h, absl::MakeSpan(out.data(), header_bytes));
  std::memcpy(out.data() + header_bytes, payload.data(), payload.size());
  return out;
}

absl::StatusOr<BlockHeader> ParseHeader(absl::string_view bytes) {
  const char* p = bytes.data();
  if (bytes.size() < kFixedBytes + 8) return DataLoss("shorter than a header");
  if (Load<uint32_t>(p) != kBlockMagic) return DataLoss("bad magic");
  if (Load<uint16_t>(p + 4) != kBlockVersion) {
    return DataLoss(absl::StrCat("unsupported version ", Load<uint16_t>(p + 4)));
  }
  const uint32_t n = Load<uint32_t>(p + 8);
  const uint32_t scale_count = Load<uint32_t>(p + 36);
  if (scale_count > 2 * kMaxLayers ||
      n != (kFixedBytes + 4 * scale_count + 8 + kAlign - 1) / kAlign * kAlign) {
    return DataLoss("bad header length");
  }
  if (bytes.size() < n) return DataLoss("truncated header");
  if (Load<uint64_t>(p + n - 8) != XXH3_64bits(p, n - 8)) return DataLoss("header checksum");
  const uint8_t flags = Load<uint8_t>(p + 6);
  const uint8_t format = Load<uint8_t>(p + 7);
  if (!ValidFormat(format) || (flags & ~(kFlagDynamic | kFlagParent)) != 0) {
    return DataLoss("bad format or flags");
  }
  BlockHeader h;
  h.dynamic_scales = flags & kFlagDynamic;
  h.format = static_cast<Format>(format);
  h.priority = Load<uint8_t>(p + 12);
  h.geometry = KvGeometry{Load<uint32_t>(p + 16), Load<uint32_t>(p + 20), Load<uint32_t>(p + 24),
                          Load<uint32_t>(p + 28), Load<uint32_t>(p + 32)};
  h.payload_bytes = Load<uint64_t>(p + 40);
  h.payload_checksum = Load<uint64_t>(p + 48);
  h.key = GetKey(p + 56);
  if (flags & kFlagParent) h.parent = GetKey(p + 96);
  h.scales.resize(scale_count);
  for (size_t i = 0; i < scale_count; ++i) h.scales[i] = Load<float>(p + kFixedBytes + 4 * i);
  if (absl::Status s = ValidateHeader(h); !s.ok()) return DataLoss(s.message());
  return h;
}

absl::StatusOr<ParsedBlock> ParseBlock(absl::string_view bytes, Verify verify) {
  absl::StatusOr<BlockHeader> h = ParseHeader(bytes);
  if (!h.ok()) return h.status();
  const size_t header_bytes = EncodedHeaderBytes(*h);
  if (bytes.size() - header_bytes < h->payload_bytes) return DataLoss("truncated payload");
  ParsedBlock out{std::move(*h), bytes.substr(header_bytes, h->payload_bytes)};
  if (verify == Verify::kPayload) {
    if (bytes.size() != header_bytes + out.header.payload_bytes) return DataLoss("trailing bytes");
    if (PayloadChecksum(out.payload) != out.header.payload_checksum) {
      return DataLoss(absl::StrCat("payload checksum mismatch for ", out.header.key.ToString()));
    }
  }
  return out;
}

}  // namespace kvstash::tiers
