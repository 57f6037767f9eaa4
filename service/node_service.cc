#include "service/node_service.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/status_wire.h"
#include "service/proto_convert.h"
#include "tiers/block.h"

namespace kvstash::service {
namespace {

std::vector<tiers::BlockKey> KeysOrThrow(capnp::List<proto::BlockKey>::Reader keys,
                                         size_t max_batch) {
  absl::StatusOr<std::vector<tiers::BlockKey>> k = KeysFromProto(keys, max_batch);
  if (!k.ok()) proto::ThrowStatus(k.status());
  return *std::move(k);
}

// A validated put, holding views into the request message.
struct PendingPut {
  tiers::PutRequest request;
  std::vector<float> scales;
};

absl::Status ValidatePut(proto::PutBlock::Reader b, size_t i, const NodeLimits& limits,
                         PendingPut* out) {
  absl::StatusOr<tiers::BlockKey> key = KeyFromProto(b.getKey(), i);
  if (!key.ok()) return key.status();
  tiers::PutRequest& r = out->request;
  r.key = *key;
  if (b.hasParent() && b.getParent().getDigest().size() > 0) {
    absl::StatusOr<tiers::BlockKey> parent = KeyFromProto(b.getParent(), i);
    if (!parent.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("blocks[", i, "].parent: ", parent.status().message()));
    }
    r.parent = *parent;
  }
  r.priority = b.getPriority();
  absl::StatusOr<kernels::Format> format =
      FormatFromProto(b.getFormat(), absl::StrCat("blocks[", i, "].format"));
  if (!format.ok()) return format.status();
  r.format = *format;
  r.geometry = GeometryFromProto(b.getGeometry());
  absl::StatusOr<uint64_t> want = tiers::PayloadBytesFor(r.format, r.geometry);
  if (!want.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("blocks[", i, "].geometry: ", want.status().message()));
  }
  const capnp::Data::Reader payload = b.getPayload();
  if (*want > limits.max_block_bytes || payload.size() != *want) {
    return absl::InvalidArgumentError(
        absl::StrCat("blocks[", i, "].payload has ", payload.size(), " bytes; ",
                     kernels::FormatName(r.format), " at this geometry needs ", *want,
                     *want > limits.max_block_bytes ? " (over the block size limit)" : ""));
  }
  r.payload = absl::string_view(reinterpret_cast<const char*>(payload.begin()), payload.size());
  for (float s : b.getScales()) out->scales.push_back(s);
  const size_t need = tiers::ScaleCount(r.format, r.geometry);
  if (!out->scales.empty() && out->scales.size() != need) {
    return absl::InvalidArgumentError(absl::StrCat(
        "blocks[", i, "].scales has ", out->scales.size(), " entries; ",
        kernels::FormatName(r.format), " needs ", need, " (or none for dynamic scales)"));
  }
  return absl::OkStatus();
}

// Holds the pins of one zero-copy get until released or dropped.
class LeaseImpl final : public proto::Lease::Server {
 public:
  explicit LeaseImpl(std::vector<tiers::HostTier::MappedBlock> pins) : pins_(std::move(pins)) {}

 protected:
  kj::Promise<void> release(ReleaseContext) override {
    pins_.clear();
    return kj::READY_NOW;
  }

 private:
  std::vector<tiers::HostTier::MappedBlock> pins_;
};

// The host arena, handed to clients by fd.
class ArenaImpl final : public proto::Arena::Server {
 public:
  explicit ArenaImpl(const tiers::HostTier* host) : host_(host) {}
  kj::Maybe<int> getFd() override { return host_->fd(); }

 protected:
  kj::Promise<void> size(SizeContext context) override {
    context.getResults().setBytes(host_->arena_bytes());
    return kj::READY_NOW;
  }

 private:
  const tiers::HostTier* host_;
};

tiers::HostTier* FindHostTier(tiers::TierManager* manager) {
  for (int i = 0; i < manager->tier_count(); ++i) {
    if (auto* h = dynamic_cast<tiers::HostTier*>(manager->tier(i))) return h;
  }
  return nullptr;
}

}  // namespace

NodeService::NodeService(tiers::TierManager* manager, NodeLimits limits)
    : manager_(manager), host_(FindHostTier(manager)), limits_(limits) {}

std::optional<tiers::HostTier::MappedBlock> NodeService::MapFromHost(const tiers::BlockKey& key,
                                                                     kernels::Format format) {
  if (host_ == nullptr) return std::nullopt;
  absl::StatusOr<tiers::HostTier::MappedBlock> m = host_->Map(key);
  if (!m.ok()) return std::nullopt;
  absl::StatusOr<tiers::BlockHeader> h = tiers::ParseHeader(m->ref.bytes());
  if (!h.ok() || h->format != format) return std::nullopt;
  return *std::move(m);
}

kj::Promise<void> NodeService::arena(ArenaContext context) {
  if (host_ == nullptr) {
    proto::ThrowStatus(absl::FailedPreconditionError("this kvstashd has no host tier to share"));
  }
  context.getResults().setArena(kj::heap<ArenaImpl>(host_));
  return kj::READY_NOW;
}

