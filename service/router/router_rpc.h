// RouterRpc: the router's Cap'n Proto API (proto/router.capnp) over a
// RouterService, the RPC twin of POST /v1/placement and GET /v1/workers.
// kvstashd serves it as Node.router(); a router-only process may bootstrap it
// directly.
//
// Requests are validated here, at the edge, as the JSON path does: exactly
// one of blockHashes and tokenIds, the block and candidate limits of
// placement_json.h, tokens hashed with HashTokenIds. A bad request fails with
// a kj exception "[INVALID_ARGUMENT] <field>: ..." (proto/status_wire.h) that
// names the field as the schema spells it (camelCase, "candidates[2].dpRank").
//
// Ownership: the RouterService is borrowed and must outlive every capability
// to this server.
//
// Threading model: methods run on the kj event loop of the RPC thread that
// owns the capability; RouterService::Place and Holders are thread-safe, so
// several RPC threads may each serve their own RouterRpc over one service.
#ifndef KVSTASH_SERVICE_ROUTER_ROUTER_RPC_H_
#define KVSTASH_SERVICE_ROUTER_ROUTER_RPC_H_

#include "absl/status/statusor.h"
#include "proto/router.capnp.h"
#include "service/router/placement_json.h"
#include "service/router/router_service.h"

namespace kvstash::router {

// The request as RouterService::Place takes it; InvalidArgument naming the
// field (camelCase) for a bad one. Exposed for tests.
absl::StatusOr<ParsedPlacement> PlacementFromProto(proto::Router::PlacementRequest::Reader request);

class RouterRpc final : public proto::Router::Server {
 public:
  explicit RouterRpc(RouterService* router) : router_(router) {}

 protected:
  kj::Promise<void> placement(PlacementContext context) override;
  kj::Promise<void> workers(WorkersContext context) override;

 private:
  RouterService* const router_;
};

}  // namespace kvstash::router

#endif  // KVSTASH_SERVICE_ROUTER_ROUTER_RPC_H_
