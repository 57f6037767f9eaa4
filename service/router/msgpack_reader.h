// A small pull reader for msgpack, used to decode engine KV events
// (vllm_events.h). Internal to the router.
//
// Why our own reader rather than msgpack-cxx's unpack(): the payloads come off
// the network from engines we do not control, so the decoder must treat them
// as hostile. This reader
//   - never allocates: strings and byte strings are views into the input;
//   - never recurses: containers are read header-first and Skip() walks nested
//     values with a counter, so depth cannot exhaust the stack;
//   - bounds every declared length against the bytes that are left (an array
//     of n elements needs at least n bytes), so a forged 0xdd ffffffff header
//     fails at once instead of reserving gigabytes;
//   - reports errors as Status (no exceptions) so the caller can prefix the
//     field path ("events[2].block_hashes[0]: ...").
// msgpack-cxx builds a whole object tree in a zone first (an allocation per
// container, sized by the declared lengths unless every unpack_limit is set
// right) and reports malformed input by throwing; the streaming shape here is
// both safer and a better fit for "read the fields we know, skip the rest".
// Tests still use msgpack-cxx's packer to build payloads, so the reader is
// checked against an independent encoder.
//
// Thread safety: a Reader is used by one thread at a time.
#ifndef KVSTASH_SERVICE_ROUTER_MSGPACK_READER_H_
#define KVSTASH_SERVICE_ROUTER_MSGPACK_READER_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kvstash::router::msgpack_internal {

enum class Kind : uint8_t {
  kNil,
  kBool,
  kUint,   // a non-negative integer, whichever msgpack encoding carried it
  kInt,    // a negative integer
  kFloat,  // float32 or float64, widened to double
  kStr,
  kBin,
  kArray,
  kMap,
  kExt,
};

// "nil", "bool", "int" (kUint and kInt alike), "float", "str", "bytes",
// "array", "map", "ext": the words used in error messages.
absl::string_view KindName(Kind kind);

// One item. For containers only the header: `count` elements (arrays) or
// key/value pairs (maps) follow in the stream.
struct Item {
  Kind kind = Kind::kNil;
  bool boolean = false;
  uint64_t uint = 0;        // kUint
  int64_t sint = 0;         // kInt (always < 0)
  double real = 0;          // kFloat
  absl::string_view bytes;  // kStr, kBin, kExt (the ext payload)
  uint32_t count = 0;       // kArray, kMap
};

class Reader {
 public:
  explicit Reader(absl::string_view data) : pos_(data.data()), end_(data.data() + data.size()) {}

  // Reads the next item. Errors (InvalidArgument) on truncation, the reserved
  // byte 0xc1, or a container whose declared size cannot fit in what is left.
  absl::Status Read(Item* item);

  // Skips one whole value, containers included, without recursion.
  absl::Status Skip();

  // Skips `n` whole values.
  absl::Status SkipN(uint64_t n);

  size_t remaining() const { return static_cast<size_t>(end_ - pos_); }

 private:
  absl::Status Take(size_t n, const char** out);
  absl::Status ReadBigEndian(size_t n, uint64_t* out);
  absl::Status ReadBytes(size_t len, Kind kind, Item* item);
  absl::Status ReadContainer(size_t len_bytes, uint32_t inline_count, Kind kind, Item* item);

  const char* pos_;
  const char* end_;  // not const: a Reader is copyable (to peek ahead)
};

}  // namespace kvstash::router::msgpack_internal

#endif  // KVSTASH_SERVICE_ROUTER_MSGPACK_READER_H_