kj::Promise<void> NodeService::lookup(LookupContext context) {
  const std::vector<tiers::BlockKey> keys =
      KeysOrThrow(context.getParams().getKeys(), limits_.max_batch_blocks);
  const tiers::LookupResult r = manager_->Lookup(keys);
  auto results = context.getResults();
  results.setMatched(static_cast<uint32_t>(r.prefix));
  auto tiers = results.initTiers(static_cast<unsigned>(r.tiers.size()));
  for (size_t i = 0; i < r.tiers.size(); ++i) {
    tiers.set(i, TierKind(manager_->tier(r.tiers[i])->name()));
  }
  return kj::READY_NOW;
}

kj::Promise<void> NodeService::get(GetContext context) {
  auto params = context.getParams();
  const std::vector<tiers::BlockKey> keys = KeysOrThrow(params.getKeys(), limits_.max_batch_blocks);
  absl::StatusOr<kernels::Format> requested = FormatFromProto(params.getFormat(), "format");
  if (!requested.ok()) proto::ThrowStatus(requested.status());
  const kernels::Format format = *requested;
  auto blocks = context.getResults().initBlocks(static_cast<unsigned>(keys.size()));
  std::vector<tiers::HostTier::MappedBlock> pins;
  for (size_t i = 0; i < keys.size(); ++i) {
    proto::BlockResult::Builder out = blocks[i];
    KeyToProto(keys[i], out.initKey());
    if (params.getZeroCopy()) {
      if (std::optional<tiers::HostTier::MappedBlock> m = MapFromHost(keys[i], format)) {
        auto slot = out.initSlot();
        slot.setOffset(m->location.offset);
        slot.setLength(m->location.length);
        out.setTier(proto::Tier::HOST);
        pins.push_back(*std::move(m));
        continue;
      }
    }
    absl::StatusOr<tiers::GetResult> r = manager_->Get(keys[i], format);
    if (absl::IsNotFound(r.status()) || absl::IsDataLoss(r.status())) {
      out.setMissing();
      out.setTier(proto::Tier::NONE);
      continue;
    }
    if (!r.ok()) proto::ThrowStatus(r.status());
    absl::StatusOr<std::string> bytes = tiers::SerializeBlock(r->header, r->payload);
    if (!bytes.ok()) proto::ThrowStatus(bytes.status());
    out.setInline(
        capnp::Data::Reader(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
    out.setTier(TierKind(manager_->tier(r->tier)->name()));
  }
  context.getResults().setLease(kj::heap<LeaseImpl>(std::move(pins)));
  return kj::READY_NOW;
}

kj::Promise<void> NodeService::put(PutContext context) {
  auto blocks = context.getParams().getBlocks();
  if (blocks.size() > limits_.max_batch_blocks) {
    proto::ThrowStatus(absl::InvalidArgumentError(absl::StrCat(
        "blocks has ", blocks.size(), " entries; the limit is ", limits_.max_batch_blocks)));
  }
  std::vector<PendingPut> pending(blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (absl::Status s = ValidatePut(blocks[i], i, limits_, &pending[i]); !s.ok())
      proto::ThrowStatus(s);
  }
  uint32_t stored = 0;
  for (PendingPut& p : pending) {
    p.request.scales = p.scales;
    if (absl::Status s = manager_->Put(p.request); !s.ok()) proto::ThrowStatus(s);
    ++stored;
  }
  context.getResults().setStored(stored);
  return kj::READY_NOW;
}

// Applies `op` to each key; returns how many succeeded.
template <typename Op>
uint32_t CountOk(capnp::List<proto::BlockKey>::Reader keys, size_t max_batch, Op op) {
  uint32_t n = 0;
  for (const tiers::BlockKey& k : KeysOrThrow(keys, max_batch)) n += op(k).ok();
  return n;
}

kj::Promise<void> NodeService::pin(PinContext context) {
  context.getResults().setPinned(CountOk(context.getParams().getKeys(), limits_.max_batch_blocks,
                                         [this](const auto& k) { return manager_->Pin(k); }));
  return kj::READY_NOW;
}

kj::Promise<void> NodeService::unpin(UnpinContext context) {
  context.getResults().setUnpinned(CountOk(context.getParams().getKeys(), limits_.max_batch_blocks,
                                           [this](const auto& k) { return manager_->Unpin(k); }));
  return kj::READY_NOW;
}

kj::Promise<void> NodeService::erase(EraseContext context) {
  context.getResults().setErased(CountOk(context.getParams().getKeys(), limits_.max_batch_blocks,
                                         [this](const auto& k) { return manager_->Erase(k); }));
  return kj::READY_NOW;
}

kj::Promise<void> NodeService::stats(StatsContext context) {
  const tiers::TierManagerStats s = manager_->Stats();
  StatsToProto(s, context.getResults().initTiers(static_cast<unsigned>(s.tiers.size())));
  return kj::READY_NOW;
}

}  // namespace kvstash::service
