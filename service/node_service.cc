#include "service/node_service.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/status_wire.h"
#include "service/proto_convert.h"
#include "service/router/router_rpc.h"
#include "tiers/block.h"

namespace kvstash::service {
namespace {

// A validated put, holding views into the request message.
struct PendingPut {
  tiers::PutRequest request;
  std::vector<float> scales;
};

// The payload of blocks[i]: inline, or `want` bytes of the put window.
absl::StatusOr<absl::string_view> PayloadOf(proto::PutBlock::Reader b, size_t i, uint64_t want,
                                            absl::Span<const char> window) {
  const capnp::Data::Reader inline_bytes = b.getPayload();
  if (window.empty()) {
    if (inline_bytes.size() != want) {
      return absl::InvalidArgumentError(absl::StrCat("blocks[", i, "].payload has ",
                                                     inline_bytes.size(), " bytes; ", want,
                                                     " needed for this format and geometry"));
    }
    return absl::string_view(reinterpret_cast<const char*>(inline_bytes.begin()),
                             inline_bytes.size());
  }
  if (inline_bytes.size() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("blocks[", i, "].payload must be empty in a window commit (it has ",
                     inline_bytes.size(), " bytes)"));
  }
  const uint64_t offset = b.getWindowOffset();
  if (offset > window.size() || want > window.size() - offset) {
    return absl::InvalidArgumentError(absl::StrCat("blocks[", i, "].windowOffset ", offset, " + ",
                                                   want, " bytes runs past the end of the ",
                                                   window.size(), "-byte put window"));
  }
  return absl::string_view(window.data() + offset, want);
}

// `window`: the put window the payload lives in (PutWindow.commit), or
// empty for an inline payload (Node.put).
absl::Status ValidatePut(proto::PutBlock::Reader b, size_t i, const NodeLimits& limits,
                         absl::Span<const char> window, PendingPut* out) {
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
  if (*want > limits.max_block_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("blocks[", i, "].geometry: ", kernels::FormatName(r.format), " needs ", *want,
                     " bytes, over the block size limit of ", limits.max_block_bytes));
  }
  absl::StatusOr<absl::string_view> payload = PayloadOf(b, i, *want, window);
  if (!payload.ok()) return payload.status();
  r.payload = *payload;
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
  LeaseImpl(std::vector<tiers::HostTier::MappedBlock> pins,
            std::vector<tiers::DeviceTier::Export> device_pins)
      : pins_(std::move(pins)), device_pins_(std::move(device_pins)) {}

 protected:
  kj::Promise<void> release(ReleaseContext) override {
    pins_.clear();
    device_pins_.clear();
    return kj::READY_NOW;
  }

 private:
  std::vector<tiers::HostTier::MappedBlock> pins_;
  std::vector<tiers::DeviceTier::Export> device_pins_;
};

// The host arena, handed to clients by fd.
class ArenaImpl final : public proto::Arena::Server {
 public:
  explicit ArenaImpl(const tiers::HostTier* host) : host_(host) {}
  kj::Maybe<int> getFd() override { return host_->reader_fd(); }

 protected:
  kj::Promise<void> size(SizeContext context) override {
    context.getResults().setBytes(host_->arena_bytes());
    return kj::READY_NOW;
  }

 private:
  const tiers::HostTier* host_;
};

template <typename T>
T* FindTier(tiers::TierManager* manager) {
  for (int i = 0; i < manager->tier_count(); ++i) {
    if (auto* t = dynamic_cast<T*>(manager->tier(i))) return t;
  }
  return nullptr;
}

void DeviceRefToProto(const tiers::DeviceTier::Export& e, proto::DeviceRef::Builder out) {
  out.setIpcHandle(capnp::Data::Reader(reinterpret_cast<const uint8_t*>(e.ipc_handle.data()),
                                       e.ipc_handle.size()));
  out.setDevice(e.device);
  out.setOffset(e.offset);
  out.setLength(e.length);
  out.setHeader(
      capnp::Data::Reader(reinterpret_cast<const uint8_t*>(e.header.data()), e.header.size()));
}

}  // namespace

