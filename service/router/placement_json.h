// The JSON forms of POST /v1/placement (router_service.h has the shapes):
// request parsing with errors naming the field, and the answer.
#ifndef KVSTASH_SERVICE_ROUTER_PLACEMENT_JSON_H_
#define KVSTASH_SERVICE_ROUTER_PLACEMENT_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "service/router/placement.h"

namespace kvstash::router {

struct ParsedPlacement {
  PlacementRequest request;
  bool record = true;  // approximate mode: remember the answer (when enabled)
};

// Limits of one request.
inline constexpr size_t kMaxPlacementBlocks = 1 << 16;
inline constexpr size_t kMaxPlacementCandidates = 1 << 14;

// Block hashes (u64 wire form) of the full blocks of `ids`, exactly as the
// engine computes them: scheme "sha256_cbor" (vLLM; `seed` is the NONE_HASH
// seed) or "xxh3" (Dynamo; `seed` a u64, `chain_seed` the chaining seed).
// InvalidArgument naming the field.
absl::StatusOr<std::vector<uint64_t>> HashTokenIds(absl::Span<const uint64_t> ids,
                                                   uint64_t block_size, absl::string_view scheme,
                                                   const std::optional<std::string>& seed,
                                                   std::optional<uint64_t> chain_seed);

// InvalidArgument naming the field: malformed JSON, unknown fields, neither
// or both of block_hashes and token_ids, a bad hash_scheme, block_size 0.
absl::StatusOr<ParsedPlacement> ParsePlacementJson(absl::string_view body);

// `hashes`: the request's, for the fetch hints' block_hashes.
std::string PlacementToJson(const PlacementDecision& decision, absl::Span<const uint64_t> hashes);

const char* MediumName(Medium m);

}  // namespace kvstash::router

#endif  // KVSTASH_SERVICE_ROUTER_PLACEMENT_JSON_H_
