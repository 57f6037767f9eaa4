// NodeService in cluster mode: lookups and gets past this node's own blocks
// go to the keys' owners; stored blocks are pushed to them (remote_blocks.h).
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/status_wire.h"
#include "service/node_service.h"
#include "service/proto_convert.h"

namespace kvstash::service {
kj::Promise<void> NodeService::holds(HoldsContext context) {
  const std::vector<tiers::BlockKey> keys =
      KeysOrThrow(context.getParams().getKeys(), limits_.max_batch_blocks);
  auto out = context.getResults().initTiers(static_cast<unsigned>(keys.size()));
  for (size_t i = 0; i < keys.size(); ++i) {
    const tiers::LookupResult r = manager_->Lookup(absl::MakeConstSpan(&keys[i], 1));
    out.set(i, r.prefix == 1 ? TierKind(manager_->tier(r.tiers[0])->name()) : proto::Tier::NONE);
  }
  return kj::READY_NOW;
}

kj::Promise<void> NodeService::RemoteLookup(LookupContext context,
                                            std::vector<tiers::BlockKey> keys,
                                            tiers::LookupResult local) {
  std::vector<tiers::BlockKey> rest(keys.begin() + local.prefix, keys.end());
  // Past the local prefix, a key may still be here (pushed to this node as
  // its owner) or at its other owners.
  std::vector<int> here(rest.size(), -1);
  for (size_t i = 0; i < rest.size(); ++i) {
    const tiers::LookupResult r = manager_->Lookup(absl::MakeConstSpan(&rest[i], 1));
    if (r.prefix == 1) here[i] = r.tiers[0];
  }
  return remote_->Holds(std::move(rest))
      .then([this, context, local, here = std::move(here)](std::vector<bool> held) mutable {
        size_t more = 0;
        while (more < held.size() && (held[more] || here[more] >= 0)) ++more;
        auto results = context.getResults();
        results.setMatched(static_cast<uint32_t>(local.prefix + more));
        auto tiers = results.initTiers(static_cast<unsigned>(local.prefix + more));
        for (size_t i = 0; i < local.prefix; ++i) {
          tiers.set(i, TierKind(manager_->tier(local.tiers[i])->name()));
        }
        for (size_t i = 0; i < more; ++i) {
          tiers.set(local.prefix + i,
                    here[i] >= 0 ? TierKind(manager_->tier(here[i])->name()) : proto::Tier::REMOTE);
        }
      });
}

kj::Promise<void> NodeService::FillFromOwners(GetContext context, std::vector<tiers::BlockKey> keys,
                                              kernels::Format format, std::vector<size_t> missing) {
  // Pull in the storage format, keep a copy here, then answer from it like
  // any local block: one conversion at most, and the next get is local.
  const kernels::Format stored = manager_->storage_format();
  kj::Vector<kj::Promise<std::optional<std::string>>> pulls;
  for (size_t i : missing) pulls.add(remote_->Fetch(keys[i], stored));
  return kj::joinPromises(pulls.releaseAsArray())
      .then([this, context, keys = std::move(keys), format,
             missing = std::move(missing)](kj::Array<std::optional<std::string>> got) mutable {
        auto blocks = context.getResults().getBlocks();
        for (size_t j = 0; j < missing.size(); ++j) {
          if (!got[j]) continue;
          absl::StatusOr<tiers::ParsedBlock> b = tiers::ParseBlock(*got[j]);
          if (!b.ok() || b->header.key != keys[missing[j]]) continue;  // a peer's bad answer
          tiers::PutRequest put;
          put.key = b->header.key;
          put.parent = b->header.parent;
          put.priority = b->header.priority;
          put.geometry = b->header.geometry;
          put.format = b->header.format;
          put.payload = b->payload;
          put.scales = b->header.scales;
          if (!manager_->Put(put).ok()) continue;
          absl::StatusOr<tiers::GetResult> r = manager_->Get(keys[missing[j]], format);
          if (!r.ok()) continue;
          absl::StatusOr<std::string> bytes = tiers::SerializeBlock(r->header, r->payload);
          if (!bytes.ok()) continue;
          proto::BlockResult::Builder out = blocks[missing[j]];
          out.setInline(
              capnp::Data::Reader(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
          out.setTier(proto::Tier::REMOTE);
        }
      });
}

void NodeService::PushToOwners(const tiers::PutRequest& r) {
  remote_->Push(r.key, [&r](proto::PutBlock::Builder b) {
    KeyToProto(r.key, b.initKey());
    if (r.parent) KeyToProto(*r.parent, b.initParent());
    b.setFormat(static_cast<proto::Format>(r.format));
    auto g = b.initGeometry();
    g.setLayers(r.geometry.layers);
    g.setKvHeads(r.geometry.kv_heads);
    g.setHeadDim(r.geometry.head_dim);
    g.setBlockTokens(r.geometry.block_tokens);
    g.setPlanes(r.geometry.planes);
    auto scales = b.initScales(static_cast<unsigned>(r.scales.size()));
    for (size_t i = 0; i < r.scales.size(); ++i) scales.set(i, r.scales[i]);
    b.setPayload(
        capnp::Data::Reader(reinterpret_cast<const uint8_t*>(r.payload.data()), r.payload.size()));
    b.setPriority(r.priority);
  });
}

void NodeService::RemoteStatsToProto(proto::TierStats::Builder out) const {
  const remote::RemoteStats s = remote_->Stats();
  out.setName("remote");
  out.setHits(s.hits);
  out.setMisses(s.misses);
  out.setBytesIn(s.bytes_in);
  const std::pair<const char*, uint64_t> counters[] = {
      {"ucx_pulls", s.ucx_pulls},         {"ucx_bytes", s.ucx_bytes},
      {"ucx_fallbacks", s.ucx_fallbacks}, {"ucx_errors", s.ucx_errors},
      {"peer_errors", s.peer_errors},
  };
  auto list = out.initCounters(std::size(counters));
  for (size_t i = 0; i < std::size(counters); ++i) {
    list[i].setName(counters[i].first);
    list[i].setValue(counters[i].second);
  }
  out.setError(s.peer_errors + s.push_errors > 0
                   ? absl::StrCat(s.peer_errors, " peer errors, ", s.push_errors,
                                  " failed pushes, ", s.pushes_dropped, " pushes dropped")
                   : "");
}

}  // namespace kvstash::service
