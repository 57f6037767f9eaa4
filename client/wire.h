// Conversions between libkvstash's public types and proto/node.capnp.
// Internal to the client library.
#ifndef KVSTASH_CLIENT_WIRE_H_
#define KVSTASH_CLIENT_WIRE_H_

#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "kvstash/client.h"
#include "proto/node.capnp.h"

namespace kvstash::wire {

// Largest RPC message either side accepts (a batch of blocks).
inline constexpr uint64_t kMaxMessageBytes = uint64_t{256} << 20;

void KeyToProto(const Key& key, proto::BlockKey::Builder out);
Key KeyFromProto(proto::BlockKey::Reader key);
void KeysToProto(std::span<const Key> keys, capnp::List<proto::BlockKey>::Builder out);
LookupResult FromProto(proto::Node::LookupResults::Reader r);
// Parses and verifies each returned block (header and payload checksum).
absl::StatusOr<std::vector<std::optional<Block>>> BlocksFromProto(
    capnp::List<proto::BlockResult>::Reader blocks);
// Views of a zero-copy get: slots point into the mapped arena (bounds and
// header checked), inline blocks are copied into `copies` and fully verified.
// REQUIRES: copies->capacity() >= blocks.size().
absl::Status ViewsFromProto(capnp::List<proto::BlockResult>::Reader blocks, const uint8_t* arena,
                            uint64_t arena_bytes, std::vector<BlockView>* views,
                            std::vector<std::string>* copies);
void PutToProto(const PutBlock& b, proto::PutBlock::Builder out);
std::vector<TierStats> StatsFromProto(capnp::List<proto::TierStats>::Reader tiers);

}  // namespace kvstash::wire

#endif  // KVSTASH_CLIENT_WIRE_H_
