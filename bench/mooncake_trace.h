// Mooncake trace lines (INTEROP.md "Mooncake traces"): one JSON object per
// line, {"timestamp": ms, "input_length": n, "output_length": n,
// "hash_ids": [ints]}. Shared by `kvstash demo` and `kvstash bench router`.
#ifndef KVSTASH_BENCH_MOONCAKE_TRACE_H_
#define KVSTASH_BENCH_MOONCAKE_TRACE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace kvstash::bench {

// The hash_ids of one line (prefix-chained 512-token block ids); empty when
// the line has none. Entries that are not unsigned integers are skipped.
std::vector<uint64_t> MooncakeHashIds(const std::string& line);

}  // namespace kvstash::bench

#endif  // KVSTASH_BENCH_MOONCAKE_TRACE_H_
