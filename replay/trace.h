// Mooncake-format request traces (INTEROP.md "Mooncake traces"): one JSON
// object per line,
//   {"timestamp": ms, "input_length": tokens, "output_length": tokens,
//    "hash_ids": [ints]}
// where hash_ids name prefix-chained blocks of `block_tokens` tokens (512 in
// Mooncake's traces): equal ids mean equal prefixes, and
// len(hash_ids) == ceil(input_length / block_tokens).
//
// Reading is strict: every error names the file, the line and the field, and
// a hash_ids length that disagrees with input_length at the given block size
// is an error (it usually means the wrong --block-tokens). Other members are
// ignored, so traces with extra fields (session ids, ...) read as well.
// Requests come back in timestamp order (a stable sort: ties keep file
// order).
//
// Thread safety: pure functions apart from reading the file.
#ifndef KVSTASH_REPLAY_TRACE_H_
#define KVSTASH_REPLAY_TRACE_H_

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstash::replay {

struct TraceRequest {
  int64_t timestamp_ms = 0;
  uint64_t input_length = 0;  // prompt tokens
  uint64_t output_length = 0;
  std::vector<uint64_t> hash_ids;
};

struct Trace {
  std::vector<TraceRequest> requests;  // by timestamp
  uint32_t block_tokens = 0;
  uint64_t distinct_blocks = 0;
  uint64_t prompt_tokens = 0;
  bool reordered = false;  // the file was not in timestamp order
};

// `limit` > 0 reads at most that many requests (the first in the file).
absl::StatusOr<Trace> ParseTrace(std::istream& in, absl::string_view name, uint32_t block_tokens,
                                 size_t limit = 0);
absl::StatusOr<Trace> ReadTrace(const std::string& path, uint32_t block_tokens, size_t limit = 0);

}  // namespace kvstash::replay

#endif  // KVSTASH_REPLAY_TRACE_H_
