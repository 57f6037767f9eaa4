// NodeService: the node API (proto/node.capnp) over a TierManager. One
// instance serves every connection of a kvstashd.
//
// Errors cross the wire as kj exceptions whose description starts with the
// absl status code in brackets ("[INVALID_ARGUMENT] keys[3].digest has 40
// bytes ..."); the client library turns them back into absl::Status
// (status_wire.h). A miss is not an error: get() reports it per key.
//
// Zero-copy gets (get with zeroCopy, over a Unix socket): a block held in the
// host tier in the requested format is returned as a SlotRef into the arena
// that arena() shares by fd; the slots stay pinned (never reused, even when
// evicted) until the returned Lease is released or dropped. Other blocks are
// copied inline. Zero-copy reads count as hits and refresh the LRU position.
//
// Device IPC (get with deviceIpc): a block held in the device tier in the
// requested format comes back as a DeviceRef (the arena's CUDA IPC handle,
// offset, length, header), pinned by the same lease.
//
// Zero-copy puts (putWindow, over a Unix socket): the client maps a private
// memfd read-write, writes payloads there, and commits them by offset; the
// node reads them from the window into its tiers. Windows are bounded each
// and in total; a dropped connection frees its windows.
//
// Threading model: all methods run on the RPC thread's kj event loop. Tier
// I/O runs inline on that loop for now (tiers never hold locks across I/O,
// and host-tier work is a memcpy); a blocking disk read delays other
// requests on the same loop.
#ifndef KVSTASH_SERVICE_NODE_SERVICE_H_
#define KVSTASH_SERVICE_NODE_SERVICE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"
#include "proto/node.capnp.h"
#include "service/node_events.h"
#include "service/remote/remote_blocks.h"
#include "service/router/router_service.h"
#include "tiers/device_tier.h"
#include "tiers/host_tier.h"
#include "tiers/shm_arena.h"
#include "tiers/tier_manager.h"

namespace kvstash::service {

struct NodeLimits {
  size_t max_batch_blocks = 4096;
  uint64_t max_block_bytes = uint64_t{256} << 20;
  uint64_t max_window_bytes = uint64_t{1} << 30;        // one put window
  uint64_t max_window_bytes_total = uint64_t{8} << 30;  // all clients' windows
};

class NodeService final : public proto::Node::Server {
 public:
  // `manager` must outlive the service.
  // `events` and `router` (may be null: events() / router() then fail) must
  // outlive the service.
  // `remote` (may be null: single node) turns on cluster mode: local misses
  // are asked of the key's owners, and stored blocks pushed to them.
  NodeService(tiers::TierManager* manager, NodeLimits limits, NodeEventLog* events = nullptr,
              router::RouterService* router = nullptr, remote::RemoteBlocks* remote = nullptr);

 protected:
  kj::Promise<void> lookup(LookupContext context) override;
  kj::Promise<void> get(GetContext context) override;
  kj::Promise<void> put(PutContext context) override;
  kj::Promise<void> pin(PinContext context) override;
  kj::Promise<void> unpin(UnpinContext context) override;
  kj::Promise<void> erase(EraseContext context) override;
  kj::Promise<void> stats(StatsContext context) override;
  kj::Promise<void> arena(ArenaContext context) override;
  kj::Promise<void> putWindow(PutWindowContext context) override;
  kj::Promise<void> events(EventsContext context) override;
  kj::Promise<void> router(RouterContext context) override;
  kj::Promise<void> holds(HoldsContext context) override;

 private:
  // Zero-copy: the stored block, pinned in the host arena, when it is there
  // in `format`; nullopt to fall back to a copy.
  std::optional<tiers::HostTier::MappedBlock> MapFromHost(const tiers::BlockKey& key,
                                                          kernels::Format format);

  class PutWindowImpl;

  // Cluster mode (node_service_remote.cc). The prefix past `local`, from the
  // owners of the keys after it.
  kj::Promise<void> RemoteLookup(LookupContext context, std::vector<tiers::BlockKey> keys,
                                 tiers::LookupResult local);
  // Pulls results[missing] from their owners, caches them here, and answers
  // them in `format` (tier remote).
  kj::Promise<void> FillFromOwners(GetContext context, std::vector<tiers::BlockKey> keys,
                                   kernels::Format format, std::vector<size_t> missing);
  void PushToOwners(const tiers::PutRequest& request);
  void RemoteStatsToProto(proto::TierStats::Builder out) const;

  // Validates the whole batch, then stores it (Node.put, PutWindow.commit).
  // `window`: where payloads live, empty for inline payloads. Throws the
  // status of the first bad block or failed put.
  uint32_t StoreBatch(capnp::List<proto::PutBlock>::Reader blocks, absl::Span<const char> window);

  tiers::TierManager* const manager_;
  // Device IPC: the stored block, pinned in the device tier with its header,
  // when it is there in `format`; nullopt to fall back.
  std::optional<tiers::DeviceTier::Export> ExportFromDevice(const tiers::BlockKey& key,
                                                            kernels::Format format);

  tiers::HostTier* const host_;      // nullptr without a host tier
  tiers::DeviceTier* const device_;  // nullptr without a device tier
  const NodeLimits limits_;
  NodeEventLog* const events_;
  router::RouterService* const router_;
  remote::RemoteBlocks* const remote_;
  std::atomic<uint64_t> window_bytes_{0};  // held by live put windows
};

}  // namespace kvstash::service

#endif  // KVSTASH_SERVICE_NODE_SERVICE_H_
