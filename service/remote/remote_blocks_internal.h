// RemoteBlocks' per-member state, shared by remote_blocks.cc (node API
// calls) and remote_pull_ucx.cc (RMA pulls). Internal: include nowhere else.
#ifndef KVSTASH_SERVICE_REMOTE_REMOTE_BLOCKS_INTERNAL_H_
#define KVSTASH_SERVICE_REMOTE_REMOTE_BLOCKS_INTERNAL_H_

#include <capnp/rpc-twoparty.h>

#include <optional>
#include <string>

#include "service/remote/remote_blocks.h"

namespace kvstash::remote {

// One member other than this node: a TCP connection to its node API, and
// its UCX details and endpoint.
struct RemoteBlocks::Peer {
  struct Connection {
    kj::Own<kj::AsyncIoStream> stream;
    kj::Own<capnp::TwoPartyVatNetwork> network;
    kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
  };
  std::string address;
  std::string ucx_address, ucx_rkey;  // empty: inline pulls only
  uint64_t ucx_base = 0;
  std::optional<transport::PeerId> ucx_peer;  // connected on first RMA pull
  kj::Own<Connection> conn;
  std::optional<proto::Node::Client> node;
  kj::TimePoint retry_after = kj::origin<kj::TimePoint>();
};

}  // namespace kvstash::remote

#endif  // KVSTASH_SERVICE_REMOTE_REMOTE_BLOCKS_INTERNAL_H_
