// Conversions between the node API's Cap'n Proto messages (proto/node.capnp)
// and tiers/ types, with validation at the edge: every error is
// InvalidArgument naming the field and its index in the batch.
#ifndef KVSTASH_SERVICE_PROTO_CONVERT_H_
#define KVSTASH_SERVICE_PROTO_CONVERT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "kernels/codec.h"
#include "proto/node.capnp.h"
#include "tiers/block.h"
#include "tiers/tier_manager.h"

namespace kvstash::service {

// A digest of at most 32 bytes, zero-extended (u64 hashes: 8 LE bytes).
absl::StatusOr<tiers::BlockKey> KeyFromProto(proto::BlockKey::Reader key, size_t index);
void KeyToProto(const tiers::BlockKey& key, proto::BlockKey::Builder out);
// KeysFromProto, throwing its error across the wire (status_wire.h).
std::vector<tiers::BlockKey> KeysOrThrow(capnp::List<proto::BlockKey>::Reader keys,
                                         size_t max_batch);
absl::StatusOr<std::vector<tiers::BlockKey>> KeysFromProto(
    capnp::List<proto::BlockKey>::Reader keys, size_t max_batch);

// InvalidArgument naming `field` for a value this build does not know (an
// enum on the wire may hold any 16-bit value).
absl::StatusOr<kernels::Format> FormatFromProto(proto::Format f, absl::string_view field);
proto::Format FormatToProto(kernels::Format f);
kernels::KvGeometry GeometryFromProto(proto::Geometry::Reader g);
void GeometryToProto(const kernels::KvGeometry& g, proto::Geometry::Builder out);

// Tier index in the manager -> API tier kind, given the manager's tier names.
proto::Tier TierKind(absl::string_view tier_name);

void StatsToProto(const tiers::TierManagerStats& stats, capnp::List<proto::TierStats>::Builder out);

}  // namespace kvstash::service

#endif  // KVSTASH_SERVICE_PROTO_CONVERT_H_
