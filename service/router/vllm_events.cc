#include "service/router/vllm_events.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "service/router/msgpack_reader.h"

namespace kvstash::router {
namespace {

using msgpack_internal::Item;
using msgpack_internal::Kind;
using msgpack_internal::KindName;
using msgpack_internal::Reader;

// Reserve at most this many elements up front: declared lengths are checked
// against the input size, but a vector of 8-byte hashes per 1-byte input
// element would still amplify a hostile payload.
constexpr uint32_t kMaxReserve = 1024;

absl::Status Bad(absl::string_view path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

absl::Status Expected(absl::string_view path, absl::string_view what, const Item& got) {
  return Bad(path, absl::StrCat("expected ", what, ", got ", KindName(got.kind)));
}

std::string EventPath(size_t index, absl::string_view field = {}) {
  return field.empty() ? absl::StrCat("events[", index, "]")
                       : absl::StrCat("events[", index, "].", field);
}

// An event's fields as read, before its type is known (a map may put "type"
// anywhere).
struct RawEvent {
  std::optional<std::string> type;
  std::optional<std::vector<uint64_t>> hashes;
  std::optional<uint64_t> parent;
  uint32_t block_size = 0;
  std::optional<Medium> medium;
  std::optional<std::string> unknown_medium;
};

class BatchDecoder {
 public:
  BatchDecoder(absl::string_view payload, DecodeInfo* info) : reader_(payload), info_(info) {}

  absl::StatusOr<EventBatch> Decode();

 private:
  // Reads one item, prefixing reader errors with `path`.
  absl::Status ReadItem(absl::string_view path, Item* item);
  absl::Status SkipN(absl::string_view path, uint64_t n);

  absl::Status DecodeBatchArray(uint32_t count, EventBatch* batch);
  absl::Status DecodeBatchMap(uint32_t count, EventBatch* batch);
  absl::Status DecodeTimestamp(EventBatch* batch);
  absl::Status DecodeDpRank(EventBatch* batch);
  absl::Status DecodeEvents(EventBatch* batch);
  absl::Status DecodeEvent(size_t index, EventBatch* batch);
  absl::Status DecodeArrayEvent(size_t index, uint32_t count, RawEvent* raw);
  absl::Status DecodeMapEvent(size_t index, uint32_t count, RawEvent* raw);
  absl::Status DecodeField(size_t index, absl::string_view key, RawEvent* raw);
  absl::Status Finish(size_t index, RawEvent raw, EventBatch* batch);

  absl::Status ReadType(size_t index, RawEvent* raw);
  absl::Status ReadHashes(size_t index, RawEvent* raw);
  absl::Status ReadHash(const std::string& path, uint64_t* out);
  absl::Status ReadParent(size_t index, RawEvent* raw);
  absl::Status ReadBlockSize(size_t index, RawEvent* raw);
  absl::Status ReadMedium(size_t index, RawEvent* raw);

  void NoteSkipped(std::string why);

  Reader reader_;
  DecodeInfo* const info_;  // may be null
};

absl::Status BatchDecoder::ReadItem(absl::string_view path, Item* item) {
  if (absl::Status s = reader_.Read(item); !s.ok()) return Bad(path, s.message());
  return absl::OkStatus();
}

absl::Status BatchDecoder::SkipN(absl::string_view path, uint64_t n) {
  if (absl::Status s = reader_.SkipN(n); !s.ok()) return Bad(path, s.message());
  return absl::OkStatus();
}

absl::StatusOr<EventBatch> BatchDecoder::Decode() {
  EventBatch batch;
  Item top;
  if (absl::Status s = ReadItem("batch", &top); !s.ok()) return s;
  absl::Status s;
  if (top.kind == Kind::kArray) {
    s = DecodeBatchArray(top.count, &batch);
  } else if (top.kind == Kind::kMap) {
    s = DecodeBatchMap(top.count, &batch);
  } else {
    s = Expected("batch", "array or map", top);
  }
  if (!s.ok()) return s;
  if (reader_.remaining() != 0) {
    return Bad("batch", absl::StrCat(reader_.remaining(), " trailing bytes after the batch"));
  }
  return batch;
}

absl::Status BatchDecoder::DecodeBatchArray(uint32_t count, EventBatch* batch) {
  if (count < 2) {
    return Bad("batch", absl::StrCat("expected [ts, events, dp_rank], got an array of ", count));
  }
  if (absl::Status s = DecodeTimestamp(batch); !s.ok()) return s;
  if (absl::Status s = DecodeEvents(batch); !s.ok()) return s;
  if (count >= 3) {
    if (absl::Status s = DecodeDpRank(batch); !s.ok()) return s;
  }
  return count > 3 ? SkipN("batch", count - 3) : absl::OkStatus();
}

absl::Status BatchDecoder::DecodeBatchMap(uint32_t count, EventBatch* batch) {
  bool have_events = false;
  for (uint32_t i = 0; i < count; ++i) {
    Item key;
    if (absl::Status s = ReadItem("batch", &key); !s.ok()) return s;
    if (key.kind != Kind::kStr) return Expected("batch", "str map key", key);
    absl::Status s;
    if (key.bytes == "ts") {
      s = DecodeTimestamp(batch);
    } else if (key.bytes == "events") {
      s = DecodeEvents(batch);
      have_events = true;
    } else if (key.bytes == "data_parallel_rank") {
      s = DecodeDpRank(batch);
    } else {
      s = SkipN(absl::StrCat("batch.", key.bytes), 1);
    }
    if (!s.ok()) return s;
  }
  return have_events ? absl::OkStatus() : Bad("batch", "missing \"events\"");
}

absl::Status BatchDecoder::DecodeTimestamp(EventBatch* batch) {
  Item item;
  if (absl::Status s = ReadItem("ts", &item); !s.ok()) return s;
  switch (item.kind) {
    case Kind::kFloat:
      batch->timestamp = item.real;
      return absl::OkStatus();
    case Kind::kUint:
      batch->timestamp = static_cast<double>(item.uint);
      return absl::OkStatus();
    case Kind::kInt:
      batch->timestamp = static_cast<double>(item.sint);
      return absl::OkStatus();
    default:
      return Expected("ts", "float or int", item);
  }
}

absl::Status BatchDecoder::DecodeDpRank(EventBatch* batch) {
  Item item;
  if (absl::Status s = ReadItem("data_parallel_rank", &item); !s.ok()) return s;
  if (item.kind == Kind::kNil) return absl::OkStatus();
  if (item.kind == Kind::kInt) {
    return Bad("data_parallel_rank", absl::StrCat("negative (", item.sint, ")"));
  }
  if (item.kind != Kind::kUint) return Expected("data_parallel_rank", "int or nil", item);
  if (item.uint > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    return Bad("data_parallel_rank", absl::StrCat("out of range (", item.uint, ")"));
  }
  batch->holder.dp_rank = static_cast<int32_t>(item.uint);
  if (info_ != nullptr) info_->dp_rank = batch->holder.dp_rank;
  return absl::OkStatus();
}

absl::Status BatchDecoder::DecodeEvents(EventBatch* batch) {
  Item item;
  if (absl::Status s = ReadItem("events", &item); !s.ok()) return s;
  if (item.kind != Kind::kArray) return Expected("events", "array", item);
  batch->events.reserve(std::min(item.count, kMaxReserve));
  for (uint32_t i = 0; i < item.count; ++i) {
    if (absl::Status s = DecodeEvent(i, batch); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status BatchDecoder::DecodeEvent(size_t index, EventBatch* batch) {
  Item item;
  if (absl::Status s = ReadItem(EventPath(index), &item); !s.ok()) return s;
  RawEvent raw;
  absl::Status s;
  if (item.kind == Kind::kArray) {
    s = DecodeArrayEvent(index, item.count, &raw);
  } else if (item.kind == Kind::kMap) {
    s = DecodeMapEvent(index, item.count, &raw);
  } else {
    s = Expected(EventPath(index), "array or map", item);
  }
  if (!s.ok()) return s;
  return Finish(index, std::move(raw), batch);
}

absl::Status BatchDecoder::DecodeArrayEvent(size_t index, uint32_t count, RawEvent* raw) {
  if (count == 0) return Bad(EventPath(index), "empty event array");
  if (absl::Status s = ReadType(index, raw); !s.ok()) return s;
  // Positions after the type tag, per event type; nullptr = not used here.
  using FieldFn = absl::Status (BatchDecoder::*)(size_t, RawEvent*);
  static constexpr FieldFn kStored[] = {&BatchDecoder::ReadHashes, &BatchDecoder::ReadParent,
                                        nullptr /* token_ids */,   &BatchDecoder::ReadBlockSize,
                                        nullptr /* lora_id */,     &BatchDecoder::ReadMedium};
  static constexpr FieldFn kRemoved[] = {&BatchDecoder::ReadHashes, &BatchDecoder::ReadMedium};
  absl::Span<const FieldFn> fields;
  if (*raw->type == "BlockStored") fields = kStored;
  if (*raw->type == "BlockRemoved") fields = kRemoved;
  uint32_t pos = 1;
  for (; pos < count && pos - 1 < fields.size(); ++pos) {
    FieldFn field = fields[pos - 1];
    absl::Status s = field != nullptr ? (this->*field)(index, raw)
                                      : SkipN(EventPath(index, absl::StrCat("[", pos, "]")), 1);
    if (!s.ok()) return s;
  }
  return count > pos ? SkipN(EventPath(index), count - pos) : absl::OkStatus();
}

absl::Status BatchDecoder::DecodeMapEvent(size_t index, uint32_t count, RawEvent* raw) {
  for (uint32_t i = 0; i < count; ++i) {
    Item key;
    if (absl::Status s = ReadItem(EventPath(index), &key); !s.ok()) return s;
    if (key.kind != Kind::kStr) return Expected(EventPath(index), "str map key", key);
    if (absl::Status s = DecodeField(index, key.bytes, raw); !s.ok()) return s;
  }
  if (!raw->type.has_value()) return Bad(EventPath(index), "missing \"type\"");
  return absl::OkStatus();
}

absl::Status BatchDecoder::DecodeField(size_t index, absl::string_view key, RawEvent* raw) {
  if (key == "type") return ReadType(index, raw);
  if (key == "block_hashes") return ReadHashes(index, raw);
  if (key == "parent_block_hash") return ReadParent(index, raw);
  if (key == "block_size") return ReadBlockSize(index, raw);
  if (key == "medium") return ReadMedium(index, raw);
  return SkipN(EventPath(index, key), 1);
}

absl::Status BatchDecoder::Finish(size_t index, RawEvent raw, EventBatch* batch) {
  KvEvent event;
  if (*raw.type == "BlockStored") {
    event.kind = KvEvent::Kind::kStored;
    event.parent_hash = raw.parent;
    event.block_size = raw.block_size;
  } else if (*raw.type == "BlockRemoved") {
    event.kind = KvEvent::Kind::kRemoved;
  } else if (*raw.type == "AllBlocksCleared") {
    event.kind = KvEvent::Kind::kCleared;
    batch->events.push_back(std::move(event));
    return absl::OkStatus();
  } else {
    if (info_ != nullptr) ++info_->skipped_unknown_type;
    NoteSkipped(absl::StrCat(EventPath(index), ": unknown type \"", *raw.type, "\""));
    return absl::OkStatus();
  }
  if (!raw.hashes.has_value()) return Bad(EventPath(index), "missing block_hashes");
  if (raw.unknown_medium.has_value()) {
    if (info_ != nullptr) ++info_->skipped_unknown_medium;
    NoteSkipped(
        absl::StrCat(EventPath(index, "medium"), ": unknown medium \"", *raw.unknown_medium, "\""));
    return absl::OkStatus();
  }
  event.block_hashes = std::move(*raw.hashes);
  event.medium = raw.medium;
  batch->events.push_back(std::move(event));
  return absl::OkStatus();
}

void BatchDecoder::NoteSkipped(std::string why) {
  if (info_ != nullptr && info_->first_skipped.empty()) info_->first_skipped = std::move(why);
}

absl::Status BatchDecoder::ReadType(size_t index, RawEvent* raw) {
  const std::string path = EventPath(index, "type");
  Item item;
  if (absl::Status s = ReadItem(path, &item); !s.ok()) return s;
  if (item.kind != Kind::kStr) return Expected(path, "str", item);
  raw->type = std::string(item.bytes);
  return absl::OkStatus();
}

absl::Status BatchDecoder::ReadHashes(size_t index, RawEvent* raw) {
  const std::string path = EventPath(index, "block_hashes");
  Item item;
  if (absl::Status s = ReadItem(path, &item); !s.ok()) return s;
  if (item.kind != Kind::kArray) return Expected(path, "array", item);
  std::vector<uint64_t> hashes;
  hashes.reserve(std::min(item.count, kMaxReserve));
  for (uint32_t i = 0; i < item.count; ++i) {
    uint64_t h = 0;
    if (absl::Status s = ReadHash(absl::StrCat(path, "[", i, "]"), &h); !s.ok()) return s;
    hashes.push_back(h);
  }
  raw->hashes = std::move(hashes);
  return absl::OkStatus();
}

absl::Status BatchDecoder::ReadHash(const std::string& path, uint64_t* out) {
  Item item;
  if (absl::Status s = ReadItem(path, &item); !s.ok()) return s;
  switch (item.kind) {
    case Kind::kUint:
      *out = item.uint;
      return absl::OkStatus();
    case Kind::kInt:  // SGLang: signed int64, the same 64 bits
      *out = static_cast<uint64_t>(item.sint);
      return absl::OkStatus();
    case Kind::kBin:
      if (item.bytes.empty()) return Bad(path, "empty byte string");
      *out = BlockHashFromBytes(item.bytes);
      return absl::OkStatus();
    default:
      return Expected(path, "int or bytes", item);
  }
}

absl::Status BatchDecoder::ReadParent(size_t index, RawEvent* raw) {
  const std::string path = EventPath(index, "parent_block_hash");
  // Peek for nil without a second reader: a copy of the reader is cheap.
  Reader peek = reader_;
  Item item;
  if (absl::Status s = peek.Read(&item); s.ok() && item.kind == Kind::kNil) {
    reader_ = peek;
    raw->parent.reset();
    return absl::OkStatus();
  }
  uint64_t h = 0;
  if (absl::Status s = ReadHash(path, &h); !s.ok()) return s;
  raw->parent = h;
  return absl::OkStatus();
}

absl::Status BatchDecoder::ReadBlockSize(size_t index, RawEvent* raw) {
  const std::string path = EventPath(index, "block_size");
  Item item;
  if (absl::Status s = ReadItem(path, &item); !s.ok()) return s;
  if (item.kind == Kind::kNil) {
    raw->block_size = 0;
    return absl::OkStatus();
  }
  if (item.kind == Kind::kInt) return Bad(path, absl::StrCat("negative (", item.sint, ")"));
  if (item.kind != Kind::kUint) return Expected(path, "int or nil", item);
  if (item.uint > std::numeric_limits<uint32_t>::max()) {
    return Bad(path, absl::StrCat("out of range (", item.uint, ")"));
  }
  raw->block_size = static_cast<uint32_t>(item.uint);
  return absl::OkStatus();
}

absl::Status BatchDecoder::ReadMedium(size_t index, RawEvent* raw) {
  const std::string path = EventPath(index, "medium");
  Item item;
  if (absl::Status s = ReadItem(path, &item); !s.ok()) return s;
  raw->medium.reset();
  raw->unknown_medium.reset();
  if (item.kind == Kind::kNil) return absl::OkStatus();
  if (item.kind != Kind::kStr) return Expected(path, "str or nil", item);
  if (absl::EqualsIgnoreCase(item.bytes, "GPU")) {
    raw->medium = Medium::kDevice;
  } else if (absl::EqualsIgnoreCase(item.bytes, "CPU")) {
    raw->medium = Medium::kHost;
  } else if (absl::EqualsIgnoreCase(item.bytes, "DISK") ||
             absl::EqualsIgnoreCase(item.bytes, "STORAGE")) {
    // vLLM >= 0.27 names its file-system and object-store offload tiers
    // MEDIUM_STORAGE = "STORAGE"; older publishers and SGLang say "DISK".
    raw->medium = Medium::kDisk;
  } else {
    // Bounded: the name ends up in an error string.
    raw->unknown_medium = std::string(item.bytes.substr(0, 64));
  }
  return absl::OkStatus();
}

}  // namespace

uint64_t BlockHashFromBytes(absl::string_view bytes) {
  const size_t start = bytes.size() > 8 ? bytes.size() - 8 : 0;
  uint64_t v = 0;
  for (size_t i = start; i < bytes.size(); ++i) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  return v;
}

absl::StatusOr<EventBatch> DecodeVllmBatch(absl::string_view payload, DecodeInfo* info) {
  if (info != nullptr) *info = DecodeInfo();
  return BatchDecoder(payload, info).Decode();
}

absl::StatusOr<uint64_t> DecodeSeqFrame(absl::string_view frame) {
  if (frame.size() != 8) {
    return absl::InvalidArgumentError(absl::StrCat("seq: expected 8 bytes, got ", frame.size()));
  }
  return BlockHashFromBytes(frame);
}

absl::StatusOr<EventBatch> DecodeVllmMessage(absl::string_view topic, absl::string_view seq_frame,
                                             absl::string_view payload, DecodeInfo* info) {
  absl::StatusOr<uint64_t> seq = DecodeSeqFrame(seq_frame);
  if (!seq.ok()) return seq.status();
  absl::StatusOr<EventBatch> batch = DecodeVllmBatch(payload, info);
  if (!batch.ok()) return batch.status();
  batch->seq = *seq;
  return batch;
}

}  // namespace kvstash::router
