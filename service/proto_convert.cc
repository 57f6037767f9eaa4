#include "service/proto_convert.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "proto/status_wire.h"

namespace kvstash::service {

absl::StatusOr<tiers::BlockKey> KeyFromProto(proto::BlockKey::Reader key, size_t index) {
  tiers::BlockKey out;
  out.ns = key.getNs();
  const capnp::Data::Reader d = key.getDigest();
  if (d.size() == 0 || d.size() > tiers::kDigestBytes) {
    return absl::InvalidArgumentError(absl::StrCat("keys[", index, "].digest has ", d.size(),
                                                   " bytes; expected 1 to ", tiers::kDigestBytes));
  }
  std::memcpy(out.digest.data(), d.begin(), d.size());
  return out;
}

void KeyToProto(const tiers::BlockKey& key, proto::BlockKey::Builder out) {
  out.setNs(key.ns);
  size_t n = key.digest.size();
  // A 64-bit hash travels as its 8 bytes; longer digests whole.
  bool short_key = true;
  for (size_t i = 8; i < n; ++i) short_key &= key.digest[i] == 0;
  if (short_key) n = 8;
  out.setDigest(capnp::Data::Reader(key.digest.data(), n));
}

absl::StatusOr<std::vector<tiers::BlockKey>> KeysFromProto(
    capnp::List<proto::BlockKey>::Reader keys, size_t max_batch) {
  if (keys.size() > max_batch) {
    return absl::InvalidArgumentError(
        absl::StrCat("keys has ", keys.size(), " entries; the limit is ", max_batch));
  }
  std::vector<tiers::BlockKey> out;
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    absl::StatusOr<tiers::BlockKey> k = KeyFromProto(keys[i], i);
    if (!k.ok()) return k.status();
    out.push_back(*k);
  }
  return out;
}

absl::StatusOr<kernels::Format> FormatFromProto(proto::Format f, absl::string_view field) {
  switch (f) {
    case proto::Format::BF16:
      return kernels::Format::kBf16;
    case proto::Format::FP16:
      return kernels::Format::kFp16;
    case proto::Format::FP8_E4M3:
      return kernels::Format::kFp8E4M3;
    case proto::Format::NVFP4:
      return kernels::Format::kNvfp4;
    case proto::Format::MXFP4:
      return kernels::Format::kMxfp4;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, " has unknown value ", static_cast<uint16_t>(f)));
}

proto::Format FormatToProto(kernels::Format f) {
  switch (f) {
    case kernels::Format::kBf16:
      return proto::Format::BF16;
    case kernels::Format::kFp16:
      return proto::Format::FP16;
    case kernels::Format::kFp8E4M3:
      return proto::Format::FP8_E4M3;
    case kernels::Format::kNvfp4:
      return proto::Format::NVFP4;
    case kernels::Format::kMxfp4:
      return proto::Format::MXFP4;
  }
  return proto::Format::NVFP4;
}

kernels::KvGeometry GeometryFromProto(proto::Geometry::Reader g) {
  return kernels::KvGeometry{g.getLayers(), g.getKvHeads(), g.getHeadDim(), g.getBlockTokens(),
                             g.getPlanes()};
}

void GeometryToProto(const kernels::KvGeometry& g, proto::Geometry::Builder out) {
  out.setLayers(g.layers);
  out.setKvHeads(g.kv_heads);
  out.setHeadDim(g.head_dim);
  out.setBlockTokens(g.block_tokens);
  out.setPlanes(g.planes);
}

proto::Tier TierKind(absl::string_view name) {
  if (name == "device") return proto::Tier::DEVICE;
  if (name == "host") return proto::Tier::HOST;
  if (name == "disk") return proto::Tier::DISK;
  if (name == "remote") return proto::Tier::REMOTE;
  return proto::Tier::NONE;
}

std::vector<tiers::BlockKey> KeysOrThrow(capnp::List<proto::BlockKey>::Reader keys,
                                         size_t max_batch) {
  absl::StatusOr<std::vector<tiers::BlockKey>> k = KeysFromProto(keys, max_batch);
  if (!k.ok()) proto::ThrowStatus(k.status());
  return *std::move(k);
}

void StatsToProto(const tiers::TierManagerStats& stats,
                  capnp::List<proto::TierStats>::Builder out) {
  for (size_t i = 0; i < stats.tiers.size(); ++i) {
    const auto& t = stats.tiers[i];
    proto::TierStats::Builder b = out[i];
    b.setName(t.tier.name);
    b.setCapacityBytes(t.tier.capacity_bytes);
    b.setUsedBytes(t.tier.used_bytes);
    b.setBlocks(t.tier.blocks);
    b.setHits(t.tier.hits);
    b.setMisses(t.tier.misses);
    b.setBytesIn(t.tier.bytes_in);
    b.setBytesOut(t.tier.bytes_out);
    b.setEvictions(t.evictions);
    b.setSpills(t.spills);
    b.setPromotions(t.promotions);
    b.setChecksumFailures(t.tier.checksum_failures);
    b.setReadOnly(t.tier.read_only);
    b.setError(t.tier.error);
  }
}

}  // namespace kvstash::service
