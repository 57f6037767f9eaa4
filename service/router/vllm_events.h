// Decoder for engine KV-event batches: vLLM's ZMQ + msgpack stream, which
// SGLang and TensorRT-LLM publish in the same shape (INTEROP.md "vLLM KV
// events"). Pure functions over bytes; safe to call from any thread.
//
// Wire format accepted
// --------------------
// A ZMQ message has 3 frames: topic (ignored), sequence number (8 bytes,
// big-endian), payload (msgpack). The payload is one batch, either
//   array form  [ts, [events...], data_parallel_rank]   (vLLM <= 0.28 at least;
//               dp_rank may be missing, older vLLM sent [ts, events]), or
//   map form    {"ts": ..., "events": [...], "data_parallel_rank": ...}
//               (msgspec without array_like, as newer vLLM declares EventBatch).
// `ts` is a float or int (missing in a map batch: 0); dp_rank is a
// non-negative int or nil (nil or missing: 0). Trailing array elements and
// unknown map keys are ignored; bytes after the batch value are an error.
//
// Each event is an array tagged by its first element or a map with a "type"
// key (at any position):
//   ["BlockStored", block_hashes, parent_block_hash, token_ids, block_size,
//    lora_id, medium, lora_name, ...]
//   ["BlockRemoved", block_hashes, medium, ...]
//   ["AllBlocksCleared", ...]
//   {"type": "BlockStored", "block_hashes": [...], "parent_block_hash": h|nil,
//    "token_ids": [...], "block_size": 16, "medium": "GPU", ...}
// block_hashes is required for BlockStored/BlockRemoved; every other field is
// optional (publishers omit defaults): parent nil/missing -> nullopt,
// block_size nil/missing -> 0, medium nil/missing -> nullopt. Fields the
// router does not use (token_ids, lora_*, extra_keys, group_idx, ...) are
// skipped without being interpreted.
//
// Block hashes: an int (msgpack uint64 from vLLM, int64 from SGLang: the same
// 64 bits, so -1 == 0xffffffffffffffff), or a byte string. vLLM's
// maybe_convert_block_hash() turns its 32-byte SHA-256 digest into the wire
// int as int.from_bytes(digest, "big") & (2**64 - 1), i.e. the LAST 8 bytes
// read big-endian (INTEROP.md "Block hashes"); a byte string is mapped by the
// same rule, so a string of n <= 8 bytes is its big-endian value. An empty
// byte string, a str, a float or anything else is an error.
//
// Medium: "GPU" -> kDevice, "CPU" -> kHost, "DISK" and "STORAGE" (vLLM >= 0.27
// names its file-system / object-store offload tiers so) -> kDisk, compared
// without case. An event whose medium is some other string (a tier this router does
// not know) is skipped and counted in DecodeInfo, not an error and not mapped
// to nullopt: nullopt means "device" to the index, and claiming device
// residency for an unknown tier would mislead placement, while failing the
// whole batch would drop the other, well-understood events with it. A medium
// that is neither a string nor nil is an error.
//
// Unknown event types are skipped and counted the same way.
//
// Errors: every malformed input gives InvalidArgument whose message starts
// with the path of the offending value, e.g.
//   "events[2].block_hashes[0]: expected int or bytes, got str".
// The decoder never recurses on input nesting and never allocates by a
// declared length (msgpack_reader.h), so any input is safe.
#ifndef KVSTASH_SERVICE_ROUTER_VLLM_EVENTS_H_
#define KVSTASH_SERVICE_ROUTER_VLLM_EVENTS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/router/types.h"

namespace kvstash::router {

// What the decoder saw besides the events it returned.
struct DecodeInfo {
  std::optional<int32_t> dp_rank;  // as sent; nullopt when nil or missing
  int skipped_unknown_type = 0;    // events with a type this decoder does not know
  int skipped_unknown_medium = 0;  // events with a medium string it does not know
  std::string first_skipped;       // e.g. `events[3]: unknown type "BlockMoved"`
};

// Decodes one msgpack payload. The result has holder.worker empty (the
// subscriber knows the worker), holder.dp_rank from the batch (0 when nil),
// seq 0. `info` may be null.
[[nodiscard]] absl::StatusOr<EventBatch> DecodeVllmBatch(absl::string_view payload,
                                                         DecodeInfo* info = nullptr);

// The sequence frame: exactly 8 bytes, big-endian.
[[nodiscard]] absl::StatusOr<uint64_t> DecodeSeqFrame(absl::string_view frame);

// DecodeSeqFrame + DecodeVllmBatch; the result carries the seq. The topic is
// not interpreted (vLLM's default topic is empty; some deployments set one).
[[nodiscard]] absl::StatusOr<EventBatch> DecodeVllmMessage(absl::string_view topic,
                                                           absl::string_view seq_frame,
                                                           absl::string_view payload,
                                                           DecodeInfo* info = nullptr);

// The wire u64 of a byte-string hash: the last min(8, size) bytes, big-endian
// (vLLM's int.from_bytes(b, "big") & (2**64 - 1)). 0 for an empty string.
uint64_t BlockHashFromBytes(absl::string_view bytes);

}  // namespace kvstash::router

#endif  // KVSTASH_SERVICE_ROUTER_VLLM_EVENTS_H_