NodeService::NodeService(tiers::TierManager* manager, NodeLimits limits, NodeEventLog* events,
                         router::RouterService* router, remote::RemoteBlocks* remote)
    : manager_(manager),
      host_(FindTier<tiers::HostTier>(manager)),
      device_(FindTier<tiers::DeviceTier>(manager)),
      limits_(limits),
      events_(events),
      router_(router),
      remote_(remote) {}

kj::Promise<void> NodeService::router(RouterContext context) {
  if (router_ == nullptr) {
    proto::ThrowStatus(absl::FailedPreconditionError("this kvstashd runs no router"));
  }
  context.getResults().setRouter(kj::heap<router::RouterRpc>(router_));
  return kj::READY_NOW;
}

kj::Promise<void> NodeService::events(EventsContext context) {
  if (events_ == nullptr) {
    proto::ThrowStatus(absl::FailedPreconditionError("this kvstashd publishes no KV events"));
  }
  context.getResults().setSource(events_->Source());
  return kj::READY_NOW;
}

std::optional<tiers::DeviceTier::Export> NodeService::ExportFromDevice(const tiers::BlockKey& key,
                                                                       kernels::Format format) {
  if (device_ == nullptr) return std::nullopt;
  absl::StatusOr<tiers::DeviceTier::Export> e = device_->ExportBlock(key);
  if (!e.ok()) return std::nullopt;
  absl::StatusOr<tiers::BlockHeader> h = tiers::ParseHeader(e->header);
  if (!h.ok() || h->format != format) return std::nullopt;
  return *std::move(e);
}

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
  if (remote_ != nullptr && r.prefix < keys.size()) return RemoteLookup(context, keys, r);
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
  std::vector<tiers::DeviceTier::Export> device_pins;
  std::vector<size_t> missing;  // to ask the owners for (cluster mode)
  const bool ask_owners = remote_ != nullptr && !params.getLocalOnly();
  for (size_t i = 0; i < keys.size(); ++i) {
    proto::BlockResult::Builder out = blocks[i];
    KeyToProto(keys[i], out.initKey());
    if (params.getDeviceIpc()) {
      if (std::optional<tiers::DeviceTier::Export> e = ExportFromDevice(keys[i], format)) {
        DeviceRefToProto(*e, out.initDevice());
        out.setTier(proto::Tier::DEVICE);
        manager_->NoteRead(keys[i]);
        device_pins.push_back(*std::move(e));
        continue;
      }
    }
    if (params.getZeroCopy()) {
      if (std::optional<tiers::HostTier::MappedBlock> m = MapFromHost(keys[i], format)) {
        auto slot = out.initSlot();
        slot.setOffset(m->location.offset);
        slot.setLength(m->location.length);
        out.setTier(proto::Tier::HOST);
        manager_->NoteRead(keys[i]);
        pins.push_back(*std::move(m));
        continue;
      }
    }
    absl::StatusOr<tiers::GetResult> r = manager_->Get(keys[i], format);
    if (absl::IsNotFound(r.status()) || absl::IsDataLoss(r.status())) {
      out.setMissing();
      out.setTier(proto::Tier::NONE);
      if (ask_owners) missing.push_back(i);
      continue;
    }
    if (!r.ok()) proto::ThrowStatus(r.status());
    absl::StatusOr<std::string> bytes = tiers::SerializeBlock(r->header, r->payload);
    if (!bytes.ok()) proto::ThrowStatus(bytes.status());
    out.setInline(
        capnp::Data::Reader(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
    out.setTier(TierKind(manager_->tier(r->tier)->name()));
  }
  context.getResults().setLease(kj::heap<LeaseImpl>(std::move(pins), std::move(device_pins)));
  if (!missing.empty()) return FillFromOwners(context, keys, format, std::move(missing));
  return kj::READY_NOW;
}

uint32_t NodeService::StoreBatch(capnp::List<proto::PutBlock>::Reader blocks,
                                 absl::Span<const char> window) {
  if (blocks.size() > limits_.max_batch_blocks) {
    proto::ThrowStatus(absl::InvalidArgumentError(absl::StrCat(
        "blocks has ", blocks.size(), " entries; the limit is ", limits_.max_batch_blocks)));
  }
  std::vector<PendingPut> pending(blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (absl::Status s = ValidatePut(blocks[i], i, limits_, window, &pending[i]); !s.ok())
      proto::ThrowStatus(s);
  }
  uint32_t stored = 0;
  for (size_t i = 0; i < pending.size(); ++i) {
    PendingPut& p = pending[i];
    p.request.scales = p.scales;
    if (absl::Status s = manager_->Put(p.request); !s.ok()) proto::ThrowStatus(s);
    ++stored;
    if (remote_ != nullptr && !blocks[i].getNodeLocal()) PushToOwners(p.request);
  }
  return stored;
}

kj::Promise<void> NodeService::put(PutContext context) {
  context.getResults().setStored(StoreBatch(context.getParams().getBlocks(), {}));
  return kj::READY_NOW;
}

// One client's put window: a private memfd mapped here read-write. Keeps the
// service alive through `node` and returns its bytes to the budget when the
// client drops the capability.
class NodeService::PutWindowImpl final : public proto::PutWindow::Server {
 public:
  PutWindowImpl(NodeService* service, proto::Node::Client node,
                std::unique_ptr<tiers::ShmArena> shm)
      : service_(service), node_(kj::mv(node)), shm_(std::move(shm)) {}
  ~PutWindowImpl() { service_->window_bytes_ -= shm_->size(); }
  kj::Maybe<int> getFd() override { return shm_->fd(); }

 protected:
  kj::Promise<void> size(SizeContext context) override {
    context.getResults().setBytes(shm_->size());
    return kj::READY_NOW;
  }
  kj::Promise<void> commit(CommitContext context) override {
    const absl::Span<const char> window(shm_->base(), shm_->size());
    context.getResults().setStored(service_->StoreBatch(context.getParams().getBlocks(), window));
    return kj::READY_NOW;
  }

 private:
  NodeService* const service_;
  proto::Node::Client node_;
  const std::unique_ptr<tiers::ShmArena> shm_;
};

kj::Promise<void> NodeService::putWindow(PutWindowContext context) {
  const uint64_t bytes = context.getParams().getBytes();
  if (bytes == 0 || bytes > limits_.max_window_bytes) {
    proto::ThrowStatus(absl::InvalidArgumentError(absl::StrCat(
        "bytes is ", bytes, "; a put window holds 1 to ", limits_.max_window_bytes, " bytes")));
  }
  // Reserve first, so that concurrent requests cannot overshoot the budget.
  if (window_bytes_.fetch_add(bytes) + bytes > limits_.max_window_bytes_total) {
    window_bytes_ -= bytes;
    proto::ThrowStatus(absl::ResourceExhaustedError(
        absl::StrCat("put windows would take more than the node's limit of ",
                     limits_.max_window_bytes_total, " bytes in all; drop unused windows")));
  }
  absl::StatusOr<std::unique_ptr<tiers::ShmArena>> shm =
      tiers::ShmArena::Create("kvstash-put-window", bytes, /*prefault=*/false);
  if (!shm.ok()) {
    window_bytes_ -= bytes;
    proto::ThrowStatus(shm.status());
  }
  context.getResults().setWindow(kj::heap<PutWindowImpl>(this, thisCap(), *std::move(shm)));
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
  auto out = context.getResults().initTiers(static_cast<unsigned>(s.tiers.size()) +
                                            (remote_ != nullptr ? 1 : 0));
  StatsToProto(s, out);
  if (remote_ != nullptr) RemoteStatsToProto(out[s.tiers.size()]);
  return kj::READY_NOW;
}

}  // namespace kvstash::service
