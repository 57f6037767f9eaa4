#include "service/router/msgpack_reader.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kvstash::router::msgpack_internal {

absl::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kNil:
      return "nil";
    case Kind::kBool:
      return "bool";
    case Kind::kUint:
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kStr:
      return "str";
    case Kind::kBin:
      return "bytes";
    case Kind::kArray:
      return "array";
    case Kind::kMap:
      return "map";
    case Kind::kExt:
      return "ext";
  }
  return "?";
}

absl::Status Reader::Take(size_t n, const char** out) {
  if (remaining() < n) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncated: need ", n, " bytes, ", remaining(), " left"));
  }
  *out = pos_;
  pos_ += n;
  return absl::OkStatus();
}

absl::Status Reader::ReadBigEndian(size_t n, uint64_t* out) {
  const char* p = nullptr;
  if (absl::Status s = Take(n, &p); !s.ok()) return s;
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  *out = v;
  return absl::OkStatus();
}

absl::Status Reader::ReadBytes(size_t len_bytes, Kind kind, Item* item) {
  uint64_t len = 0;
  if (absl::Status s = ReadBigEndian(len_bytes, &len); !s.ok()) return s;
  const char* p = nullptr;
  if (absl::Status s = Take(static_cast<size_t>(len), &p); !s.ok()) return s;
  item->kind = kind;
  item->bytes = absl::string_view(p, static_cast<size_t>(len));
  return absl::OkStatus();
}

absl::Status Reader::ReadContainer(size_t len_bytes, uint32_t inline_count, Kind kind, Item* item) {
  uint64_t count = inline_count;
  if (len_bytes > 0) {
    if (absl::Status s = ReadBigEndian(len_bytes, &count); !s.ok()) return s;
  }
  // Every element takes at least one byte, a map entry at least two.
  const uint64_t min_bytes = kind == Kind::kMap ? count * 2 : count;
  if (min_bytes > remaining()) {
    return absl::InvalidArgumentError(absl::StrCat(
        KindName(kind), " of ", count, " entries cannot fit in the ", remaining(), " bytes left"));
  }
  item->kind = kind;
  item->count = static_cast<uint32_t>(count);
  return absl::OkStatus();
}

absl::Status Reader::Read(Item* item) {
  *item = Item();
  const char* p = nullptr;
  if (absl::Status s = Take(1, &p); !s.ok()) return s;
  const uint8_t b = static_cast<uint8_t>(*p);
  if (b <= 0x7f) {
    item->kind = Kind::kUint;
    item->uint = b;
    return absl::OkStatus();
  }
  if (b >= 0xe0) {
    item->kind = Kind::kInt;
    item->sint = static_cast<int8_t>(b);
    return absl::OkStatus();
  }
  if (b <= 0x8f) return ReadContainer(0, b & 0x0f, Kind::kMap, item);
  if (b <= 0x9f) return ReadContainer(0, b & 0x0f, Kind::kArray, item);
  if (b <= 0xbf) {
    const char* s = nullptr;
    if (absl::Status st = Take(b & 0x1f, &s); !st.ok()) return st;
    item->kind = Kind::kStr;
    item->bytes = absl::string_view(s, b & 0x1f);
    return absl::OkStatus();
  }
  uint64_t v = 0;
  switch (b) {
    case 0xc0:
      item->kind = Kind::kNil;
      return absl::OkStatus();
    case 0xc2:
    case 0xc3:
      item->kind = Kind::kBool;
      item->boolean = b == 0xc3;
      return absl::OkStatus();
    case 0xc4:
    case 0xc5:
    case 0xc6:
      return ReadBytes(size_t{1} << (b - 0xc4), Kind::kBin, item);
    case 0xc7:
    case 0xc8:
    case 0xc9: {
      // ext: length, type byte, data. The type byte is ignored.
      uint64_t len = 0;
      if (absl::Status s = ReadBigEndian(size_t{1} << (b - 0xc7), &len); !s.ok()) return s;
      if (absl::Status s = Take(1, &p); !s.ok()) return s;
      if (absl::Status s = Take(static_cast<size_t>(len), &p); !s.ok()) return s;
      item->kind = Kind::kExt;
      item->bytes = absl::string_view(p, static_cast<size_t>(len));
      return absl::OkStatus();
    }
    case 0xca: {
      if (absl::Status s = ReadBigEndian(4, &v); !s.ok()) return s;
      const uint32_t bits = static_cast<uint32_t>(v);
      float f;
      std::memcpy(&f, &bits, sizeof(f));
      item->kind = Kind::kFloat;
      item->real = f;
      return absl::OkStatus();
    }
    case 0xcb: {
      if (absl::Status s = ReadBigEndian(8, &v); !s.ok()) return s;
      double d;
      std::memcpy(&d, &v, sizeof(d));
      item->kind = Kind::kFloat;
      item->real = d;
      return absl::OkStatus();
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
      if (absl::Status s = ReadBigEndian(size_t{1} << (b - 0xcc), &v); !s.ok()) return s;
      item->kind = Kind::kUint;
      item->uint = v;
      return absl::OkStatus();
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      const size_t n = size_t{1} << (b - 0xd0);
      if (absl::Status s = ReadBigEndian(n, &v); !s.ok()) return s;
      // Sign-extend from n bytes.
      const int shift = static_cast<int>(64 - 8 * n);
      const int64_t sv = static_cast<int64_t>(v << shift) >> shift;
      if (sv >= 0) {
        item->kind = Kind::kUint;
        item->uint = static_cast<uint64_t>(sv);
      } else {
        item->kind = Kind::kInt;
        item->sint = sv;
      }
      return absl::OkStatus();
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: {
      // fixext 1/2/4/8/16: type byte, data.
      if (absl::Status s = Take(1, &p); !s.ok()) return s;
      const size_t len = size_t{1} << (b - 0xd4);
      if (absl::Status s = Take(len, &p); !s.ok()) return s;
      item->kind = Kind::kExt;
      item->bytes = absl::string_view(p, len);
      return absl::OkStatus();
    }
    case 0xd9:
    case 0xda:
    case 0xdb:
      return ReadBytes(size_t{1} << (b - 0xd9), Kind::kStr, item);
    case 0xdc:
    case 0xdd:
      return ReadContainer(size_t{2} << (b - 0xdc), 0, Kind::kArray, item);
    case 0xde:
    case 0xdf:
      return ReadContainer(size_t{2} << (b - 0xde), 0, Kind::kMap, item);
    default:  // 0xc1, never used
      return absl::InvalidArgumentError(absl::StrFormat("reserved byte 0x%02x", b));
  }
}

absl::Status Reader::Skip() { return SkipN(1); }

absl::Status Reader::SkipN(uint64_t n) {
  // `pending` counts values still to skip. Container sizes are bounded by the
  // bytes left (ReadContainer), so it stays below 2 * input size + n.
  uint64_t pending = n;
  Item item;
  while (pending > 0) {
    if (absl::Status s = Read(&item); !s.ok()) return s;
    --pending;
    if (item.kind == Kind::kArray) pending += item.count;
    if (item.kind == Kind::kMap) pending += uint64_t{2} * item.count;
  }
  return absl::OkStatus();
}

}  // namespace kvstash::router::msgpack_internal
