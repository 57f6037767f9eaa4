#include "client/wire.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "tiers/block.h"

namespace kvstash::wire {

void KeyToProto(const Key& key, proto::BlockKey::Builder out) {
  out.setNs(key.ns);
  out.setDigest(capnp::Data::Reader(key.digest.data(), key.digest_bytes));
}

Key KeyFromProto(proto::BlockKey::Reader key) {
  Key k;
  k.ns = key.getNs();
  const auto d = key.getDigest();
  k.digest_bytes = static_cast<uint8_t>(std::min<size_t>(d.size(), k.digest.size()));
  std::memcpy(k.digest.data(), d.begin(), k.digest_bytes);
  return k;
}

void KeysToProto(std::span<const Key> keys, capnp::List<proto::BlockKey>::Builder out) {
  for (size_t i = 0; i < keys.size(); ++i) KeyToProto(keys[i], out[i]);
}

LookupResult FromProto(proto::Node::LookupResults::Reader r) {
  LookupResult out;
  out.matched = r.getMatched();
  for (proto::Tier t : r.getTiers()) out.tiers.push_back(static_cast<Tier>(t));
  return out;
}

absl::StatusOr<std::vector<std::optional<Block>>> BlocksFromProto(
    capnp::List<proto::BlockResult>::Reader blocks) {
  std::vector<std::optional<Block>> out;
  out.reserve(blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    proto::BlockResult::Reader r = blocks[i];
    if (!r.isInline()) {
      out.emplace_back(std::nullopt);
      continue;
    }
    const auto bytes = r.getInline();
    absl::StatusOr<tiers::ParsedBlock> parsed = tiers::ParseBlock(
        absl::string_view(reinterpret_cast<const char*>(bytes.begin()), bytes.size()));
    if (!parsed.ok()) {
      return absl::DataLossError(
          absl::StrCat("block ", i, " from kvstashd does not verify: ", parsed.status().message()));
    }
    const tiers::BlockHeader& h = parsed->header;
    Block b;
    b.key = KeyFromProto(r.getKey());
    b.tier = static_cast<Tier>(r.getTier());
    b.format = static_cast<Format>(h.format);
    b.geometry = Geometry{h.geometry.layers, h.geometry.kv_heads, h.geometry.head_dim,
                          h.geometry.block_tokens, h.geometry.planes};
    b.scales = h.scales;
    b.dynamic_scales = h.dynamic_scales;
    b.payload.assign(parsed->payload.data(), parsed->payload.size());
    out.emplace_back(std::move(b));
  }
  return out;
}

namespace {

void FillView(const tiers::BlockHeader& h, absl::string_view payload, BlockView* v) {
  v->format = static_cast<Format>(h.format);
  v->geometry = Geometry{h.geometry.layers, h.geometry.kv_heads, h.geometry.head_dim,
                         h.geometry.block_tokens, h.geometry.planes};
  v->scales = h.scales;
  v->dynamic_scales = h.dynamic_scales;
  v->payload =
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
}

absl::Status SlotView(proto::SlotRef::Reader slot, const uint8_t* arena, uint64_t arena_bytes,
                      size_t i, BlockView* v) {
  const uint64_t off = slot.getOffset(), len = slot.getLength();
  if (arena == nullptr || off > arena_bytes || len > arena_bytes - off) {
    return absl::DataLossError(
        absl::StrCat("block ", i, ": slot [", off, ", +", len, ") is outside the shared arena"));
  }
  const absl::string_view bytes(reinterpret_cast<const char*>(arena + off), len);
  absl::StatusOr<tiers::BlockHeader> h = tiers::ParseHeader(bytes);
  if (!h.ok()) {
    return absl::DataLossError(
        absl::StrCat("block ", i, " in shared memory: ", h.status().message()));
  }
  const size_t header = tiers::EncodedHeaderBytes(*h);
  if (header + h->payload_bytes > len) {
    return absl::DataLossError(absl::StrCat("block ", i, ": payload overruns its slot"));
  }
  FillView(*h, bytes.substr(header, h->payload_bytes), v);
  v->zero_copy = true;
  return absl::OkStatus();
}

absl::Status DeviceView(proto::DeviceRef::Reader ref, size_t i, BlockView* v) {
  const auto hb = ref.getHeader();
  const absl::string_view header(reinterpret_cast<const char*>(hb.begin()), hb.size());
  absl::StatusOr<tiers::BlockHeader> h = tiers::ParseHeader(header);
  if (!h.ok()) {
    return absl::DataLossError(
        absl::StrCat("block ", i, " in the device tier: header ", h.status().message()));
  }
  const size_t header_bytes = tiers::EncodedHeaderBytes(*h);
  const auto handle = ref.getIpcHandle();
  DeviceBlockRef d;
  if (handle.size() != d.ipc_handle.size() || header_bytes + h->payload_bytes > ref.getLength()) {
    return absl::DataLossError(absl::StrCat("block ", i, ": malformed device reference (",
                                            handle.size(), "-byte IPC handle, ", ref.getLength(),
                                            "-byte slot)"));
  }
  std::memcpy(d.ipc_handle.data(), handle.begin(), handle.size());
  d.device = ref.getDevice();
  d.offset = ref.getOffset() + header_bytes;
  d.length = h->payload_bytes;
  FillView(*h, absl::string_view(), v);
  v->device = d;
  v->zero_copy = true;
  return absl::OkStatus();
}

}  // namespace

absl::Status ViewsFromProto(capnp::List<proto::BlockResult>::Reader blocks, const uint8_t* arena,
                            uint64_t arena_bytes, std::vector<BlockView>* views,
                            std::vector<std::string>* copies) {
  for (size_t i = 0; i < blocks.size(); ++i) {
    proto::BlockResult::Reader r = blocks[i];
    BlockView v;
    v.key = KeyFromProto(r.getKey());
    v.tier = r.isMissing() ? Tier::kNone : static_cast<Tier>(r.getTier());
    if (r.isSlot()) {
      if (absl::Status s = SlotView(r.getSlot(), arena, arena_bytes, i, &v); !s.ok()) return s;
    } else if (r.isDevice()) {
      if (absl::Status s = DeviceView(r.getDevice(), i, &v); !s.ok()) return s;
    } else if (r.isInline()) {
      const auto d = r.getInline();
      copies->emplace_back(reinterpret_cast<const char*>(d.begin()), d.size());
      absl::StatusOr<tiers::ParsedBlock> p = tiers::ParseBlock(copies->back());
      if (!p.ok()) {
        return absl::DataLossError(
            absl::StrCat("block ", i, " from kvstashd does not verify: ", p.status().message()));
      }
      FillView(p->header, p->payload, &v);
    }
    views->push_back(std::move(v));
  }
  return absl::OkStatus();
}

void PutToProto(const PutBlock& b, proto::PutBlock::Builder out) {
  KeyToProto(b.key, out.initKey());
  if (b.parent) KeyToProto(*b.parent, out.initParent());
  out.setFormat(static_cast<proto::Format>(b.format));
  auto g = out.initGeometry();
  g.setLayers(b.geometry.layers);
  g.setKvHeads(b.geometry.kv_heads);
  g.setHeadDim(b.geometry.head_dim);
  g.setBlockTokens(b.geometry.block_tokens);
  g.setPlanes(b.geometry.planes);
  auto scales = out.initScales(static_cast<unsigned>(b.scales.size()));
  for (size_t i = 0; i < b.scales.size(); ++i) scales.set(i, b.scales[i]);
  out.setPayload(capnp::Data::Reader(b.payload.data(), b.payload.size()));
  out.setPriority(b.priority);
}

std::vector<TierStats> StatsFromProto(capnp::List<proto::TierStats>::Reader tiers) {
  std::vector<TierStats> out;
  for (proto::TierStats::Reader t : tiers) {
    TierStats s;
    s.name = t.getName();
    s.capacity_bytes = t.getCapacityBytes();
    s.used_bytes = t.getUsedBytes();
    s.blocks = t.getBlocks();
    s.hits = t.getHits();
    s.misses = t.getMisses();
    s.bytes_in = t.getBytesIn();
    s.bytes_out = t.getBytesOut();
    s.evictions = t.getEvictions();
    s.spills = t.getSpills();
    s.promotions = t.getPromotions();
    s.checksum_failures = t.getChecksumFailures();
    s.read_only = t.getReadOnly();
    s.error = t.getError();
    for (proto::Counter::Reader c : t.getCounters()) {
      s.counters.emplace_back(std::string(c.getName().cStr()), c.getValue());
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace kvstash::wire
